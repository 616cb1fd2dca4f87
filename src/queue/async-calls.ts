import { Headers, readAuthInfo, type QueueConfig } from '../contract';
import { errorMessage } from './api-errors';
import type { CallbackRequest } from './callback';
import { CALL_ID_PATTERN, CallStateStore, toCallResult, type CallState } from './call-state';
import type { QueueEvent } from './event';
import { publicErrorOf, type AttemptFailure } from './failure';
import { HeaderBlock } from './header-block';
import type { QueueMetrics } from './metrics';
import { QueueUnavailableError, publishDurably, type DurablePublisher } from './publisher';
import type { NormalizedReply } from './reply';
import { CLOUDEVENTS_SPEC_VERSION, MessageHeaders, QueueEventTypes, asyncSubject } from '../contract';
import { createHash, randomUUID } from 'node:crypto';

/** Headers of the callback POST (besides `x-call-id` and `x-kubefaas-function` from the contract). */
export const CallbackHeaders = {
  /** The function's HTTP status (500 when the call failed). */
  status: 'x-function-status',
  /** `succeeded` or `failed`. */
  state: 'x-call-state',
} as const;

/** The HTTP request `POST /async-function/<name>` accepted. */
export interface AsyncCallRequest {
  readonly method: string;
  /** Path and query string the function sees. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Uint8Array;
  /**
   * Client-chosen idempotency key (`Idempotency-Key`, or `X-Call-Id` on the request): a resubmission
   * with the same key to the same function by the same caller returns the first call. Never the call
   * id itself, which is always generated: a guessable id would let anyone read another caller's result.
   * @default none: every submission is a new call
   */
  readonly idempotencyKey?: string;
  /** Where the result is POSTed. @default none */
  readonly callbackUrl?: string;
  readonly traceparent?: string;
}

export interface EnqueuedCall {
  readonly callId: string;
  /** True when this call id was already accepted (nothing new was queued). */
  readonly duplicate: boolean;
}

/** The call id given by the client is not usable as a key. Callers answer 400. */
export class InvalidCallIdError extends Error {
  override readonly name = 'InvalidCallIdError';
}

/** Headers that describe the hop, not the request; never replayed to the function. */
const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'upgrade',
  'proxy-connection',
  'content-length',
  'host',
  Headers.callbackUrl,
  Headers.callId,
]);

/**
 * Stores an async call durably: the `queued` state (a KV create, so it never overwrites a later state
 * the consumer wrote) and the request in the calls stream with the call id as Nats-Msg-Id. Resolves
 * only after the stream's PubAck, so a 202 means the call survives a server restart. When the publish
 * cannot be confirmed the state is removed and QueueUnavailableError is thrown (the router answers 503).
 */
export async function enqueueCall(
  js: DurablePublisher<HeaderBlock>,
  store: CallStateStore,
  config: QueueConfig,
  functionName: string,
  req: AsyncCallRequest,
  options: { readonly timeoutMs?: number; readonly metrics?: QueueMetrics } = {},
): Promise<EnqueuedCall> {
  if (req.idempotencyKey !== undefined && !CALL_ID_PATTERN.test(req.idempotencyKey)) {
    throw new InvalidCallIdError(
      `invalid idempotency key '${req.idempotencyKey}': use 1-128 letters, digits, '-' or '_'`,
    );
  }
  // The call id is always ours (unguessable). Without a key its `queued` state and the message are
  // written at once (one round trip instead of two). A key must be claimed first, scoped to the function
  // and the verified caller: that is what makes a resubmission idempotent beyond the stream's duplicate
  // window, and what keeps two functions (or two callers) that pick the same key apart.
  const callId = randomUUID();
  const keyed = req.idempotencyKey !== undefined;
  const claim = keyed ? idempotencyRecord(functionName, req.idempotencyKey!, req.headers[Headers.auth]) : undefined;
  const now = new Date().toISOString();
  const state: CallState = {
    callId,
    function: functionName,
    state: 'queued',
    queuedAt: now,
    updatedAt: now,
    attempts: 0,
    ...(req.callbackUrl ? { callbackUrl: req.callbackUrl } : {}),
  };
  if (claim !== undefined) {
    let first: string | undefined;
    try {
      first = await store.claimKey(claim, callId);
    } catch (err) {
      throw new QueueUnavailableError(`cannot record idempotency key: ${errorMessage(err)}`);
    }
    if (first !== undefined) return { callId: first, duplicate: true };
  }
  const recording = store.createNew(state);
  // Settled below; a rejection must not go unhandled meanwhile.
  recording.catch(() => undefined);

  const httpHeaders: Record<string, string | string[]> = {};
  const given = req.headers;
  for (const k in given) {
    const v = given[k];
    const key = k.toLowerCase();
    if (v !== undefined && !HOP_HEADERS.has(key)) httpHeaders[key] = v;
  }
  const h = new HeaderBlock()
    .add(MessageHeaders.callId, callId)
    .add(MessageHeaders.method, req.method)
    .add(MessageHeaders.path, req.path)
    .add(MessageHeaders.httpHeaders, JSON.stringify(httpHeaders));
  if (req.callbackUrl) h.add(MessageHeaders.callbackUrl, req.callbackUrl);
  if (req.traceparent) h.add(MessageHeaders.traceparent, req.traceparent);
  h.add(MessageHeaders.ceSpecVersion, CLOUDEVENTS_SPEC_VERSION)
    .add(MessageHeaders.ceId, callId)
    .add(MessageHeaders.ceType, QueueEventTypes.asyncCall)
    .add(MessageHeaders.ceSource, `/kubefaas/async/${functionName}`)
    .add(MessageHeaders.ceTime, now);
  try {
    await publishDurably(js, {
      subject: asyncSubject(config, functionName),
      data: req.body,
      headers: h,
      msgId: callId,
      timeoutMs: options.timeoutMs,
    });
  } catch (err) {
    await recording.catch(() => undefined);
    await store.remove(callId).catch(() => undefined);
    if (claim !== undefined) await store.remove(claim).catch(() => undefined);
    if (err instanceof QueueUnavailableError) throw err;
    throw new QueueUnavailableError(`call ${callId} not stored: ${errorMessage(err)}`);
  }
  // The call is stored, so it is accepted whatever happens to its first state: when the consumer
  // was quicker (`running` already written) the create finds the key taken, which is fine; when
  // the write failed, it is retried once, and otherwise the consumer writes the state when it runs.
  const recorded = await recording.then(
    () => true,
    () => false,
  );
  if (!recorded) await store.create(state).catch(() => undefined);
  options.metrics?.asyncCall(functionName, 'queued');
  return { callId, duplicate: false };
}

