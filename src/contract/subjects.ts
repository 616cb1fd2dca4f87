import type { QueueConfig } from './queue';

/**
 * Subject and stream naming, in one place, so the publisher, the router's async endpoint, the cron
 * sender and the consumers can never disagree about where a message goes.
 */

/** NATS subject tokens cannot contain whitespace, `.`, `*` or `>`; topics may contain dots as separators. */
const TOPIC_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function assertTopicName(topic: string): void {
  if (!TOPIC_PATTERN.test(topic)) {
    throw new Error(
      `invalid topic '${topic}': use letters, digits, '-' and '_', with '.' between tokens (no spaces, '*' or '>')`,
    );
  }
}

/** Subject a topic's messages are published on: `<topicsPrefix>.<topic>`. */
export function topicSubject(config: QueueConfig, topic: string): string {
  assertTopicName(topic);
  return `${config.topicsPrefix}.${topic}`;
}

/** Subject of a function's async calls: `<asyncPrefix>.<function>`. */
export function asyncSubject(config: QueueConfig, functionName: string): string {
  return `${config.asyncPrefix}.${functionName}`;
}

/**
 * Subject of a function's pending callbacks (async call results to POST): `<asyncPrefix>.<function>.callback`.
 * In the calls stream without changing its subjects; the function's async consumer filters
 * `<asyncPrefix>.<function>` exactly, so it never sees these.
 */
export function callbackSubject(config: QueueConfig, functionName: string): string {
  return `${config.asyncPrefix}.${functionName}.callback`;
}

/** Subject of a cron trigger's ticks: `<cronPrefix>.<function>.<trigger>`. */
export function cronSubject(config: QueueConfig, functionName: string, trigger: string): string {
  return `${config.cronPrefix}.${functionName}.${trigger}`;
}

/** The stream that captures a subscription's subject. */
export function streamOf(config: QueueConfig, kind: 'topic' | 'async' | 'cron'): string {
  return kind === 'topic' ? config.topicsStream : config.callsStream;
}

/** Inbox prefix of a NATS user: with queue isolation it may subscribe only to `<prefix>.>`. */
export function inboxPrefixFor(user: string): string {
  return `_INBOX_${user}`;
}

/** Name of the stream JetStream keeps a key-value bucket in. */
export function bucketStreamName(bucket: string): string {
  return `KV_${bucket}`;
}

/** Durable consumer of a function's callback jobs, derived from its async-call consumer's durable. */
export function callbackDurable(asyncDurable: string): string {
  return `${asyncDurable}_callbacks`;
}
