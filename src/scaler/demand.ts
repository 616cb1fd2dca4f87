/**
 * Demand per function as the routers see it: the latest counts of every router replica plus a short
 * history of each (for request rates), summed over the replicas that answered recently. Answers are
 * computed from memory on every call (a few routers, one map lookup each), never fetched on demand.
 */
import { type FunctionDemand, isFunctionName } from '../contract';

/** What the scaler tells KEDA about one function. */
export interface DemandReading {
  /** In-flight + waiting requests over every live router. */
  readonly concurrency: number;
  /** Requests per second over every live router, measured over the rate window. */
  readonly rps: number;
  /** Any demand now, requests within the rate window, or an activate event within it. */
  readonly active: boolean;
}

/** A router's counts as the scaler keeps them (a checked `RouterDemandSnapshot`). */
export interface Counts {
  readonly router: string;
  /** The router's own clock (snapshot `at`): rates do not depend on when the poll happened to run. */
  readonly at: number;
  readonly functions: ReadonlyMap<string, FunctionDemand>;
}

const NONE: FunctionDemand = { inFlight: 0, waiting: 0, requestsTotal: 0, readyEndpoints: 0 };

/** The counts of one router replica, as its link last read them, with history over the rate window. */
export class RouterCounts {
  /** Router id of the latest snapshot (several addresses may reach one router: counted once). */
  id: string | undefined;
  /** performance.now() of the last successful read; -Infinity before the first. */
  lastOkAt = -Infinity;
  private samples: Counts[] = [];

  constructor(private readonly windowMs: number) {}

  record(snapshot: Counts, receivedAt: number): void {
    const last = this.samples[this.samples.length - 1];
    // A new id is a restarted router whose counters started over; a clock that went back, too.
    if (snapshot.router !== this.id || (last !== undefined && snapshot.at < last.at)) this.samples = [];
    this.id = snapshot.router;
    this.lastOkAt = receivedAt;
    this.samples.push(snapshot);
    // Keep the newest sample at or before the window's start, so rates span the whole window.
    const windowStart = snapshot.at - this.windowMs;
    while (this.samples.length > 2 && this.samples[1].at <= windowStart) this.samples.shift();
  }

  /** The latest counts of `fn` (zeros when the router does not list it). */
  current(fn: string): FunctionDemand {
    return this.samples[this.samples.length - 1]?.functions.get(fn) ?? NONE;
  }

  /** Requests routed to `fn` over the window, and the span in ms they were counted over. */
  requestsInWindow(fn: string): { readonly requests: number; readonly spanMs: number } {
    const n = this.samples.length;
    if (n < 2) return { requests: 0, spanMs: 0 };
    const first = this.samples[0];
    const last = this.samples[n - 1];
    const requests = (last.functions.get(fn)?.requestsTotal ?? 0) - (first.functions.get(fn)?.requestsTotal ?? 0);
    return { requests: Math.max(0, requests), spanMs: last.at - first.at };
  }
}

/** Every router replica's counts, and the functions that had an activate event recently. */
export class DemandBook {
  private readonly routers = new Set<RouterCounts>();
  /** Function → performance.now() of its last activate event. */
  private readonly activatedAt = new Map<string, number>();

  constructor(
    private readonly options: {
      /** A router not read for this long is left out. */
      readonly staleAfterMs: number;
      readonly rateWindowMs: number;
      readonly now?: () => number;
    },
  ) {}

  now(): number {
    return this.options.now?.() ?? performance.now();
  }

  newRouter(): RouterCounts {
    const counts = new RouterCounts(this.options.rateWindowMs);
    this.routers.add(counts);
    return counts;
  }

  removeRouter(counts: RouterCounts): void {
    this.routers.delete(counts);
  }

  /** A request started waiting for `fn` on some router: active for the next rate window. */
  activate(fn: string): void {
    this.activatedAt.set(fn, this.now());
  }

  /** The routers whose counts count: read recently, one per router id (the most recently read). */
  live(): RouterCounts[] {
    const since = this.now() - this.options.staleAfterMs;
    const byId = new Map<string, RouterCounts>();
    for (const counts of this.routers) {
      if (counts.id === undefined || counts.lastOkAt < since) continue;
      const seen = byId.get(counts.id);
      if (seen === undefined || seen.lastOkAt < counts.lastOkAt) byId.set(counts.id, counts);
    }
    return [...byId.values()];
  }

  reading(fn: string, live: readonly RouterCounts[] = this.live()): DemandReading {
    let concurrency = 0;
    let rps = 0;
    let recentRequests = 0;
    for (const counts of live) {
      const current = counts.current(fn);
      concurrency += current.inFlight + current.waiting;
      const { requests, spanMs } = counts.requestsInWindow(fn);
      recentRequests += requests;
      if (spanMs > 0) rps += (requests * 1000) / spanMs;
    }
    const activated = this.activatedAt.get(fn);
    const recentlyActivated = activated !== undefined && this.now() - activated <= this.options.rateWindowMs;
    if (activated !== undefined && !recentlyActivated) this.activatedAt.delete(fn);
    return { concurrency, rps, active: concurrency > 0 || recentRequests > 0 || recentlyActivated };
  }
}

/** Thrown by `parseSnapshot` for a body that is not a `RouterDemandSnapshot`. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

/**
 * A counts body (`RouterDemandSnapshot` JSON), checked: a router that answers something else is
 * treated as not answering. Entries that are not a function's counts (bad name, negative or
 * non-numeric fields) are left out. One pass, keeping the parsed entries (this runs for every
 * router every poll: ~1 ms for 1,000 functions).
 */
export function parseSnapshot(body: string): Counts {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new SnapshotError(`counts are not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null) throw new SnapshotError('counts are not a JSON object');
  const { router, at, functions } = value as Record<string, unknown>;
  if (typeof router !== 'string' || router === '') throw new SnapshotError('counts have no router id');
  if (!isCount(at)) throw new SnapshotError('counts have no timestamp (`at`)');
  if (typeof functions !== 'object' || functions === null || Array.isArray(functions)) {
    throw new SnapshotError('counts have no `functions` object');
  }
  const checked = new Map<string, FunctionDemand>();
  for (const fn in functions) {
    const demand = (functions as Record<string, unknown>)[fn] as Record<string, unknown> | null;
    if (typeof demand !== 'object' || demand === null || !isFunctionName(fn)) continue;
    // readyEndpoints is informational here (-1: the router knows nothing about them yet).
    const { inFlight, waiting, requestsTotal, readyEndpoints } = demand;
    if (!isCount(inFlight) || !isCount(waiting) || !isCount(requestsTotal)) continue;
    if (typeof readyEndpoints !== 'number' || !Number.isFinite(readyEndpoints)) continue;
    checked.set(fn, demand as unknown as FunctionDemand);
  }
  return { router, at, functions: checked };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
