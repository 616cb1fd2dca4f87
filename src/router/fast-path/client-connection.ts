import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ROUTER_KEEP_ALIVE_TIMEOUT_MS } from '../../contract';
import { BODY_TIMEOUT_MESSAGE, type ClientTimeouts, HEAD_TIMEOUT_MESSAGE } from '../client-timeouts';
import type { Downstream } from '../downstream';
import { readInboundHeaders } from '../forwarded-headers';
import { endWithAnswer, jsonAnswer } from '../responses';
import { declaredBodyOverLimit, routeRequest, servedByNodePathOnly } from '../routing';
import type { RouterState } from '../state';
import { type HeadParser, MAX_HEAD_BYTES, type RequestHead } from './request-head-parser';

/** What a connection needs from the fast path around it. */
export interface ConnectionHost {
  readonly state: RouterState;
  readonly parser: HeadParser;
  /** Gives the socket to node:http, with the bytes read but not yet served. */
  handOver(socket: Socket, unread: Buffer | undefined): void;
  /** The connection is closed or handed over: forget it. */
  released(connection: ClientConnection): void;
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const CR = 13;
const LF = 10;
const UPPER_A = 65;
const UPPER_Z = 90;
const SLASH = 47;
/** Pipelined bytes held while a response is in flight before reading stops (backpressure). */
const MAX_UNREAD_BYTES = 64 * 1024;
/**
 * Largest request body the fast path reads whole before sending it on (in one write with the
 * head). Larger ones are streamed by node:http.
 */
export const MAX_BUFFERED_BODY_BYTES = 64 * 1024;
/** Below this a response's head and first chunk are copied into one buffer: one write, one syscall. */
const COALESCE_BYTES = 16 * 1024;
const KEEP_ALIVE_HINT = `keep-alive: timeout=${Math.floor(ROUTER_KEEP_ALIVE_TIMEOUT_MS / 1000)}\r\n`;

/**
 * One client connection served on the router's fast path: requests without a body or with a small
 * Content-Length one (read whole, then sent on with the head), parsed by llhttp (`HeadParser`)
 * straight from the socket's bytes, proxied through the same `proxyRequest` as node:http requests,
 * and answered by writing to the socket directly — no IncomingMessage, ServerResponse or stream
 * machinery per request, which is most of what a proxy hop costs in node.
 *
 * Requests are served one at a time, in order (pipelined ones wait in `unread`). The first request
 * the fast path does not serve — chunked or large bodies, `Expect: 100-continue`, upgrades,
 * requests before the route table is loaded, anything llhttp rejects — and everything after it on the connection go
 * to node:http (`ConnectionHost.handOver`), which then owns the socket for good: rare cases keep
 * node's complete HTTP implementation.
 */
export class ClientConnection implements Downstream {
  /** Sweeps of the idle timer this connection has been idle for (see FastPath). */
  private idleSweeps = 0;
  /**
   * `performance.now()` when the head or body the connection waits for began (a head: from its first
   * byte, or from connecting for the first request), checked by the sweep against the client
   * timeouts; NaN when idle between requests (the keep-alive timeout applies) or serving one. The
   * clock is read only when a head or body is split across reads, never for a request in one read.
   */
  private since: number;
  /** Bytes read and not yet served: a partial head, or pipelined requests. */
  private unread: Buffer | undefined = undefined;
  /** A request is being served. */
  private busy = false;
  /** Inside `serveNext`: a response completed synchronously must not recurse into it. */
  private serving = false;
  private closing = false;
  private gone = false;
  private paused = false;
  private remoteAddress: string | undefined = undefined;
  private goneListener: (() => void) | undefined = undefined;
  // The response in progress.
  private keepAlive = true;
  private http11 = true;
  private headRequest = false;
  private chunked = false;
  /** Head made by `writeHead`, written with the first body bytes (or at the end). */
  private pendingHead: string | undefined = undefined;
  private headWritten = false;
  private done = false;

