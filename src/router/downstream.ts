import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeLingering, discardBody, LINGER_MAX_BYTES } from '../shared/lingering-close';
import { sendJson } from './responses';
import type { RequestBody } from './upstream-client/types';

/**
 * The client side of one proxied request: where the answer goes, and the request body (if any) to
 * stream to the function. Two implementations: node's `ServerResponse` (every connection node:http
 * handles) and the router's own raw-socket path for simple requests (`fast-path/`), so the proxy
 * logic — retries, errors, backpressure, metrics — is written once.
 */
export interface Downstream {
  /** The request body for the function: a stream, bytes already read, or null when there is none. */
  readonly body: RequestBody;
  /** Some of a streamed body was read already: a retry could not send it again. */
  bodyConsumed(): boolean;
  /** The status line is out: errors can no longer be answered, only the response cut. */
  readonly headersSent: boolean;
  /** The response is complete, or the client is gone. */
  readonly finished: boolean;
  /** The client's connection is closed. */
  readonly clientGone: boolean;
  /** Sends the response head (flat `[name, value, …]` list). Throws on values the path refuses. */
  writeHead(status: number, headers: string[]): void;
  /** A body chunk; false when the client is not taking data as fast (then `onceDrain`). */
  write(chunk: Buffer): boolean;
  onceDrain(listener: () => void): void;
  end(): void;
  /** Cuts a response whose head was sent, so the client sees it truncated. */
  destroy(err: Error): void;
  /** Answers with a JSON body made by the router (errors), unless the head is already out. */
  sendJson(status: number, body: unknown, requestId: string, closeConnection: boolean, extra?: readonly string[]): void;
  /** Called once if the client goes away before the response is complete. */
  onClientGone(listener: () => void): void;
  offClientGone(listener: () => void): void;
}

/**
 * The downstream of a request node:http parsed.
 *
 * A response that completes before the request body was read to its end (a refusal, an error, a
 * function that answered early) leaves the rest of the body to be disposed of, so the client gets
 * the response and not a reset: a body declared longer than LINGER_MAX_BYTES closes the connection
 * after the response, lingering (`closeLingering`); any other is read through and discarded and the
 * connection kept, unless it goes on past LINGER_MAX_BYTES (chunked), which closes it lingering from
 * there (`discardBody`).
 */
export class NodeDownstream implements Downstream {
  readonly body: IncomingMessage | null;
  /** Kept because node drops `req.socket` once the request body has been consumed. */
  private readonly socket: IncomingMessage['socket'];

  /**
   * @param declaredLength the request's Content-Length, -1 when it has none (chunked or no body)
   */
  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    hasBody: boolean,
    private readonly declaredLength = -1,
  ) {
    this.body = hasBody ? req : null;
    this.socket = req.socket;
  }

  /** Part of the request body has not arrived yet. */
  private get bodyUnread(): boolean {
    return this.body !== null && !this.req.complete;
  }

  /**
   * Before a response head: whether the connection closes after the response (`closing`: it does
   * anyway). One whose body is still arriving and declared too long to read through closes too;
   * either closes lingering.
   */
  private closesAfter(closing: boolean): boolean {
    if (!this.bodyUnread) return closing;
    const close = closing || this.declaredLength > LINGER_MAX_BYTES;
    if (close) closeLingering(this.req);
    return close;
  }

  /** After a response: what is left of the body is read and thrown away (bounded: see the class). */
  private discardUnreadBody(): void {
    if (this.body !== null) discardBody(this.req);
  }

  bodyConsumed(): boolean {
    return this.req.readableDidRead;
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get finished(): boolean {
    return this.res.writableFinished;
  }

  get clientGone(): boolean {
    return this.socket.destroyed;
  }

  writeHead(status: number, headers: string[]): void {
    if (this.bodyUnread) {
      const closing = hasConnectionClose(headers);
      if (this.closesAfter(closing) && !closing) headers.push('connection', 'close');
    }
    this.res.writeHead(status, headers);
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  onceDrain(listener: () => void): void {
    this.res.once('drain', listener);
  }

  end(): void {
    this.res.end();
    this.discardUnreadBody();
  }

  destroy(err: Error): void {
    // After the bytes already written are flushed (node uncorks a response's first write on the
    // next tick), so the client gets what the function did send.
    setImmediate(() => this.res.destroy(err));
  }

  sendJson(
    status: number,
    body: unknown,
    requestId: string,
    closeConnection: boolean,
    extra: readonly string[] = [],
  ): void {
    if (this.res.headersSent || this.res.destroyed) return;
    sendJson(this.res, status, body, requestId, this.closesAfter(closeConnection), extra);
    this.discardUnreadBody();
  }

  onClientGone(listener: () => void): void {
    this.res.on('close', listener);
  }

  offClientGone(listener: () => void): void {
    this.res.off('close', listener);
  }
}

function hasConnectionClose(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i].toLowerCase() === 'connection' && headers[i + 1].toLowerCase() === 'close') return true;
  return false;
}
