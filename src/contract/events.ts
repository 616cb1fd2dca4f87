/**
 * How events travel: the NATS message headers kubefaas sets and the CloudEvents types of what a
 * handler receives.
 */

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

/**
 * Lower-case prefix of the platform's own message headers (the `Kubefaas-*` above). Only platform
 * code writes them; a publisher's headers in this namespace are dropped (src/queue/platform-headers.ts).
 */
export const PLATFORM_HEADER_PREFIX = 'kubefaas-';

/** CloudEvents `type` of each kind of queue delivery. */
export const QueueEventTypes = {
  message: 'dev.kubefaas.queue.message',
  asyncCall: 'dev.kubefaas.async.call',
  cronTick: 'dev.kubefaas.cron.tick',
  /** A handler's result published to a subscription's `responseSubject`. */
  response: 'dev.kubefaas.queue.response',
} as const;

export const CLOUDEVENTS_SPEC_VERSION = '1.0';

/** CloudEvents `type` of events made from HTTP requests. */
export const HTTP_EVENT_TYPE = 'dev.kubefaas.http.request';