  /** The body of the request being served, read whole (Content-Length ≤ MAX_BUFFERED_BODY_BYTES). */
  body: Buffer | null = null;
  /** A head already parsed whose body is still arriving, and where that request ends in `unread`. */
  private waitingHead: RequestHead | undefined = undefined;
  private waitingEnd = 0;
  private waitingHeadEnd = 0;

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    this.since = performance.now();
  }

  /** Not serving anything and holding no partial request. */
  get idle(): boolean {
    return !this.busy && this.unread === undefined;
  }

  /** Closes the connection if it is idle (shutdown). */
  closeIfIdle(): void {
    if (this.idle && !this.gone) this.socket.destroy();
  }

  /**
   * One pass of the FastPath's sweep (`now` read once for all connections): a client too slow to
   * send its head or body gets 408 and is closed; one idle past the keep-alive timeout is closed.
   * Nothing while a request is in flight: the function's timeout bounds that.
   */
  sweep(now: number, timeouts: ClientTimeouts, idleSweepsAllowed: number): void {
    if (this.busy || this.gone || this.closing) return;
    if (Number.isNaN(this.since)) {
      if (++this.idleSweeps > idleSweepsAllowed) this.socket.destroy();
    } else if (this.waitingHead !== undefined) {
      if (now - this.since >= timeouts.bodyTimeoutMs) this.timeOut(BODY_TIMEOUT_MESSAGE);
    } else if (now - this.since >= timeouts.headersTimeoutMs) {
      this.timeOut(HEAD_TIMEOUT_MESSAGE);
    }
  }

  /** 408 (no response is in progress: the sweep checked) and close; bytes still arriving are ignored. */
  private timeOut(message: string): void {
    this.closing = true;
    this.unread = undefined;
    this.waitingHead = undefined;
    endWithAnswer(this.socket, 408, message, this.host.state.requestIds.idFor(undefined));
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.closing) return;
    this.idleSweeps = 0;
    this.unread = this.unread === undefined ? chunk : Buffer.concat([this.unread, chunk]);
    if (!this.busy) {
      this.serveNext();
    } else if (this.unread.length > MAX_UNREAD_BYTES && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  };

  /** Serves the requests in `unread`, one at a time, until one is in flight or more bytes are needed. */
  private serveNext(): void {
    this.serving = true;
    while (!this.busy && !this.closing && this.unread !== undefined) {
      const bytes = this.unread;
      if (this.waitingHead !== undefined) {
        if (bytes.length < this.waitingEnd) break;
        const head = this.waitingHead;
        this.waitingHead = undefined;
        this.serveFrom(bytes, head, this.waitingHeadEnd, this.waitingEnd);
        continue;
      }
      const first = bytes[0];
      // Not a request line (a TLS hello, leading blank lines): node:http's answer is the reference.
      if (first < UPPER_A || first > UPPER_Z) {
        this.handOverToNode();
        break;
      }
      const blankLine = bytes.indexOf(HEAD_END);
      if (blankLine === -1) {
        // A bare-LF head never has a CRLF blank line: node:http answers it (400), as an oversized one (431).
        if (bytes.length > MAX_HEAD_BYTES || hasBareLf(bytes)) this.handOverToNode();
        else if (Number.isNaN(this.since)) this.since = performance.now();
        break;
      }
      const headEnd = blankLine + HEAD_END.length;
      const head = this.host.parser.parse(headEnd === bytes.length ? bytes : bytes.subarray(0, headEnd));
      if (head === undefined || head.url.charCodeAt(0) !== SLASH || servedByNodePathOnly(this.host.state)) {
        this.handOverToNode();
        break;
      }
      const end = headEnd + head.bodyLength;
      if (head.bodyLength > MAX_BUFFERED_BODY_BYTES) {
        this.handOverToNode();
        break;
      }
      if (bytes.length < end) {
        // Refused whatever it holds: node:http answers at once, and reads through or lingers.
        if (declaredBodyOverLimit(this.host.state, head.method, head.url, head.rawHeaders, head.bodyLength)) {
          this.handOverToNode();
          break;
        }
        // The body is still arriving: serve once it is all here (within the body timeout).
        this.since = performance.now();
        this.waitingHead = head;
        this.waitingHeadEnd = headEnd;
        this.waitingEnd = end;
        break;
      }
      this.serveFrom(bytes, head, headEnd, end);
    }
    this.serving = false;
  }

