import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Endpoints } from '../contract';
import { ignoreUpgrades } from '../shared/ignore-upgrades';
import { closeLingering, isLingering } from '../shared/lingering-close';
import { declaredLength, hasBody, readBody } from './body';
import { RuntimeDefaults } from './config';
import { InvocationContext, noCalls, noQueuePublisher, type Publisher } from './context';
import type { FunctionCalls } from './invoke';
import { DeadlineQueue, type DeadlineEntry } from './deadlines';
import { clientErrorStatus } from './errors';
import { EMPTY_BODY, HttpEvent } from './event';
import { JsonLogger, LogSink, isoNow, jsonFragment, type LogWrite } from './log';
import { Outcome, RuntimeMetrics, type OutcomeIndex, type TriggerStats } from './metrics';
import { readRequestHead, type RequestHead } from './request-head';
import { RequestIdSource, traceIdOf } from './request-id';
import { ContentTypes, sendBody, sendError, sendResult, type BaseHeaders } from './respond';
import type { Handler } from '../contract';

export interface RuntimeOptions {
  /** The user's handler, already loaded. */
  readonly handler: Handler;
  /** Function name, used in events, logs and metric labels. */
  readonly functionName: string;
  /** Handler timeout; the runtime answers 504 and aborts `context.signal` after it. @default 30000 */
  readonly timeoutMs?: number;
  /** Requests handled at once before answering 429; 0 = unlimited. @default 0 */
  readonly maxConcurrency?: number;
  /** Largest accepted request body; larger ones get 413. @default 6291456 (6 MiB) */
  readonly maxBodyBytes?: number;
  /** How long `shutdown()` waits for in-flight requests once the listener closed. @default 25000 */
  readonly shutdownGraceMs?: number;
  /**
   * How long `shutdown()` keeps serving new requests (readiness 503, `Connection: close`) before it
   * closes the listener, while endpoints stop pointing at this pod. @default 0
   */
  readonly drainDelayMs?: number;
  /** Where JSON log lines go (in batches of whole lines). @default process.stdout */
  readonly logWrite?: LogWrite;
  /** Implementation of `context.publish()`. @default rejects: no queue configured */
  readonly publish?: Publisher;
  /** Implementation of `context.invoke()` / `invokeAsync()`. @default rejects: nothing declared in `invokes` */
  readonly calls?: FunctionCalls;
  /** Prefix of generated request ids. @default random per process */
  readonly requestIdPrefix?: string;
  /** Extra readiness condition (e.g. the queue consumers are connected). @default always ready */
  readonly isReady?: () => boolean;
}

/** A function runtime: the HTTP server plus its lifecycle. Usable in-process by tests and benchmarks. */
export interface Runtime {
  readonly server: http.Server;
  readonly metrics: RuntimeMetrics;
  /** Process-level logger (function name on every line). */
  readonly log: JsonLogger;
  /** Where every log line goes (queue invocations log through it too). */
  readonly sink: LogSink;
  /** True while the handler is loaded and the runtime is not shutting down (what /readyz reports). */
  readonly ready: boolean;
  /** Requests accepted and not yet answered. */
  readonly inFlight: number;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /**
   * Turns readiness off and keeps serving (every response with `Connection: close`) for the drain
   * delay, then stops accepting connections, lets in-flight requests finish, closes idle keep-alive
   * connections. Resolves true once everything finished, false when the grace period ran out first.
   */
  shutdown(): Promise<boolean>;
  /** Writes buffered log lines now (call before the process exits). */
  flushLogs(): void;
}

export function createRuntime(options: RuntimeOptions): Runtime {
  return new HttpRuntime(options);
}

/** One accepted request, from arrival to the last byte of its response. */
class HttpInvocation implements DeadlineEntry {
  deadlinePrev: DeadlineEntry | undefined = undefined;
  deadlineNext: DeadlineEntry | undefined = undefined;
  deadlineQueued = false;
  /** The response is decided (sent, or being streamed); later results are ignored. */
  settled = false;
  context: InvocationContext | undefined = undefined;
  event: HttpEvent | undefined = undefined;
  /** What the handler's pending promise reaches us through; emptied on timeout (see `abandon`). */
  result: { invocation?: HttpInvocation } | undefined = undefined;

