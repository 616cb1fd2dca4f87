import FindMyWay from 'find-my-way';
import {
  EMPTY_PARAMS_HEADER,
  Endpoints,
  FUNCTION_PATH_PREFIX,
  HTTP_METHODS,
  encodeParams,
  type HttpMethod,
  type RouteTable,
} from '../contract';
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

/**
 * Which of the router's listeners a request came in on. `public`: the port behind the exposure,
 * where only declared routes and the functions' opted-in by-name/async calls exist. `admin`: the
 * admin port (never exposed), where every function is callable by name and async, any method.
 */
export type Listener = 'public' | 'admin';

const OWN_ENDPOINTS: ReadonlySet<string> = new Set(Object.values(Endpoints));

const EMPTY_QUERY = Object.freeze({}) as Record<string, string>;
/** find-my-way calls handlers only from `lookup()`, which we do not use: matches are read from `store`. */
const UNUSED_HANDLER = (): void => undefined;

/**
 * Matches requests against one route table: method + path (find-my-way syntax) + host, plus
 * `/function/<name>[/<rest>]` — for every function on the admin listener, for the functions that
 * opted in (with their methods) on the public one. Immutable; a new table builds a new matcher.
 */
export class RouteMatcher {
  private readonly router = FindMyWay({
    maxParamLength: 1000,
    // We forward the query string untouched and never need it parsed.
    querystringParser: () => EMPTY_QUERY,
  });
  private readonly byFunction = new Map<string, RouteEntry>();
  /** Functions callable by name on the public listener, and with which methods (HEAD with GET). */
  private readonly publicByName = new Map<string, ReadonlySet<string>>();
  /** Functions whose async calls the public listener accepts. */
  private readonly publicAsync = new Set<string>();
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
      const invocation = table.functions[name].invocation;
      if (invocation?.byName !== undefined) this.publicByName.set(name, withImplicitHead(invocation.byName));
      if (invocation?.async === true) this.publicAsync.add(name);
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
   * @param listener where the request came in: by-name calls are limited on the public one
   */
  match(method: string, url: string, host: string, listener: Listener): RouteMatch | null {
    if (url.startsWith(FUNCTION_PATH_PREFIX)) return this.matchFunctionPath(method, url, listener);
    this.constraints.host = host;
    const found = this.router.find(method as Method, url, this.constraints);
    if (found === null) return null;
    return { entry: found.store as RouteEntry, params: encodeParams(found.params), forwardPath: url };
  }

  /** Methods that would have matched `url` on `host`: the `Allow` header of a 405 (empty = 404). */
  allowedMethods(url: string, host: string, listener: Listener): string[] {
    if (url.startsWith(FUNCTION_PATH_PREFIX)) {
      const methods = listener === 'public' ? this.publicByNameMethods(url) : undefined;
      return methods === undefined ? [] : HTTP_METHODS.filter((m) => methods.has(m));
    }
    this.constraints.host = host;
    return HTTP_METHODS.filter((m) => this.router.find(m, url, this.constraints) !== null);
  }

  /** Whether `listener` accepts async calls (and status reads) for the function. */
  acceptsAsync(name: string, listener: Listener): boolean {
    return listener === 'admin' ? this.byFunction.has(name) : this.publicAsync.has(name);
  }

  /** The function's request body limit in bytes (Infinity when unknown or not set). */
  maxBodyBytes(name: string): number {
    return this.byFunction.get(name)?.upstream.maxBodyBytes ?? Infinity;
  }

  /**
   * `/function/<name>` → `/`, `/function/<name>/<rest>?q` → `/<rest>?q`. On the public listener
   * only for a function that opted in, with one of its methods.
   */
  private matchFunctionPath(method: string, url: string, listener: Listener): RouteMatch | null {
    const end = functionNameEnd(url);
    const name = url.slice(FUNCTION_PATH_PREFIX.length, end);
    const entry = this.byFunction.get(name);
    if (entry === undefined) return null;
    const forwardPath = forwardPathOf(url, end);
    if (listener === 'public' && (!this.publicByName.get(name)?.has(method) || isOwnEndpoint(forwardPath))) return null;
    return { entry, params: EMPTY_PARAMS_HEADER, forwardPath };
  }

  /** The methods `/function/<name>…` accepts on the public listener; undefined when it is 404 there. */
  private publicByNameMethods(url: string): ReadonlySet<string> | undefined {
    const end = functionNameEnd(url);
    const methods = this.publicByName.get(url.slice(FUNCTION_PATH_PREFIX.length, end));
    return methods === undefined || isOwnEndpoint(forwardPathOf(url, end)) ? undefined : methods;
  }
}

/** Where the name ends in `/function/<name>[/<rest>][?q]`. */
function functionNameEnd(url: string): number {
  let end = FUNCTION_PATH_PREFIX.length;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 47 /* / */ || c === 63 /* ? */) break;
    end++;
  }
  return end;
}

/** The path to request from the function: what follows the name, `/` when nothing does. */
function forwardPathOf(url: string, nameEnd: number): string {
  const rest = url.slice(nameEnd);
  return rest === '' ? '/' : rest.charCodeAt(0) === 63 ? '/' + rest : rest;
}

/**
 * `/healthz`, `/readyz`, `/metrics` (with or without a query): the router serves them on its admin
 * listener only, and the runtime serves its own beside the handler, so the public listener never
 * forwards them (a route `/:page`, or `/function/<name>/metrics`, would publish a function's metrics).
 */
export function isOwnEndpoint(path: string): boolean {
  const q = path.indexOf('?');
  return OWN_ENDPOINTS.has(q === -1 ? path : path.slice(0, q));
}

/** A route's methods as matched: GET also answers HEAD (RFC 9110 §9.3.2). */
function withImplicitHead(methods: readonly HttpMethod[]): ReadonlySet<string> {
  const set = new Set<string>(methods);
  if (set.has('GET')) set.add('HEAD');
  return set;
}
