import type { IncomingMessage } from 'node:http';
import { ASYNC_FUNCTION_PATH_PREFIX, Headers, callbackUrlRefusal, type CallbackUrlPolicy } from '../contract';
import type { QueueClient } from '../queue/client';
import { isPlatformHeader } from '../queue/platform-headers';
import type { Downstream } from './downstream';
import { isRouterOwnedHeader } from './forwarded-headers';
import { errorBody } from './responses';
import type { RequestBody } from './upstream-client/types';

/** Room left in a NATS message for our headers (method, path, request headers as JSON). */
const HEADER_ROOM_BYTES = 64 * 1024;
/** Used until the server told us its `max_payload`. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** The body of a request without one (never written to: publishing only reads it). */
const EMPTY_BODY = Buffer.alloc(0);

/** An `/async-function/…` request, from either of the router's HTTP paths. */
export interface AsyncRequest {
  readonly method: string;
  /** Origin-form target. */
  readonly url: string;
  readonly rawHeaders: readonly string[];
  /** The body: still to be read (node:http), already read (fast path), or none. */
  readonly body: RequestBody;
  /** The announced Content-Length, -1 when none (no body, or chunked). */
  readonly contentLength: number;
}

export interface AsyncRequestInfo {
  readonly requestId: string;
  readonly traceparent: string;
  readonly closeConnection: boolean;
  /** True when the listener the call came in on accepts async calls for the function (404 otherwise). */
  readonly hasFunction: (name: string) => boolean;
  /** The function's own body limit (Infinity when the table does not say): the same on the async path as on the sync one. */
  readonly maxBodyBytes: (name: string) => number;
  /** The route table's callback URL policy; undefined = no callbacks. */
  readonly callbacks: CallbackUrlPolicy | undefined;
  /** `Headers.auth` value when the platform's auth policy verified the caller: stored with the call for `event.auth`. */
  readonly auth?: string;
  /** Added to every answer (router policies: CORS, RateLimit-*); flat list. */
  readonly responseHeaders?: readonly string[];
  /** Called once a call for function `name` is durable (the activator wakes a function at zero). */
  readonly queued?: (name: string) => void;
}

/**
 * `POST /async-function/<name>[/<rest>]` → 202 + X-Call-Id once the call is durable in JetStream
 * (503 when the queue cannot confirm it; never 202 for a call that may be lost).
 * `GET /async-function/<name>/<call-id>` → the call's state (404 when unknown or expired).
 * The queue connection is made in the background; until it is up, calls get 503.
 */
export class AsyncEndpoint {
  private client?: QueueClient;

  constructor(connecting: Promise<QueueClient>, onError: (err: unknown) => void) {
    connecting.then((c) => (this.client = c), onError);
  }

  get connected(): boolean {
    return this.client !== undefined && this.client.isConnected();
  }

  async close(graceMs: number): Promise<void> {
    await this.client?.close(graceMs);
  }