  constructor(
    private readonly runtime: HttpRuntime,
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
    readonly head: RequestHead,
    readonly requestId: string,
    readonly startedAt: number,
    /** This invocation's timeout: the function's, or less when a calling function has less time left. */
    readonly timeoutMs: number,
  ) {
    this.deadlineAt = startedAt + timeoutMs;
  }

  readonly deadlineAt: number;

  expire(): void {
    this.runtime.timedOut(this);
  }
}

type Thenable = { then(onFulfilled: (value: unknown) => void, onRejected: (reason: unknown) => void): unknown };

class HttpRuntime implements Runtime {
  readonly server: http.Server;
  readonly metrics: RuntimeMetrics;
  readonly log: JsonLogger;

  private readonly handler: Handler;
  private readonly functionName: string;
  private readonly functionJson: string;
  private readonly timeoutMs: number;
  private readonly maxConcurrency: number;
  private readonly maxBodyBytes: number;
  private readonly shutdownGraceMs: number;
  private readonly drainDelayMs: number;
  private readonly publish: Publisher;
  private readonly calls: FunctionCalls;
  readonly sink: LogSink;
  private readonly isReady?: () => boolean;
  private readonly ids: RequestIdSource;
  private readonly deadlines = new DeadlineQueue();
  private readonly http: TriggerStats;
  private stopping = false;
  private shutdownResult?: Promise<boolean>;
  private onDrained?: () => void;

  constructor(options: RuntimeOptions) {
    this.handler = options.handler;
    this.functionName = options.functionName;
    this.functionJson = JSON.stringify(options.functionName);
    this.timeoutMs = options.timeoutMs ?? RuntimeDefaults.timeoutMs;
    this.maxConcurrency = options.maxConcurrency ?? RuntimeDefaults.maxConcurrency;
    this.maxBodyBytes = options.maxBodyBytes ?? RuntimeDefaults.maxBodyBytes;
    this.shutdownGraceMs = options.shutdownGraceMs ?? RuntimeDefaults.shutdownGraceMs;
    this.drainDelayMs = options.drainDelayMs ?? RuntimeDefaults.drainDelayMs;
    this.publish = options.publish ?? noQueuePublisher;
    this.calls = options.calls ?? noCalls;
    this.sink = new LogSink(options.logWrite);
    this.isReady = options.isReady;
    this.log = new JsonLogger(this.sink, jsonFragment({ function: options.functionName }));
    this.ids = new RequestIdSource(options.requestIdPrefix);
    this.metrics = new RuntimeMetrics(options.functionName);
    this.http = this.metrics.trigger('http');
    this.server = http.createServer(this.onRequest);
    ignoreUpgrades(this.server);
  }

  /** The metrics' gauge is the one in-flight counter (the 429 check and shutdown read it too). */
  get inFlight(): number {
    return this.metrics.inFlight;
  }

  get ready(): boolean {
    return !this.stopping && (this.isReady === undefined || this.isReady());
  }

  listen(port: number, host?: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  flushLogs(): void {
    this.sink.flush();
  }

  private readonly onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // Pipelined after a body we refused, on a connection closing: thrown away, never served.
    if (isLingering(req.socket)) return;
    const url = req.url as string;
    if (url === Endpoints.health || url === Endpoints.ready || url === Endpoints.metrics) {
      this.serveEndpoint(url, res);
      return;
    }
    const startedAt = performance.now();
    const head = readRequestHead(req.rawHeaders);
    const requestId = this.ids.idFor(head.requestId);
    if (this.maxConcurrency > 0 && this.metrics.inFlight >= this.maxConcurrency) {
      sendError(
        res,
        429,
        `too many concurrent requests (limit ${this.maxConcurrency})`,
        requestId,
        this.baseHeaders(requestId),
        ['retry-after', '1'],
      );
      this.record(req, head, requestId, startedAt, 429, Outcome.rejected);
      return;
    }
    this.metrics.inFlight++;
    // A calling function's remaining time (context.invoke) shortens the timeout, never lengthens it.
    const caller = head.callerTimeoutMs;
    const timeoutMs = caller !== undefined && caller < this.timeoutMs ? caller : this.timeoutMs;
    const invocation = new HttpInvocation(this, req, res, head, requestId, startedAt, timeoutMs);
    if (!hasBody(head)) {
      this.invoke(invocation, EMPTY_BODY);
      return;
    }
    const length = declaredLength(head);
    if (length !== undefined && length > this.maxBodyBytes) {
      this.bodyTooLarge(invocation);
      return;
    }
    this.deadlines.add(invocation);
    readBody(req, this.maxBodyBytes, (failure, body) => {
      if (invocation.settled) return; // timed out while the body was arriving
      if (failure === 'too-large') this.bodyTooLarge(invocation);
      else if (failure === 'aborted') this.clientGone(invocation);
      else this.invoke(invocation, body);
    });
  };