  /** Serves the request in `bytes[0, end)` (head up to `headEnd`, then its body); keeps the rest. */
  private serveFrom(bytes: Buffer, head: RequestHead, headEnd: number, end: number): void {
    this.since = NaN;
    this.body = end > headEnd ? bytes.subarray(headEnd, end) : null;
    this.unread = end === bytes.length ? undefined : bytes.subarray(end);
    this.serve(head);
  }

  private serve(head: RequestHead): void {
    const state = this.host.state;
    const matcher = state.matcher;
    if (matcher === undefined) return; // servedByNodePathOnly checked it
    this.busy = true;
    this.keepAlive = head.keepAlive;
    this.http11 = head.http11;
    this.headRequest = head.method === 'HEAD';
    this.chunked = false;
    this.pendingHead = undefined;
    this.headWritten = false;
    this.done = false;
    const receivedAt = performance.now();
    const inbound = readInboundHeaders(head.rawHeaders);
    this.remoteAddress ??= this.socket.remoteAddress;
    const requestId = state.requestIds.idFor(inbound.requestId);
    try {
      routeRequest(
        state,
        matcher,
        {
          method: head.method,
          url: head.url,
          rawHeaders: head.rawHeaders,
          inbound,
          requestId,
          receivedAt,
          clientAddress: this.remoteAddress,
          // The fast path runs on the public listener only (the admin one is plain node:http).
          listener: 'public',
        },
        this,
      );
    } catch (err) {
      // A bug must not leave the connection waiting forever: drop it, and let the process-level
      // handler log the error (as for a throwing node:http request handler).
      this.socket.destroy();
      throw err;
    }
  }

  /** The response is complete (or cut): serve the next request, or close. */
  private responseFinished(): void {
    this.busy = false;
    this.body = null;
    this.idleSweeps = 0;
    this.goneListener = undefined;
    if (this.gone) return;
    if (!this.keepAlive) {
      this.close();
      return;
    }
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (!this.serving) this.serveNext();
  }

  /** Ends our side once everything written is flushed, then lets the socket go. */
  private close(): void {
    this.closing = true;
    this.socket.end();
    this.socket.once('finish', () => this.socket.destroy());
  }

  private handOverToNode(): void {
    this.detach();
    const unread = this.unread;
    this.unread = undefined;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.host.handOver(this.socket, unread);
  }

