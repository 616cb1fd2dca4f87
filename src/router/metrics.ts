import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { MetricNames } from '../contract';

/** Seconds; the router adds well under a millisecond, functions take milliseconds to seconds. */
const LATENCY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Seconds a request is held for a function at zero: a cold start takes from tens of ms to minutes. */
const HOLD_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** How a held request left the hold queue (the `outcome` label of the hold-duration histogram). */
export type HoldOutcome = 'forwarded' | 'timeout' | 'client_closed' | 'removed';
const HOLD_OUTCOMES: readonly HoldOutcome[] = ['forwarded', 'timeout', 'client_closed', 'removed'];

type Labels = Readonly<Record<string, string>>;

/** One series as prom-client's registry serializes it. */
interface SeriesValue {
  readonly labels: Labels;
  readonly value: number;
  readonly metricName?: string;
}

/**
 * A metric the prom-client registry can serialize (it only calls `get()`), whose hot-path updates
 * are plain field increments on objects the caller keeps. prom-client's own labelled children
 * re-validate and hash their labels on every `inc()` / `observe()`, which showed up in the router's
 * CPU profile; here that work happens once per series, and formatting happens at scrape time.
 */
abstract class CollectedMetric {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}

  protected abstract values(): SeriesValue[];

  get(): { name: string; help: string; type: string; aggregator: string; values: SeriesValue[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }
}

/** A counter series: increment `value`. */
export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
}

class CounterMetric extends CollectedMetric {
  private readonly series: CounterSeries[] = [];

  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  /** Creates a series; the caller caches it (the same labels must not be requested twice). */
  createSeries(labels: Labels): CounterSeries {
    const s = new CounterSeries(labels);
    this.series.push(s);
    return s;
  }

  protected values(): SeriesValue[] {
    return this.series.map((s) => ({ labels: s.labels, value: s.value }));
  }
}

/** A gauge whose series are read from live state when scraped (no work between scrapes). */
class GaugeMetric extends CollectedMetric {
  constructor(
    name: string,
    help: string,
    private readonly collect: () => SeriesValue[],
  ) {
    super(name, help, 'gauge');
  }

  protected values(): SeriesValue[] {
    return this.collect();
  }
}

/** A histogram series: call `observe(seconds)`. */
export class HistogramSeries {
  /** Non-cumulative count per bucket; the last slot is +Inf. */
  private readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  values(name: string): SeriesValue[] {
    const out: SeriesValue[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i];
      out.push({
        labels: { ...this.labels, le: String(this.bounds[i]) },
        value: cumulative,
        metricName: `${name}_bucket`,
      });
    }
    out.push({ labels: { ...this.labels, le: '+Inf' }, value: this.count, metricName: `${name}_bucket` });
    out.push({ labels: this.labels, value: this.sum, metricName: `${name}_sum` });
    out.push({ labels: this.labels, value: this.count, metricName: `${name}_count` });
    return out;
  }
}

class HistogramMetric extends CollectedMetric {
  private readonly byKey = new Map<string, HistogramSeries>();

  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
  ) {
    super(name, help, 'histogram');
  }

  /** The series for `labels` (one per label set, created on first use). */
  seriesFor(labels: Labels): HistogramSeries {
    const key = JSON.stringify(labels);
    let s = this.byKey.get(key);
    if (s === undefined) {
      s = new HistogramSeries(labels, this.bounds);
      this.byKey.set(key, s);
    }
    return s;
  }

  protected values(): SeriesValue[] {
    return [...this.byKey.values()].flatMap((s) => s.values(this.name));
  }
}

