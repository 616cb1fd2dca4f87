/**
 * Router policies (authentication, rate limits, CORS) as the route table carries them: the
 * constructs write them at synth (constructs/router-policies/), the router enforces them
 * (src/router/policies/). Only references to Secrets travel here, never secret values: a Secret
 * named in an auth policy is mounted into the router pod at `<ROUTER_SECRETS_DIR>/<secret name>/`.
 */

/** Where the router pod mounts the Secrets auth policies name (one directory per Secret). */
export const ROUTER_SECRETS_DIR = '/var/kubefaas/secrets';

/** The Secret key of a basic-auth Secret that holds the htpasswd lines (`user:$2y$…` bcrypt). */
export const HTPASSWD_KEY = 'htpasswd';

/** JWT algorithms the router accepts: asymmetric only (a shared HMAC secret would have to live in the router). */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** Longest clock skew a JWT policy may tolerate (seconds). */
export const MAX_JWT_CLOCK_SKEW_SECONDS = 300;

/** No authentication: anyone who reaches the router may call the route. */
export interface NoAuthPolicy {
  readonly type: 'none';
}

/**
 * API keys from a Secret: every key of the Secret is one API key (the Secret key is its id, the
 * value the key itself). Clients send `X-Api-Key: <key>` or `Authorization: ApiKey <key>`.
 */
export interface ApiKeysAuthPolicy {
  readonly type: 'apiKeys';
  /** Name of the Secret (DNS-1123 subdomain) in the platform namespace. */
  readonly secret: string;
}

/** HTTP basic authentication against bcrypt htpasswd lines (`HTPASSWD_KEY` of the Secret). */
export interface BasicAuthPolicy {
  readonly type: 'basic';
  readonly secret: string;
  /** The realm of `WWW-Authenticate: Basic realm="…"`. */
  readonly realm: string;
}

/** Bearer JWTs signed by an issuer's key (a JWKS URL, or one static public key). */
export interface JwtAuthPolicy {
  readonly type: 'jwt';
  /** Required `iss`. */
  readonly issuer: string;
  /** Accepted `aud` values (one must be in the token's `aud`). */
  readonly audience: readonly string[];
  /** The issuer's JWKS (fetched, cached, refetched on an unknown `kid`). One of jwksUri / publicKey. */
  readonly jwksUri?: string;
  /** A PEM SPKI public key (`-----BEGIN PUBLIC KEY-----`), or a public JWK as JSON text. */
  readonly publicKey?: string;
  readonly algorithms: readonly JwtAlgorithm[];
  readonly clockSkewSeconds: number;
  /** Scopes the token must all carry (`scope` space-separated or `scp` array); missing ones → 403. */
  readonly requiredScopes?: readonly string[];
  /** Claims that must have these exact values (string claims, or arrays that contain the value) → else 403. */
  readonly requiredClaims?: { readonly [claim: string]: string };
}

export type AuthPolicy = NoAuthPolicy | ApiKeysAuthPolicy | BasicAuthPolicy | JwtAuthPolicy;

/**
 * A token bucket: `limit` requests per `periodMs`, refilled continuously, bursting up to `limit`.
 * `global`: one bucket for everything the policy is attached to; `route`: one per route;
 * `client`: one per client (API key id, JWT subject, basic user, else client IP). Per router replica.
 */
export interface RateLimitPolicy {
  readonly scope: 'global' | 'route' | 'client';
  readonly limit: number;
  readonly periodMs: number;
}

/**
 * CORS: which browser origins may call, answered by the router (preflight) and added to responses.
 * The router owns CORS on a route with a policy: it answers preflights itself (before auth: they
 * carry no credentials) and drops `Access-Control-*` headers a function sets.
 */
