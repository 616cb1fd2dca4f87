import { Duration } from 'cdk8s';
import type { IConstruct } from 'constructs';
import {
  HTTP_METHODS,
  MAX_CORS_MAX_AGE_SECONDS,
  corsOriginProblem,
  isHeaderName,
  type CorsPolicy,
  type HttpMethod,
} from '../../src/contract';
import { ValidationError } from '../errors';

/**
 * Which browser origins may call the platform (`router.cors`) or one route (`HttpTrigger.cors`).
 * The router answers preflights itself, before authentication, and adds the CORS headers to every
 * answer of the route, its own errors (401, 429, 413, 502…) included (docs/security.md).
 */
export interface CorsOptions {
  /**
   * Origins allowed to call: `https://app.example.com`, `http://localhost:3000`, subdomain patterns
   * (`https://*.example.com`: any subdomain, not the domain itself), or `['*']` for any origin
   * (not with `credentials`). `[]` refuses every cross-origin preflight on the route.
   */
  readonly origins: readonly string[];
  /**
   * Methods a preflight allows (a route also needs to serve them).
   * @default - a trigger's methods; on the platform GET, HEAD, POST, PUT, PATCH, DELETE
   */
  readonly methods?: readonly (HttpMethod | Lowercase<HttpMethod>)[];
  /**
   * Request headers a preflight allows (case-insensitive); the CORS-safelisted ones (Accept,
   * Accept-Language, Content-Language, Content-Type) always are. List `authorization` or
   * `x-api-key` when browsers send credentials that way.
   * @default - any header the browser asks for
   */
  readonly headers?: readonly string[];
  /**
   * Response headers scripts may read beyond the safelisted ones (`['*']`: all, not with
   * `credentials`). The router's own (X-Request-Id, Retry-After, RateLimit-*, WWW-Authenticate,
   * X-Call-Id, Location) are always exposed.
   * @default - only the router's own
   */
  readonly exposeHeaders?: readonly string[];
  /**
   * Let browsers send cookies and HTTP auth (`Access-Control-Allow-Credentials: true`). Needs
   * explicit origins.
   * @default false
   */
  readonly credentials?: boolean;
  /**
   * How long browsers may cache a preflight answer (whole seconds, at most 24 h; browsers cap lower).
   * @default Duration.minutes(10)
   */
  readonly maxAge?: Duration;
}

/** Methods a platform-wide CORS policy allows by default (OPTIONS is the preflight itself). */
const PLATFORM_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * `options` in route-table form, validated (ValidationError naming `scope` and the fix).
 * @param routeMethods the trigger's methods (its policy may allow no others); undefined on the platform
 */
export function corsPolicy(
  scope: IConstruct,
  options: CorsOptions,
  routeMethods: readonly HttpMethod[] | undefined,
): CorsPolicy {
  if (typeof options !== 'object' || options === null || !Array.isArray(options.origins)) {
    throw new ValidationError(
      scope,
      '`cors` needs an `origins` list',
      "Give the origins browsers may call from, e.g. { origins: ['https://app.example.com'] }",
    );
  }
  const credentials = options.credentials ?? false;
  const origins = [...new Set(options.origins.map((o) => normalizedOrigin(scope, o)))];
  if (origins.includes('*') && origins.length > 1) {
    throw new ValidationError(scope, 'cors origins mix "*" with explicit origins', 'Use ["*"] alone, or list origins');
  }
  if (origins.includes('*') && credentials) {
    throw new ValidationError(
      scope,
      'cors origin "*" cannot be used with credentials (browsers refuse it)',
      'List the allowed origins explicitly, or set credentials: false',
    );
  }
  const methods = corsMethods(scope, options.methods, routeMethods);
  const headers = options.headers === undefined ? undefined : headerNames(scope, 'headers', options.headers, false);
  const exposeHeaders =
    options.exposeHeaders === undefined
      ? undefined
      : headerNames(scope, 'exposeHeaders', options.exposeHeaders, !credentials);
  const maxAgeSeconds = (options.maxAge ?? Duration.minutes(10)).toSeconds({ integral: false });
  if (!(Number.isInteger(maxAgeSeconds) && maxAgeSeconds >= 0 && maxAgeSeconds <= MAX_CORS_MAX_AGE_SECONDS)) {
    throw new ValidationError(
      scope,
      `cors maxAge of ${maxAgeSeconds} s is out of range`,
      `Use whole seconds between 0 and ${MAX_CORS_MAX_AGE_SECONDS} (24 h)`,
    );
  }
  return {
    origins,
    methods,
    ...(headers !== undefined ? { headers } : {}),
    ...(exposeHeaders !== undefined ? { exposeHeaders } : {}),
    credentials,
    maxAgeSeconds,
  };
}

