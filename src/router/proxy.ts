import type { Downstream } from './downstream';
import { downstreamHeaders } from './forwarded-headers';
import type { AccessLog } from './log';
import { errorBody } from './responses';
import type { RouteMatch } from './route-matcher';
import type { UpstreamHandler } from './upstream-client/types';
import { classifyUpstreamError } from './upstream-errors';
import type { Holdable } from './activator/function-activity';

/** Methods whose requests may be sent twice (RFC 9110 §9.2.2): retried once on connection errors. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** nginx's convention for "the client went away before we answered"; only used in metrics and logs. */
const CLIENT_CLOSED = 499;

/** What a proxied request needs from the server around it. */
export interface ProxyEnvironment {
  readonly accessLog: AccessLog;
  /** True while shutting down: responses carry `Connection: close`. */
  readonly draining: boolean;
}

/** One request being proxied; its fields describe the request, the exchange drives it. */
export interface ProxyRequest {
  readonly method: string;
  /** The request target as received (access log). */
  readonly url: string;
  readonly client: Downstream;
  readonly match: RouteMatch;
  /** Upper-case known method or `OTHER`, for metric labels. */
  readonly methodLabel: string;
  /** Complete upstream header list (forwarded + router-owned). */
  readonly headers: string[];
  readonly requestId: string;
  /** `performance.now()` when the request arrived. */
  readonly receivedAt: number;
  /** Added to the response head, and to the router's own error answers (router policies: CORS, RateLimit-*); flat list. */
  readonly responseHeaders?: readonly string[];
  /** The route has a CORS policy: the function's own `Access-Control-*` response headers are dropped. */
  readonly ownsCors?: boolean;
}

/**
 * Proxies one request through the function's upstream pool: the response head and chunks are
 * written straight to the client response as they arrive (no intermediate stream objects), with
 * backpressure both ways. A request for a function that is at zero (no ready endpoint, see
 * `FunctionActivity`) is held first and sent when an endpoint is ready.
 */
