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

export function normalizeReply(reply: QueueReply | void | undefined): NormalizedReply {
  const raw = reply?.body;
  const body = raw === undefined ? new Uint8Array(0) : typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(reply?.headers ?? {})) headers[k.toLowerCase()] = v;
  if (typeof raw === 'string' && !headers['content-type']) headers['content-type'] = 'text/plain; charset=utf-8';
  return { status: reply?.status ?? (body.byteLength === 0 ? 204 : 200), headers, body };
}
