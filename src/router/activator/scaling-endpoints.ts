import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  EndpointSources,
  SCALING_HEARTBEAT_MS,
  ScalingPaths,
  isFunctionName,
  type PushedEndpoints,
  type RouterScalingEvent,
} from '../../contract';
import type { AdminHandler, AdminServerHandlers } from '../admin-server';
import { errorBody, sendJson } from '../responses';
import type { Activator } from './activator';

/** A watch reader this far behind (bytes buffered) is cut off: it reconnects and gets a fresh start. */
const MAX_WATCH_BACKLOG_BYTES = 1024 * 1024;
/** Largest body of an endpoints PUT. */
const MAX_PUSH_BYTES = 64 * 1024;
/** Most endpoints one PUT may list. */
const MAX_PUSHED_ENDPOINTS = 1000;
const HOST_PORT = /^[^\s/]{1,253}:\d{1,5}$/;

/**
 * The admin routes of the activator: the demand snapshot and the event stream the scaler reads,
 * and, with the `push` endpoint source, the endpoints PUT the local runner sends.
 */
export function scalingHandlers(activator: Activator, heartbeatMs = SCALING_HEARTBEAT_MS): AdminServerHandlers {
  const endpointsPrefix = `${ScalingPaths.endpoints}/`;
  const pushed: AdminHandler = (req, res, path) =>
    receiveEndpoints(activator, req, res, path.slice(endpointsPrefix.length));
  return {
    paths: {
      [ScalingPaths.counts]: (req, res) => serveCounts(activator, req, res),
      [ScalingPaths.watch]: (req, res) => serveWatch(activator, req, res, heartbeatMs),
    },
    prefixes: activator.source === EndpointSources.push ? [[endpointsPrefix, pushed]] : [],
  };
}

function onlyGet(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET') return true;
  req.resume();
  sendJson(res, 405, errorBody(`method ${req.method} not allowed`), '', false, ['allow', 'GET']);
  return false;
}

function serveCounts(activator: Activator, req: IncomingMessage, res: ServerResponse): void {
  if (!onlyGet(req, res)) return;
  sendJson(res, 200, activator.snapshot(), '', false);
}

/**
 * Newline-delimited `RouterScalingEvent`s: a heartbeat at once (the reader knows it is connected),
 * pending activations, then every activation as it happens and a heartbeat every `heartbeatMs`.
 */
function serveWatch(activator: Activator, req: IncomingMessage, res: ServerResponse, heartbeatMs: number): void {
  if (!onlyGet(req, res)) return;
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  const send = (event: RouterScalingEvent): void => {
    if (res.writableLength > MAX_WATCH_BACKLOG_BYTES) {
      res.destroy();
      return;
    }
    res.write(`${JSON.stringify(event)}\n`);
  };
  const heartbeat = (): void => send({ type: 'heartbeat', router: activator.routerId, at: Date.now() });
  heartbeat();
  const unsubscribe = activator.subscribe(send);
  const timer = setInterval(heartbeat, heartbeatMs);
  timer.unref();
  res.on('close', () => {
    clearInterval(timer);
    unsubscribe();
  });
}

/** PUT `<endpoints>/<function>` with `PushedEndpoints`: 204, or 400 naming what is wrong. */
function receiveEndpoints(activator: Activator, req: IncomingMessage, res: ServerResponse, fn: string): void {
  if (req.method !== 'PUT') {
    req.resume();
    sendJson(res, 405, errorBody(`method ${req.method} not allowed`), '', false, ['allow', 'PUT']);
    return;
  }
  if (!isFunctionName(fn)) {
    req.resume();
    sendJson(res, 400, errorBody(`"${fn}" is not a function name`), '', false);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_PUSH_BYTES) tooLarge = true;
    else chunks.push(chunk);
  });
  req.on('end', () => {
    if (tooLarge) {
      sendJson(res, 413, errorBody(`body over ${MAX_PUSH_BYTES} bytes`), '', false);
      return;
    }
    const pushed = readPushed(Buffer.concat(chunks).toString('utf8'));
    if (typeof pushed === 'string') {
      sendJson(res, 400, errorBody(pushed), '', false);
      return;
    }
    activator.setPushedEndpoints(fn, pushed.ready);
    res.writeHead(204, { 'cache-control': 'no-store' });
    res.end();
  });
}

/** The body as `PushedEndpoints`, or what is wrong with it. */
function readPushed(text: string): PushedEndpoints | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return 'body must be JSON: { "ready": ["host:port", ...] }';
  }
  const ready = (doc as { ready?: unknown } | null)?.ready;
  if (!Array.isArray(ready)) return '"ready" must be an array of "host:port" strings';
  if (ready.length > MAX_PUSHED_ENDPOINTS) return `"ready" lists more than ${MAX_PUSHED_ENDPOINTS} endpoints`;
  for (const endpoint of ready) {
    if (typeof endpoint !== 'string' || !HOST_PORT.test(endpoint))
      return `"ready" entry ${JSON.stringify(endpoint)} is not "host:port"`;
  }
  return { ready: [...new Set(ready as string[])] };
}
