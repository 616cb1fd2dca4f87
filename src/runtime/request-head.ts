import { Headers as HeaderNames, INVOKE_TIMEOUT_HEADER } from '../contract';

/**
 * The request headers the runtime itself needs, read in one pass over `req.rawHeaders`.
 * Reading `req.headers` makes node build an object of every header (lower-casing each name); a
 * handler that never looks at `event.headers` should not pay for that on every request.
 */
export interface RequestHead {
  /** `x-request-id` (duplicates joined with ", ", as `req.headers` does). */
  readonly requestId: string | undefined;
  /** `traceparent` (duplicates joined with ", ", as `req.headers` does). */
  readonly traceparent: string | undefined;
  /** The first `content-length` (node keeps the first one too). */
  readonly contentLength: string | undefined;
  /** A `transfer-encoding` header is present. */
  readonly transferEncoding: boolean;
  /**
   * `x-kubefaas-timeout-ms`: the remaining time of a function calling this one (context.invoke), in
   * ms; undefined when absent or not a whole number > 0.
   */
  readonly callerTimeoutMs: number | undefined;
}

const REQUEST_ID = HeaderNames.requestId;
const TRACEPARENT = HeaderNames.traceparent;
const CALLER_TIMEOUT = INVOKE_TIMEOUT_HEADER;

export function readRequestHead(raw: readonly string[]): RequestHead {
  let requestId: string | undefined;
  let traceparent: string | undefined;
  let contentLength: string | undefined;
  let transferEncoding = false;
  let callerTimeout: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    // Lengths first: most headers are none of these five, and this skips the lower-casing.
    const length = name.length;
    if (
      length !== REQUEST_ID.length &&
      length !== TRACEPARENT.length &&
      length !== 14 &&
      length !== 17 &&
      length !== CALLER_TIMEOUT.length
    )
      continue;
    const lower = name.toLowerCase();
    const value = raw[i + 1];
    if (lower === REQUEST_ID) requestId = requestId === undefined ? value : `${requestId}, ${value}`;
    else if (lower === TRACEPARENT) traceparent = traceparent === undefined ? value : `${traceparent}, ${value}`;
    else if (lower === 'content-length') contentLength ??= value;
    else if (lower === 'transfer-encoding') transferEncoding = true;
    else if (lower === CALLER_TIMEOUT) callerTimeout ??= value;
  }
  return { requestId, traceparent, contentLength, transferEncoding, callerTimeoutMs: positiveInteger(callerTimeout) };
}

function positiveInteger(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