/** The router's Prometheus metrics on a registry of its own (served at /metrics). */
export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests = new CounterMetric(
    MetricNames.routerRequests,
    'Requests answered by the router, by matched route, method, status code and function.',
  );
  private readonly requestCounters = new Map<string, RequestCounter>();
  private readonly upstreamDuration = new HistogramMetric(
    MetricNames.routerUpstreamDuration,
    'Time from sending a request to a function until its response ended (retries included).',
    LATENCY_BUCKETS,
  );
  private readonly requestDuration = new HistogramMetric(
    MetricNames.routerRequestDuration,
    'Time from receiving a request until the router finished answering it.',
    LATENCY_BUCKETS,
  );

  private readonly coldStarts = new CounterMetric(
    MetricNames.routerColdStarts,
    'Activations: times a request started waiting for a function with no ready endpoint while none was waiting.',
  );
  private readonly holdRejections = new CounterMetric(
    MetricNames.routerHoldRejections,
    "Requests answered 503 because the function's hold queue was full.",
  );
  private readonly holdDuration = new HistogramMetric(
    MetricNames.routerHoldDuration,
    'Seconds a request waited for a ready endpoint of its function, by how the wait ended.',
    HOLD_BUCKETS,
  );
  private readonly activations = new Map<string, ActivationSeries>();
  private heldNow: () => ReadonlyMap<string, number> = () => new Map();
  private readonly heldRequests = new GaugeMetric(
    MetricNames.routerHeldRequests,
    'Requests held right now for a function with no ready endpoint.',
    () => [...this.heldNow()].map(([fn, value]) => ({ labels: { function: fn }, value })),
  );

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // prom-client exports these gauges with a `_total` suffix, which Prometheus reserves for
    // counters (`promtool check metrics` flags them); the per-type `nodejs_active_*` gauges stay.
    for (const misnamed of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ]) {
      this.registry.removeSingleMetric(misnamed);
    }
    for (const metric of [
      this.requests,
      this.upstreamDuration,
      this.requestDuration,
      this.coldStarts,
      this.holdRejections,
      this.holdDuration,
      this.heldRequests,
    ]) {
      // The registry only reads `name` and calls `get()`; see CollectedMetric.
      this.registry.registerMetric(metric as unknown as Metric);
    }
  }

  /** Counters of one route (shared across table reloads, so counts never go backwards). */
  requestCounter(route: string, fn: string): RequestCounter {
    const key = `${route}\u0000${fn}`;
    let counter = this.requestCounters.get(key);
    if (counter === undefined) {
      counter = new RequestCounter(this.requests, route, fn);
      this.requestCounters.set(key, counter);
    }
    return counter;
  }

  /** Duration histograms of one function. */
  durations(fn: string): FunctionDurations {
    return {
      upstream: this.upstreamDuration.seriesFor({ function: fn }),
      request: this.requestDuration.seriesFor({ function: fn }),
    };
  }

  /** The activator's series of one function (created once per name, kept across table reloads). */
  activation(fn: string): ActivationSeries {
    let series = this.activations.get(fn);
    if (series === undefined) {
      const held = {} as Record<HoldOutcome, HistogramSeries>;
      for (const outcome of HOLD_OUTCOMES) held[outcome] = this.holdDuration.seriesFor({ function: fn, outcome });
      series = {
        coldStarts: this.coldStarts.createSeries({ function: fn }),
        rejections: this.holdRejections.createSeries({ function: fn }),
        held,
      };
      this.activations.set(fn, series);
    }
    return series;
  }

  /** Where the held-requests gauge reads its values at scrape time. */
  readHeldRequestsFrom(source: () => ReadonlyMap<string, number>): void {
    this.heldNow = source;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The activator's metric series of one function. */
export interface ActivationSeries {
  readonly coldStarts: CounterSeries;
  readonly rejections: CounterSeries;
  /** Hold-duration histogram by outcome. */
  readonly held: Readonly<Record<HoldOutcome, HistogramSeries>>;
}

export interface FunctionDurations {
  readonly upstream: HistogramSeries;
  readonly request: HistogramSeries;
}

/** The request counters of one route, by method and status: an array lookup and an increment per request. */
export class RequestCounter {
  private readonly byMethod = new Map<string, CounterSeries[]>();

  constructor(
    private readonly metric: CounterMetric,
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
    let series = byStatus[status];
    if (series === undefined) {
      series = this.metric.createSeries({ route: this.route, method, status: String(status), function: this.fn });
      byStatus[status] = series;
    }
    series.value++;
  }
}