  /** Returns the status answered (for the access log). */
  handle(req: AsyncRequest, client: Downstream, info: AsyncRequestInfo): Promise<number> {
    const url = req.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const rest = path.slice(ASYNC_FUNCTION_PATH_PREFIX.length);
    const slash = rest.indexOf('/');
    const own = info.responseHeaders;
    const answer = (status: number, body: unknown, extra?: readonly string[]): number => {
      const headers = own === undefined || own.length === 0 ? extra : extra === undefined ? own : [...extra, ...own];
      client.sendJson(status, body, info.requestId, info.closeConnection, headers);
      return status;
    };
    const name = decodePathSegment(slash === -1 ? rest : rest.slice(0, slash));
    if (name === undefined) {
      discard(req.body);
      return Promise.resolve(answer(400, errorBody('bad percent-encoding in the function name')));
    }
    if (name === '' || !info.hasFunction(name)) {
      discard(req.body);
      return Promise.resolve(answer(404, errorBody(`no function named '${name}'`)));
    }
    const queue = this.client;
    if (req.method === 'GET' && slash !== -1) {
      if (!queue) return Promise.resolve(answer(503, errorBody('queue unavailable, try again'), ['retry-after', '1']));
      const callId = decodePathSegment(rest.slice(slash + 1));
      if (callId === undefined) return Promise.resolve(answer(400, errorBody('bad percent-encoding in the call id')));
      return queue.getCallState(callId).then(
        (state) =>
          state && state.function === name
            ? answer(200, state)
            : answer(404, errorBody(`no call '${callId}' for ${name} (unknown or expired)`)),
        (err: Error) => answer(503, errorBody(`queue unavailable: ${err.message}`), ['retry-after', '1']),
      );
    }
    if (req.method !== 'POST') {
      discard(req.body);
      return Promise.resolve(
        answer(405, errorBody(`method ${req.method} not allowed for ${ASYNC_FUNCTION_PATH_PREFIX}${name}`), [
          'allow',
          'POST',
        ]),
      );
    }
    if (!queue || !queue.isConnected()) {
      discard(req.body);
      return Promise.resolve(
        answer(503, errorBody('queue unavailable: the call was not accepted, try again'), ['retry-after', '1']),
      );
    }
    // Refused here, before anything is stored, so the caller learns it now rather than from a call
    // state (the runtime checks again, with the addresses, before it POSTs: callback-target.ts).
    const callbackUrl = callbackUrlOf(req.rawHeaders);
    if (callbackUrl !== undefined) {
      const refusal = callbackUrlRefusal(info.callbacks, callbackUrl);
      if (refusal !== undefined) {
        discard(req.body);
        return Promise.resolve(answer(400, errorBody(`X-Callback-Url refused: ${refusal}`)));
      }
    }
    const queueLimit = (queue.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - HEADER_ROOM_BYTES;
    const functionLimit = info.maxBodyBytes(name);
    const limit = Math.min(queueLimit, functionLimit);
    const accept = async (body: Buffer | undefined): Promise<number> => {
      if (body === undefined) {
        const whose =
          functionLimit <= queueLimit
            ? `the function's limit of ${limit} bytes`
            : `${limit} bytes (the queue's message size)`;
        // The downstream disposes of the rest of the body (read through, or a lingering close).
        return answer(413, errorBody(`async call body exceeds ${whose}`));
      }
      const fnPath = (slash === -1 ? '/' : rest.slice(slash)) + (q === -1 ? '' : url.slice(q));
      const headers = headerRecord(req.rawHeaders);
      // The verified caller travels with the call, as on the sync path (the client's own was dropped).
      if (info.auth !== undefined) headers[Headers.auth] = info.auth;
      try {
        const { callId, duplicate } = await queue.enqueueCall(name, {
          method: 'POST',
          path: fnPath,
          headers,
          body,
          idempotencyKey: single(headers[Headers.idempotencyKey]) ?? single(headers[Headers.callId]),
          callbackUrl: single(headers[Headers.callbackUrl]),
          traceparent: info.traceparent,
        });
        info.queued?.(name);
        return answer(202, { callId, status: duplicate ? 'duplicate' : 'queued' }, [
          Headers.callId,
          callId,
          'location',
          `${ASYNC_FUNCTION_PATH_PREFIX}${name}/${callId}`,
        ]);
      } catch (err) {
        const e = err as Error;
        if (e.name === 'InvalidCallIdError') return answer(400, errorBody(e.message));
        return answer(503, errorBody(`queue unavailable: the call was not accepted (${e.message})`), [
          'retry-after',
          '1',
        ]);
      }
    };
    // A body the fast path read already (the common case) is enqueued in this turn, without a detour through a promise.
    const body = req.body;
    if (body === null) return accept(EMPTY_BODY);
    if (Buffer.isBuffer(body)) return accept(body.length > limit ? undefined : body);
    // Refused at once when it says it is too large; a chunked one, once it grows past the limit.
    if (req.contentLength > limit) return accept(undefined);
    return readStream(body, limit).then(accept);
  }
}

/**
 * Request headers as a record, as the function will see them: lower-case names, repeated headers
 * joined with ", " (`set-cookie` kept as a list). The same for both of the router's HTTP paths.
 * Headers only the platform sets are dropped, as on the sync path: the router's own
 * (`x-kubefaas-auth` and the like) and the queue's message-header namespace (`kubefaas-*`), so that
 * a caller can pose as neither in the call the function receives.
 */
export function headerRecord(rawHeaders: readonly string[]): Record<string, string | string[]> {
  const record: Record<string, string | string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (isRouterOwnedHeader(name) || isPlatformHeader(name)) continue;
    const value = rawHeaders[i + 1];
    const previous = record[name];
    if (previous === undefined) record[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(previous)) previous.push(value);
    else record[name] = `${previous}, ${value}`;
  }
  return record;
}

/**
 * A percent-encoded path segment, or undefined when the encoding is malformed (`%ZZ`, a lone `%`,
 * invalid UTF-8): client input, so a 400 — never an exception that escapes the request.
 * Segments without `%` (the common case) are returned as they are, without a decode.
 */
export function decodePathSegment(segment: string): string | undefined {
  if (segment.indexOf('%') === -1) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The first X-Callback-Url header, if any (the one the queue stores). */
function callbackUrlOf(rawHeaders: readonly string[]): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2)
    if (rawHeaders[i].length === Headers.callbackUrl.length && rawHeaders[i].toLowerCase() === Headers.callbackUrl)
      return rawHeaders[i + 1] || undefined;
  return undefined;
}

/** A body nobody will read: a stream is drained so the connection can carry the next request. */
function discard(body: RequestBody): void {
  if (body !== null && !Buffer.isBuffer(body)) body.resume();
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value || undefined;
}

/** The whole body, or undefined when it is larger than `limit` (the rest is not read). */
function readStream(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
