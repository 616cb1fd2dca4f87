import type { IncomingMessage } from 'node:http';

/** A request body to send: a stream (the client's request), complete bytes, or none. */
export type RequestBody = IncomingMessage | Buffer | null;

/** One request to send to a function. */
export interface UpstreamRequest {
  readonly method: string;
  /** Origin-form request target (`/path?query`). */
  readonly path: string;
  /** Flat `[name, value, …]` list without Host and without hop-by-hop headers; Content-Length kept if the client sent one. */
  readonly headers: readonly string[];
  /**
   * The body: the client's request streamed as it arrives, or bytes already in hand (sent with the
   * head, Content-Length must be among `headers`); null when there is none.
   */
  readonly body: RequestBody;
  /** Longest wait for the response head, and longest silence inside a response body. */
  readonly timeoutMs: number;
  /**
   * Most body bytes sent: a streamed body (chunked, or longer than it said) growing past this fails
   * the request with `REQUEST_BODY_TOO_LARGE` at the first byte over, before that byte is sent.
   * @default no limit
   */
  readonly maxBodyBytes?: number;
}

/**
 * Receives the outcome of one request. Exactly one of `onComplete` / `onError` is called, once;
 * `onConnect` comes first, synchronously from `dispatch`.
 */
export interface UpstreamHandler {
  /** `abort` cancels the request (queued or in flight) and ends with `onError(err)`. */
  onConnect(abort: (err: Error) => void): void;
  /** The final response head; `resume` restarts reading after `onData` returned false. May throw (then `onError`). */
  onHeaders(status: number, headers: string[], resume: () => void): void;
  /** A body chunk; return false to stop reading until `resume` is called. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error): void;
}
