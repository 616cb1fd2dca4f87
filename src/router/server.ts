import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { ROUTER_KEEP_ALIVE_TIMEOUT_MS } from '../contract';
import { NodeDownstream } from './downstream';
import { FastPath } from './fast-path/fast-path';
import { readInboundHeaders } from './forwarded-headers';
import type { Listener } from './route-matcher';
import { rejectRequest, routeRequest } from './routing';
import { errorBody } from './responses';
import type { RouterState } from './state';

export interface RouterServerOptions {
  /**
   * Serve simple requests on the raw-socket fast path (`fast-path/`); off, node:http serves every
   * request. On when this node's HTTP parser can be used.
   * @default true
   */
  readonly fastPath?: boolean;
}

/**
 * The public HTTP server (behind the exposure): matching and proxying through the active table —
 * declared routes and the by-name/async calls functions opted in to; nothing of the router's own
 * (health and metrics are on the admin listener, admin-server.ts). Simple requests are served on
 * the fast path in front of node:http (see `FastPath`).
 */
export function createRouterServer(state: RouterState, options: RouterServerOptions = {}): Server {
  const server = createServer({ keepAliveTimeout: ROUTER_KEEP_ALIVE_TIMEOUT_MS }, (req, res) =>
    handleRequest(state, req, res, 'public'),
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerMalformed(err, socket));
  if (options.fastPath ?? true) state.fastPathActive = FastPath.install(server, state) !== undefined;
  return server;
}

/** A request node:http parsed, on either listener: routed and proxied (or refused). */
export function handleRequest(state: RouterState, req: IncomingMessage, res: ServerResponse, listener: Listener): void {
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

  const matcher = state.matcher;
  if (matcher === undefined) {
    answerUnmatched(state, req, res, requestId, receivedAt, 503, 'route table not loaded yet');
    return;
  }
  // A request body we will not forward (no route) is drained so the connection can be reused.
  const client = new NodeDownstream(req, res, inbound.hasBody);
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
  if (!routeRequest(state, matcher, request, client)) req.resume();
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
  rejectRequest(
    state,
    new NodeDownstream(req, res, false),
    req.method ?? '',
    req.url ?? '',
    requestId,
    receivedAt,
    status,
    message,
  );
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
export function answerMalformed(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify(
    errorBody(tooLarge ? 'request head too large' : `malformed request: ${err.code ?? err.message}`),
  );
  socket.end(
    `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  // Then close for good: a client that never ends its side must not hold the server open.
  socket.once('finish', () => socket.destroy());
}
