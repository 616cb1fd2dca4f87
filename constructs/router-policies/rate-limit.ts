import { Duration } from 'cdk8s';
import type { IConstruct } from 'constructs';
import type { RateLimitPolicy } from '../../src/contract';
import { ValidationError } from '../errors';

/**
 * A token-bucket rate limit the router enforces (per router replica: the effective limit is
 * limit × replicas). 429 with Retry-After and RateLimit-* headers when exceeded.
 */
export class RateLimit {
  /** One bucket for everything it is attached to (the whole router on the platform, the route on a trigger). */
  public static global(limit: number, per: Duration): RateLimit {
    return new RateLimit('global', limit, per);
  }

  /** One bucket per route (on the platform: each route gets its own). */
  public static perRoute(limit: number, per: Duration): RateLimit {
    return new RateLimit('route', limit, per);
  }

  /** One bucket per client: API key id, basic user, JWT subject, else client IP (`router.trustedProxies`). */
  public static perClient(limit: number, per: Duration): RateLimit {
    return new RateLimit('client', limit, per);
  }

  private constructor(
    private readonly scope: RateLimitPolicy['scope'],
    private readonly limit: number,
    private readonly per: Duration,
  ) {}

  /** The route-table form, validated (ValidationError naming `scope`). */
  public policy(scope: IConstruct): RateLimitPolicy {
    if (!Number.isInteger(this.limit) || this.limit <= 0) {
      throw new ValidationError(
        scope,
        `rate limit ${this.limit} is not a positive integer`,
        'Give the number of requests allowed per period, at least 1',
      );
    }
    const periodMs = this.per?.toMilliseconds?.();
    if (!(typeof periodMs === 'number' && periodMs >= 1 && periodMs <= 86_400_000)) {
      throw new ValidationError(scope, 'rate limit period is out of range', 'Use a Duration between 1 ms and 1 day');
    }
    return { scope: this.scope, limit: this.limit, periodMs };
  }
}