export interface CorsPolicy {
  /**
   * Serialized origins (`https://app.example.com`, `http://localhost:3000`: lower-case, no path),
   * subdomain patterns (`https://*.example.com`: any subdomain, not the domain itself), or `['*']`
   * for any (not with credentials). Empty: no origin may call (preflights get 403).
   */
  readonly origins: readonly string[];
  /** Methods a preflight allows (upper-case, from HTTP_METHODS). */
  readonly methods: readonly string[];
  /**
   * Request headers a preflight allows (lower-case; the CORS-safelisted ones always are); absent =
   * allow whatever the browser asks for.
   */
  readonly headers?: readonly string[];
  /** Response headers the browser may read (`Access-Control-Expose-Headers`), lower-case; `*` = all (not with credentials). */
  readonly exposeHeaders?: readonly string[];
  readonly credentials: boolean;
  /** `Access-Control-Max-Age` of preflight answers, seconds (0..MAX_CORS_MAX_AGE_SECONDS). */
  readonly maxAgeSeconds: number;
}

/** Longest `Access-Control-Max-Age` a CORS policy may set (browsers cap lower: Chrome 2 h, Firefox 24 h). */
export const MAX_CORS_MAX_AGE_SECONDS = 86_400;

/**
 * Request headers a CORS policy with a `headers` list allows without naming them: the CORS-safelisted
 * names (Fetch §4.3; a browser still asks for `content-type` when its value is not form/text).
 */
export const CORS_SAFELISTED_REQUEST_HEADERS: readonly string[] = [
  'accept',
  'accept-language',
  'content-language',
  'content-type',
];

/**
 * Response headers the router sets itself (request id, rate limits, auth challenges, async call
 * ids), exposed to allowed origins on every CORS route so a browser can back off and retry.
 */
export const CORS_ROUTER_EXPOSED_HEADERS: readonly string[] = [
  'x-request-id',
  'retry-after',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'www-authenticate',
  'x-call-id',
  'location',
];

const HOST_LABELS = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*';
/** A serialized origin as browsers send it (ASCII: IDN hosts in punycode), or a `*.` subdomain pattern. */
const CORS_ORIGIN = new RegExp(`^https?://(?:\\*\\.)?(?:${HOST_LABELS}|\\[[0-9a-f:.]+\\])(?::[1-9][0-9]{0,4})?$`);
/** An HTTP header name (RFC 9110 token), lower-case. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * Why `origin` cannot be an entry of `CorsPolicy.origins` in route-table form (undefined = fine):
 * `*`, or a lower-case serialized origin / `*.` pattern. The constructs normalize what users write
 * into this form; the router checks it again when it loads a table.
 */
