/** How the router answers when talking to a function failed before its response started. */
export interface UpstreamFailure {
  readonly status: number;
  readonly message: string;
  /** A connection-level failure: the request may be retried on a fresh connection if idempotent. */
  readonly connection: boolean;
}

/** Connection failures by error code, with the words the client sees. */
const CONNECTION_ERRORS: ReadonlyMap<string, string> = new Map([
  ['ECONNREFUSED', 'connection refused'],
  ['ECONNRESET', 'connection reset before the response'],
  ['EPIPE', 'connection reset before the response'],
  ['UPSTREAM_CLOSED', 'connection reset before the response'],
  ['ENOTFOUND', 'host not found'],
  ['EAI_AGAIN', 'host not found (DNS lookup failed)'],
  ['EHOSTUNREACH', 'host unreachable'],
  ['ENETUNREACH', 'network unreachable'],
  ['EHOSTDOWN', 'host down'],
  ['ETIMEDOUT', 'connect timeout'],
  ['UPSTREAM_CONNECT_TIMEOUT', 'connect timeout'],
]);

/** Maps an upstream-client or socket error to the router's answer for function `fn`. */
export function classifyUpstreamError(err: Error & { code?: string }, fn: string, timeoutMs: number): UpstreamFailure {
  const code = err.code ?? '';
  const reason = CONNECTION_ERRORS.get(code);
  if (reason !== undefined) {
    return { status: 502, message: `function "${fn}" is unreachable: ${reason}`, connection: true };
  }
  switch (code) {
    case 'UPSTREAM_HEADERS_TIMEOUT':
    case 'UPSTREAM_BODY_TIMEOUT':
      return { status: 504, message: `function "${fn}" did not respond within ${timeoutMs} ms`, connection: false };
    case 'UPSTREAM_POOL_CLOSED':
      return { status: 503, message: `function "${fn}" is being removed`, connection: false };
    case 'REQUEST_BODY_TOO_LARGE':
      return { status: 413, message: err.message, connection: false };
    default:
      return { status: 502, message: `function "${fn}" sent an invalid response: ${err.message}`, connection: false };
  }
}
