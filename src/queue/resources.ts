import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  nanos,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
} from 'nats';
import type { QueueConfig, QueueSubscription } from '../contract';
import { JsErrorCode, apiErrorCode, isNotFound } from './api-errors';
import { bucketStreamName, streamOf } from '../contract';

/**
 * Streams, the call-state bucket and durable consumers, created idempotently: every process that
 * starts calls these, several at once, so each step is "create, or update to the wanted config",
 * and losing a creation race to another process is not an error.
 */

/** Window in which JetStream drops a message whose Nats-Msg-Id it has seen (publish retries, duplicate async calls). */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

export function topicsStreamConfig(c: QueueConfig): Partial<StreamConfig> & { name: string } {
  return {
    name: c.topicsStream,
    subjects: [`${c.topicsPrefix}.>`],
    ...commonStream(c),
  };
}

export function callsStreamConfig(c: QueueConfig): Partial<StreamConfig> & { name: string } {
  return {
    name: c.callsStream,
    subjects: [`${c.asyncPrefix}.>`, `${c.cronPrefix}.>`],
    ...commonStream(c),
  };
}

function commonStream(c: QueueConfig): Partial<StreamConfig> {
  return {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(c.maxAgeMs),
    max_bytes: c.maxBytes,
    num_replicas: c.replicas,
    // Never drop old unconsumed messages to make room: refuse new ones (the publisher sees an error).
    discard: DiscardPolicy.New,
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, c.maxAgeMs)),
  };
}

/** The stream behind the call-state key-value bucket, as nats.js would create it, plus our TTL. */
export function callsBucketStreamConfig(c: QueueConfig): Partial<StreamConfig> & { name: string } {
  return {
    name: bucketStreamName(c.callsBucket),
    subjects: [`$KV.${c.callsBucket}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: 1,
    max_age: nanos(c.callStateTtlMs),
    max_bytes: c.maxBytes,
    num_replicas: c.replicas,
    discard: DiscardPolicy.New,
    allow_rollup_hdrs: true,
    deny_delete: true,
    allow_direct: true,
    // The server default (2 min) may not exceed max_age.
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, c.callStateTtlMs)),
  };
}

/** Creates the stream or updates it to `wanted`; returns what changed (`created`, `updated`, `unchanged`). */
export async function ensureStream(
  jsm: JetStreamManager,
  wanted: Partial<StreamConfig> & { name: string },
  options: StreamSetupOptions = {},
): Promise<'created' | 'updated' | 'unchanged'> {
  for (let attempt = 0; ; attempt++) {
    let current: StreamConfig | undefined;
    try {
      current = (await jsm.streams.info(wanted.name)).config;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!current) {
      try {
        await jsm.streams.add(wanted);
        return 'created';
      } catch (err) {
        // Another process created it between our info and add: read it back and compare.
        if (apiErrorCode(err) === JsErrorCode.streamNameInUse && attempt < 3) continue;
        throw err;
      }
    }
    // Without update rights (queue isolation: only the router may change stream limits) a differing
    // stream is left for the router, which updates it when it starts.
    if (options.update !== false && differs(current as unknown as Record<string, unknown>, wanted)) {
      await jsm.streams.update(wanted.name, { ...current, ...wanted } as StreamConfig);
      return 'updated';
    }
    return 'unchanged';
  }
}

/** Topics stream, calls stream and the call-state bucket. */
export interface StreamSetupOptions {
  /** Update an existing stream whose config differs (the router); false = only create missing ones. @default true */
  readonly update?: boolean;
}

export async function ensureQueueResources(
  jsm: JetStreamManager,
  config: QueueConfig,
  options: StreamSetupOptions = {},
): Promise<void> {
  await ensureStream(jsm, topicsStreamConfig(config), options);
  await ensureStream(jsm, callsStreamConfig(config), options);
  await ensureStream(jsm, callsBucketStreamConfig(config), options);
}

/**
 * The durable consumer of one subscription. Retries are counted by our consumer from the delivery
 * count rather than by the server's `max_deliver`: when the last attempt dies with its process, the
 * server would stop redelivering and the message would vanish with only an advisory. Unlimited server
 * redeliveries let the next delivery notice "attempts exhausted" and dead-letter it. Backoff is applied
 * with a delayed NAK for the same reason it is not a consumer `backoff`: the server replaces `ack_wait`
 * with the first backoff step, which would redeliver long-running handlers' messages early.
 */
export function consumerConfig(sub: QueueSubscription): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: sub.durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(sub.ackWaitMs),
    max_deliver: -1,
    filter_subject: sub.subject,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    // Ordered: at most one unacknowledged message across all replicas, so a failed message is retried
    // before any later one is delivered. Otherwise leave room for every replica's in-flight window.
    max_ack_pending: sub.ordered ? 1 : Math.max(1000, sub.maxInFlight * 10),
  };
}

/** Fields of a consumer the server lets us change in place. */
const UPDATABLE_CONSUMER_FIELDS = ['ack_wait', 'max_deliver', 'max_ack_pending'] as const;

export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  sub: QueueSubscription,
): Promise<ConsumerInfo> {
  const wanted = consumerConfig(sub);
  for (let attempt = 0; ; attempt++) {
    let info: ConsumerInfo | undefined;
    try {
      info = await jsm.consumers.info(stream, sub.durable);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!info) {
      try {
        return await jsm.consumers.add(stream, wanted);
      } catch (err) {
        const code = apiErrorCode(err);
        const raced = code === JsErrorCode.consumerNameExists || code === JsErrorCode.consumerAlreadyExists;
        if (raced && attempt < 3) continue;
        throw err;
      }
    }
    if (info.config.filter_subject && info.config.filter_subject !== wanted.filter_subject) {
      throw new Error(
        `consumer ${sub.durable} on stream ${stream} filters '${info.config.filter_subject}', not '${wanted.filter_subject}'; ` +
          'durable names must be unique per function and subject (delete the old consumer to reuse the name)',
      );
    }
    const current = info.config as unknown as Record<string, unknown>;
    const changes: Record<string, unknown> = {};
    for (const key of UPDATABLE_CONSUMER_FIELDS) {
      if (current[key] !== wanted[key]) changes[key] = wanted[key];
    }
    if (Object.keys(changes).length === 0) return info;
    return jsm.consumers.update(stream, sub.durable, changes as Partial<ConsumerConfig>);
  }
}

export function consumerStream(config: QueueConfig, sub: QueueSubscription): string {
  return streamOf(config, sub.kind);
}

function differs(current: Record<string, unknown>, wanted: Record<string, unknown>): boolean {
  for (const [key, value] of Object.entries(wanted)) {
    if (JSON.stringify(current[key]) !== JSON.stringify(value)) return true;
  }
  return false;
}
