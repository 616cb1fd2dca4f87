import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { errorBody, sendJson } from './responses';

/** Serves one admin path; `rest` is what follows the path of a prefix route ('' for an exact one). */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, rest: string) => void;

export interface AdminRoute {
  /** Exact path, or with `prefix` every path under `<path>/`. */
  readonly path: string;
  /** Also serve `<path>/<rest>`. @default false */
  readonly prefix?: boolean;
  readonly handler: AdminHandler;
}

/**
 * The router's admin listener, on a port of its own that the public exposure never reaches (the
 * NetworkPolicy admits only the scaler and the scraper): whoever builds the router composes it
 * from routes, so each feature (scaling, health, metrics) brings its own handlers. Unknown paths
 * are 404; a handler that throws is a 500, never a crash.
 */
export function createAdminServer(routes: readonly AdminRoute[]): Server {
  const exact = new Map<string, AdminHandler>();
  const prefixes: Array<[string, AdminHandler]> = [];
  for (const route of routes) {
    if (route.prefix) prefixes.push([`${route.path}/`, route.handler]);
    else exact.set(route.path, route.handler);
  }
  return createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    try {
      const handler = exact.get(path);
      if (handler !== undefined) {
        handler(req, res, '');
        return;
      }
      for (const [prefix, prefixHandler] of prefixes) {
        if (path.startsWith(prefix)) {
          prefixHandler(req, res, path.slice(prefix.length));
          return;
        }
      }
      req.resume();
      sendJson(res, 404, errorBody(`no admin endpoint at ${path}`), '', false);
    } catch (err) {
      req.resume();
      sendJson(res, 500, errorBody(`admin endpoint failed: ${(err as Error).message}`), '', false);
    }
  });
}
