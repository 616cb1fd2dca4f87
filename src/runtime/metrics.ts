import type * as PromClient from 'prom-client';
import { FUNCTION_DURATION_BUCKETS, MetricNames } from '../contract';

/** How an invocation ended; the `outcome` label of the invocations counter. */
export const Outcome = { success: 0, error: 1, timeout: 2, rejected: 3 } as const;
export type OutcomeIndex = (typeof Outcome)[keyof typeof Outcome];
const OUTCOME_NAMES = ['success', 'error', 'timeout', 'rejected'] as const;

/** Upper bounds (seconds) of the duration histogram (the contract's, shared with the Python runtime). */
export const DURATION_BUCKETS = FUNCTION_DURATION_BUCKETS;

/**
 * Counts for one trigger kind (`http`, later `queue`…). Plain numbers on the hot path: prom-client's
 * labelled inc/observe costs about a microsecond per request (measured), which is a visible share
 * of a trivial invocation. prom-client reads these numbers when /metrics is scraped.
 */
export class TriggerStats {
  readonly outcomes = [0, 0, 0, 0];
  /** Non-cumulative count per bucket of DURATION_BUCKETS; the last slot is +Inf. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  durationSum = 0;
  durationCount = 0;

  count(outcome: OutcomeIndex): void {
    this.outcomes[outcome]++;
  }

  observe(seconds: number): void {
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]) i++;
    this.buckets[i]++;
    this.durationSum += seconds;
    this.durationCount++;
  }
}

/** The runtime's RED metrics, exposed in Prometheus text format through a prom-client registry. */
export class RuntimeMetrics {
  inFlight = 0;
  coldStarts = 0;
  private readonly triggers = new Map<string, TriggerStats>();
  private registry?: PromClient.Registry;
  /** Registries of other parts of the process (the queue consumers) rendered after ours. */
  readonly extraRegistries: PromClient.Registry[] = [];

  constructor(readonly functionName: string) {}

  /** Stats of one trigger kind, created on first use (so its series are exported as zeros too). */
  trigger(name: string): TriggerStats {
    let stats = this.triggers.get(name);
    if (!stats) {
      stats = new TriggerStats();
      this.triggers.set(name, stats);
    }
    return stats;
  }

  /** Renders the exposition text; prom-client is loaded on the first scrape, keeping cold start lean. */
  async render(): Promise<{ contentType: string; body: string }> {
    const registry = this.registry ?? (this.registry = this.createRegistry());
    let body = await registry.metrics();
    for (const extra of this.extraRegistries) body += await extra.metrics();
    return { contentType: registry.contentType, body };
  }

  private createRegistry(): PromClient.Registry {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prom = require('prom-client') as typeof PromClient;
    const registry = new prom.Registry();
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect() with its own `this`
    const metrics = this;
    const fn = this.functionName;

    new prom.Counter({
      name: MetricNames.functionInvocations,
      help: 'Invocations of the function by trigger and outcome (success, error, timeout, rejected).',
      labelNames: ['function', 'trigger', 'outcome'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [trigger, stats] of metrics.triggers) {
          for (let i = 0; i < OUTCOME_NAMES.length; i++) {
            this.inc({ function: fn, trigger, outcome: OUTCOME_NAMES[i] }, stats.outcomes[i]);
          }
        }
      },
    });
    new prom.Gauge({
      name: MetricNames.functionInFlight,
      help: 'Invocations currently being handled by this process.',
      labelNames: ['function'],
      registers: [registry],
      collect() {
        this.set({ function: fn }, metrics.inFlight);
      },
    });
    new prom.Counter({
      name: MetricNames.functionColdStarts,
      help: 'Invocations that were the first one handled by their process.',
      labelNames: ['function'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ function: fn }, metrics.coldStarts);
      },
    });
    // prom-client's Histogram can only be fed one observation at a time, so the histogram is a
    // small object of the registry's metric interface that reports the buckets counted above.
    registry.registerMetric(this.durationHistogram() as unknown as PromClient.Metric);
    return registry;
  }

  private durationHistogram(): object {
    const name = MetricNames.functionDuration;
    const help = 'Time from request arrival to response, in seconds, by trigger.';
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect() with its own `this`
    const metrics = this;
    const fn = this.functionName;
    return {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      reset(): void {},
      async get() {
        const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
        for (const [trigger, stats] of metrics.triggers) {
          let cumulative = 0;
          for (let i = 0; i <= DURATION_BUCKETS.length; i++) {
            cumulative += stats.buckets[i];
            const le = i < DURATION_BUCKETS.length ? DURATION_BUCKETS[i] : '+Inf';
            values.push({ labels: { function: fn, trigger, le }, value: cumulative, metricName: `${name}_bucket` });
          }
          values.push({ labels: { function: fn, trigger }, value: stats.durationSum, metricName: `${name}_sum` });
          values.push({ labels: { function: fn, trigger }, value: stats.durationCount, metricName: `${name}_count` });
        }
        return { name, help, type: 'histogram', aggregator: 'sum', values };
      },
    };
  }
}