/**
 * The call-state bucket key of an idempotency key: scoped to the function and to the caller the router
 * verified (API key id, user or JWT subject; anonymous callers share one scope), hashed so any key
 * and caller fit the bucket's key alphabet. Lives as long as call states do (the bucket's TTL).
 */
export function idempotencyRecord(
  functionName: string,
  key: string,
  authHeader: string | readonly string[] | undefined,
): string {
  const auth = readAuthInfo(typeof authHeader === 'string' ? authHeader : undefined);
  const caller =
    auth === undefined
      ? ''
      : auth.type === 'apiKey'
        ? `key:${auth.keyId}`
        : auth.type === 'basic'
          ? `user:${auth.user}`
          : `jwt:${auth.subject ?? ''}`;
  const digest = createHash('sha256').update(caller).update('\0').update(key).digest('hex').slice(0, 40);
  return `${IDEMPOTENCY_KEY_PREFIX}.${functionName}.${digest}`;
}

/** Prefix of idempotency records in the call-state bucket (call ids never contain a dot). */
export const IDEMPOTENCY_KEY_PREFIX = 'idem';

/** Stores a callback job (callback-queue.ts); resolves once it is durable. */
export type CallbackEnqueue = (callId: string, req: CallbackRequest) => Promise<void>;

/** Hooks a consumer calls around each delivery; the async-call flavour records states and callbacks. */
export interface DeliveryHooks {
  /**
   * The attempt a redelivery (`delivered` > 1) would be, counted by handler runs recorded before
   * each run, not by deliveries: a delivery lost with its process before the handler ran (still in
   * the prefetch window) then costs no retry. @default the delivery count
   */
  attemptOf?(event: QueueEvent, delivered: number): Promise<number>;
  /** Before the handler; false = the work is already done, skip the handler and ack. */
  beforeAttempt(event: QueueEvent, attempt: number): Promise<boolean>;
  succeeded(event: QueueEvent, reply: NormalizedReply, attempt: number, keepAlive: () => void): Promise<void>;
  retrying(event: QueueEvent, error: AttemptFailure, attempt: number): Promise<void>;
  failed(event: QueueEvent, error: AttemptFailure, attempts: number, keepAlive: () => void): Promise<void>;
}

/**
 * State transitions of async calls, written by the consumer: running on each attempt, back to
 * queued (with the error) while retrying, then succeeded with the result or failed with the error,
 * followed by the callback. A redelivered call whose state is already final is not run again; only
 * a callback that never completed is retried.
 */
export class AsyncCallHooks implements DeliveryHooks {
  /**
   * The state this consumer last wrote for a delivery: the following writes of the same delivery
   * start from it instead of reading the key again (the delivery is ours until acked, so nobody else
   * moves the call meanwhile).
   */
  private readonly written = new WeakMap<QueueEvent, CallState>();

  constructor(
    private readonly store: CallStateStore,
    private readonly functionName: string,
    private readonly metrics?: QueueMetrics,
    /** Where callbacks go to be POSTed apart from the call (never while holding the call's slot). */
    private readonly enqueueCallback?: CallbackEnqueue,
    private readonly maxResultBytes?: number,
    /** Store handlers' exception messages (unsafe, see failure.ts) instead of a generic error. */
    private readonly exposeErrorMessages = false,
  ) {}

