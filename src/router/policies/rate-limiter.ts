import type { RateLimitPolicy } from '../../contract';

/** Most per-client buckets one limit keeps (idle full buckets are dropped first, then the oldest). */
const MAX_CLIENT_BUCKETS = 50_000;

/** One token bucket: `limit` tokens, refilled at limit / periodMs per millisecond. */
class Bucket {
  tokens: number;
  updatedAt: number;
  constructor(limit: number, now: number) {
    this.tokens = limit;
    this.updatedAt = now;
  }
}

/** The outcome of taking a token: allowed or not, and the IETF draft RateLimit-* values. */
export interface Take {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the bucket is full again (allowed) or holds a token (refused). */
  readonly resetSeconds: number;
}

/**
 * A rate limit: one bucket (global / per route), or one bucket per client key, with the number of
 * client buckets bounded — a bucket that has refilled completely is the same as a new one, so those
 * go first; under a flood of distinct clients the oldest go next (they start over full).
 */
export class RateLimiter {
  private readonly perMs: number;
  private readonly single: Bucket | undefined;
  private readonly clients: Map<string, Bucket> | undefined;

  constructor(readonly policy: RateLimitPolicy) {
    this.perMs = policy.limit / policy.periodMs;
    if (policy.scope === 'client') this.clients = new Map();
    else this.single = new Bucket(policy.limit, performance.now());
  }

  take(clientKey: string, now: number): Take {
    let bucket = this.single;
    if (bucket === undefined) {
      const clients = this.clients!;
      bucket = clients.get(clientKey);
      if (bucket === undefined) {
        if (clients.size >= MAX_CLIENT_BUCKETS) this.evict(now);
        bucket = new Bucket(this.policy.limit, now);
        clients.set(clientKey, bucket);
      }
    }
    const limit = this.policy.limit;
    bucket.tokens = Math.min(limit, bucket.tokens + (now - bucket.updatedAt) * this.perMs);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return {
        allowed: true,
        limit,
        remaining: Math.floor(bucket.tokens),
        resetSeconds: Math.ceil((limit - bucket.tokens) / this.perMs / 1000),
      };
    }
    return {
      allowed: false,
      limit,
      remaining: 0,
      resetSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)),
    };
  }

  private evict(now: number): void {
    const clients = this.clients!;
    const limit = this.policy.limit;
    for (const [key, b] of clients) if (b.tokens + (now - b.updatedAt) * this.perMs >= limit) clients.delete(key);
    let drop = clients.size - MAX_CLIENT_BUCKETS + MAX_CLIENT_BUCKETS / 10;
    for (const key of clients.keys()) {
      if (drop-- <= 0) break;
      clients.delete(key);
    }
  }
}

/** The client's address: `trustedProxies` hops from the right of X-Forwarded-For + the socket peer. */
export function clientAddress(
  socketAddress: string | undefined,
  forwardedFor: string | undefined,
  trustedProxies: number,
): string {
  const peer = socketAddress?.startsWith('::ffff:') ? socketAddress.slice(7) : (socketAddress ?? '');
  if (trustedProxies === 0 || forwardedFor === undefined) return peer;
  const hops = forwardedFor.split(',');
  // hops[-1] was added by the proxy next to us; each trusted proxy vouches for the hop before it.
  const index = hops.length - trustedProxies;
  return (index >= 0 ? hops[index] : hops[0]).trim();
}
