import type { ServerResponse } from 'node:http';

export const ContentTypes = {
  text: 'text/plain; charset=utf-8',
  bytes: 'application/octet-stream',
  json: 'application/json; charset=utf-8',
} as const;

/**
 * Headers every runtime response carries besides its own (`x-request-id`, and `connection: close`
 * while shutting down), as a flat `[name, value, …]` list: `writeHead` takes it without building
 * a header object.
 */
export type BaseHeaders = readonly string[];

/** Sends a complete body with an explicit content-length (writeHead would otherwise go chunked). */
export function sendBody(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  base: BaseHeaders,
  extra?: readonly string[],
): number {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  const headers = ['content-type', contentType, 'content-length', String(length)];
  for (let i = 0; i < base.length; i++) headers.push(base[i]);
  if (extra) for (let i = 0; i < extra.length; i++) headers.push(extra[i]);
  res.writeHead(status, headers);
  res.end(body);
  return status;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  base: BaseHeaders,
  extra?: readonly string[],
): number {
  return sendBody(res, status, ContentTypes.json, JSON.stringify(value), base, extra);
}

/** The JSON error body every runtime-generated error uses. */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  requestId: string,
  base: BaseHeaders,
  extra?: readonly string[],
): number {
  return sendJson(res, status, { error: message, requestId }, base, extra);
}

/**
 * Maps a handler's return value to the response (ARCHITECTURE §4) and returns the status sent.
 * Returns a promise only for a Fetch API Response, whose body is streamed. Throws when the
 * value cannot be serialized (circular object, BigInt): the caller turns that into a 500.
 */
export function sendResult(res: ServerResponse, result: unknown, base: BaseHeaders): number | Promise<number> {
  if (typeof result === 'string') return sendBody(res, 200, ContentTypes.text, result, base);
  if (result === undefined || result === null) {
    res.writeHead(204, base as string[]);
    res.end();
    return 204;
  }
  if (typeof result === 'object') {
    if (result instanceof Uint8Array) return sendBody(res, 200, ContentTypes.bytes, result, base); // Buffer too
    if (isFetchResponse(result)) return sendFetchResponse(res, result, base);
  }
  // Plain objects, arrays, numbers, booleans and other objects: JSON.
  return sendBody(res, 200, ContentTypes.json, JSON.stringify(result), base);
}

/**
 * Duck-typed rather than `instanceof Response`: touching the global `Response` makes Node 20 load
 * its fetch implementation (slower cold start), and a Response from another realm or copy of undici
 * would not pass instanceof anyway.
 */
function isFetchResponse(value: object): value is Response {
  const candidate = value as Partial<Response>;
  return (
    typeof candidate.status === 'number' &&
    typeof candidate.arrayBuffer === 'function' &&
    typeof candidate.headers === 'object' &&
    candidate.headers !== null &&
    typeof (candidate.headers as Headers).forEach === 'function'
  );
}

async function sendFetchResponse(res: ServerResponse, response: Response, base: BaseHeaders): Promise<number> {
  const headers: string[] = [];
  let hasRequestId = false;
  response.headers.forEach((value, name) => {
    if (name === 'set-cookie') return; // combined by Headers; re-added one per line below
    if (name === 'x-request-id') hasRequestId = true;
    headers.push(name, value);
  });
  for (const cookie of response.headers.getSetCookie?.() ?? []) headers.push('set-cookie', cookie);
  for (let i = 0; i < base.length; i += 2) {
    if (hasRequestId && base[i] === 'x-request-id') continue; // the handler's own id wins
    headers.push(base[i], base[i + 1]);
  }
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return response.status;
  }
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    if (res.destroyed) break; // client gone: stop pulling the body
    if (!res.write(chunk)) await drainedOrClosed(res);
  }
  res.end();
  return response.status;
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
