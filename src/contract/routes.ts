import { Endpoints, type HttpMethod } from './http';
import type { CallbackUrlPolicy, PlatformPolicies, RoutePolicies } from './policies';

/**
 * The route table and its grammar: one validator for paths, function names and hosts, used by the
 * constructs at synth (HttpTrigger, function names) and by the router when it loads a table.
 */

/**
 * Calling a function by name: `/function/<name>` and `/function/<name>/<rest>`.
 * - On the router's admin port (`ROUTER_ADMIN_PORT`, never exposed): every function, any method,
 *   no router policies. The internal path of the cron sender, `kubefaas invoke` and tests.
 * - On the public port: only functions whose `invocation.byName` lists methods, with those methods
 *   (405 otherwise) and the platform's policies; every other name is 404.
 * Routes under this prefix, or on the `Endpoints` paths, would be shadowed, so the route table rejects them.
 */
export const FUNCTION_PATH_PREFIX = '/function/';

/**
 * With a queue, the router accepts async calls at `POST /async-function/<name>[/<rest>]` (202 +
 * `X-Call-Id`) and reports them at `GET /async-function/<name>/<call-id>`: on the admin port for
 * every function, on the public port only for functions with `invocation.async`.
 */
export const ASYNC_FUNCTION_PATH_PREFIX = '/async-function/';

/**
 * What of a function the router's public port serves besides its routes (issue 15 item 9). Absent
 * (or an empty object) = only its declared routes: by-name and async calls then exist on the admin
 * port alone.
 */
export interface PublicInvocation {
  /**
   * Methods `/function/<name>[/<rest>]` accepts on the public port (GET also admits HEAD, as a route
   * does); absent = by-name calls are not public (404).
   */
  readonly byName?: readonly HttpMethod[];
  /** `POST /async-function/<name>` and its status reads are public; absent/false = 404. */
  readonly async?: boolean;
}

/** One function the router can reach. */
export interface RouteTarget {
  /** Base URL of the function's Service, e.g. `http://hello.faas.svc.cluster.local:80`. */
  readonly url: string;
  /** Per-request timeout the router applies to this function, in milliseconds. */
  readonly timeoutMs: number;
  /**
   * Largest request body the function accepts, in bytes (the function's `maxBodySize`): the router
   * answers 413 itself on every path into the function (sync and async) before forwarding.
   * Absent in tables written before the field existed: then only the runtime enforces it.
   */
  readonly maxBodyBytes?: number;
  /**
   * How the function scales (issue 10). Absent = it always has a replica: the router forwards
   * every request at once, as before the field existed.
   */
  readonly scaling?: RouteScaling;
  /** By-name and async invocation on the public port; absent = neither (routes only). */
  readonly invocation?: PublicInvocation;
}

/**
 * What the router's activator needs to know about a function that KEDA scales. Only
 * `minReplicas: 0` changes what the router does: while the function has no ready endpoint, its
 * requests wait in a bounded per-function FIFO (per router replica) and are forwarded in arrival
 * order once an endpoint is ready.
 */
export interface RouteScaling {
  /** The function's fewest replicas; 0 = it may be scaled to zero. */
  readonly minReplicas: number;
  /**
   * Longest a request waits for a ready endpoint, in milliseconds; then the router answers 504
   * with a JSON body saying the function did not become ready. Below the function's timeout.
   */
  readonly activationTimeoutMs: number;
  /**
   * Most requests one router replica holds for the function at once; more are answered 503 with
   * `Retry-After` (a burst against one cold function must not exhaust the router for the others).
   */
  readonly holdQueueLimit: number;
}

/** `RouteScaling.activationTimeoutMs` when the constructs are not told otherwise. */
export const DEFAULT_ACTIVATION_TIMEOUT_MS = 30_000;
/** `RouteScaling.holdQueueLimit` when the constructs are not told otherwise. */
export const DEFAULT_HOLD_QUEUE_LIMIT = 1_000;
/** Largest `RouteScaling.holdQueueLimit` a route table may ask for (held requests cost router memory). */
export const MAX_HOLD_QUEUE_LIMIT = 10_000;

/** One HTTP trigger: requests matching method + path (+ host) go to `function`. */
export interface Route {
  readonly function: string;
  readonly methods: readonly HttpMethod[];
  /** find-my-way syntax: `/users/:id`, `/files/*`. */
  readonly path: string;
  /** Exact host (without port); absent = any host. */
  readonly host?: string;
  /** This route's own policies (auth, rate limits, CORS) over the platform's. */
  readonly policies?: RoutePolicies;
}

