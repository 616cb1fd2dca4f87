import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Metrics } from '../contract';

/** Seconds; the router adds well under a millisecond, functions take milliseconds to seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The router's Prometheus metrics on a registry of its own (served at /metrics). */
export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status' | 'function'>;
  private readonly upstreamDuration: Histogram<'function'>;
  private readonly requestDuration: Histogram<'function'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: Metrics.routerRequests,
      help: 'Requests answered by the router, by matched route, method, status code and function.',
      labelNames: ['route', 'method', 'status', 'function'],
      registers: [this.registry],
    });
    this.upstreamDuration = new Histogram({
      name: Metrics.routerUpstreamDuration,
      help: 'Time from sending a request to a function until its response ended (retries included).',
      labelNames: ['function'],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    this.requestDuration = new Histogram({
      name: Metrics.routerRequestDuration,
      help: 'Time from receiving a request until the router finished answering it.',
      labelNames: ['function'],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
  }

  /** Counters for one route; each (method, status) child is looked up once and then reused. */
  requestCounter(route: string, fn: string): RequestCounter {
    return new RequestCounter(this.requests, route, fn);
  }

  /** Duration histograms of one function (children resolved once, reused on the hot path). */
  durations(fn: string): FunctionDurations {
    return {
      upstream: this.upstreamDuration.labels(fn),
      request: this.requestDuration.labels(fn),
    };
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface FunctionDurations {
  readonly upstream: Histogram.Internal<'function'>;
  readonly request: Histogram.Internal<'function'>;
}

/**
 * Caches the labelled children of the requests counter for one route, so counting a request is an
 * array lookup and an increment instead of prom-client's label hashing on every request.
 */
export class RequestCounter {
  private readonly byMethod = new Map<string, Counter.Internal[]>();

  constructor(
    private readonly counter: Counter<'route' | 'method' | 'status' | 'function'>,
    private readonly route: string,
    private readonly fn: string,
  ) {}

  /** @param method an upper-case known method or `OTHER` (keeps label cardinality bounded) */
  inc(method: string, status: number): void {
    let byStatus = this.byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = [];
      this.byMethod.set(method, byStatus);
    }
    let child = byStatus[status];
    if (child === undefined) {
      child = this.counter.labels(this.route, method, String(status), this.fn);
      byStatus[status] = child;
    }
    child.inc();
  }
}
