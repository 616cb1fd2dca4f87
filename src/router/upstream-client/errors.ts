/** Why an exchange with a function failed, as seen by the upstream client (socket errors keep their own codes). */
export type UpstreamErrorCode =
  /** The connection closed before a complete response head arrived. */
  | 'UPSTREAM_CLOSED'
  /** The connection closed in the middle of a response body. */
  | 'UPSTREAM_PREMATURE_CLOSE'
  | 'UPSTREAM_CONNECT_TIMEOUT'
  | 'UPSTREAM_HEADERS_TIMEOUT'
  | 'UPSTREAM_BODY_TIMEOUT'
  /** The pool was destroyed (function removed from the table, or shutdown). */
  | 'UPSTREAM_POOL_CLOSED'
  /** Bytes that are not an HTTP/1.x response we accept. */
  | 'UPSTREAM_BAD_RESPONSE'
  /** The request body grew past `UpstreamRequest.maxBodyBytes`: the request was cut before the excess was sent. */
  | 'REQUEST_BODY_TOO_LARGE';

/** An error raised by the upstream client itself. */
export class UpstreamError extends Error {
  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** Shorthand for the parser: every malformed response is the same kind of failure. */
export function badResponse(message: string): UpstreamError {
  return new UpstreamError('UPSTREAM_BAD_RESPONSE', message);
}
