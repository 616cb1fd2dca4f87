import {
  HTTP_METHODS,
  JWT_ALGORITHMS,
  MAX_CORS_MAX_AGE_SECONDS,
  type CorsPolicy,
  type HttpMethod,
  corsOriginProblem,
  isHeaderName,
  MAX_JWT_CLOCK_SKEW_SECONDS,
  type JwtAlgorithm,
  type AuthPolicy,
  PlatformPolicies,
  RateLimitPolicy,
  RoutePolicies,
} from '../../contract';

/** Thrown for a policy the router cannot enforce; route-table.ts names the entry. */
export class PolicyError extends Error {}

const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Checks `RouteTable.policies`. */
export function checkPlatformPolicies(value: unknown): PlatformPolicies {
  if (!isObject(value)) throw new PolicyError('must be an object');
  const { trustedProxies = 0 } = value;
  if (
    typeof trustedProxies !== 'number' ||
    !Number.isInteger(trustedProxies) ||
    trustedProxies < 0 ||
    trustedProxies > 32
  ) {
    throw new PolicyError('trustedProxies: must be an integer between 0 and 32');
  }
  return { ...checkRoutePolicies(value), trustedProxies };
}

/** Checks a route's `policies` (the same fields as the platform's, without trustedProxies). */
export function checkRoutePolicies(value: unknown): RoutePolicies {
  if (!isObject(value)) throw new PolicyError('must be an object');
  const out: { auth?: AuthPolicy; rateLimits?: RateLimitPolicy[]; cors?: CorsPolicy } = {};
  if (value.auth !== undefined) out.auth = checkAuth(value.auth);
  if (value.rateLimits !== undefined) {
    if (!Array.isArray(value.rateLimits)) throw new PolicyError('rateLimits: must be an array');
    out.rateLimits = value.rateLimits.map((l, i) => checkRateLimit(l, `rateLimits[${i}]`));
  }
  if (value.cors !== undefined) out.cors = checkCors(value.cors);
  return out;
}

function checkCors(cors: unknown): CorsPolicy {
  if (!isObject(cors))
    throw new PolicyError('cors: must be an object { origins, methods, credentials, maxAgeSeconds }');
  const { origins, methods, headers, exposeHeaders, credentials, maxAgeSeconds } = cors;
  if (!Array.isArray(origins) || !origins.every((o) => typeof o === 'string'))
    throw new PolicyError('cors.origins: must be an array of strings');
  for (const origin of origins as string[]) {
    const problem = corsOriginProblem(origin);
    if (problem !== undefined) throw new PolicyError(`cors.origins: ${JSON.stringify(origin)}: ${problem}`);
  }
  if (origins.includes('*') && origins.length > 1) throw new PolicyError('cors.origins: "*" must stand alone');
  if (typeof credentials !== 'boolean') throw new PolicyError('cors.credentials: must be a boolean');
  if (credentials && origins.includes('*')) throw new PolicyError('cors: "*" origins cannot come with credentials');
  if (
    !Array.isArray(methods) ||
    methods.length === 0 ||
    !methods.every((m) => HTTP_METHODS.includes(m as HttpMethod))
  ) {
    throw new PolicyError(`cors.methods: must be a non-empty list of ${HTTP_METHODS.join(', ')}`);
  }
  const headerList = (list: unknown, where: string, star: boolean): string[] => {
    if (!Array.isArray(list) || !list.every((h) => typeof h === 'string' && (h === '*' ? star : isHeaderName(h))))
      throw new PolicyError(`cors.${where}: must be a list of lower-case header names`);
    return [...(list as string[])];
  };
  const exposed = exposeHeaders === undefined ? undefined : headerList(exposeHeaders, 'exposeHeaders', !credentials);
  if (
    typeof maxAgeSeconds !== 'number' ||
    !Number.isInteger(maxAgeSeconds) ||
    maxAgeSeconds < 0 ||
    maxAgeSeconds > MAX_CORS_MAX_AGE_SECONDS
  ) {
    throw new PolicyError(`cors.maxAgeSeconds: must be an integer between 0 and ${MAX_CORS_MAX_AGE_SECONDS}`);
  }
  return {
    origins: [...(origins as string[])],
    methods: [...(methods as string[])],
    ...(headers !== undefined ? { headers: headerList(headers, 'headers', false) } : {}),
    ...(exposed !== undefined ? { exposeHeaders: exposed } : {}),
    credentials,
    maxAgeSeconds,
  };
}

