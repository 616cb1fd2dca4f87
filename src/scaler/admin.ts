/**
 * The scaler's admin port: /healthz (the process serves), /readyz (the first poll of the routers is
 * done, so answers reflect them; not shutting down) and /metrics. Everything else is 404; only
 * GET and HEAD are served.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { Endpoints } from '../contract';
import type { ScalerMetrics } from './metrics';

export interface AdminState {
  readonly metrics: ScalerMetrics;
  /** Undefined when ready, else why not. */
  readonly notReady: () => string | undefined;
  /** Shown on /readyz: router replicas answering now. */
  readonly liveRouters: () => number;
}

export function createAdminServer(state: AdminState): Server {
  const server = createServer((req, res) => answer(state, req, res));
  // Unparseable requests get node's 400 and a closed connection, never a crash.
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

function answer(state: AdminState, req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, { error: 'only GET and HEAD are served' }, ['allow', 'GET, HEAD']);
    return;
  }
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case Endpoints.health:
      send(res, 200, { status: 'ok' });
      return;
    case Endpoints.ready: {
      const reason = state.notReady();
      send(res, reason === undefined ? 200 : 503, {
        status: reason === undefined ? 'ready' : reason,
        routers: state.liveRouters(),
      });
      return;
    }
    case Endpoints.metrics:
      state.metrics.render().then(
        (text) => {
          if (res.destroyed) return;
          res.writeHead(200, { 'content-type': state.metrics.registry.contentType, 'cache-control': 'no-store' });
          res.end(text);
        },
        (err: Error) => send(res, 500, { error: `metrics unavailable: ${err.message}` }),
      );
      return;
    default:
      send(res, 404, { error: `no such endpoint: ${path}` });
  }
}

function send(res: ServerResponse, status: number, body: unknown, extra: readonly string[] = []): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(payload)),
    'cache-control',
    'no-store',
    ...extra,
  ]);
  res.end(payload);
}
