import type { AuthPolicy, PlatformPolicies, RateLimitPolicy, RouteTable } from '../../contract';
import type { InboundHeaders } from '../forwarded-headers';
import type { RouterLog } from '../log';
import { ApiKeyAuthenticator } from './api-keys';
import type { Authenticator } from './authenticator';
import { BasicAuthenticator } from './basic-auth';
import { Cors } from './cors';
import { JwtAuthenticator } from './jwt-auth';
import { RateLimiter, clientAddress } from './rate-limiter';
import { SecretDir } from './secret-dir';
import type { AuthOutcome, Refusal, Verdict } from './verdict';

/** What a policy check reads from a request. */
export interface PolicyRequest {
  readonly inbound: InboundHeaders;
  readonly clientAddress: string | undefined;
}

/** The compiled policies of one route (or of the platform, for `/function/…` and async calls). */
interface Guard {
  readonly auth: Authenticator | undefined;
  readonly limits: readonly RateLimiter[];
  readonly cors: Cors | undefined;
}

const NO_HEADERS: readonly string[] = [];

/**
 * The router's policies for one route table: CORS preflights (answered before anything else),
 * then authentication, then rate limits, per route; CORS headers on every answer. Built
 * when a table is applied; authenticators and limiters whose configuration did not change are kept
 * across tables (Secret watchers keep running, buckets keep their tokens).
 */
export class RouterPolicies {
  private readonly platform: Guard;
  private readonly routes: readonly Guard[];
  /** Some route (or the platform) has a CORS policy: preflights are looked for. */
  readonly hasCors: boolean;

  private constructor(
    private readonly settings: PlatformPolicies,
    platform: Guard,
    routes: readonly Guard[],
    private readonly parts: PolicyParts,
  ) {
    this.platform = platform;
    this.routes = routes;
    this.hasCors = platform.cors !== undefined || routes.some((r) => r.cors !== undefined);
  }

  /** Undefined when the table has no policies at all (the hot path then skips this step). */
  static build(
    table: RouteTable,
    previous: RouterPolicies | undefined,
    secretsDir: string,
    log: RouterLog,
  ): RouterPolicies | undefined {
    const hasRoutePolicies = table.routes.some((r) => r.policies !== undefined);
    if (table.policies === undefined && !hasRoutePolicies) {
      previous?.parts.retain(new Set());
      return undefined;
    }
    const parts = previous?.parts ?? new PolicyParts(secretsDir, log);
    const used = new Set<string>();
    const settings = table.policies ?? { trustedProxies: 0 };
    const platformLimits = (settings.rateLimits ?? []).map((l, i) => parts.limiter(`platform/${i}`, l, used));
    const platformAuth = parts.auth(settings.auth, used);
    const platformCors = settings.cors === undefined ? undefined : new Cors(settings.cors);
    const platform: Guard = {
      auth: platformAuth,
      limits: platformLimits.filter((l) => l.policy.scope !== 'route'),
      cors: platformCors,
    };
    const routes = table.routes.map((route, index): Guard => {
      const own = route.policies;
      const auth = own?.auth !== undefined ? parts.auth(own.auth, used) : platformAuth;
      const perRoute = platformLimits
        .filter((l) => l.policy.scope === 'route')
        .map((l, i) => parts.limiter(`route/${index}/platform/${i}`, l.policy, used));
      const ownLimits = (own?.rateLimits ?? []).map((l, i) => parts.limiter(`route/${index}/${i}`, l, used));
      const cors = own?.cors !== undefined ? new Cors(own.cors) : platformCors;
      return { auth, limits: [...platform.limits, ...perRoute, ...ownLimits], cors };
    });
    parts.retain(used);
    return new RouterPolicies(settings, platform, routes, parts);
  }

  /** Stops the Secret watchers (shutdown). */
  close(): void {
    this.parts.retain(new Set());
  }

  /**
   * Checks route `routeIndex` (-1: the platform's policies) for a request: a verdict now, or a
   * promise of one when credentials need slow work (bcrypt, a JWKS fetch).
   */
  check(routeIndex: number, request: PolicyRequest): Verdict | Promise<Verdict> {
    const guard = this.guard(routeIndex);
    if (guard.auth === undefined) return this.limit(guard, undefined, request);
    const outcome = guard.auth.authenticate(request.inbound);
    if (outcome instanceof Promise) return outcome.then((o) => this.afterAuth(guard, o, request));
    return this.afterAuth(guard, outcome, request);
  }

  /** The CORS policy of route `routeIndex` (-1: the platform's); undefined when it has none. */
  cors(routeIndex: number): Cors | undefined {
    return this.guard(routeIndex).cors;
  }

  /** CORS headers for any answer on route `routeIndex` (the router's own errors included). */
  corsHeaders(routeIndex: number, request: PolicyRequest): readonly string[] {
    return this.guard(routeIndex).cors?.responseHeaders(request.inbound.origin) ?? NO_HEADERS;
  }

  private guard(routeIndex: number): Guard {
    return routeIndex < 0 ? this.platform : this.routes[routeIndex];
  }

