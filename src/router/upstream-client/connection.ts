import type { IncomingMessage } from 'node:http';
import { type Socket, connect } from 'node:net';
import { UpstreamError } from './errors';
import { ResponseParser, type ResponseSink } from './response-parser';
import type { UpstreamHandler, UpstreamRequest } from './types';

/** Where a pool's connections go, parsed once from the function's URL. */
export interface UpstreamTarget {
  readonly host: string;
  readonly port: number;
  /** The request head's first lines up to and including the Host header: `host: name:port\r\n`. */
  readonly hostLine: string;
}

/** What a connection tells the pool that owns it. */
export interface ConnectionOwner {
  /** The connection finished its request and can carry another. */
  released(connection: UpstreamConnection): void;
  /** The connection is closed for good. Called once. */
  removed(connection: UpstreamConnection): void;
}

/** A request handed to the pool: queued, then carried by one connection. */
export class PendingRequest {
  connection: UpstreamConnection | undefined = undefined;
  /** Set once `onComplete` or `onError` was called (or is about to be). */
  finished = false;

  constructor(
    readonly request: UpstreamRequest,
    readonly handler: UpstreamHandler,
    private readonly unqueue: (pending: PendingRequest) => void,
  ) {}

  readonly abort = (err: Error): void => {
    if (this.finished) return;
    if (this.connection !== undefined) {
      this.connection.abort(this, err);
      return;
    }
    this.finished = true;
    this.unqueue(this);
    this.handler.onError(err);
  };

  readonly resume = (): void => {
    this.connection?.resume(this);
  };
}

/** Every upstream socket reads into this one buffer (see the `onread` option below). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Without a `Keep-Alive: timeout` hint, idle connections are not reused after this long (node servers close them at 5 s). */
const DEFAULT_IDLE_MS = 4_000;
/** When a connection stops taking requests (see the UpstreamConnection constructor). */
export interface ConnectionLifetime {
  /** `performance.now()` after which it carries no new request. */
  readonly retireAt: number;
  readonly maxRequests: number;
}

const FOREVER: ConnectionLifetime = { retireAt: Infinity, maxRequests: Infinity };

/** Margin below the function's own keep-alive timeout, so it never closes a connection we are about to reuse. */
const IDLE_MARGIN_MS = 1_000;

/**
 * One keep-alive HTTP/1.1 connection to a function, carrying one request at a time (no
 * pipelining). The request head goes out in one write; the body is streamed with backpressure
 * (chunked when its length is unknown); the response is parsed incrementally and handed to the
 * request's handler chunk by chunk.
 */
export class UpstreamConnection implements ResponseSink {
  /** `performance.now()` when it last became idle (the pool drops connections idle too long). */
  idleSince = 0;
  private readonly socket: Socket;
  private readonly parser = new ResponseParser(this);
  private active: PendingRequest | undefined = undefined;
  private connected = false;
  private closed = false;
  /** Reading paused because the client is not taking the body as fast as the function sends it. */
  private paused = false;
  private body: IncomingMessage | null = null;
  /** Bytes of `body` still allowed (UpstreamRequest.maxBodyBytes). */
  private bodyRoom = Infinity;
  private bodyChunked = false;
  private bodyDone = true;
  private bodyPaused = false;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** Duration the current `timer` was started with. */
  private timerMs = 0;
  private timerPending = false;
  private timeoutMs = 0;
  private lastActivity = 0;
  private idleLimitMs = DEFAULT_IDLE_MS;
  /** Requests this connection has carried (it is retired at `lifetime.maxRequests`). */
  private requests = 0;

  constructor(
    private readonly target: UpstreamTarget,
    private readonly owner: ConnectionOwner,
    /**
     * Kube-proxy balances connections, not requests: a connection kept forever pins the router to
     * the pod it first reached, and a new replica gets nothing. So each connection retires.
     */
    private readonly lifetime: ConnectionLifetime = FOREVER,
  ) {
    // `onread` reads into one shared buffer and calls us directly: no buffer allocation and no
    // readable-stream bookkeeping per read. Safe because every read is consumed synchronously:
    // the parser copies the head into strings and `onBody` copies body bytes before passing them on.
    this.socket = connect({
      host: target.host,
      port: target.port,
      onread: { buffer: READ_BUFFER, callback: this.onSocketRead },
    });
    this.socket.setNoDelay(true);
    this.socket.on('connect', this.onSocketConnect);
    this.socket.on('end', this.onSocketEnd);
    this.socket.on('error', this.onSocketError);
    this.socket.on('close', this.onSocketClose);
  }

