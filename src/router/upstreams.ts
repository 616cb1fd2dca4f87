import { UpstreamPool, type UpstreamPoolOptions } from './upstream-client/pool';
import type { RouteTable } from '../contract';
import type { FunctionDurations, RouterMetrics } from './metrics';
import type { UpstreamConnectionLimits } from './config';
import type { FunctionActivity } from './activator/function-activity';

/** Upstream connections per function per router replica (keep-alive, reused across requests). */
const POOL_CONNECTIONS = 256;
/**
 * Requests in flight (sent or queued in the pool) per function above which the router answers 503
 * instead of queueing more: a stuck function must not hold an unbounded backlog in the router.
 */
export const MAX_IN_FLIGHT_PER_FUNCTION = 2048;
/** How long a removed function's pool may finish in-flight requests before it is torn down. */
const RETIRE_GRACE_MS = 60_000;

/** Options of every pool to a function (its Service, or one of its pushed endpoints). */
export function upstreamPoolOptions(limits: Partial<UpstreamConnectionLimits> = {}): UpstreamPoolOptions {
  return { connections: POOL_CONNECTIONS, ...limits };
}

/** One function the router proxies to: its keep-alive pool, limits and metric children. */
export class Upstream {
  /** Keep-alive connections to the function (retries ask it for a fresh one). */
  readonly pool: UpstreamPool;
  /** Set when the function left the route table; requests that still reach it get 503. */
  retired = false;
  readonly durations: FunctionDurations;

  constructor(
    readonly name: string,
    readonly origin: string,
    /** Updated in place when a new table changes only the timeout. */
    public timeoutMs: number,
    metrics: RouterMetrics,
    /** The function's body limit (Infinity when the table does not say); updated in place like the timeout. */
    public maxBodyBytes: number,
    /**
     * The function's demand counters and hold queue (the activator's), shared by every upstream
     * the function has had: in-flight counts stay right while a moved function's old pool drains.
     */
    readonly activity: FunctionActivity,
    limits: Partial<UpstreamConnectionLimits> = {},
  ) {
    this.pool = new UpstreamPool(origin, upstreamPoolOptions(limits));
    this.durations = metrics.durations(name);
  }

  /** Requests in flight at the limit: new ones are refused rather than queued. */
  get saturated(): boolean {
    return this.activity.inFlight >= MAX_IN_FLIGHT_PER_FUNCTION;
  }

  /**
   * The pool the next request goes to: one of the function's pushed endpoints in turn when it has
   * any (the local runner's replicas), else its Service.
   */
  pick(): UpstreamPool {
    return this.activity.endpoints?.pick() ?? this.pool;
  }

  /** Lets in-flight requests finish (up to `graceMs`), then destroys the pool. */
  close(graceMs: number): Promise<void> {
    this.retired = true;
    return this.pool.closeWithin(graceMs);
  }
}

/**
 * The set of upstreams for the current route table. A new table keeps the pools (and their warm
 * connections) of functions whose URL did not change, and retires the others gracefully.
 */
export class Upstreams {
  private readonly byName = new Map<string, Upstream>();

  constructor(
    private readonly metrics: RouterMetrics,
    private readonly activityOf: (name: string) => FunctionActivity,
    private readonly limits: Partial<UpstreamConnectionLimits> = {},
  ) {}

  /**
   * Prepares the upstreams of `table` without disturbing the current ones: unchanged functions keep
   * their pool, new or moved ones get a new pool. `commit()` makes it current and retires what the
   * table dropped; `discard()` (the table was rejected later) closes only the pools created here.
   */
  prepare(table: RouteTable): PreparedUpstreams {
    const next = new Map<string, Upstream>();
    const created: Upstream[] = [];
    const timeouts: Array<[Upstream, number, number]> = [];
    for (const [name, target] of Object.entries(table.functions)) {
      const current = this.byName.get(name);
      if (current !== undefined && current.origin === target.url) {
        timeouts.push([current, target.timeoutMs, target.maxBodyBytes ?? Infinity]);
        next.set(name, current);
      } else {
        const upstream = new Upstream(
          name,
          target.url,
          target.timeoutMs,
          this.metrics,
          target.maxBodyBytes ?? Infinity,
          this.activityOf(name),
          this.limits,
        );
        created.push(upstream);
        next.set(name, upstream);
      }
    }
    return {
      upstreams: next,
      commit: () => {
        for (const [upstream, timeoutMs, maxBodyBytes] of timeouts) {
          upstream.timeoutMs = timeoutMs;
          upstream.maxBodyBytes = maxBodyBytes;
        }
        for (const [name, upstream] of this.byName) {
          if (next.get(name) !== upstream) void upstream.close(RETIRE_GRACE_MS);
        }
        this.byName.clear();
        for (const [name, upstream] of next) this.byName.set(name, upstream);
      },
      discard: () => {
        for (const upstream of created) void upstream.close(0);
      },
    };
  }

  /** Closes every pool (used at shutdown, after the server stopped taking requests). */
  async closeAll(graceMs: number): Promise<void> {
    await Promise.all([...this.byName.values()].map((u) => u.close(graceMs)));
    this.byName.clear();
  }
}

/** The upstreams of a table that is being applied (see `Upstreams.prepare`). */
export interface PreparedUpstreams {
  readonly upstreams: ReadonlyMap<string, Upstream>;
  commit(): void;
  discard(): void;
}
