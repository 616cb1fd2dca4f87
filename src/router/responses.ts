import type { ServerResponse } from 'node:http';
import { Headers } from '../contract';

/**
 * Sends a small JSON answer the router makes itself (404, 405, 502, …).
 * `extra` is a flat `[name, value, …]` list (Allow, Retry-After).
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  requestId: string,
  closeConnection: boolean,
  extra: readonly string[] = [],
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  const headers = [
    'content-type', 'application/json; charset=utf-8',
    'content-length', String(Buffer.byteLength(payload)),
    'cache-control', 'no-store',
    Headers.requestId, requestId,
    ...extra,
  ];
  if (closeConnection) headers.push('connection', 'close');
  res.writeHead(status, headers);
  res.end(payload);
}

/** `{"error": message}`, the body of every error the router answers itself. */
export function errorBody(message: string): { readonly error: string } {
  return { error: message };
}
