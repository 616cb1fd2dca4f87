import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { ROUTER_KEEP_ALIVE_TIMEOUT_MS } from '../contract';
import { NodeDownstream } from './downstream';
import { FastPath } from './fast-path/fast-path';
import { readInboundHeaders } from './forwarded-headers';
import type { Listener } from './route-matcher';
import { rejectRequest, routeRequest } from './routing';
import { ignoreUpgrades } from '../shared/ignore-upgrades';
import { isLingering } from '../shared/lingering-close';
import { endWithAnswer } from './responses';
import type { RouterState } from './state';
import {
  type ClientTimeouts,
  DEFAULT_CLIENT_TIMEOUTS,
  deadlineCheckIntervalMs,
  HEAD_TIMEOUT_MESSAGE,
  limitBodyTime,
} from './client-timeouts';

export interface RouterServerOptions {
  /**
   * Serve simple requests on the raw-socket fast path (`fast-path/`); off, node:http serves every
   * request. On when this node's HTTP parser can be used.
   * @default true
   */
  readonly fastPath?: boolean;
  /**
   * How long clients may take to send a request head and body (both paths).
   * @default DEFAULT_CLIENT_TIMEOUTS
   */
  readonly timeouts?: ClientTimeouts;
}

/**
 * The public HTTP server (behind the exposure): matching and proxying through the active table —
 * declared routes and the by-name/async calls functions opted in to; nothing of the router's own
 * (health and metrics are on the admin listener, admin-server.ts). Simple requests are served on
 * the fast path in front of node:http (see `FastPath`).
 */
export function createRouterServer(state: RouterState, options: RouterServerOptions = {}): Server {
  const timeouts = options.timeouts ?? DEFAULT_CLIENT_TIMEOUTS;
  const server = createServer(
    {
      keepAliveTimeout: ROUTER_KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout: timeouts.headersTimeoutMs,
      // node's requestTimeout counts head and body together from the first byte; the body gets its
      // own deadline from the end of the head instead (limitBodyTime), as on the fast path.
      requestTimeout: 0,
      // node checks headersTimeout only this often (30 s by default).
      connectionsCheckingInterval: deadlineCheckIntervalMs(timeouts),
    },
    (req, res) => handleRequest(state, timeouts, req, res, 'public'),
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerMalformed(state, err, socket));
  // No route serves an upgraded protocol: an upgrade request is served as the plain request it also is.
  ignoreUpgrades(server);
  if (options.fastPath ?? true) state.fastPathActive = FastPath.install(server, state, timeouts) !== undefined;
  return server;
}

/** A request node:http parsed, on either listener: routed and proxied (or refused). */
export function handleRequest(
  state: RouterState,
  timeouts: ClientTimeouts,
  req: IncomingMessage,
  res: ServerResponse,
  listener: Listener,
): void {
  // Pipelined after a body the router refused, on a connection closing: thrown away, never served.
  if (isLingering(req.socket)) return;
  const receivedAt = performance.now();
  const inbound = readInboundHeaders(req.rawHeaders);
  const requestId = state.requestIds.idFor(inbound.requestId);
  if (inbound.hasBody && !req.complete) limitBodyTime(req, res, timeouts.bodyTimeoutMs, requestId);
  const method = req.method ?? 'GET';
  let url = req.url ?? '/';

  // A request body the router does not forward (a refusal) is disposed of by the downstream.
  const client = new NodeDownstream(req, res, inbound.hasBody, inbound.contentLength);
  if (url.charCodeAt(0) !== 47 /* / */) {
    const path = originFormOf(url);
    if (path === undefined) {
      rejectRequest(state, client, method, url, requestId, receivedAt, 400, 'malformed request target');
      return;
    }
    url = path;
  }

  const matcher = state.matcher;
  if (matcher === undefined) {
    rejectRequest(state, client, method, url, requestId, receivedAt, 503, 'route table not loaded yet');
    return;
  }
  const request = {
    method,
    url,
    rawHeaders: req.rawHeaders,
    inbound,
    requestId,
    receivedAt,
    clientAddress: req.socket.remoteAddress,
    listener,
  };
  routeRequest(state, matcher, request, client);
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

/**
 * Unparseable requests and heads not complete in time (node:http's headersTimeout): a 400 (431 for
 * an oversized head, 408 for a timeout) JSON answer if the socket still takes one and no response
 * has started on it, never a crash.
 */
export function answerMalformed(state: RouterState, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable || responseStarted(socket)) {
    socket.destroy();
    return;
  }
  const [status, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'request head too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, HEAD_TIMEOUT_MESSAGE]
        : [400, `malformed request: ${err.code ?? err.message}`];
  endWithAnswer(socket, status, message, state.requestIds.idFor(undefined));
}

/**
 * A response (to an earlier, pipelined request) has its head out on this socket: bytes of ours
 * written now would corrupt it. `_httpMessage` is node's own link from a socket to its response.
 */
function responseStarted(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true;
}
