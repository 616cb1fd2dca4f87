/**
 * Request ids: the caller's `x-request-id` when it sent a usable one, else a cheap local id.
 * A process prefix plus a counter is unique per replica and costs nothing per request, unlike
 * `crypto.randomUUID()` (measured as a visible share of a trivial request in perf-notes.md).
 */
const MAX_INCOMING_LENGTH = 200;

export class RequestIdSource {
  private readonly prefix: string;
  private counter = 0;

  /** @param prefix distinguishes processes; @default random base-36 characters */
  constructor(prefix?: string) {
    this.prefix = prefix ?? `${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36).slice(-4)}-`;
    if (!/^[0-9a-z-]*$/.test(this.prefix))
      throw new Error(`request id prefix ${JSON.stringify(prefix)} may only contain 0-9, a-z and -`);
  }

  /** Returns `incoming` when it is a sensible id, otherwise a fresh one. */
  idFor(incoming: string | string[] | undefined): string {
    if (typeof incoming === 'string' && incoming.length > 0 && incoming.length <= MAX_INCOMING_LENGTH) return incoming;
    return this.prefix + (++this.counter).toString(36);
  }
}

/** Extracts the trace id from a W3C `traceparent` header (`00-<trace-id>-<parent-id>-<flags>`). */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  if (typeof traceparent !== 'string' || traceparent.length < 55) return undefined;
  const traceId = traceparent.slice(3, 35);
  return traceparent.charCodeAt(2) === 45 /* - */ && /^[0-9a-f]{32}$/.test(traceId) ? traceId : undefined;
}