export class ProxyExchange implements UpstreamHandler {
  private abortUpstream: ((err: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private drainHooked = false;
  private retried = false;
  private settled = false;
  private clientClosed = false;
  private upstreamStatus = 0;
  private dispatchedAt = 0;
  /** `onClientClose` is registered with the client. */
  private watchingClient = false;
  /** Its place in the function's hold queue; created only for a request that is held. */
  private held: HeldExchange | undefined = undefined;

  constructor(
    private readonly request: ProxyRequest,
    private readonly env: ProxyEnvironment,
  ) {}

  /**
   * Sends the request, or holds it while the function is cold, unless the function is retired or
   * saturated (then answers 503 itself).
   */
  start(): void {
    const upstream = this.request.match.entry.upstream;
    const activity = upstream.activity;
    activity.requestsTotal++;
    if (upstream.retired) {
      this.answer(503, `function "${upstream.name}" is being removed`);
      return;
    }
    if (activity.cold) {
      this.hold();
      return;
    }
    if (upstream.saturated) {
      this.answer(503, `function "${upstream.name}" is overloaded: too many requests in flight at the router`, [
        'retry-after',
        '1',
      ]);
      return;
    }
    this.send();
  }

  private send(): void {
    this.request.match.entry.upstream.activity.inFlight++;
    if (!this.watchingClient) {
      this.watchingClient = true;
      this.request.client.onClientGone(this.onClientClose);
    }
    this.dispatchedAt = performance.now();
    this.dispatch(false);
  }

  /** Waits in the function's hold queue; a full queue is answered 503 at once. */
  private hold(): void {
    const upstream = this.request.match.entry.upstream;
    this.held ??= new HeldExchange(this);
    if (!upstream.activity.hold(this.held)) {
      this.unwatchClient();
      this.answer(503, `function "${upstream.name}" is starting and too many requests are already waiting for it`, [
        'retry-after',
        '1',
      ]);
      return;
    }
    if (!this.watchingClient) {
      this.watchingClient = true;
      this.request.client.onClientGone(this.onClientClose);
    }
  }

  /** An endpoint is ready. Held requests are sent whatever the in-flight count: they were accepted. */
  onReleased(): void {
    if (this.request.client.clientGone) {
      // Gone before its close event reached us: nothing to send the answer to.
      this.clientClosed = true;
      this.unwatchClient();
      this.record(CLIENT_CLOSED, 'client closed the connection while the request was held');
      return;
    }
    this.send();
  }

  /** Not sent: waited too long, or the function left the table. */
  onHoldFailed(status: number, message: string, extra?: readonly string[]): void {
    this.unwatchClient();
    this.answer(status, message, extra);
  }

  private unwatchClient(): void {
    if (!this.watchingClient) return;
    this.watchingClient = false;
    this.request.client.offClientGone(this.onClientClose);
  }

  private dispatch(freshConnection: boolean): void {
    const { method, client, match, headers } = this.request;
    const upstream = match.entry.upstream;
    upstream.pick().dispatch(
      {
        path: match.forwardPath,
        method,
        headers,
        body: client.body,
        timeoutMs: upstream.timeoutMs,
        maxBodyBytes: upstream.maxBodyBytes,
      },
      this,
      freshConnection,
    );
  }

  private readonly onClientClose = (): void => {
    if (this.settled || this.request.client.finished) return;
    this.clientClosed = true;
    if (this.held?.holding) {
      this.request.match.entry.upstream.activity.cancel(this.held);
      this.unwatchClient();
      this.record(CLIENT_CLOSED, 'client closed the connection while the request was held');
      return;
    }
    this.abortUpstream?.(new Error('client closed the connection'));
  };

  private readonly onClientDrain = (): void => {
    this.drainHooked = false;
    this.resumeUpstream?.();
  };

  onConnect(abort: (err: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientClosed) abort(new Error('client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void): void {
    this.upstreamStatus = statusCode;
    this.resumeUpstream = resume;
    // Throws on header values node refuses; the pool then drops the connection and onError answers 502.
    let headers = downstreamHeaders(rawHeaders, this.request.requestId, this.env.draining);
    // Two allow-origin values would make the browser refuse the response: the router's policy wins.
    if (this.request.ownsCors === true) headers = withoutCorsHeaders(headers);
    const extra = this.request.responseHeaders;
    if (extra !== undefined) for (let i = 0; i < extra.length; i++) headers.push(extra[i]);
    this.request.client.writeHead(statusCode, headers);
  }

  onData(chunk: Buffer): boolean {
    const { client } = this.request;
    if (client.write(chunk)) return true;
    if (!this.drainHooked) {
      this.drainHooked = true;
      client.onceDrain(this.onClientDrain);
    }
    return false;
  }

  onComplete(): void {
    this.request.client.end();
    this.settle(this.upstreamStatus, undefined);
  }

  onError(err: Error): void {
    if (this.settled) return;
    const { client, match } = this.request;
    const upstream = match.entry.upstream;
    if (this.clientClosed || client.clientGone) {
      this.settle(CLIENT_CLOSED, 'client closed the connection');
      return;
    }
    if (client.headersSent) {
      // The status line is gone: all we can do is cut the response so the client sees it truncated.
      client.destroy(err);
      this.settle(this.upstreamStatus, `response from function "${upstream.name}" interrupted: ${err.message}`);
      return;
    }
    // Refused: nothing was delivered. If the function has gone cold meanwhile (it scaled to zero, or
    // crashed, as the request left), wait for it again rather than fail — any method is safe.
    if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED' && upstream.activity.cold) {
      upstream.activity.inFlight--;
      this.abortUpstream = undefined;
      this.hold();
      return;
    }
    const failure = classifyUpstreamError(err, upstream.name, upstream.timeoutMs);
    if (failure.connection && !this.retried && this.canResend()) {
      this.retried = true;
      this.abortUpstream = undefined;
      this.dispatch(true);
      return;
    }
    client.sendJson(
      failure.status,
      errorBody(failure.message),
      this.request.requestId,
      this.env.draining,
      this.request.responseHeaders,
    );
    this.settle(failure.status, failure.message);
  }

  /** Idempotent, and the body (if any) can be sent again: bytes in hand, or a stream not read yet. */
  private canResend(): boolean {
    const { method, client } = this.request;
    return IDEMPOTENT.has(method) && (client.body === null || Buffer.isBuffer(client.body) || !client.bodyConsumed());
  }

  /** Answers without contacting the function. */
  private answer(status: number, message: string, extra?: readonly string[]): void {
    const own = this.request.responseHeaders;
    const headers = own === undefined || own.length === 0 ? extra : [...(extra ?? []), ...own];
    this.request.client.sendJson(status, errorBody(message), this.request.requestId, this.env.draining, headers);
    this.record(status, message);
  }

  private settle(status: number, error: string | undefined): void {
    this.settled = true;
    const upstream = this.request.match.entry.upstream;
    upstream.activity.inFlight--;
    this.unwatchClient();
    upstream.durations.upstream.observe((performance.now() - this.dispatchedAt) / 1000);
    this.record(status, error);
  }

  private record(status: number, error: string | undefined): void {
    const { method, url, match, methodLabel, requestId, receivedAt } = this.request;
    const durationMs = performance.now() - receivedAt;
    match.entry.counter.inc(methodLabel, status);
    match.entry.upstream.durations.request.observe(durationMs / 1000);
    this.env.accessLog.record({ requestId, method, url, status, fn: match.entry.upstream.name, durationMs, error });
  }
}

/** `headers` (flat list) without `Access-Control-*` entries. */
function withoutCorsHeaders(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name.length > 15 && name.slice(0, 15).toLowerCase() === 'access-control-') continue;
    out.push(name, headers[i + 1]);
  }
  return out;
}

/**
 * A proxied request's entry in its function's hold queue. A separate object so that the warm path's
 * `ProxyExchange` carries one pointer for holding, not the queue's timing fields (doubles, which V8
 * would box on every exchange once any request had been held).
 */
class HeldExchange implements Holdable {
  heldAt = 0;
  holdDeadline = 0;
  holding = false;

  constructor(private readonly exchange: ProxyExchange) {}

  released(): void {
    this.exchange.onReleased();
  }

  holdFailed(status: number, message: string, extra?: readonly string[]): void {
    this.exchange.onHoldFailed(status, message, extra);
  }
}