  private afterAuth(guard: Guard, outcome: AuthOutcome, request: PolicyRequest): Verdict {
    if (!outcome.ok) {
      const headers =
        guard.cors === undefined
          ? outcome.headers
          : [...outcome.headers, ...guard.cors.responseHeaders(request.inbound.origin)];
      return { granted: false, status: outcome.status, message: outcome.message, headers };
    }
    return this.limit(guard, outcome.identity, request);
  }

  private limit(
    guard: Guard,
    identity: { header: string; clientKey: string } | undefined,
    request: PolicyRequest,
  ): Verdict {
    const authHeader = identity?.header;
    const cors = guard.cors?.responseHeaders(request.inbound.origin);
    const ownsCors = guard.cors !== undefined;
    if (guard.limits.length === 0) return { granted: true, authHeader, responseHeaders: cors ?? NO_HEADERS, ownsCors };
    const clientKey =
      identity?.clientKey ??
      `ip:${clientAddress(request.clientAddress, request.inbound.forwardedFor, this.settings.trustedProxies)}`;
    const now = performance.now();
    // Every limit takes its token; the answer reports the tightest one.
    let tightest: ReturnType<RateLimiter['take']> | undefined;
    let refused: ReturnType<RateLimiter['take']> | undefined;
    for (const limiter of guard.limits) {
      const take = limiter.take(clientKey, now);
      if (!take.allowed) {
        if (refused === undefined || take.resetSeconds > refused.resetSeconds) refused = take;
      } else if (tightest === undefined || take.remaining < tightest.remaining) {
        tightest = take;
      }
    }
    if (refused !== undefined) {
      const refusal: Refusal = {
        granted: false,
        status: 429,
        message: `rate limit exceeded: ${refused.limit} requests per window, retry in ${refused.resetSeconds} s`,
        headers: ['retry-after', String(refused.resetSeconds), ...rateLimitHeaders(refused), ...(cors ?? NO_HEADERS)],
      };
      return refusal;
    }
    const responseHeaders = rateLimitHeaders(tightest!);
    if (cors !== undefined) for (let i = 0; i < cors.length; i++) responseHeaders.push(cors[i]);
    return { granted: true, authHeader, responseHeaders, ownsCors };
  }
}

function rateLimitHeaders(take: { limit: number; remaining: number; resetSeconds: number }): string[] {
  return [
    'ratelimit-limit',
    String(take.limit),
    'ratelimit-remaining',
    String(take.remaining),
    'ratelimit-reset',
    String(take.resetSeconds),
  ];
}

/** Authenticators (by configuration) and limiters (by place and configuration), kept across tables. */
class PolicyParts {
  private readonly authenticators = new Map<string, Authenticator>();
  private readonly limiters = new Map<string, RateLimiter>();

  constructor(
    private readonly secretsDir: string,
    private readonly log: RouterLog,
  ) {}

  auth(policy: AuthPolicy | undefined, used: Set<string>): Authenticator | undefined {
    if (policy === undefined || policy.type === 'none') return undefined;
    const key = `auth:${JSON.stringify(policy)}`;
    used.add(key);
    let found = this.authenticators.get(key);
    if (found === undefined) {
      found = this.create(policy);
      this.authenticators.set(key, found);
    }
    return found;
  }

  limiter(place: string, policy: RateLimitPolicy, used: Set<string>): RateLimiter {
    const key = `limit:${place}:${JSON.stringify(policy)}`;
    used.add(key);
    let found = this.limiters.get(key);
    if (found === undefined) {
      found = new RateLimiter(policy);
      this.limiters.set(key, found);
    }
    return found;
  }

  /** Drops (and closes) what the new table no longer uses. */
  retain(used: ReadonlySet<string>): void {
    for (const [key, auth] of this.authenticators) {
      if (!used.has(key)) {
        auth.close();
        this.authenticators.delete(key);
      }
    }
    for (const key of this.limiters.keys()) if (!used.has(key)) this.limiters.delete(key);
  }

  private create(policy: Exclude<AuthPolicy, { type: 'none' }>): Authenticator {
    switch (policy.type) {
      case 'apiKeys': {
        // eslint-disable-next-line prefer-const -- assigned after the authenticator that closes over it
        let dir: SecretDir | undefined;
        const auth = new ApiKeyAuthenticator(() => dir?.stop());
        dir = this.watchSecret(policy.secret, (files) => auth.load(files));
        return auth;
      }
      case 'basic': {
        // eslint-disable-next-line prefer-const -- assigned after the authenticator that closes over it
        let dir: SecretDir | undefined;
        const auth = new BasicAuthenticator(policy.realm, () => dir?.stop());
        dir = this.watchSecret(policy.secret, (files) => auth.load(files));
        return auth;
      }
      case 'jwt':
        return new JwtAuthenticator(policy);
    }
  }

  private watchSecret(secret: string, load: (files: ReadonlyMap<string, string>) => number): SecretDir {
    const path = `${this.secretsDir}/${secret}`;
    const dir = new SecretDir(
      path,
      (files) => this.log.log('info', 'secret loaded', { secret, entries: load(files) }),
      (err) =>
        this.log.log('error', 'secret unreadable: its auth policy refuses every request', {
          secret,
          path,
          reason: err.message,
        }),
    );
    void dir.start();
    return dir;
  }
}
