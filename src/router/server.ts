import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { Endpoints, HTTP_METHODS, type RouteTable } from '../contract';
import type { AsyncEndpoint } from './async-endpoint';
import { NodeDownstream } from './downstream';
import { FastPath } from './fast-path/fast-path';
import { readInboundHeaders } from './forwarded-headers';
import { AccessLog, RouterLog } from './log';
import { RouterMetrics, type RequestCounter } from './metrics';
import type { ProxyEnvironment } from './proxy';
import { pathOf, rejectRequest, routeRequest } from './routing';
import { errorBody, sendJson } from './responses';
import { RouteMatcher } from './route-matcher';
import { RequestIds, TraceparentSource } from './trace-ids';
import { Upstreams } from './upstreams';

const KNOWN_METHODS: ReadonlySet<string> = new Set(HTTP_METHODS);
/** Longer than typical load-balancer idle timeouts (60 s), so the LB closes idle connections, not us. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface RouterStateOptions {
  /** Share of successful requests that get an access-log line. @default 1 */
  readonly accessLogSample?: number;
  /** Where log lines go. @default a RouterLog on stdout */
  readonly log?: RouterLog;
}

export interface RouterServerOptions {
  /**
   * Serve simple requests on the raw-socket fast path (`fast-path/`); off, node:http serves every
   * request. On when this node's HTTP parser can be used.
   * @default true
   */
  readonly fastPath?: boolean;
}

/**
 * The router's mutable state: the active route table (matcher + upstreams), whether it is shutting
 * down, and the shared metrics / logging / id sources used by every request.
 */
export class RouterState implements ProxyEnvironment {
  readonly metrics = new RouterMetrics();
  readonly log: RouterLog;
  readonly accessLog: AccessLog;
  readonly requestIds = new RequestIds();
  readonly traceparents = new TraceparentSource();
  private drainingFlag = false;
  private readonly drainListeners: Array<() => void> = [];
  /** The raw-socket fast path serves new connections (see createRouterServer). */
  fastPathActive = false;
  /** Set when the platform has a queue: serves `/async-function/…`. */
  asyncCalls: AsyncEndpoint | undefined = undefined;
  private matcherInstance: RouteMatcher | undefined;
  private readonly upstreams: Upstreams;
  /** Counts requests that matched nothing (404/405) or hit the router's own errors. */
  readonly unmatched: RequestCounter;

  constructor(options: RouterStateOptions = {}) {
    this.log = options.log ?? new RouterLog();
    this.accessLog = new AccessLog(this.log, options.accessLogSample ?? 1);
    this.upstreams = new Upstreams(this.metrics);
    this.unmatched = this.metrics.requestCounter('', '');
  }

  /** True once shutdown began: readiness is 503 and responses carry `Connection: close`. */
  get draining(): boolean {
    return this.drainingFlag;
  }

  /** Starts shutting down (once): readiness 503, `Connection: close` on responses; still serving. */
  startDraining(): void {
    this.drainingFlag = true;
  }

  /** The listener closes (after the drain delay): tells whoever registered with `onDrain`, once. */
  stopListening(): void {
    this.startDraining();
    if (this.listenersCalled) return;
    this.listenersCalled = true;
    for (const listener of this.drainListeners) listener();
  }

  private listenersCalled = false;

  /** Called when the listener closes (idle keep-alive connections are closed then). */
  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  get matcher(): RouteMatcher | undefined {
    return this.matcherInstance;
  }

  get ready(): boolean {
    return this.matcherInstance !== undefined && !this.draining;
  }

  /**
   * Switches to a new, already validated table. The matcher is built first, so a table whose routes
   * conflict throws here and the current table stays in effect.
   */
  applyTable(table: RouteTable): void {
    const prepared = this.upstreams.prepare(table);
    let matcher: RouteMatcher;
    try {
      matcher = new RouteMatcher(table, prepared.upstreams, this.metrics);
    } catch (err) {
      prepared.discard();
      throw err;
    }
    prepared.commit();
    this.matcherInstance = matcher;
  }

