import type { QueueConfig } from '../contract';

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

/**
 * NATS message headers kubefaas sets. CloudEvents attributes travel in binary mode (`ce-*`), the
 * rest are ours. NATS header names are case-sensitive on the wire; we always write these spellings.
 */
export const MessageHeaders = {
  /** JetStream de-duplication id (within the stream's duplicate window). */
  msgId: 'Nats-Msg-Id',
  contentType: 'content-type',
  traceparent: 'traceparent',
  ceId: 'ce-id',
  ceSource: 'ce-source',
  ceType: 'ce-type',
  ceTime: 'ce-time',
  ceSpecVersion: 'ce-specversion',
  // Async calls: the HTTP request the router accepted.
  callId: 'Kubefaas-Call-Id',
  callbackUrl: 'Kubefaas-Callback-Url',
  method: 'Kubefaas-Method',
  path: 'Kubefaas-Path',
  /** JSON object of the HTTP request headers of an async call. */
  httpHeaders: 'Kubefaas-Http-Headers',
  // Replies and dead letters.
  status: 'Kubefaas-Status',
  function: 'Kubefaas-Function',
  trigger: 'Kubefaas-Trigger',
  error: 'Kubefaas-Error',
  attempts: 'Kubefaas-Attempts',
  originalSubject: 'Kubefaas-Original-Subject',
  originalSequence: 'Kubefaas-Original-Sequence',
  originalStream: 'Kubefaas-Original-Stream',
} as const;

/** CloudEvents `type` of each kind of queue delivery. */
export const QueueEventTypes = {
  message: 'dev.kubefaas.queue.message',
  asyncCall: 'dev.kubefaas.async.call',
  cronTick: 'dev.kubefaas.cron.tick',
  /** A handler's result published to a subscription's `responseSubject`. */
  response: 'dev.kubefaas.queue.response',
} as const;

export const CLOUDEVENTS_SPEC_VERSION = '1.0';
