import { headers as natsHeaders, type JetStreamClient } from 'nats';
import {
  MessageHeaders,
  callbackDurable,
  callbackSubject,
  type QueueConfig,
  type QueueSubscription,
} from '../contract';
import type { DeliveryHooks } from './async-calls';
import { postCallback, DEFAULT_CALLBACK_POLICY, type CallbackPolicy, type CallbackRequest } from './callback';
import type { CallStateStore, CallbackOutcome } from './call-state';
import type { QueueHandler } from './consumer';
import type { QueueEvent } from './event';
import type { AttemptFailure } from './failure';
import { publishDurably } from './publisher';

/**
 * Callbacks of async calls travel through JetStream, apart from the calls themselves: the consumer
 * of a call publishes a callback job (`<asyncPrefix>.<function>.callback`, PubAck awaited) and acks
 * the call; a separate pull consumer of the same runtime, with its own slots (`concurrency`), POSTs
 * the job and retries it with a delayed NAK. So a receiver that never answers holds callback slots
 * only, never one of the function's handler slots.
 *
 * What survives a crash: the job is stored (file storage) before the call is acked, so a runtime
 * killed after that still has its callback sent, by whichever replica pulls it next; a runtime killed
 * before that gets the call redelivered, finds its final state without a callback outcome and
 * publishes the job again (same Nats-Msg-Id, stored once within the duplicate window). A POST whose
 * process dies is redelivered after the ack wait: callbacks are at least once, and the receiver may
 * see one twice (the `X-Call-Id` header says which call it is).
 */
export class CallbackQueue {
  constructor(
    private readonly js: JetStreamClient,
    private readonly config: QueueConfig,
    private readonly functionName: string,
    private readonly timeoutMs?: number,
  ) {}

  /** Stores the job; resolves once the stream has it. */
  async enqueue(callId: string, req: CallbackRequest): Promise<void> {
    const h = natsHeaders();
    h.set(MessageHeaders.callId, callId);
    h.set(MessageHeaders.callbackUrl, req.url);
    h.set(MessageHeaders.httpHeaders, JSON.stringify(req.headers));
    await publishDurably(this.js, {
      subject: callbackSubject(this.config, this.functionName),
      data: req.body,
      headers: h,
      msgId: `callback-${callId}`,
      timeoutMs: this.timeoutMs,
    });
  }
}

/** The subscription of a function's callback deliverer, derived from its async subscription. */
export function callbackSubscription(
  config: QueueConfig,
  functionName: string,
  async: QueueSubscription,
  policy: CallbackPolicy = {},
): QueueSubscription {
  const p = { ...DEFAULT_CALLBACK_POLICY, ...policy };
  const backoffMs: number[] = [];
  for (let i = 0, delay = p.initialDelayMs; i < Math.max(1, p.attempts - 1); i++, delay *= 2) backoffMs.push(delay);
  return {
    kind: 'async',
    subject: callbackSubject(config, functionName),
    durable: callbackDurable(async.durable),
    trigger: 'callback',
    maxInFlight: Math.max(1, p.concurrency),
    // A POST is bounded by timeoutMs; the margin keeps a slow one from being redelivered meanwhile.
    ackWaitMs: p.timeoutMs + 5000,
    maxRetries: Math.max(0, p.attempts - 1),
    backoffMs,
    ordered: false,
  };
}

/** Raised to have a callback job retried (NAK with backoff); its message is recorded on the last attempt. */
class RetryCallback extends Error {
  override readonly name = 'RetryCallback';
}

/**
 * The deliverer's handler: one POST per delivery. A final result (delivered, refused, or the last
 * attempt) is written to the call state; anything else is thrown to be retried.
 */
export function callbackHandler(store: CallStateStore, policy: CallbackPolicy = {}): QueueHandler {
  const timeoutMs = policy.timeoutMs ?? DEFAULT_CALLBACK_POLICY.timeoutMs;
  return async (event, delivery) => {
    const req = callbackRequestOf(event);
    const { final, outcome } = await postCallback(req, delivery.attempt, timeoutMs, policy.urls, policy.resolve);
    if (!final && delivery.attempt < delivery.maxAttempts)
      throw new RetryCallback(outcome.error ?? 'callback not delivered');
    await recordOutcome(store, event.callId, outcome);
    return undefined;
  };
}

/** Records the outcome of a job whose last attempt never reported back (its process died). */
export class CallbackHooks implements DeliveryHooks {
  constructor(private readonly store: CallStateStore) {}

  async beforeAttempt(): Promise<boolean> {
    return true;
  }

  async succeeded(): Promise<void> {}

  async retrying(): Promise<void> {}

  async failed(event: QueueEvent, failure: AttemptFailure, attempts: number): Promise<void> {
    await recordOutcome(this.store, event.callId, {
      url: event.callbackUrl ?? '',
      delivered: false,
      attempts,
      error: failure.message,
    });
  }
}

function callbackRequestOf(event: QueueEvent): CallbackRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers)) if (typeof v === 'string') headers[k] = v;
  return { url: event.callbackUrl ?? '', headers, body: event.body };
}

async function recordOutcome(
  store: CallStateStore,
  callId: string | undefined,
  outcome: CallbackOutcome,
): Promise<void> {
  if (!callId) return;
  const state = await store.get(callId);
  if (!state) return; // expired meanwhile: nobody can read the outcome anyway
  await store.put({ ...state, callback: outcome, updatedAt: new Date().toISOString() });
}
