import { Counter, Gauge, Registry } from 'prom-client';
import { Metrics } from '../contract';

export type DeliveryOutcome = 'ack' | 'retry' | 'dead_letter';
export type CallStateName = 'queued' | 'running' | 'succeeded' | 'failed';

interface Incrementable {
  inc(value?: number): void;
}

/** One consumer's counters, labels bound once. */
export interface TriggerCounters {
  readonly ack: Incrementable;
  readonly retry: Incrementable;
  readonly deadLetter: Incrementable;
  readonly redeliveries: Incrementable;
  readonly deadLetters: Incrementable;
}

/**
 * The queue's Prometheus metrics (names from the contract, labels as in src/metrics/catalog.ts),
 * registered on the caller's registry so the runtime and router expose them on their /metrics.
 * One instance per registry: prom-client refuses a second registration of the same name.
 */
export class QueueMetrics {
  readonly registry: Registry;
  private readonly deliveries: Counter<'function' | 'trigger' | 'outcome'>;
  private readonly retries: Counter<'function' | 'trigger'>;
  private readonly deadLetters: Counter<'function' | 'trigger'>;
  private readonly asyncCalls: Counter<'function' | 'state'>;
  private readonly lagReaders = new Map<string, { labels: { function: string; trigger: string }; read: () => Promise<number> }>();
  private readonly lastLag = new Map<string, number>();

  /** @param registry where the metrics are registered; @default a new private Registry */
  constructor(registry?: Registry) {
    this.registry = registry ?? new Registry();
    const registers = [this.registry];
    this.deliveries = new Counter({
      name: Metrics.queueDeliveries,
      help: 'Messages handed to a function by its JetStream consumer, by outcome (ack, retry, dead_letter).',
      labelNames: ['function', 'trigger', 'outcome'],
      registers,
    });
    this.retries = new Counter({
      name: Metrics.queueRetries,
      help: 'Redeliveries after a failed or timed-out attempt.',
      labelNames: ['function', 'trigger'],
      registers,
    });
    this.deadLetters = new Counter({
      name: Metrics.queueDeadLetters,
      help: 'Messages given up on after the last retry (published to the dead-letter subject when one is set).',
      labelNames: ['function', 'trigger'],
      registers,
    });
    this.asyncCalls = new Counter({
      name: Metrics.asyncCalls,
      help: 'Async calls entering a state: queued, running, succeeded, failed.',
      labelNames: ['function', 'state'],
      registers,
    });
    const readers = this.lagReaders;
    const last = this.lastLag;
    new Gauge({
      name: Metrics.queueConsumerLag,
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

  /**
   * Counters pre-bound to one consumer's labels: prom-client hashes the label object on every
   * labelled `inc`, a visible cost per message at tens of thousands of messages a second.
   */
  forTrigger(fn: string, trigger: string): TriggerCounters {
    const d = (outcome: DeliveryOutcome) => this.deliveries.labels({ function: fn, trigger, outcome });
    return {
      ack: d('ack'),
      retry: d('retry'),
      deadLetter: d('dead_letter'),
      redeliveries: this.retries.labels({ function: fn, trigger }),
      deadLetters: this.deadLetters.labels({ function: fn, trigger }),
    };
  }

  delivery(fn: string, trigger: string, outcome: DeliveryOutcome): void {
    this.deliveries.inc({ function: fn, trigger, outcome });
  }

  retry(fn: string, trigger: string): void {
    this.retries.inc({ function: fn, trigger });
  }

  deadLetter(fn: string, trigger: string): void {
    this.deadLetters.inc({ function: fn, trigger });
  }

  asyncCall(fn: string, state: CallStateName): void {
    this.asyncCalls.inc({ function: fn, state });
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