/**
 * An origin as browsers serialize it (`Origin` header): scheme and host lower-cased, the default
 * port dropped, IDN hosts in punycode, no path. A trailing `/` is forgiven; a path is not.
 */
function normalizedOrigin(scope: IConstruct, origin: unknown): string {
  const fix = 'Give scheme://host[:port] without a path, e.g. "https://app.example.com" or "https://*.example.com"';
  if (origin === '*') return '*';
  if (typeof origin !== 'string')
    throw new ValidationError(scope, `cors origin ${String(origin)} is not a string`, fix);
  if (origin === 'null') {
    throw new ValidationError(
      scope,
      'cors origin "null" cannot be allowed: sandboxed frames and file: pages send it, so anyone can',
      'Serve the calling page from a real origin and list that',
    );
  }
  const wildcard = /^([a-z][a-z0-9+.-]*:\/\/)\*\.(.*)$/i.exec(origin);
  // A `*.` pattern is normalized through a stand-in label, which URL parsing treats like any host.
  const candidate = wildcard ? `${wildcard[1]}wildcard.${wildcard[2]}` : origin;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    throw new ValidationError(scope, `cors origin ${JSON.stringify(origin)} is not a URL origin`, fix);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ValidationError(scope, `cors origin ${JSON.stringify(origin)} is not http(s)`, fix);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.pathname !== '/')
    throw new ValidationError(scope, `cors origin ${JSON.stringify(origin)} has a path, query or credentials`, fix);
  const normalized = wildcard ? url.origin.replace('://wildcard.', '://*.') : url.origin;
  const problem = corsOriginProblem(normalized);
  if (problem !== undefined) throw new ValidationError(scope, `cors origin ${JSON.stringify(origin)}: ${problem}`, fix);
  return normalized;
}

function corsMethods(
  scope: IConstruct,
  given: CorsOptions['methods'],
  routeMethods: readonly HttpMethod[] | undefined,
): HttpMethod[] {
  if (given === undefined) {
    const fromRoute = (routeMethods ?? PLATFORM_METHODS).filter((m) => m !== 'OPTIONS');
    return fromRoute.length > 0 ? fromRoute : ['OPTIONS'];
  }
  if (!Array.isArray(given) || given.length === 0) {
    throw new ValidationError(scope, 'cors methods is empty', 'Omit `methods` for the default, or list some');
  }
  const out: HttpMethod[] = [];
  for (const m of given) {
    const upper = typeof m === 'string' ? (m.toUpperCase() as HttpMethod) : undefined;
    if (upper === undefined || !HTTP_METHODS.includes(upper)) {
      throw new ValidationError(scope, `cors method '${String(m)}' is not supported`, `Use ${HTTP_METHODS.join(', ')}`);
    }
    if (routeMethods !== undefined && !routeMethods.includes(upper)) {
      throw new ValidationError(
        scope,
        `cors allows ${upper}, which the trigger does not route (${routeMethods.join(', ')})`,
        'Add the method to the trigger, or drop it from cors.methods',
      );
    }
    if (!out.includes(upper)) out.push(upper);
  }
  return out;
}

function headerNames(scope: IConstruct, what: string, names: readonly string[], starAllowed: boolean): string[] {
  if (!Array.isArray(names)) throw new ValidationError(scope, `cors ${what} must be a list`, 'List header names');
  const out: string[] = [];
  for (const name of names) {
    const lower = typeof name === 'string' ? name.trim().toLowerCase() : '';
    if (lower === '*' && !starAllowed) {
      throw new ValidationError(
        scope,
        `cors ${what} "*" is not allowed here`,
        what === 'headers'
          ? 'Omit `headers` to allow any request header'
          : 'With credentials, list the headers to expose explicitly',
      );
    }
    if (lower !== '*' && !isHeaderName(lower)) {
      throw new ValidationError(
        scope,
        `cors ${what} entry '${String(name)}' is not a header name`,
        'Use names like x-trace-id',
      );
    }
    if (!out.includes(lower)) out.push(lower);
  }
  return out;
}
