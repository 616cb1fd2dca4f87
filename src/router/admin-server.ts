import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { ASYNC_FUNCTION_PATH_PREFIX, Endpoints, FUNCTION_PATH_PREFIX, ROUTER_KEEP_ALIVE_TIMEOUT_MS } from '../contract';
import { pathOf } from './routing';
import { errorBody, sendJson } from './responses';
import { answerMalformed, handleRequest } from './server';
import type { RouterState } from './state';
import type { ClientTimeouts } from './client-timeouts';

/** Serves one admin request; `path` is the request path without its query (a handler that throws is a 500). */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

export interface AdminServerHandlers {
  /** Handlers by exact path (`/metrics`). */
  readonly paths?: Readonly<Record<string, AdminHandler>>;
  /** Handlers by path prefix (`/function/`), tried in order after the exact paths. */
  readonly prefixes?: ReadonlyArray<readonly [prefix: string, handler: AdminHandler]>;
}

/**
 * The router's admin listener (ROUTER_ADMIN_PORT): a plain node:http server that dispatches by path
 * to the handlers it is given and answers 404 to anything else. Never behind an exposure (its own
 * ClusterIP Service), so what it serves — health, metrics, the internal by-name and async path,
 * the scaler's endpoints — is for the cluster's own components. Handlers are passed in, so each
 * feature adds its paths without this module knowing them (`routerAdminHandlers` has the router's).
 */
export function createAdminServer(state: RouterState, handlers: AdminServerHandlers): Server {
  const paths = new Map(Object.entries(handlers.paths ?? {}));
  const prefixes = handlers.prefixes ?? [];
  const server = createServer({ keepAliveTimeout: ROUTER_KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
    const path = pathOf(req.url ?? '/');
    try {
      const exact = paths.get(path);
      if (exact !== undefined) return exact(req, res, path);
      for (const [prefix, handler] of prefixes) if (path.startsWith(prefix)) return handler(req, res, path);
      req.resume();
      sendJson(res, 404, errorBody(`no admin endpoint ${path}`), state.requestIds.idFor(undefined), state.draining);
    } catch (err) {
      req.resume();
      if (!res.headersSent)
        sendJson(res, 500, errorBody(`admin endpoint failed: ${(err as Error).message}`), '', state.draining);
      else res.destroy();
    }
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerMalformed(state, err, socket));
  return server;
}

/**
 * What the router serves on its admin listener: `/healthz`, `/readyz`, `/metrics`, and every
 * function by name and async (`/function/<name>`, `/async-function/<name>`: any method, no router
 * policies) for internal callers — the cron sender, `kubefaas invoke`, tests.
 */
export function routerAdminHandlers(state: RouterState, timeouts: ClientTimeouts): AdminServerHandlers {
  const invoke: AdminHandler = (req, res) => handleRequest(state, timeouts, req, res, 'admin');
  const requestId = (): string => state.requestIds.idFor(undefined);
  return {
    paths: {
      [Endpoints.health]: (req, res) => {
        req.resume();
        sendJson(res, 200, { status: 'ok' }, requestId(), state.draining);
      },
      [Endpoints.ready]: (req, res) => {
        req.resume();
        const status = state.ready ? 'ready' : state.draining ? 'shutting down' : 'route table not loaded';
        sendJson(res, state.ready ? 200 : 503, { status }, requestId(), state.draining);
      },
      [Endpoints.metrics]: (req, res) => {
        req.resume();
        state.metrics.render().then(
          (text) => {
            if (res.destroyed) return;
            const headers: Record<string, string> = {
              'content-type': state.metrics.registry.contentType,
              'cache-control': 'no-store',
            };
            if (state.draining) headers.connection = 'close';
            res.writeHead(200, headers);
            res.end(text);
          },
          (err: Error) =>
            sendJson(res, 500, errorBody(`metrics unavailable: ${err.message}`), requestId(), state.draining),
        );
      },
    },
    prefixes: [
      [FUNCTION_PATH_PREFIX, invoke],
      [ASYNC_FUNCTION_PATH_PREFIX, invoke],
    ],
  };
}

/** One set of admin handlers from several features' (the router's own, the activator's scaling paths). */
export function combineAdminHandlers(...sets: readonly AdminServerHandlers[]): AdminServerHandlers {
  return {
    paths: Object.assign({}, ...sets.map((h) => h.paths ?? {})) as Record<string, AdminHandler>,
    prefixes: sets.flatMap((h) => h.prefixes ?? []),
  };
}
