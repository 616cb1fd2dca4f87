import { randomFillSync } from 'node:crypto';

const MAX_REQUEST_ID_LENGTH = 200;
/** Visible ASCII only: a request id ends up in logs and response headers. */
const REQUEST_ID = /^[\x21-\x7e]+$/;

/**
 * Request ids: the caller's `x-request-id` when it is usable, else a process prefix plus a counter
 * (unique per replica, free per request; `crypto.randomUUID()` is measurable on a trivial proxy hop).
 */
export class RequestIds {
  private counter = 0;

  /** @param prefix distinguishes router processes; @default random base-36 characters */
  constructor(private readonly prefix: string = `r${Math.random().toString(36).slice(2, 10)}-`) {}

  idFor(incoming: string | undefined): string {
    if (incoming !== undefined && incoming.length <= MAX_REQUEST_ID_LENGTH && REQUEST_ID.test(incoming))
      return incoming;
    return this.prefix + (++this.counter).toString(36);
  }
}

/** `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, optionally more fields for future versions. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_PARENT_ID = '0'.repeat(16);

/** True when `value` is a W3C Trace Context `traceparent` a tracer downstream will accept. */
export function isValidTraceparent(value: string): boolean {
  const m = TRACEPARENT.exec(value);
  if (m === null) return false;
  const [, version, traceId, parentId, , rest] = m;
  if (version === 'ff' || traceId === ZERO_TRACE_ID || parentId === ZERO_PARENT_ID) return false;
  // Version 00 has exactly four fields; later versions may append more.
  return version !== '00' || rest === undefined;
}

const ID_BYTES = 24; // 16 trace id + 8 parent id
const POOL_IDS = 256;

/**
 * Generates new sampled `traceparent` values from a pool of random bytes refilled 256 ids at a time,
 * so a request without a trace costs a slice of a buffer rather than a syscall.
 */
export class TraceparentSource {
  private readonly pool = Buffer.allocUnsafe(ID_BYTES * POOL_IDS);
  private offset = this.pool.length;

  next(): string {
    if (this.offset === this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const start = this.offset;
    this.offset += ID_BYTES;
    // An all-zero id is invalid; with 128 random bits it does not happen in practice, but be exact.
    const traceId = this.pool.toString('hex', start, start + 16);
    const parentId = this.pool.toString('hex', start + 16, start + ID_BYTES);
    if (traceId === ZERO_TRACE_ID || parentId === ZERO_PARENT_ID) return this.next();
    return `00-${traceId}-${parentId}-01`;
  }

  /** The incoming header when it is valid, else a fresh one. */
  keepOrCreate(incoming: string | undefined): string {
    return incoming !== undefined && isValidTraceparent(incoming) ? incoming : this.next();
  }
}