/** The route table the router serves, generated at synth time into a ConfigMap. */
export interface RouteTable {
  readonly version: 1;
  readonly functions: { readonly [name: string]: RouteTarget };
  readonly routes: readonly Route[];
  /** Platform-wide router policies; absent = none (no auth, no limits, no CORS). */
  readonly policies?: PlatformPolicies;
  /** Callback URLs async calls may name (`X-Callback-Url`); absent = a call with one is refused (400). */
  readonly callbacks?: CallbackUrlPolicy;
}

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

/**
 * Paths the router serves itself: `/function/<name>`, `/async-function/<name>` and its endpoints
 * (on its admin port; the public port answers 404 there, so no route may claim them).
 * (`@__PURE__`: a pod bundle that never checks paths drops these.)
 */
const RESERVED_PREFIXES: readonly string[] = /* @__PURE__ */ [FUNCTION_PATH_PREFIX, ASYNC_FUNCTION_PATH_PREFIX].map(
  (prefix) => prefix.slice(0, -1),
);
const RESERVED_EXACT: readonly string[] = /* @__PURE__ */ Object.values(Endpoints);

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 3986 pchar minus ':' (find-my-way reads it as a parameter) and '*' (wildcard).
const STATIC_SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()+,;=@]|%[0-9A-Fa-f]{2})+$/;

export const PATH_HINT =
  'Paths start with "/", use `:name` for a whole-segment parameter and `*` only as the last segment, and contain no "?", "#", whitespace or "//"';

/**
 * Rules for route paths (find-my-way syntax, restricted to what we can check): `/users/:id`,
 * `/files/*`. Returns a problem description, or undefined when the path is well-formed and not
 * reserved by the router.
 */
export function pathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'the path is empty';
  if (!path.startsWith('/')) return `path '${path}' does not start with "/"`;
  if (path.length > 2048) return `path is ${path.length} characters long (at most 2048)`;
  if (/[?#]/.test(path)) return `path '${path}' contains a query or fragment ("?" or "#")`;
  if (/\s/.test(path)) return `path '${JSON.stringify(path)}' contains whitespace`;
  if (path.includes('//')) return `path '${path}' contains an empty segment ("//")`;

  const segments = path.slice(1).split('/');
  const params = new Set<string>();
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    if (segment === '') continue; // only possible as the trailing slash (or the root path)
    if (segment === '.' || segment === '..') return `path '${path}' contains a "${segment}" segment`;
    if (segment === '*') {
      if (!last) return `path '${path}' has a wildcard "*" before the last segment`;
      continue;
    }
    if (segment.includes('*')) return `path '${path}' uses "*" inside a segment (only a whole last segment may be "*")`;
    if (segment.startsWith(':')) {
      const name = segment.slice(1);
      if (!PARAM_NAME.test(name))
        return `path '${path}' has a malformed parameter '${segment}' (use :name with letters, digits and "_")`;
      if (params.has(name)) return `path '${path}' uses the parameter ':${name}' twice`;
      params.add(name);
      continue;
    }
    if (!STATIC_SEGMENT.test(segment))
      return `path '${path}' has an invalid segment '${segment}' (":" only starts a parameter; escape other characters with %XX)`;
  }

  for (const prefix of RESERVED_PREFIXES) {
    if (path === prefix || path.startsWith(`${prefix}/`)) {
      return `path '${path}' is under '${prefix}/', which the router reserves for calling functions by name`;
    }
  }
  if (RESERVED_EXACT.includes(path.replace(/\/$/, '')))
    return `path '${path}' is reserved for the router's own endpoint`;
  return undefined;
}

/**
 * The shape two routes must not share: parameter names are irrelevant to matching (`/a/:x` and
 * `/a/:y` match the same requests) and a trailing slash is treated as the same path.
 */
export function routeShape(path: string): string {
  const shape = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? ':' : segment))
    .join('/');
  return shape.length > 1 ? shape.replace(/\/$/, '') : shape;
}

// ---------------------------------------------------------------------------------------------
// Function names and hosts
// ---------------------------------------------------------------------------------------------

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Function names become Service names, which Kubernetes validates as DNS-1035 labels (at most 63
 * characters, starting with a letter), and the router addresses them as `<name>.<ns>.svc.cluster.local`.
 */
export function isFunctionName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= 63 && DNS1035_LABEL.test(name);
}

export const FUNCTION_NAME_HINT =
  'Use at most 63 lower-case letters, digits and "-", starting with a letter and ending with a letter or digit';

const HOST_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** An exact, lower-case DNS host name without port, as a route's `host` (at most 253 characters). */
export function isRouteHost(host: unknown): host is string {
  return typeof host === 'string' && host.length > 0 && host.length <= 253 && HOST_NAME.test(host);
}