function checkAuth(auth: unknown): AuthPolicy {
  if (!isObject(auth)) throw new PolicyError('auth: must be an object with a type');
  switch (auth.type) {
    case 'none':
      return { type: 'none' };
    case 'apiKeys':
      return { type: 'apiKeys', secret: secretName(auth.secret) };
    case 'basic':
      if (typeof auth.realm !== 'string' || auth.realm === '')
        throw new PolicyError('auth.realm: must be a non-empty string');
      return { type: 'basic', secret: secretName(auth.secret), realm: auth.realm };
    case 'jwt':
      return checkJwt(auth);
    default:
      throw new PolicyError(`auth.type: ${JSON.stringify(auth.type)} is not supported (none, apiKeys, basic, jwt)`);
  }
}

function checkJwt(auth: Record<string, unknown>): AuthPolicy {
  const { issuer, audience, jwksUri, publicKey, algorithms, clockSkewSeconds, requiredScopes, requiredClaims } = auth;
  if (typeof issuer !== 'string' || issuer === '') throw new PolicyError('auth.issuer: must be a non-empty string');
  if (!Array.isArray(audience) || audience.length === 0 || !audience.every((a) => typeof a === 'string'))
    throw new PolicyError('auth.audience: must be a non-empty array of strings');
  if ((jwksUri === undefined) === (publicKey === undefined))
    throw new PolicyError('auth: exactly one of jwksUri and publicKey');
  if (jwksUri !== undefined && (typeof jwksUri !== 'string' || !/^https?:\/\//.test(jwksUri)))
    throw new PolicyError('auth.jwksUri: must be an http(s) URL');
  if (publicKey !== undefined && typeof publicKey !== 'string')
    throw new PolicyError('auth.publicKey: must be a PEM or JWK string');
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    !algorithms.every((a) => JWT_ALGORITHMS.includes(a as JwtAlgorithm))
  ) {
    throw new PolicyError(`auth.algorithms: must be a non-empty list of ${JWT_ALGORITHMS.join(', ')}`);
  }
  if (typeof clockSkewSeconds !== 'number' || clockSkewSeconds < 0 || clockSkewSeconds > MAX_JWT_CLOCK_SKEW_SECONDS) {
    throw new PolicyError(`auth.clockSkewSeconds: must be between 0 and ${MAX_JWT_CLOCK_SKEW_SECONDS}`);
  }
  return {
    type: 'jwt',
    issuer,
    audience: audience as string[],
    algorithms: algorithms as JwtAlgorithm[],
    clockSkewSeconds,
    ...(jwksUri !== undefined ? { jwksUri: jwksUri as string } : { publicKey: publicKey as string }),
    ...(Array.isArray(requiredScopes) ? { requiredScopes: requiredScopes.map(String) } : {}),
    ...(isObject(requiredClaims)
      ? { requiredClaims: Object.fromEntries(Object.entries(requiredClaims).map(([k, v]) => [k, String(v)])) }
      : {}),
  };
}

function secretName(name: unknown): string {
  if (typeof name !== 'string' || name.length > 253 || !SECRET_NAME.test(name))
    throw new PolicyError('auth.secret: must be a Secret name (DNS-1123 subdomain)');
  return name;
}

function checkRateLimit(limit: unknown, where: string): RateLimitPolicy {
  if (!isObject(limit)) throw new PolicyError(`${where}: must be an object { scope, limit, periodMs }`);
  const { scope, limit: n, periodMs } = limit;
  if (scope !== 'global' && scope !== 'route' && scope !== 'client')
    throw new PolicyError(`${where}.scope: must be global, route or client`);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1e9)
    throw new PolicyError(`${where}.limit: must be a positive integer`);
  if (typeof periodMs !== 'number' || !Number.isInteger(periodMs) || periodMs < 1 || periodMs > 86_400_000) {
    throw new PolicyError(`${where}.periodMs: must be an integer between 1 and 86400000`);
  }
  return { scope, limit: n, periodMs };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