  closeUpstreams(graceMs: number): Promise<void> {
    return this.upstreams.closeAll(graceMs);
  }
}

/**
 * The HTTP server: health endpoints, matching, and proxying through the active table. Simple
 * requests are served on the fast path in front of node:http (see `FastPath`).
 */
export function createRouterServer(state: RouterState, options: RouterServerOptions = {}): Server {
  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => handleRequest(state, req, res));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerMalformed(err, socket));
  if (options.fastPath ?? true) state.fastPathActive = FastPath.install(server, state) !== undefined;
  return server;
}

/** A request node:http parsed: everything the router serves. */
function handleRequest(state: RouterState, req: IncomingMessage, res: ServerResponse): void {
  const receivedAt = performance.now();
  const inbound = readInboundHeaders(req.rawHeaders);
  const requestId = state.requestIds.idFor(inbound.requestId);
  const method = req.method ?? 'GET';
  let url = req.url ?? '/';

  if (url.charCodeAt(0) !== 47 /* / */) {
    const path = originFormOf(url);
    if (path === undefined) {
      answerUnmatched(state, req, res, requestId, receivedAt, 400, 'malformed request target');
      return;
    }
    url = path;
  }
  if (serveOwnEndpoint(state, url, res, requestId)) return;

  const matcher = state.matcher;
  if (matcher === undefined) {
    answerUnmatched(state, req, res, requestId, receivedAt, 503, 'route table not loaded yet');
    return;
  }
  // A request body we will not forward (no route) is drained so the connection can be reused.
  const client = new NodeDownstream(req, res, inbound.hasBody);
  const request = { method, url, rawHeaders: req.rawHeaders, inbound, requestId, receivedAt, clientAddress: req.socket.remoteAddress };
  if (!routeRequest(state, matcher, request, client)) req.resume();
}

/** /healthz, /readyz, /metrics (with or without a query string). Returns true when it answered. */
function serveOwnEndpoint(state: RouterState, url: string, res: ServerResponse, requestId: string): boolean {
  const path = pathOf(url);
  switch (path) {
    case Endpoints.health:
      sendJson(res, 200, { status: 'ok' }, requestId, state.draining);
      return true;
    case Endpoints.ready:
      sendJson(
        res,
        state.ready ? 200 : 503,
        { status: state.ready ? 'ready' : state.draining ? 'shutting down' : 'route table not loaded' },
        requestId,
        state.draining,
      );
      return true;
    case Endpoints.metrics:
      state.metrics.render().then(
        (text) => {
          if (res.destroyed) return;
          const headers: Record<string, string> = { 'content-type': state.metrics.registry.contentType, 'cache-control': 'no-store' };
          if (state.draining) headers.connection = 'close';
          res.writeHead(200, headers);
          res.end(text);
        },
        (err: Error) => sendJson(res, 500, errorBody(`metrics unavailable: ${err.message}`), requestId, state.draining),
      );
      return true;
    default:
      return false;
  }
}

function answerUnmatched(
  state: RouterState,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  receivedAt: number,
  status: number,
  message: string,
): void {
  // A request body we will not forward: drain it so the connection can be reused.
  req.resume();
  rejectRequest(state, new NodeDownstream(req, res, false), req.method ?? '', req.url ?? '', requestId, receivedAt, status, message);
}

/** `http://host/path?q` (absolute form, sent to proxies) → `/path?q`; anything else is malformed. */
function originFormOf(target: string): string | undefined {
  if (!/^https?:\/\//i.test(target)) return undefined;
  try {
    const parsed = new URL(target);
    return parsed.pathname + parsed.search;
  } catch {
    return undefined;
  }
}

/** Unparseable requests: a 400 (431 for an oversized head) JSON answer if the socket still takes it, never a crash. */
function answerMalformed(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify(errorBody(tooLarge ? 'request head too large' : `malformed request: ${err.code ?? err.message}`));
  socket.end(
    `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  // Then close for good: a client that never ends its side must not hold the server open.
  socket.once('finish', () => socket.destroy());
}