  /**
   * Runs are counted in the call state: `running` with `attempts` = the run's number is stored before
   * each run. So the next attempt is the stored count + 1 (a run that died with its process counts,
   * as a message that crashes the process must; a delivery that never reached the handler does not).
   * A final state keeps its count, so the delivery goes on to be acked as already done.
   */
  async attemptOf(event: QueueEvent, delivered: number): Promise<number> {
    if (delivered === 1) return 1;
    const previous = await this.current(event);
    this.written.set(event, previous); // the delivery is ours: beforeAttempt starts from this read
    const final = previous.state === 'succeeded' || previous.state === 'failed';
    return final ? Math.max(1, previous.attempts) : previous.attempts + 1;
  }

  async beforeAttempt(event: QueueEvent, attempt: number): Promise<boolean> {
    // A first delivery is a call nobody has worked on: its stored state can only be the router's
    // `queued` one, which the message itself carries (id, time, callback), so reading it is skipped.
    const previous = attempt === 1 && !this.written.has(event) ? this.fromEvent(event) : await this.current(event);
    if (previous.state === 'succeeded' || previous.state === 'failed') {
      if (previous.callbackUrl && !previous.callback) await this.callback(previous);
      return false;
    }
    const now = new Date().toISOString();
    const running: CallState = {
      ...previous,
      state: 'running',
      attempts: attempt,
      startedAt: previous.startedAt ?? now,
      updatedAt: now,
    };
    await this.store.put(running);
    this.written.set(event, running);
    this.metrics?.asyncCall(this.functionName, 'running');
    return true;
  }

  async succeeded(event: QueueEvent, reply: NormalizedReply, attempt: number): Promise<void> {
    const previous = await this.current(event);
    const now = new Date().toISOString();
    const done: CallState = {
      ...previous,
      state: 'succeeded',
      attempts: attempt,
      updatedAt: now,
      finishedAt: now,
      error: undefined,
      result: toCallResult(reply.status, reply.headers, reply.body, this.maxResultBytes),
    };
    await this.store.put(done);
    this.metrics?.asyncCall(this.functionName, 'succeeded');
    if (done.callbackUrl) await this.callback(done, reply);
  }

  async retrying(event: QueueEvent, failure: AttemptFailure, attempt: number): Promise<void> {
    const previous = await this.current(event);
    const error = publicErrorOf(failure, event.id, this.exposeErrorMessages);
    await this.store.put({
      ...previous,
      state: 'queued',
      attempts: attempt,
      error,
      updatedAt: new Date().toISOString(),
    });
  }

  async failed(event: QueueEvent, failure: AttemptFailure, attempts: number): Promise<void> {
    const previous = await this.current(event);
    const error = publicErrorOf(failure, event.id, this.exposeErrorMessages);
    const now = new Date().toISOString();
    const done: CallState = { ...previous, state: 'failed', attempts, error, updatedAt: now, finishedAt: now };
    await this.store.put(done);
    this.metrics?.asyncCall(this.functionName, 'failed');
    if (done.callbackUrl) await this.callback(done);
  }

  /** The stored state, or one rebuilt from the message when it expired or was never written. */
  private async current(event: QueueEvent): Promise<CallState> {
    const written = this.written.get(event);
    if (written) return written;
    const callId = event.callId ?? event.id;
    const stored = await this.store.get(callId);
    return stored ?? this.fromEvent(event);
  }

  /** The `queued` state the router wrote for this call, rebuilt from the message. */
  private fromEvent(event: QueueEvent): CallState {
    const callId = event.callId ?? event.id;
    return {
      callId,
      function: this.functionName,
      state: 'queued',
      queuedAt: event.time,
      updatedAt: event.time,
      attempts: 0,
      ...(event.callbackUrl ? { callbackUrl: event.callbackUrl } : {}),
    };
  }

  private async callback(state: CallState, reply?: NormalizedReply): Promise<void> {
    const headers: Record<string, string> = {
      [Headers.callId]: state.callId,
      [Headers.functionName]: state.function,
      [CallbackHeaders.state]: state.state,
    };
    let body: Uint8Array;
    if (state.state === 'succeeded') {
      const result = reply ?? undefined;
      const status = result?.status ?? state.result?.status ?? 200;
      headers[CallbackHeaders.status] = String(status);
      if (result) {
        Object.assign(headers, filterResultHeaders(result.headers));
        body = result.body;
      } else {
        Object.assign(headers, filterResultHeaders(state.result?.headers ?? {}));
        body = Buffer.from(state.result?.body ?? '', state.result?.bodyEncoding === 'base64' ? 'base64' : 'utf8');
      }
    } else {
      headers[CallbackHeaders.status] = '500';
      headers['content-type'] = 'application/json';
      body = Buffer.from(
        JSON.stringify({
          callId: state.callId,
          function: state.function,
          state: state.state,
          error: state.error,
          attempts: state.attempts,
        }),
      );
    }
    if (!this.enqueueCallback) return;
    // Stored before the call is acked (a failure here NAKs the call, whose redelivery enqueues again);
    // the outcome is written to the state by the callback deliverer.
    await this.enqueueCallback(state.callId, { url: state.callbackUrl!, headers, body });
  }
}

function filterResultHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!HOP_HEADERS.has(k.toLowerCase())) out[k] = v;
  }
  return out;
}
