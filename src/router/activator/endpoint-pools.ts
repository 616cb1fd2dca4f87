import { UpstreamPool, type UpstreamPoolOptions } from '../upstream-client/pool';

/** How long a pool of an endpoint that left the pushed set may finish its in-flight requests. */
const RETIRE_GRACE_MS = 60_000;

/**
 * Keep-alive pools to the endpoints pushed for one function (`ScalingPaths.endpoints`, the `push`
 * endpoint source: the local runner's replicas), taken in turn. With one endpoint `pick` returns it
 * without touching the rotation; an endpoint that leaves the set stops getting new requests at once
 * and its pool finishes what it carries (the process is drained before it is stopped).
 *
 * Clusters never fill this: Kubernetes balances a function's Service over its pods, and the router
 * sends to the Service's URL.
 */
export class EndpointPools {
  private pools: UpstreamPool[] = [];
  private readonly byAddress = new Map<string, UpstreamPool>();
  private turn = 0;

  constructor(private readonly options: UpstreamPoolOptions) {}

  /** Endpoints in the set. */
  get size(): number {
    return this.pools.length;
  }

  /** The next endpoint's pool, round robin; undefined when none is pushed. */
  pick(): UpstreamPool | undefined {
    const pools = this.pools;
    if (pools.length < 2) return pools[0];
    const at = this.turn;
    this.turn = at + 1 < pools.length ? at + 1 : 0;
    return pools[at];
  }

  /** Replaces the set with `addresses` (`host:port`): new ones get a pool, pools of dropped ones retire. */
  set(addresses: readonly string[]): void {
    const next: UpstreamPool[] = [];
    const kept = new Set<string>();
    for (const address of addresses) {
      kept.add(address);
      let pool = this.byAddress.get(address);
      if (pool === undefined) {
        pool = new UpstreamPool(`http://${address}`, this.options);
        this.byAddress.set(address, pool);
      }
      next.push(pool);
    }
    for (const [address, pool] of this.byAddress) {
      if (kept.has(address)) continue;
      this.byAddress.delete(address);
      void pool.closeWithin(RETIRE_GRACE_MS);
    }
    this.pools = next;
    if (this.turn >= next.length) this.turn = 0;
  }

  /** Retires every pool (router shutdown), giving in-flight requests up to `graceMs`. */
  async closeAll(graceMs: number): Promise<void> {
    const pools = [...this.byAddress.values()];
    this.byAddress.clear();
    this.pools = [];
    await Promise.all(pools.map((pool) => pool.closeWithin(graceMs)));
  }
}