export function corsOriginProblem(origin: string): string | undefined {
  if (origin === '*') return undefined;
  if (origin === 'null')
    return 'the "null" origin (sandboxed frames, file: pages) cannot be allowed: anyone can send it';
  if (!CORS_ORIGIN.test(origin))
    return 'must be scheme://host[:port] without a path, lower-case, e.g. "https://app.example.com" or "https://*.example.com"';
  const port = /:([0-9]+)$/.exec(origin.replace(/^https?:\/\//, ''))?.[1];
  if (port !== undefined && Number(port) > 65535) return 'port out of range';
  return undefined;
}

/** True for a lower-case HTTP header name (CORS header lists). */
export function isHeaderName(name: string): boolean {
  return HEADER_NAME.test(name);
}

/** The policies of one route, or of the platform (the defaults of every route). */
export interface RoutePolicies {
  /** Absent on a route = the platform's. */
  readonly auth?: AuthPolicy;
  /** Absent on a route = only the platform's limits apply (they always do). */
  readonly rateLimits?: readonly RateLimitPolicy[];
  /** Absent on a route = the platform's. */
  readonly cors?: CorsPolicy;
}

/** `RouteTable.policies`: the platform-wide policies and how to find the client's address. */
export interface PlatformPolicies extends RoutePolicies {
  /**
   * Proxies in front of the router that append to `X-Forwarded-For` (a load balancer, an ingress
   * controller). The client address is read that many hops from the right; 0 = the socket peer.
   */
  readonly trustedProxies: number;
}

/**
 * The identity the router verified, sent to the function as `Headers.auth` (base64url of this JSON)
 * and given to the handler as `event.auth`. The router always replaces a client's own header.
 */
export type AuthInfo =
  | { readonly type: 'apiKey'; readonly keyId: string }
  | { readonly type: 'basic'; readonly user: string }
  | {
      readonly type: 'jwt';
      readonly subject: string | undefined;
      readonly claims: { readonly [claim: string]: unknown };
    };

/** `Headers.auth` (base64url JSON) back to the AuthInfo; undefined when absent or unreadable. */
export function readAuthInfo(value: unknown): AuthInfo | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    const info: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    return typeof info === 'object' && info !== null && !Array.isArray(info) ? (info as AuthInfo) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Which callback URLs (`X-Callback-Url` of an async call) the platform delivers to. The router
 * refuses an async call whose URL no prefix allows (400 naming `CALLBACK_POLICY_SETTING`); the
 * function's runtime checks the URL again and the addresses its host resolves to before the POST
 * (src/queue/callback-target.ts). Written into the route table (`RouteTable.callbacks`) and the
 * runtime's `QueueEnv.CALLBACK_POLICY`; absent = every callback refused.
 */
export interface CallbackUrlPolicy {
  /** URL prefixes (`https://hooks.example.com/`); a callback URL must start with one. Empty = none. */
  readonly allow: readonly string[];
  /** Also deliver to private addresses: 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7 (ULA). */
  readonly allowPrivateNetworks: boolean;
  /**
   * Also deliver to loopback addresses. Only the local runner (`kubefaas dev`) sets it, for a
   * receiver on the developer's machine; the constructs never do.
   */
  readonly allowLoopback?: boolean;
}

/** What a refused callback's message tells the caller to change. */
export const CALLBACK_POLICY_SETTING = 'PlatformProps.router.callbacks (CallbackPolicy.allow([...url prefixes]))';

/**
 * Why `url` may not be a callback under `policy` (undefined = allowed by its scheme and prefix; the
 * address check happens at delivery). The same answer in the router and in the runtime.
 */
export function callbackUrlRefusal(policy: CallbackUrlPolicy | undefined, url: string): string | undefined {
  if (policy === undefined || policy.allow.length === 0)
    return `callbacks are not enabled on this platform: set ${CALLBACK_POLICY_SETTING}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'the callback URL is not an absolute URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return `callback URLs must be http: or https:, not ${parsed.protocol}`;
  if (parsed.username !== '' || parsed.password !== '') return 'callback URLs may not carry credentials';
  // Compared in the URL's normalized form, so `HTTPS://Hooks.Example.com:443/a/../x` cannot slip past
  // a prefix as text nor dodge one.
  const normalized = parsed.href;
  if (!policy.allow.some((prefix) => normalized.startsWith(prefix)))
    return `the callback URL does not start with an allowed prefix (${policy.allow.join(', ')}): see ${CALLBACK_POLICY_SETTING}`;
  return undefined;
}

/** `value` (parsed JSON) as a CallbackUrlPolicy, or a message saying what is wrong with it. */
export function readCallbackUrlPolicy(value: unknown): CallbackUrlPolicy | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object';
  const v = value as Record<string, unknown>;
  if (!Array.isArray(v.allow) || !v.allow.every((p) => typeof p === 'string' && /^https?:\/\/[^/]+\//.test(p)))
    return '"allow" must be an array of http(s) URL prefixes, each with a path ("https://host/")';
  if (typeof v.allowPrivateNetworks !== 'boolean') return '"allowPrivateNetworks" must be a boolean';
  if (v.allowLoopback !== undefined && typeof v.allowLoopback !== 'boolean') return '"allowLoopback" must be a boolean';
  return {
    allow: [...(v.allow as string[])],
    allowPrivateNetworks: v.allowPrivateNetworks,
    ...(v.allowLoopback === true ? { allowLoopback: true } : {}),
  };
}