  private invoke(invocation: HttpInvocation, body: Buffer): void {
    const { req, requestId } = invocation;
    const arrivalMs = Date.now() - (performance.now() - invocation.startedAt);
    // `req` itself as the header source: node builds `req.headers` only if the handler reads them.
    const event = new HttpEvent(
      req.method as string,
      req.url as string,
      req,
      body,
      requestId,
      this.functionName,
      arrivalMs,
    );
    const context = new InvocationContext(
      this.functionName,
      requestId,
      arrivalMs + invocation.timeoutMs,
      this.sink,
      this.publish,
      traceIdOf(invocation.head.traceparent),
      invocation.res,
      this.calls,
    );
    invocation.context = context;
    invocation.event = event;
    if (this.metrics.coldStarts === 0) this.metrics.coldStarts = 1;

    let result: unknown;
    try {
      result = this.handler(event, context);
    } catch (err) {
      this.failed(invocation, err);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Thenable).then === 'function') {
      if (!invocation.deadlineQueued) this.deadlines.add(invocation);
      // Through a slot the timeout empties: a promise that never settles then keeps nothing of ours.
      const slot: { invocation?: HttpInvocation } = { invocation };
      invocation.result = slot;
      (result as Thenable).then(
        (value) => slot.invocation && this.succeeded(slot.invocation, value),
        (err) => slot.invocation && this.failed(slot.invocation, err),
      );
      return;
    }
    // Synchronous fast path: no deadline bookkeeping, no promise.
    this.succeeded(invocation, result);
  }

  private succeeded(invocation: HttpInvocation, result: unknown): void {
    if (this.late(invocation) || !this.settle(invocation)) return;
    let sent: number | Promise<number>;
    try {
      sent = sendResult(invocation.res, result, this.baseHeaders(invocation.requestId));
    } catch (err) {
      // The value could not be serialized (circular, BigInt): nothing was written yet.
      this.respondToError(invocation, err);
      return;
    }
    if (typeof sent === 'number') {
      this.complete(invocation, sent, Outcome.success);
      return;
    }
    sent.then(
      (status) => this.complete(invocation, status, Outcome.success),
      (err) => {
        this.logHandlerError(invocation, 'response body stream failed', err);
        invocation.res.destroy();
        this.complete(invocation, invocation.res.statusCode, Outcome.error);
      },
    );
  }

  private failed(invocation: HttpInvocation, err: unknown): void {
    if (this.late(invocation) || !this.settle(invocation)) return;
    this.respondToError(invocation, err);
  }

  private respondToError(invocation: HttpInvocation, err: unknown): void {
    const { res, requestId } = invocation;
    const status = clientErrorStatus(err);
    if (status !== undefined) {
      // A deliberate client error: the handler rejected the request; the message is meant for the caller.
      const message =
        err instanceof Error ? err.message : String((err as { message?: unknown }).message ?? 'bad request');
      sendError(res, status, message, requestId, this.baseHeaders(requestId));
      this.complete(invocation, status, Outcome.success);
      return;
    }
    // The stack and message go to the log only: they may reveal internals to the caller.
    this.logHandlerError(invocation, 'handler failed', err);
    sendError(
      res,
      500,
      'internal error: the function failed; see its logs for this request id',
      requestId,
      this.baseHeaders(requestId),
    );
    this.complete(invocation, 500, Outcome.error);
  }

  /**
   * A result that comes after the deadline is answered as the timeout it is (true: done). The
   * deadline timer cannot always come first: a handler that blocks the event loop past its timeout
   * (a busy loop, a huge synchronous parse) settles its promise in the same turn it unblocks, and
   * promise reactions run before timers.
   */
  private late(invocation: HttpInvocation): boolean {
    if (invocation.settled || performance.now() < invocation.deadlineAt) return false;
    if (invocation.deadlineQueued) this.deadlines.remove(invocation);
    this.timedOut(invocation);
    return true;
  }

  /** Called by the deadline queue. */
  timedOut(invocation: HttpInvocation): void {
    if (invocation.settled) return;
    invocation.settled = true;
    const timeout =
      invocation.timeoutMs === this.timeoutMs
        ? `${this.timeoutMs} ms`
        : `${invocation.timeoutMs} ms (the time its calling function had left)`;
    invocation.context?.abort(`timed out after ${timeout}`);
    const { req, res, requestId } = invocation;
    if (!res.headersSent) {
      // Still reading the body: do not wait for the rest of it on this connection.
      const reading = invocation.context === undefined;
      if (reading) closeLingering(req);
      const extra = reading ? ['connection', 'close'] : undefined;
      sendError(res, 504, `function timed out after ${timeout}`, requestId, this.baseHeaders(requestId), extra);
    }
    this.complete(invocation, 504, Outcome.timeout);
    this.abandon(invocation);
  }

  /**
   * After a timeout the handler may never settle, and whatever its pending promise reaches stays in
   * memory as long as that promise does: cut every path from the handler's objects (its event,
   * context and the promise's reactions) to the request, the response and this invocation.
   */
  private abandon(invocation: HttpInvocation): void {
    if (invocation.result) invocation.result.invocation = undefined;
    invocation.event?.releaseRequest();
    invocation.context?.releaseResponse();
    invocation.result = invocation.event = invocation.context = undefined;
  }

  private bodyTooLarge(invocation: HttpInvocation): void {
    if (!this.settle(invocation)) return;
    const { req, res, requestId } = invocation;
    // The rest of the body is not worth reading: the connection closes after the answer, lingering
    // (reading and discarding, bounded) so that the client gets the 413 rather than a reset.
    closeLingering(req);
    sendError(res, 413, `request body exceeds ${this.maxBodyBytes} bytes`, requestId, this.baseHeaders(requestId), [
      'connection',
      'close',
    ]);
    this.complete(invocation, 413, Outcome.rejected);
  }

  private clientGone(invocation: HttpInvocation): void {
    if (!this.settle(invocation)) return;
    // 499 (nginx's "client closed request") in the log; not an invocation: the handler never ran.
    this.complete(invocation, 499, undefined);
  }

  /** Marks the response as decided; false when it already was (e.g. the deadline passed first). */
  private settle(invocation: HttpInvocation): boolean {
    if (invocation.settled) return false;
    invocation.settled = true;
    if (invocation.deadlineQueued) this.deadlines.remove(invocation);
    return true;
  }

  private complete(invocation: HttpInvocation, status: number, outcome: OutcomeIndex | undefined): void {
    this.metrics.inFlight--;
    this.record(invocation.req, invocation.head, invocation.requestId, invocation.startedAt, status, outcome);
    if (this.stopping && this.inFlight === 0) this.onDrained?.();
  }

  private record(
    req: http.IncomingMessage,
    head: RequestHead,
    requestId: string,
    startedAt: number,
    status: number,
    outcome: OutcomeIndex | undefined,
  ): void {
    const durationMs = performance.now() - startedAt;
    if (outcome !== undefined) {
      this.http.count(outcome);
      if (outcome !== Outcome.rejected) this.http.observe(durationMs / 1000);
    }
    // Built by hand: this line is written for every request, and JSON.stringify of an object
    // literal costs several times more than concatenating pre-encoded parts.
    const url = req.url as string;
    const q = url.indexOf('?');
    const traceId = traceIdOf(head.traceparent);
    // Generated ids (base 36 and `-`) and methods (an HTTP token) never need escaping; incoming ids
    // and paths may.
    const idJson = requestId === head.requestId ? JSON.stringify(requestId) : `"${requestId}"`;
    this.sink.line(
      `{"level":"info","time":"${isoNow()}","msg":"request","function":${this.functionJson},` +
        `"requestId":${idJson}${traceId ? `,"traceId":"${traceId}"` : ''},` +
        `"method":"${req.method}","path":${JSON.stringify(q === -1 ? url : url.slice(0, q))},` +
        `"status":${status},"durationMs":${Math.round(durationMs * 1000) / 1000}}`,
    );
  }

  private logHandlerError(invocation: HttpInvocation, msg: string, err: unknown): void {
    const context = invocation.context;
    const logger = context ? (context.log as JsonLogger) : this.log;
    const error = err instanceof Error ? err : new Error(String(err));
    const fields: Record<string, unknown> = { error: { name: error.name, message: error.message, stack: error.stack } };
    if (!context) fields.requestId = invocation.requestId; // the context's logger already carries it
    logger.write('error', msg, fields);
  }

  /** While shutting down, every response closes its connection so keep-alive clients move on. */
  private baseHeaders(requestId: string): BaseHeaders {
    return this.stopping ? ['x-request-id', requestId, 'connection', 'close'] : ['x-request-id', requestId];
  }

  private serveEndpoint(url: string, res: http.ServerResponse): void {
    const base: BaseHeaders = this.stopping ? ['connection', 'close'] : [];
    if (url === Endpoints.health) {
      sendBody(res, 200, ContentTypes.json, '{"status":"ok"}', base);
    } else if (url === Endpoints.ready) {
      if (this.ready) sendBody(res, 200, ContentTypes.json, '{"status":"ready"}', base);
      else
        sendBody(
          res,
          503,
          ContentTypes.json,
          this.stopping ? '{"status":"shutting down"}' : '{"status":"not ready"}',
          base,
        );
    } else {
      this.metrics.render().then(
        ({ contentType, body }) => sendBody(res, 200, contentType, body, base),
        (err) => {
          this.log.error('rendering metrics failed', { error: err });
          sendBody(res, 500, ContentTypes.json, '{"error":"rendering metrics failed"}', base);
        },
      );
    }
  }

  shutdown(): Promise<boolean> {
    if (this.shutdownResult) return this.shutdownResult;
    // From here readiness is 503 and responses close their connections; the listener stays open
    // for the drain delay so requests routed here before the endpoints update are still served.
    this.stopping = true;
    const drained =
      this.drainDelayMs > 0 && this.server.listening
        ? new Promise<void>((r) => setTimeout(r, this.drainDelayMs))
        : Promise.resolve();
    this.shutdownResult = drained.then(() => this.closeAndWait());
    return this.shutdownResult;
  }

  private closeAndWait(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let serverClosed = !this.server.listening;
      const finishIfDone = (): void => {
        if (serverClosed && this.inFlight === 0) {
          clearTimeout(grace);
          clearInterval(sweepIdle);
          resolve(true);
        }
      };
      // A response that was already being written when shutdown began went out with keep-alive;
      // its connection turns idle only once the bytes are flushed, so keep closing idle ones.
      const sweepIdle = setInterval(() => this.server.closeIdleConnections(), 100);
      const grace = setTimeout(() => {
        this.log.warn('shutdown grace period ended with requests in flight', {
          inFlight: this.inFlight,
          graceMs: this.shutdownGraceMs,
        });
        clearInterval(sweepIdle);
        this.server.closeAllConnections();
        resolve(false);
      }, this.shutdownGraceMs);
      this.onDrained = (): void => {
        // Responses sent from now on carry `connection: close`; connections already idle are closed here.
        this.server.closeIdleConnections();
        finishIfDone();
      };
      if (this.server.listening) {
        this.server.close(() => {
          serverClosed = true;
          finishIfDone();
        });
      }
      this.server.closeIdleConnections();
      finishIfDone();
    });
  }
}