  private detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    this.socket.off('error', this.onError);
    this.host.released(this);
  }

  /**
   * The client ended its side. As node:http does (its `httpAllowHalfOpen` is off), that counts as
   * the client leaving: a request in flight is abandoned and the connection closed.
   */
  private readonly onEnd = (): void => {
    this.socket.destroy();
  };

  private readonly onClose = (): void => {
    this.gone = true;
    this.detach();
    const listener = this.goneListener;
    this.goneListener = undefined;
    if (this.busy) listener?.();
  };

  /** `close` follows every socket error; that is where the connection is cleaned up. */
  private readonly onError = (): void => undefined;

  // ---- Downstream: the response to the request being served ----

  bodyConsumed(): boolean {
    return false;
  }

  get headersSent(): boolean {
    return this.headWritten;
  }

  get finished(): boolean {
    return this.done;
  }

  get clientGone(): boolean {
    return this.gone;
  }

  writeHead(status: number, headers: string[]): void {
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    let hasLength = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      const value = headers[i + 1];
      if (name.length === 14 && name.toLowerCase() === 'content-length') {
        hasLength = true;
      } else if (name.length === 10 && name.toLowerCase() === 'connection' && value.toLowerCase() === 'close') {
        this.keepAlive = false;
        continue;
      }
      head += `${name}: ${value}\r\n`;
    }
    const bodyless = this.headRequest || status === 204 || status === 304;
    this.chunked = false;
    if (!bodyless && !hasLength) {
      // The function streams a body of unknown length: chunked for HTTP/1.1, until close for 1.0.
      if (this.http11) {
        head += 'transfer-encoding: chunked\r\n';
        this.chunked = true;
      } else {
        this.keepAlive = false;
      }
    }
    if (!this.keepAlive) head += 'connection: close\r\n';
    else head += this.http11 ? KEEP_ALIVE_HINT : `connection: keep-alive\r\n${KEEP_ALIVE_HINT}`;
    this.pendingHead = `${head}\r\n`;
  }

  write(chunk: Buffer): boolean {
    if (this.gone || chunk.length === 0) return true;
    const head = this.pendingHead;
    if (head !== undefined) {
      this.pendingHead = undefined;
      this.headWritten = true;
      if (head.length + chunk.length <= COALESCE_BYTES) return this.socket.write(this.framedWithHead(head, chunk));
      this.socket.cork();
      this.socket.write(head, 'latin1');
      const flushed = this.writeFramed(chunk);
      this.socket.uncork();
      return flushed;
    }
    return this.writeFramed(chunk);
  }

  /** Head and first chunk (with its chunk framing) in one buffer. Heads are latin1: one byte per character. */
  private framedWithHead(head: string, chunk: Buffer): Buffer {
    const prefix = this.chunked ? `${head}${chunk.length.toString(16)}\r\n` : head;
    const suffix = this.chunked ? 2 : 0;
    const out = Buffer.allocUnsafe(prefix.length + chunk.length + suffix);
    out.write(prefix, 0, 'latin1');
    chunk.copy(out, prefix.length);
    if (suffix > 0) out.write('\r\n', prefix.length + chunk.length, 'latin1');
    return out;
  }

  private writeFramed(chunk: Buffer): boolean {
    if (!this.chunked) return this.socket.write(chunk);
    this.socket.cork();
    this.socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    this.socket.write(chunk);
    const flushed = this.socket.write('\r\n', 'latin1');
    this.socket.uncork();
    return flushed;
  }

  onceDrain(listener: () => void): void {
    this.socket.once('drain', listener);
  }

  end(): void {
    if (!this.gone) {
      let tail = this.pendingHead ?? '';
      this.pendingHead = undefined;
      if (this.chunked) tail += '0\r\n\r\n';
      if (tail !== '') this.socket.write(tail, 'latin1');
      this.headWritten = true;
    }
    this.done = true;
    this.responseFinished();
  }

  destroy(): void {
    // The client learns the response is incomplete from the missing bytes (Content-Length) or the
    // missing last chunk, when the connection closes.
    this.keepAlive = false;
    this.done = true;
    this.responseFinished();
  }

  sendJson(
    status: number,
    body: unknown,
    requestId: string,
    closeConnection: boolean,
    extra?: readonly string[],
  ): void {
    if (this.headWritten || this.gone) return;
    const answer = jsonAnswer(body, requestId, closeConnection, extra);
    this.writeHead(status, answer.headers);
    if (!this.headRequest) this.write(Buffer.from(answer.payload));
    this.end();
  }

  onClientGone(listener: () => void): void {
    this.goneListener = listener;
  }

  offClientGone(listener: () => void): void {
    if (this.goneListener === listener) this.goneListener = undefined;
  }
}

/** Some LF in `bytes` (a partial head) is not preceded by CR. Only partial heads are scanned. */
function hasBareLf(bytes: Buffer): boolean {
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) {
    if (i === 0 || bytes[i - 1] !== CR) return true;
  }
  return false;
}
