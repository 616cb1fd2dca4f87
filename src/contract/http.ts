/** HTTP names and constants the router, the runtime and the constructs share. */

/**
 * HTTP endpoints every runtime serves on its port, and the router on its admin port only
 * (ROUTER_ADMIN_PORT): its public port answers 404 there. Never routed to handlers.
 */
export const Endpoints = {
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
} as const;

/** Request headers the router and runtime read or set. */
export const Headers = {
  requestId: 'x-request-id',
  traceparent: 'traceparent',
  /** Response of an async call: its id (server-generated, unguessable). On a request: an idempotency key. */
  callId: 'x-call-id',
  /**
   * An async call's idempotency key (IETF draft `Idempotency-Key`; `X-Call-Id` on the request is read the
   * same): a resubmission with the same key for the same function (and caller) returns the first call.
   */
  idempotencyKey: 'idempotency-key',
  callbackUrl: 'x-callback-url',
  /** Set by the router on proxied requests: the function the route resolved to. */
  functionName: 'x-kubefaas-function',
  /** Set by the router: path parameters of the matched route, as URI-encoded JSON (`{"id":"42"}`; see params.ts). */
  params: 'x-kubefaas-params',
  /**
   * Set by the router when a route's auth policy verified the caller: base64url of the `AuthInfo`
   * JSON (policies.ts), read by the runtime into `event.auth`. Always dropped from client requests.
   */
  auth: 'x-kubefaas-auth',
} as const;

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * How long the router keeps an idle client connection open (node:http's `keepAliveTimeout`, and the
 * `Keep-Alive: timeout=` hint of the fast path). Longer than typical load-balancer idle timeouts
 * (60 s), so the LB closes idle connections, not us.
 */
export const ROUTER_KEEP_ALIVE_TIMEOUT_MS = 65_000;
/**
 * Default of `RouterOptions.headersTimeout` (Env.ROUTER_HEADERS_TIMEOUT_MS): the time from a request's
 * first byte to its complete head. Bounds slowloris clients; a real client sends a head at once.
 */
export const ROUTER_HEADERS_TIMEOUT_MS = 10_000;
/**
 * Default of `RouterOptions.bodyTimeout` (Env.ROUTER_BODY_TIMEOUT_MS): the time from a complete head
 * to the last byte of its body (6 MiB, the default body limit, in 30 s needs ~200 KiB/s).
 */
export const ROUTER_BODY_TIMEOUT_MS = 30_000;