  /** Idle and still fit to carry a request at `now`. */
  reusableAt(now: number): boolean {
    return (
      !this.closed &&
      this.active === undefined &&
      now - this.idleSince < this.idleLimitMs &&
      now < this.lifetime.retireAt
    );
  }

  /** Starts `pending` on this connection (it must be idle or still connecting with nothing assigned). */
  send(pending: PendingRequest): void {
    this.active = pending;
    pending.connection = this;
    this.requests++;
    this.parser.expect(pending.request.method === 'HEAD');
    this.armTimer(pending.request.timeoutMs);
    if (this.connected) this.writeRequest(pending.request);
  }

  abort(pending: PendingRequest, err: Error): void {
    if (this.active === pending) this.fail(err);
  }

  resume(pending: PendingRequest): void {
    if (this.active !== pending || !this.paused) return;
    this.paused = false;
    this.lastActivity = performance.now();
    this.socket.resume();
  }

  /** Closes the connection; a request still on it fails with `err`. */
  destroy(err?: Error): void {
    if (err !== undefined && this.active !== undefined) {
      this.fail(err);
      return;
    }
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timerPending = false;
    this.socket.destroy();
    this.owner.removed(this);
  }

  onHead(status: number, headers: string[]): void {
    const pending = this.active;
    if (pending !== undefined) pending.handler.onHeaders(status, headers, pending.resume);
  }

