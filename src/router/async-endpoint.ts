import type { IncomingMessage, ServerResponse } from 'node:http';
import { ASYNC_FUNCTION_PATH_PREFIX, Headers } from '../contract';
import type { QueueClient } from '../queue/client';
import { errorBody, sendJson } from './responses';

/** Room left in a NATS message for our headers (method, path, request headers as JSON). */
const HEADER_ROOM_BYTES = 64 * 1024;
/** Used until the server told us its `max_payload`. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export interface AsyncRequestInfo {
  readonly requestId: string;
  readonly traceparent: string;
  readonly closeConnection: boolean;
  /** True when the route table knows the function. */
  readonly hasFunction: (name: string) => boolean;
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
  handle(req: IncomingMessage, res: ServerResponse, url: string, info: AsyncRequestInfo): Promise<number> {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const rest = path.slice(ASYNC_FUNCTION_PATH_PREFIX.length);
    const slash = rest.indexOf('/');
    const name = decodeURIComponent(slash === -1 ? rest : rest.slice(0, slash));
    const answer = (status: number, body: unknown, extra?: readonly string[]): number => {
      sendJson(res, status, body, info.requestId, info.closeConnection, extra);
      return status;
    };
    if (name === '' || !info.hasFunction(name)) {
      req.resume();
      return Promise.resolve(answer(404, errorBody(`no function named '${name}'`)));
    }
    const client = this.client;
    if (req.method === 'GET' && slash !== -1) {
      if (!client) return Promise.resolve(answer(503, errorBody('queue unavailable, try again'), ['retry-after', '1']));
      const callId = decodeURIComponent(rest.slice(slash + 1));
      return client.getCallState(callId).then(
        (state) => (state && state.function === name ? answer(200, state) : answer(404, errorBody(`no call '${callId}' for ${name} (unknown or expired)`))),
        (err: Error) => answer(503, errorBody(`queue unavailable: ${err.message}`), ['retry-after', '1']),
      );
    }
    if (req.method !== 'POST') {
      req.resume();
      return Promise.resolve(answer(405, errorBody(`method ${req.method} not allowed for ${ASYNC_FUNCTION_PATH_PREFIX}${name}`), ['allow', 'POST']));
    }
    if (!client || !client.isConnected()) {
      req.resume();
      return Promise.resolve(answer(503, errorBody('queue unavailable: the call was not accepted, try again'), ['retry-after', '1']));
    }
    const limit = (client.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - HEADER_ROOM_BYTES;
    return readBody(req, limit).then(async (body) => {
      if (body === undefined) return answer(413, errorBody(`async call body exceeds ${limit} bytes`), ['connection', 'close']);
      const fnPath = (slash === -1 ? '/' : rest.slice(slash)) + (q === -1 ? '' : url.slice(q));
      const callbackUrl = single(req.headers[Headers.callbackUrl]);
      try {
        const { callId, duplicate } = await client.enqueueCall(name, {
          method: 'POST',
          path: fnPath,
          headers: req.headers,
          body,
          callId: single(req.headers[Headers.callId]),
          callbackUrl,
          traceparent: info.traceparent,
        });
        return answer(202, { callId, status: duplicate ? 'duplicate' : 'queued' }, [Headers.callId, callId, 'location', `${ASYNC_FUNCTION_PATH_PREFIX}${name}/${callId}`]);
      } catch (err) {
        const e = err as Error;
        if (e.name === 'InvalidCallIdError') return answer(400, errorBody(e.message));
        return answer(503, errorBody(`queue unavailable: the call was not accepted (${e.message})`), ['retry-after', '1']);
      }
    });
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value || undefined;
}

/** The whole body, or undefined when it is larger than `limit` (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
