import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, type JetStreamClient, type MsgHdrs, type PubAck } from 'nats';
import type { QueueConfig } from '../contract';
import { errorMessage, isTransient } from './api-errors';
import { isUserHeader } from './platform-headers';
import { encodeData } from '../shared/payload';
import { CLOUDEVENTS_SPEC_VERSION, MessageHeaders, QueueEventTypes, topicSubject } from '../contract';

/** The queue did not confirm a publish in time (server down or restarting): callers answer 503. */
export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError';
}

/** @default 10000: how long a publish keeps retrying through a reconnect before giving up. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000;

export interface DurablePublish<H = MsgHdrs> {
  readonly subject: string;
  readonly data: Uint8Array;
  /** MsgHdrs for a JetStreamClient, a HeaderBlock for a PubAckInbox. */
  readonly headers: H;
  /** Nats-Msg-Id: makes retries of the same publish land once. */
  readonly msgId: string;
  /** @default DEFAULT_PUBLISH_TIMEOUT_MS */
  readonly timeoutMs?: number;
}

/** What publishDurably publishes through: a JetStreamClient (MsgHdrs) or a PubAckInbox (HeaderBlock). */
export interface DurablePublisher<H = MsgHdrs> {
  publish(subject: string, data: Uint8Array, options: { msgID: string; headers: H; timeout: number }): Promise<PubAck>;
}

/**
 * Publishes to JetStream and resolves only with the stream's PubAck (the message is stored).
 * Transient failures (server restarting, no JetStream leader yet, request timeouts) are retried with
 * the same Nats-Msg-Id until the deadline, so a retry after a lost PubAck cannot store a duplicate.
 */
export async function publishDurably<H>(js: DurablePublisher<H>, p: DurablePublish<H>): Promise<PubAck> {
  const deadline = Date.now() + (p.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS);
  let lastError: unknown;
  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      return await js.publish(p.subject, p.data, {
        msgID: p.msgId,
        headers: p.headers,
        timeout: Math.max(250, Math.min(remaining, 2000)),
      });
    } catch (err) {
      lastError = err;
      if (!isTransient(err)) throw err;
      await sleep(Math.min(remaining, Math.min(100 * 2 ** attempt, 1000)));
    }
  }
  throw new QueueUnavailableError(`publish to ${p.subject} not confirmed: ${errorMessage(lastError ?? 'timed out')}`);
}

export interface TopicPublishOptions {
  /** W3C trace context of the caller, carried to the consumers. */
  readonly traceparent?: string;
  /** CloudEvents `source` of the message. @default `/kubefaas/publish` */
  readonly source?: string;
  /** CloudEvents `type`. @default QueueEventTypes.message */
  readonly type?: string;
  /** Extra message headers. @default none */
  readonly headers?: Readonly<Record<string, string>>;
  /** @default DEFAULT_PUBLISH_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** CloudEvents `id`, also the Nats-Msg-Id (a retry with the same id is stored once). @default a random UUID */
  readonly id?: string;
}

/** `context.publish(topic, data)`: a CloudEvent on `<topicsPrefix>.<topic>`, stored before it resolves. */
export async function publishToTopic(
  js: JetStreamClient,
  config: QueueConfig,
  topic: string,
  data: unknown,
  options: TopicPublishOptions = {},
): Promise<PubAck> {
  return publishEvent(js, topicSubject(config, topic), data, options);
}

/** Publishes a CloudEvent (binary mode: attributes in `ce-*` headers) on any subject a stream captures. */
export async function publishEvent(
  js: JetStreamClient,
  subject: string,
  data: unknown,
  options: TopicPublishOptions = {},
): Promise<PubAck> {
  const { bytes, contentType } = encodeData(data);
  const id = options.id ?? randomUUID();
  const h = natsHeaders();
  // A caller's headers never pose as the platform's (Kubefaas-*) or the server's (Nats-*).
  if (options.headers) for (const [k, v] of Object.entries(options.headers)) if (isUserHeader(k)) h.set(k, v);
  h.set(MessageHeaders.contentType, contentType);
  h.set(MessageHeaders.ceSpecVersion, CLOUDEVENTS_SPEC_VERSION);
  h.set(MessageHeaders.ceId, id);
  h.set(MessageHeaders.ceSource, options.source ?? '/kubefaas/publish');
  h.set(MessageHeaders.ceType, options.type ?? QueueEventTypes.message);
  h.set(MessageHeaders.ceTime, new Date().toISOString());
  if (options.traceparent) h.set(MessageHeaders.traceparent, options.traceparent);
  return publishDurably(js, { subject, data: bytes, headers: h, msgId: id, timeoutMs: options.timeoutMs });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
