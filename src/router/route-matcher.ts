import FindMyWay from 'find-my-way';
import { EMPTY_PARAMS_HEADER, FUNCTION_PATH_PREFIX, HTTP_METHODS, encodeParams, type RouteTable } from '../contract';
import type { RequestCounter, RouterMetrics } from './metrics';
import { RouteTableError } from './route-table';
import type { Upstream } from './upstreams';

/** What a matched request resolves to (shared by all requests on the same route). */
export interface RouteEntry {
  readonly upstream: Upstream;
  /** The `route` metric label: the route's path pattern (prefixed by its host, if any). */
  readonly label: string;
  readonly counter: RequestCounter;
  /** Index of the route in the table (its policies); -1 for `/function/<name>` (the platform's). */
  readonly routeIndex: number;
}

export interface RouteMatch {
  readonly entry: RouteEntry;
  /** Path parameters, already encoded for the `x-kubefaas-params` header. */
  readonly params: string;
  /** Path and query to request from the function. */
  readonly forwardPath: string;
}

type Method = FindMyWay.HTTPMethod;

const EMPTY_QUERY = Object.freeze({}) as Record<string, string>;
/** find-my-way calls handlers only from `lookup()`, which we do not use: matches are read from `store`. */
const UNUSED_HANDLER = (): void => undefined;

/**
 * Matches requests against one route table: method + path (find-my-way syntax) + host, plus
 * `/function/<name>[/<rest>]` for every function. Immutable; a new table builds a new matcher.
 */
export class RouteMatcher {
  private readonly router = FindMyWay({
    maxParamLength: 1000,
    // We forward the query string untouched and never need it parsed.
    querystringParser: () => EMPTY_QUERY,
  });
  private readonly byFunction = new Map<string, RouteEntry>();
  /** Reused for every lookup: find() reads it synchronously and keeps no reference. */
  private readonly constraints = { host: '' };

  /** @throws RouteTableError when two routes claim the same method + path + host */
  constructor(table: RouteTable, upstreams: ReadonlyMap<string, Upstream>, metrics: RouterMetrics) {
    const upstreamOf = (name: string): Upstream => {
      const upstream = upstreams.get(name);
      if (upstream === undefined) throw new RouteTableError(`function ${name} has no upstream`);
      return upstream;
    };
    for (const name of Object.keys(table.functions)) {
      const label = FUNCTION_PATH_PREFIX + name;
      this.byFunction.set(name, {
        upstream: upstreamOf(name),
        label,
        counter: metrics.requestCounter(label, name),
        routeIndex: -1,
      });
    }
    const implicitHeads: Array<() => void> = [];
    table.routes.forEach((route, index) => {
      const label = route.host === undefined ? route.path : route.host + route.path;
      const entry: RouteEntry = {
        upstream: upstreamOf(route.function),
        label,
        counter: metrics.requestCounter(label, route.function),
        routeIndex: index,
      };
      const opts = route.host === undefined ? {} : { constraints: { host: route.host } };
      for (const method of route.methods) {
        try {
          this.router.on(method, route.path, opts, UNUSED_HANDLER, entry);
        } catch (err) {
          throw new RouteTableError(`routes[${index}] (${method} ${label}): ${(err as Error).message}`);
        }
      }
      // A GET route also answers HEAD (RFC 9110 §9.3.2) unless some route claims HEAD there itself.
      if (route.methods.includes('GET') && !route.methods.includes('HEAD')) {
        implicitHeads.push(() => {
          try {
            this.router.on('HEAD', route.path, opts, UNUSED_HANDLER, entry);
          } catch {
            // An explicit HEAD route on the same path wins.
          }
        });
      }
    });
    for (const addHead of implicitHeads) addHead();
  }

  /**
   * @param url the request target as received (path and query)
   * @param host the Host header without port, lower-cased ('' when absent)
   */
  match(method: string, url: string, host: string): RouteMatch | null {
    if (url.startsWith(FUNCTION_PATH_PREFIX)) return this.matchFunctionPath(url);
    this.constraints.host = host;
    const found = this.router.find(method as Method, url, this.constraints);
    if (found === null) return null;
    return { entry: found.store as RouteEntry, params: encodeParams(found.params), forwardPath: url };
  }

  /** Methods that would have matched `url` on `host`: the `Allow` header of a 405 (empty = 404). */
  allowedMethods(url: string, host: string): string[] {
    if (url.startsWith(FUNCTION_PATH_PREFIX)) return [];
    this.constraints.host = host;
    return HTTP_METHODS.filter((m) => this.router.find(m, url, this.constraints) !== null);
  }

  /** True when the table has this function. */
  hasFunction(name: string): boolean {
    return this.byFunction.has(name);
  }

  /** The function's request body limit in bytes (Infinity when unknown or not set). */
  maxBodyBytes(name: string): number {
    return this.byFunction.get(name)?.upstream.maxBodyBytes ?? Infinity;
  }

  /** `/function/<name>` → `/`, `/function/<name>/<rest>?q` → `/<rest>?q`. */
  private matchFunctionPath(url: string): RouteMatch | null {
    const start = FUNCTION_PATH_PREFIX.length;
    let end = start;
    while (end < url.length) {
      const c = url.charCodeAt(end);
      if (c === 47 /* / */ || c === 63 /* ? */) break;
      end++;
    }
    const entry = this.byFunction.get(url.slice(start, end));
    if (entry === undefined) return null;
    const rest = url.slice(end);
    const forwardPath = rest === '' ? '/' : rest.charCodeAt(0) === 63 ? '/' + rest : rest;
    return { entry, params: EMPTY_PARAMS_HEADER, forwardPath };
  }
}
