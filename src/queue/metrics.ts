import { Counter, Gauge, Registry } from 'prom-client';
import { MetricNames } from '../contract';

export type DeliveryOutcome = 'ack' | 'retry' | 'dead_letter';
export type CallStateName = 'queued' | 'running' | 'succeeded' | 'failed';

/**
 * One consumer's counts. Plain numbers on the hot path, read by prom-client at scrape time: a
 * labelled prom-client `inc` costs about a microsecond, a visible share of a no-op delivery.
 */
export class TriggerCounters {
  ack = 0;
  retry = 0;
  deadLetter = 0;
  /** Redeliveries (attempt > 1). */
  redeliveries = 0;
  deadLetters = 0;
}

/**
 * The queue's Prometheus metrics (names from the contract, labels as in constructs/metrics/generators/catalog.ts),
 * registered on the caller's registry so the runtime and router expose them on their /metrics.
 * One instance per registry: prom-client refuses a second registration of the same name.
 */
export class QueueMetrics {
  readonly registry: Registry;
  private readonly triggers = new Map<string, { fn: string; trigger: string; counts: TriggerCounters }>();
  private readonly calls = new Map<string, { fn: string; state: CallStateName; count: number }>();
  private readonly lagReaders = new Map<
    string,
    { labels: { function: string; trigger: string }; read: () => Promise<number> }
  >();
  private readonly lastLag = new Map<string, number>();

  /** @param registry where the metrics are registered; @default a new private Registry */
  constructor(registry?: Registry) {
    this.registry = registry ?? new Registry();
    const registers = [this.registry];
    const triggers = this.triggers;
    const calls = this.calls;
    new Counter({
      name: MetricNames.queueDeliveries,
      help: 'Messages handed to a function by its JetStream consumer, by outcome (ack, retry, dead_letter).',
      labelNames: ['function', 'trigger', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const { fn, trigger, counts } of triggers.values()) {
          this.inc({ function: fn, trigger, outcome: 'ack' }, counts.ack);
          this.inc({ function: fn, trigger, outcome: 'retry' }, counts.retry);
          this.inc({ function: fn, trigger, outcome: 'dead_letter' }, counts.deadLetter);
        }
      },
    });
    new Counter({
      name: MetricNames.queueRetries,
      help: 'Redeliveries after a failed or timed-out attempt.',
      labelNames: ['function', 'trigger'],
      registers,
      collect() {
        this.reset();
        for (const { fn, trigger, counts } of triggers.values())
          this.inc({ function: fn, trigger }, counts.redeliveries);
      },
    });
    new Counter({
      name: MetricNames.queueDeadLetters,
      help: 'Messages given up on after the last retry (published to the dead-letter subject when one is set).',
      labelNames: ['function', 'trigger'],
      registers,
      collect() {
        this.reset();
        for (const { fn, trigger, counts } of triggers.values())
          this.inc({ function: fn, trigger }, counts.deadLetters);
      },
    });
    new Counter({
      name: MetricNames.asyncCalls,
      help: 'Async calls entering a state: queued, running, succeeded, failed.',
      labelNames: ['function', 'state'],
      registers,
      collect() {
        this.reset();
        for (const { fn, state, count } of calls.values()) this.inc({ function: fn, state }, count);
      },
    });
    const readers = this.lagReaders;
    const last = this.lastLag;
    new Gauge({
      name: MetricNames.queueConsumerLag,
      help: 'Messages waiting for (pending) or being handled by (unacknowledged) the function consumer.',
      labelNames: ['function', 'trigger'],
      registers,
      async collect() {
        // Read every consumer's lag at scrape time; a failed read keeps the last known value.
        await Promise.all(
          [...readers.entries()].map(async ([key, { labels, read }]) => {
            try {
              last.set(key, await read());
            } catch {
              // keep the previous value
            }
            const value = last.get(key);
            if (value !== undefined) this.set(labels, value);
          }),
        );
      },
    });
  }

  /** The counts of one consumer (created on first use, so its series are exported as zeros too). */
  forTrigger(fn: string, trigger: string): TriggerCounters {
    const key = `${fn}\u0000${trigger}`;
    let entry = this.triggers.get(key);
    if (!entry) {
      entry = { fn, trigger, counts: new TriggerCounters() };
      this.triggers.set(key, entry);
    }
    return entry.counts;
  }

  delivery(fn: string, trigger: string, outcome: DeliveryOutcome): void {
    const counts = this.forTrigger(fn, trigger);
    if (outcome === 'ack') counts.ack++;
    else if (outcome === 'retry') counts.retry++;
    else counts.deadLetter++;
  }

  asyncCall(fn: string, state: CallStateName): void {
    const key = `${fn}\u0000${state}`;
    const entry = this.calls.get(key);
    if (entry) entry.count++;
    else this.calls.set(key, { fn, state, count: 1 });
  }

  /** Registers how to read one consumer's lag (called at scrape time). Returns an unregister function. */
  trackLag(fn: string, trigger: string, read: () => Promise<number>): () => void {
    const key = `${fn}\u0000${trigger}`;
    this.lagReaders.set(key, { labels: { function: fn, trigger }, read });
    return () => {
      this.lagReaders.delete(key);
    };
  }
}
