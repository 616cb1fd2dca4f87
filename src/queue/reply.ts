/** What a queue handler returns; published to `responseSubject` and kept as an async call's result. */
export interface QueueReply {
  /** @default 200 (204 when there is no body) */
  readonly status?: number;
  /** @default {} */
  readonly headers?: Readonly<Record<string, string>>;
  /** @default empty */
  readonly body?: Uint8Array | string;
}

export interface NormalizedReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** What a handler may return: a full reply, or just a body (string → text/plain, bytes → octet-stream). */
export type HandlerReturn = QueueReply | string | Uint8Array | void | undefined;

/** The reply of handlers that return nothing (the common case for queue handlers): shared, never mutated. */
const NO_CONTENT: NormalizedReply = Object.freeze({ status: 204, headers: Object.freeze({}), body: new Uint8Array(0) });

export function normalizeReply(value: HandlerReturn): NormalizedReply {
  if (value === undefined || value === null) return NO_CONTENT;
  if (typeof value === 'string') return normalizeReply({ body: value });
  if (value instanceof Uint8Array) {
    return {
      status: value.byteLength === 0 ? 204 : 200,
      headers: { 'content-type': 'application/octet-stream' },
      body: value,
    };
  }
  const reply = value;
  const raw = reply?.body;
  const body = raw === undefined ? new Uint8Array(0) : typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(reply?.headers ?? {})) headers[k.toLowerCase()] = v;
  if (typeof raw === 'string' && !headers['content-type']) headers['content-type'] = 'text/plain; charset=utf-8';
  return { status: reply?.status ?? (body.byteLength === 0 ? 204 : 200), headers, body };
}
