/** The queue (NATS JetStream) configuration the constructs render and every component reads. */

/** Streams, limits and retention, rendered from the constructs and created idempotently at startup. */
export interface QueueConfig {
  /** Stream holding user topics: subjects `<topicsPrefix>.>`. */
  readonly topicsStream: string;
  readonly topicsPrefix: string;
  /** Stream holding async calls and cron ticks: subjects `<asyncPrefix>.<function>` / `<cronPrefix>.<function>.<trigger>`. */
  readonly callsStream: string;
  readonly asyncPrefix: string;
  readonly cronPrefix: string;
  /** Key-value bucket holding async call states (queued/running/succeeded/failed), with a TTL. */
  readonly callsBucket: string;
  /** How long messages are kept in the streams, in milliseconds. */
  readonly maxAgeMs: number;
  /** How long async call states stay readable, in milliseconds. */
  readonly callStateTtlMs: number;
  /** Stream size limit in bytes (-1 = unlimited). */
  readonly maxBytes: number;
  /** JetStream replicas of each stream (1, or 3 when clustered). */
  readonly replicas: number;
}

/** One thing a function's runtime consumes from JetStream. */
export interface QueueSubscription {
  readonly kind: 'topic' | 'async' | 'cron';
  /** Full subject consumed, e.g. `topics.orders` or `async.hello`. */
  readonly subject: string;
  /** Durable consumer name (unique per function + subject). */
  readonly durable: string;
  /** Name shown in events and metrics: the topic, `async`, or the cron trigger's name. */
  readonly trigger: string;
  /** Maximum messages handled at once (1 when ordered). */
  readonly maxInFlight: number;
  /** Ack wait in milliseconds (derived from the function timeout). */
  readonly ackWaitMs: number;
  /** Deliveries after the first before the message is dead-lettered. */
  readonly maxRetries: number;
  /** Redelivery delays in milliseconds, one per retry (the last repeats). */
  readonly backoffMs: readonly number[];
  /** Subject the handler's result is published to, if any. */
  readonly responseSubject?: string;
  /** Subject failed messages go to after the last retry (dead-letter), if any. */
  readonly deadLetterSubject?: string;
  /** Process one message at a time, in order. */
  readonly ordered: boolean;
}

/** Defaults used when QUEUE_CONFIG is absent (the local runner and tests may omit it). */
export const DEFAULT_QUEUE_CONFIG: QueueConfig = {
  topicsStream: 'KUBEFAAS_TOPICS',
  topicsPrefix: 'topics',
  callsStream: 'KUBEFAAS_CALLS',
  asyncPrefix: 'async',
  cronPrefix: 'cron',
  callsBucket: 'kubefaas_calls',
  maxAgeMs: 7 * 24 * 3600 * 1000,
  callStateTtlMs: 24 * 3600 * 1000,
  maxBytes: -1,
  replicas: 1,
};
