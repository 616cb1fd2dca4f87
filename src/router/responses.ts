import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Headers } from '../contract';

/** A JSON answer the router makes itself (404, 405, 502, …): its header list and body. */
export interface JsonAnswer {
  /** Flat `[name, value, …]` list. */
  readonly headers: string[];
  readonly payload: string;
}

/** `extra` is a flat `[name, value, …]` list (Allow, Retry-After). */
export function jsonAnswer(
  body: unknown,
  requestId: string,
  closeConnection: boolean,
  extra: readonly string[] = [],
): JsonAnswer {
  const payload = JSON.stringify(body);
  const headers = [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(payload)),
    'cache-control',
    'no-store',
    Headers.requestId,
    requestId,
    ...extra,
  ];
  if (closeConnection) headers.push('connection', 'close');
  return { headers, payload };
}

/** Sends a JSON answer on a node:http response (skipped if the head is already out). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  requestId: string,
  closeConnection: boolean,
  extra: readonly string[] = [],
): void {
  if (res.headersSent || res.destroyed) return;
  const answer = jsonAnswer(body, requestId, closeConnection, extra);
  res.writeHead(status, answer.headers);
  res.end(answer.payload);
}

/** `{"error": message}`, the body of every error the router answers itself. */
export function errorBody(message: string): { readonly error: string } {
  return { error: message };
}

/**
 * Ends a socket no response object owns (a malformed or timed-out request) with a complete
 * `connection: close` JSON answer, then closes it for good once that is flushed: a client that
 * never ends its side must not hold the connection open.
 */
export function endWithAnswer(socket: Socket, status: number, message: string, requestId: string): void {
  const answer = jsonAnswer(errorBody(message), requestId, true);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (let i = 0; i < answer.headers.length; i += 2) head += `${answer.headers[i]}: ${answer.headers[i + 1]}\r\n`;
  socket.end(`${head}\r\n${answer.payload}`);
  socket.once('finish', () => socket.destroy());
}