  onBody(chunk: Buffer): void {
    const pending = this.active;
    if (pending === undefined || chunk.length === 0) return;
    // `chunk` lies in the shared read buffer, which the next read overwrites: hand over a copy.
    if (!pending.handler.onData(Buffer.from(chunk)) && !this.paused && this.active === pending) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private writeRequest(request: UpstreamRequest): void {
    let head = `${request.method} ${request.path} HTTP/1.1\r\n${this.target.hostLine}`;
    let hasLength = false;
    const headers = request.headers;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    const body = request.body;
    if (Buffer.isBuffer(body)) {
      // Bytes in hand (their Content-Length is among the headers): head and body in one write.
      this.bodyChunked = false;
      this.bodyDone = true;
      this.socket.cork();
      this.socket.write(`${head}\r\n`, 'latin1');
      this.socket.write(body);
      this.socket.uncork();
      this.lastActivity = performance.now();
      return;
    }
    this.bodyChunked = body !== null && !hasLength;
    head += this.bodyChunked ? 'transfer-encoding: chunked\r\n\r\n' : '\r\n';
    this.socket.write(head, 'latin1');
    this.lastActivity = performance.now();
    if (body === null) {
      this.bodyDone = true;
      return;
    }
    this.body = body;
    this.bodyRoom = request.maxBodyBytes ?? Infinity;
    this.bodyDone = false;
    body.on('data', this.onBodyData);
    body.on('end', this.onBodyEnd);
    body.on('error', this.onBodyError);
  }

  private readonly onBodyData = (chunk: Buffer): void => {
    this.lastActivity = performance.now();
    this.bodyRoom -= chunk.length;
    if (this.bodyRoom < 0) {
      const limit = this.active?.request.maxBodyBytes;
      // The function gets a cut body (its read fails, it never runs the handler on it); the caller
      // answers the client (413).
      this.fail(
        new UpstreamError('REQUEST_BODY_TOO_LARGE', `request body exceeds the function's limit of ${limit} bytes`),
      );
      return;
    }
    let flushed: boolean;
    if (this.bodyChunked) {
      if (chunk.length === 0) return;
      this.socket.cork();
      this.socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      this.socket.write(chunk);
      flushed = this.socket.write('\r\n', 'latin1');
      this.socket.uncork();
    } else {
      flushed = this.socket.write(chunk);
    }
    if (!flushed && !this.bodyPaused) {
      this.bodyPaused = true;
      this.body?.pause();
      this.socket.once('drain', this.onSocketDrain);
    }
  };

  private readonly onSocketDrain = (): void => {
    this.bodyPaused = false;
    this.body?.resume();
  };

  private readonly onBodyEnd = (): void => {
    if (this.bodyChunked) this.socket.write('0\r\n\r\n', 'latin1');
    this.bodyDone = true;
    this.detachBody();
  };

  /** The client's request stream failed (it went away mid-body): nothing more can be sent. */
  private readonly onBodyError = (err: Error): void => {
    this.fail(err);
  };

  private detachBody(): void {
    const body = this.body;
    if (body === null) return;
    this.body = null;
    body.off('data', this.onBodyData);
    body.off('end', this.onBodyEnd);
    body.off('error', this.onBodyError);
    if (this.bodyPaused) {
      this.bodyPaused = false;
      this.socket.off('drain', this.onSocketDrain);
    }
  }

  private readonly onSocketConnect = (): void => {
    this.connected = true;
    if (this.active !== undefined) this.writeRequest(this.active.request);
  };

  /** `onread` callback. Backpressure goes through `socket.pause()`, which stops the handle reading. */
  private readonly onSocketRead = (bytes: number, buffer: Uint8Array): boolean => {
    this.onSocketData(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
    return true;
  };

  private readonly onSocketData = (buf: Buffer): void => {
    const pending = this.active;
    if (pending === undefined) {
      // Bytes nobody asked for on an idle connection: it is out of step, never reuse it.
      this.destroy();
      return;
    }
    this.lastActivity = performance.now();
    let used: number;
    try {
      used = this.parser.execute(buf);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (this.active !== pending || !this.parser.complete) return;
    // Bytes after the end of the response (we never pipeline) mean the connection is out of step.
    this.finish(used === buf.length);
  };

  private readonly onSocketEnd = (): void => {
    if (this.active === undefined) {
      this.destroy();
      return;
    }
    try {
      this.parser.finishOnEnd();
    } catch {
      this.fail(this.closedEarly());
      return;
    }
    this.finish(false);
  };

  private readonly onSocketError = (err: Error): void => {
    if (this.active !== undefined) this.fail(err);
    else this.destroy();
  };

  private readonly onSocketClose = (): void => {
    if (this.active !== undefined) this.fail(this.closedEarly());
    else this.destroy();
  };

  private closedEarly(): UpstreamError {
    return this.parser.headReceived
      ? new UpstreamError('UPSTREAM_PREMATURE_CLOSE', 'connection closed in the middle of the response body')
      : new UpstreamError('UPSTREAM_CLOSED', 'connection closed before the response');
  }

  /** The response is complete: hand the connection back if both sides allow another request. */
  private finish(cleanEnd: boolean): void {
    const pending = this.active as PendingRequest;
    this.active = undefined;
    pending.finished = true;
    const reusable =
      cleanEnd &&
      this.bodyDone &&
      this.parser.keepAlive &&
      !this.closed &&
      this.requests < this.lifetime.maxRequests &&
      performance.now() < this.lifetime.retireAt;
    this.detachBody();
    const hint = this.parser.keepAliveTimeoutMs;
    this.idleLimitMs = hint === undefined ? DEFAULT_IDLE_MS : Math.max(0, Math.min(hint, 600_000) - IDLE_MARGIN_MS);
    pending.handler.onComplete();
    if (!reusable) {
      this.destroy();
      return;
    }
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.idleSince = performance.now();
    this.owner.released(this);
  }

  private fail(err: Error): void {
    const pending = this.active;
    if (pending === undefined) return;
    this.active = undefined;
    pending.finished = true;
    this.detachBody();
    this.destroy();
    pending.handler.onError(err);
  }

  /**
   * One timer per connection, not touched per request: a pending timer fires no later than its
   * own period from now, and then re-arms for whatever is left of the deadline (`onTimer`). Only a
   * shorter timeout than the pending timer's needs a new one.
   */
  private armTimer(timeoutMs: number): void {
    this.timeoutMs = timeoutMs;
    this.lastActivity = performance.now();
    if (this.timerPending && this.timerMs <= timeoutMs) return;
    this.startTimer(timeoutMs);
  }

  private startTimer(ms: number): void {
    clearTimeout(this.timer);
    this.timerMs = ms;
    this.timerPending = true;
    this.timer = setTimeout(this.onTimer, ms);
    this.timer.unref();
  }

  /** Fires at most once per timeout period; activity since the last arming only moves the deadline. */
  private readonly onTimer = (): void => {
    this.timerPending = false;
    if (this.active === undefined || this.closed) return;
    const silentFor = performance.now() - this.lastActivity;
    if (this.paused) {
      // Waiting for the client, not for the function.
      this.startTimer(this.timeoutMs);
      return;
    }
    if (silentFor < this.timeoutMs - 1) {
      this.startTimer(Math.max(1, Math.ceil(this.timeoutMs - silentFor)));
      return;
    }
    const code = !this.connected
      ? 'UPSTREAM_CONNECT_TIMEOUT'
      : this.parser.headReceived
        ? 'UPSTREAM_BODY_TIMEOUT'
        : 'UPSTREAM_HEADERS_TIMEOUT';
    this.fail(new UpstreamError(code, `no answer within ${this.timeoutMs} ms`));
  };
}
