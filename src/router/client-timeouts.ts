import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROUTER_BODY_TIMEOUT_MS, ROUTER_HEADERS_TIMEOUT_MS } from '../contract';
import { errorBody, sendJson } from './responses';

/**
 * How long a client may take to send a request, on both router paths: slow clients (slowloris, slow
 * bodies) are answered 408 and closed instead of holding a connection, and the memory behind it,
 * for as long as they like.
 */
export interface ClientTimeouts {
  /** From a request's first byte (from connecting, for a connection's first request) to its complete head. */
  readonly headersTimeoutMs: number;
  /** From a complete head to the last byte of its body. */
  readonly bodyTimeoutMs: number;
}

export const DEFAULT_CLIENT_TIMEOUTS: ClientTimeouts = {
  headersTimeoutMs: ROUTER_HEADERS_TIMEOUT_MS,
  bodyTimeoutMs: ROUTER_BODY_TIMEOUT_MS,
};

export const HEAD_TIMEOUT_MESSAGE = 'request head not received in time';
export const BODY_TIMEOUT_MESSAGE = 'request body not received in time';

/**
 * How often deadlines are checked (the fast path's sweep, node:http's `connectionsCheckingInterval`):
 * a tenth of the shorter timeout, between 100 ms and 1 s, so a slow client is closed at most that
 * late. One pass over the connections per interval, never a timer per request.
 */
export function deadlineCheckIntervalMs(timeouts: ClientTimeouts): number {
  return Math.min(1000, Math.max(100, Math.floor(Math.min(timeouts.headersTimeoutMs, timeouts.bodyTimeoutMs) / 10)));
}

/**
 * node:http path: answers 408 and closes the connection when `req`'s body is not all in within
 * `timeoutMs` of its head (node's own `requestTimeout` counts head and body together, from the first
 * byte). If a response is already out, the connection is just closed. One timer, only for requests
 * with a body, cleared when the body ends.
 */
export function limitBodyTime(req: IncomingMessage, res: ServerResponse, timeoutMs: number, requestId: string): void {
  const socket = req.socket;
  const timer = setTimeout(() => {
    if (req.complete || socket.destroyed) return;
    if (res.headersSent || res.destroyed) {
      socket.destroy();
      return;
    }
    sendJson(res, 408, errorBody(BODY_TIMEOUT_MESSAGE), requestId, true);
    res.once('finish', () => socket.destroy());
  }, timeoutMs);
  const clear = (): void => clearTimeout(timer);
  req.once('end', clear);
  req.once('close', clear);
}
