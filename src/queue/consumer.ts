import { headers as natsHeaders, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import type { QueueConfig, QueueSubscription } from '../contract';
import type { FunctionLogger } from '../contract';
import { errorMessage } from './api-errors';
import type { DeliveryHooks } from './async-calls';
import { QueueEvent } from './event';
import { TriggerCounters, type QueueMetrics } from './metrics';
import { PlatformError, type AttemptFailure } from './failure';
import { isUserHeader, keptOnDeadLetter } from './platform-headers';
import { publishDurably } from './publisher';
import { PullSession } from './pull-session';
import type { QueueMessage } from './pulled-message';
import { normalizeReply, type HandlerReturn, type NormalizedReply } from './reply';
import { consumerStream, ensureConsumer } from './resources';
import { MessageHeaders, QueueEventTypes } from '../contract';

/** Per-delivery facts a handler may use. */
export interface Delivery {
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Attempts allowed in total (maxRetries + 1). */
  readonly maxAttempts: number;
  /** Epoch ms after which the attempt counts as failed. */
  readonly deadline: number;
  /** Aborted when the attempt times out or the consumer stops. */
  readonly signal: AbortSignal;
  readonly subscription: QueueSubscription;
  /**
   * Calls `listener` once when the attempt is aborted (at once if it already was). Unlike a listener
   * on `signal`, this does not create an AbortController for every delivery.
   */
  onAbort(listener: (reason: Error) => void): void;
}

/** Throw (or reject) to fail the attempt; the message is retried, then dead-lettered. */
export type QueueHandler = (event: QueueEvent, delivery: Delivery) => Promise<HandlerReturn> | HandlerReturn;

export interface QueueConsumerOptions {
  /** The connection pull requests and deliveries go over. */
  readonly nc: NatsConnection;
  readonly functionName: string;
  readonly subscription: QueueSubscription;
  readonly config: QueueConfig;
  readonly handler: QueueHandler;
  /** @default no metrics */
  readonly metrics?: QueueMetrics;
  /** @default one-line JSON on stdout/stderr */
  readonly log?: FunctionLogger;
  /** Async-call state keeping; set for `async` subscriptions. @default none */
  readonly hooks?: DeliveryHooks;
  /** Time an attempt may take before it fails. @default subscription.ackWaitMs */
  readonly handlerTimeoutMs?: number;
  /** How long one pull request waits for messages (JetStream minimum 1000). @default 5000 */
  readonly fetchExpiresMs?: number;
}

/** Errors of attempts whose dead-lettering has to be retried, remembered so the DLQ gets the real error. */
const MAX_REMEMBERED_ERRORS = 1000;

/**
 * A JetStream pull consumer for one subscription: at most `maxInFlight` handlers run at once and
 * at most that many messages are requested from the server beyond those, so nothing sits in a local
 * buffer while its ack wait runs out. Ack only after the handler (and its reply/state bookkeeping)
 * succeeded; NAK with the backoff delay on failure; after the last attempt publish the message to
 * the dead-letter subject (awaiting the PubAck) and only then terminate it.
 */
export class QueueConsumer {
  private readonly sub: QueueSubscription;
  private readonly stream: string;
  private readonly maxAttempts: number;
  private readonly handlerTimeoutMs: number;
  private readonly fetchExpiresMs: number;
  private readonly refillAt: number;
  private readonly log: FunctionLogger;
  private session?: PullSession;
  private stopping = false;
  private stopped?: Promise<void>;
  /** Re-establishing pulls after they were lost (reconnect, consumer gone); no pulls meanwhile. */
  private recovering = false;
  private recoverDelay = 250;
  private inFlight = 0;
  /** Messages received and waiting for a free handler slot, oldest first. */
  private readonly waiting: QueueMessage[] = [];
  /** Handler slots plus a bounded prefetch, so the next messages are on their way while handlers run. */
  private readonly window: number;
  /** Deliveries whose handler runs, so stop() can abort their signals after the grace period. */
  private readonly active = new Set<ActiveDelivery>();
  /** Messages being worked on → when we last told the server so (one shared ticker, not a timer each). */
  private readonly inProgress = new Map<QueueMessage, number>();
  private keepAliveTicker?: NodeJS.Timeout;
  /** Counts read by the metrics (kept even without metrics: cheaper than checking each time). */
  private readonly counters: TriggerCounters;
  private waiters: (() => void)[] = [];
  private readonly failedErrors = new Map<number, AttemptFailure>();
  private untrackLag?: () => void;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: QueueConsumerOptions,
  ) {
    this.sub = options.subscription;
    this.stream = consumerStream(options.config, this.sub);
    this.maxAttempts = this.sub.maxRetries + 1;
    this.handlerTimeoutMs = options.handlerTimeoutMs ?? this.sub.ackWaitMs;
    this.fetchExpiresMs = Math.max(1000, options.fetchExpiresMs ?? 5000);
    const max = this.sub.ordered ? 1 : this.sub.maxInFlight;
    // Prefetch at most one more window of messages (their ack wait runs while they wait), and ask for
    // a new batch once half a window is free: batches stay big and the pipe never runs dry.
    this.window = this.sub.ordered ? 1 : 2 * max;
    this.refillAt = Math.max(1, Math.ceil(this.window / 2));
    this.log = options.log ?? defaultLogger(options.functionName, this.sub.trigger);
    this.counters = options.metrics?.forTrigger(options.functionName, this.sub.trigger) ?? new TriggerCounters();
  }

  private get maxInFlight(): number {
    return this.sub.ordered ? 1 : this.sub.maxInFlight;
  }

  /** Handlers running now. */
  get running(): number {
    return this.inFlight;
  }

  /** Creates (or updates) the durable consumer and starts pulling. */
  async start(): Promise<void> {
    await ensureConsumer(this.jsm, this.stream, this.sub);
    const metrics = this.options.metrics;
    if (metrics) {
      this.untrackLag = metrics.trackLag(this.options.functionName, this.sub.trigger, async () => {
        const info = await this.jsm.consumers.info(this.stream, this.sub.durable);
        return info.num_pending + info.num_ack_pending;
      });
    }
    const every = Math.max(250, Math.floor(this.sub.ackWaitMs / 3));
    this.keepAliveTicker = setInterval(() => this.keepInProgress(every), every);
    this.keepAliveTicker.unref();
    this.session = new PullSession({
      nc: this.options.nc,
      stream: this.stream,
      durable: this.sub.durable,
      expiresMs: this.fetchExpiresMs,
      onMessage: (msg) => this.received(msg),
      onRoom: () => this.pullMore(),
      onLost: (reason, consumerMayBeGone) => void this.recover(reason, consumerMayBeGone),
    });
    this.session.start();
    this.pullMore();
  }

  /** Tells the server "still working" for messages held longer than a third of the ack wait. */
  private keepInProgress(every: number): void {
    const now = Date.now();
    for (const [msg, since] of this.inProgress) {
      if (now - since >= every) {
        msg.working();
        this.inProgress.set(msg, now);
      }
    }
  }

  /** Stops pulling, hands back messages not started, and waits for running handlers (up to `graceMs`). */
  stop(graceMs = 30_000): Promise<void> {
    if (!this.stopped) this.stopped = this.stopNow(graceMs);
    return this.stopped;
  }

  private async stopNow(graceMs: number): Promise<void> {
    this.stopping = true;
    this.untrackLag?.();
    this.session?.close();
    // Not started: let another replica take them now rather than after the ack wait.
    for (const msg of this.waiting.splice(0)) {
      this.inProgress.delete(msg);
      msg.nak();
    }
    this.wake();
    const deadline = Date.now() + graceMs;
    while (this.inFlight > 0 && Date.now() < deadline) await this.changed(Math.max(1, deadline - Date.now()));
    // Whatever still runs past the grace period is abandoned: its ack wait expires and it is redelivered.
    const stopped = new Error('consumer stopped');
    for (const delivery of this.active) delivery.abort(stopped);
    clearInterval(this.keepAliveTicker);
  }

  /**
   * Asks for as many messages as there is room for: at most `window` are running, waiting or on
   * their way, and a request is made only once half a window is free, so requests stay big.
   */
  private pullMore(): void {
    const session = this.session;
    if (!session || this.stopping || this.recovering) return;
    const room = this.window - this.inFlight - this.waiting.length - session.pending;
    if (room >= this.refillAt) session.pull(room);
  }

  private received(msg: QueueMessage): void {
    if (this.stopping) {
      msg.nak();
      return;
    }
    // Ours from now on: keep it in progress while it waits for a slot, too.
    this.inProgress.set(msg, Date.now());
    this.waiting.push(msg);
    this.startWaiting();
  }

  /** Starts handlers for waiting messages while slots are free. */
  private startWaiting(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0 && !this.stopping) {
      const msg = this.waiting.shift()!;
      this.inFlight++;
      void this.process(msg).finally(() => this.finished());
    }
  }

  private finished(): void {
    this.inFlight--;
    if (this.stopping) {
      this.wake();
      return;
    }
    this.recoverDelay = 250;
    this.startWaiting();
    this.pullMore();
  }

  /** Pulls were lost: wait a little (a refusal may repeat), recreate the consumer if it may be gone, pull again. */
  private async recover(reason: string, consumerMayBeGone: boolean): Promise<void> {
    if (this.recovering || this.stopping) return;
    this.recovering = true;
    this.log.warn('queue pull interrupted, pulling again', { subject: this.sub.subject, reason });
    try {
      for (;;) {
        await this.changed(this.recoverDelay);
        this.recoverDelay = Math.min(this.recoverDelay * 2, 5000);
        if (this.stopping) return;
        if (!consumerMayBeGone) break;
        try {
          // The server may have lost the consumer (new, empty store): make sure it exists again.
          await ensureConsumer(this.jsm, this.stream, this.sub);
          break;
        } catch (err) {
          this.log.warn('queue consumer not available, retrying', {
            subject: this.sub.subject,
            error: errorMessage(err),
          });
        }
      }
    } finally {
      this.recovering = false;
    }
    this.pullMore();
  }

  private async process(msg: QueueMessage): Promise<void> {
    const counters = this.counters;
    const delivered = msg.info.deliveryCount;
    let attempt = delivered;
    if (delivered > 1) counters.redeliveries++;
    const keepAlive = () => msg.working();
    let event: QueueEvent | undefined;
    try {
      event = new QueueEvent(msg, this.sub, this.options.functionName);
      // Attempts = handler runs where the hooks record them (async calls), else deliveries.
      if (delivered > 1 && this.options.hooks?.attemptOf)
        attempt = await this.options.hooks.attemptOf(event, delivered);
      if (attempt > this.maxAttempts) {
        // The last attempt never reported back (process died, ack wait expired): give up now.
        const error = this.failedErrors.get(msg.seq) ?? {
          message: `attempt ${attempt - 1} did not finish (process stopped or ack wait expired)`,
          fromHandler: false,
        };
        await this.giveUp(msg, event, error, Math.min(attempt - 1, this.maxAttempts), keepAlive);
        return;
      }
      const hooks = this.options.hooks;
      if (hooks && !(await hooks.beforeAttempt(event, attempt))) {
        msg.ack();
        counters.ack++;
        return;
      }
      let reply: NormalizedReply;
      try {
        const value = this.runHandler(event, attempt);
        reply = normalizeReply(isPromiseLike(value) ? await value : value);
      } catch (err) {
        await this.failAttempt(
          msg,
          event,
          { message: errorMessage(err), fromHandler: !(err instanceof PlatformError) },
          attempt,
          keepAlive,
        );
        return;
      }
      if (this.sub.responseSubject) await this.publishReply(event, reply);
      if (hooks) await hooks.succeeded(event, reply, attempt, keepAlive);
      msg.ack();
      counters.ack++;
    } catch (err) {
      // Our own bookkeeping failed (reply publish, state write, DLQ publish): retry the delivery.
      this.log.warn('queue delivery bookkeeping failed, will be redelivered', {
        subject: msg.subject,
        sequence: msg.seq,
        attempt,
        error: errorMessage(err),
      });
      msg.nak(this.backoff(attempt));
      counters.retry++;
    } finally {
      this.inProgress.delete(msg);
    }
  }

  /** Calls the handler; an async handler races its timeout (a synchronous one cannot be interrupted anyway). */
  private runHandler(event: QueueEvent, attempt: number): HandlerReturn | Promise<HandlerReturn> {
    const delivery = new ActiveDelivery(attempt, this.maxAttempts, Date.now() + this.handlerTimeoutMs, this.sub);
    const result = this.options.handler(event, delivery);
    if (!isPromiseLike(result)) return result;
    this.active.add(delivery);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new PlatformError(`handler timed out after ${this.handlerTimeoutMs} ms`);
        delivery.abort(err);
        reject(err);
      }, this.handlerTimeoutMs);
    });
    return Promise.race([result, timeout]).finally(() => {
      clearTimeout(timer);
      this.active.delete(delivery);
    });
  }

  private async failAttempt(
    msg: QueueMessage,
    event: QueueEvent,
    error: AttemptFailure,
    attempt: number,
    keepAlive: () => void,
  ): Promise<void> {
    if (attempt < this.maxAttempts) {
      await this.options.hooks?.retrying(event, error, attempt);
      msg.nak(this.backoff(attempt));
      this.counters.retry++;
      return;
    }
    this.rememberError(msg.seq, error);
    await this.giveUp(msg, event, error, attempt, keepAlive);
  }

  /** After the last attempt: dead-letter (stored before we let go of the message), record, terminate. */
  private async giveUp(
    msg: QueueMessage,
    event: QueueEvent,
    error: AttemptFailure,
    attempts: number,
    keepAlive: () => void,
  ): Promise<void> {
    const fn = this.options.functionName;
    const dlq = this.sub.deadLetterSubject;
    if (dlq) {
      const h = natsHeaders();
      if (msg.headers) {
        for (const [key, values] of msg.headers) {
          if (!keptOnDeadLetter(key, this.sub.kind)) continue;
          for (const v of values) h.append(key, v);
        }
      }
      h.set(MessageHeaders.error, oneLine(error.message));
      h.set(MessageHeaders.attempts, String(attempts));
      h.set(MessageHeaders.function, fn);
      h.set(MessageHeaders.trigger, this.sub.trigger);
      h.set(MessageHeaders.originalSubject, msg.subject);
      h.set(MessageHeaders.originalStream, msg.info.stream);
      h.set(MessageHeaders.originalSequence, String(msg.seq));
      // Throws when the DLQ publish is not confirmed: the message is NAKed and dead-lettered on redelivery.
      await publishDurably(this.js, {
        subject: dlq,
        data: msg.data,
        headers: h,
        msgId: `dlq-${msg.info.stream}-${msg.seq}`,
      });
    }
    await this.options.hooks?.failed(event, error, attempts, keepAlive);
    this.log.error('queue message dead-lettered after the last attempt', {
      subject: msg.subject,
      sequence: msg.seq,
      id: event.id,
      attempts,
      error: error.message,
      deadLetterSubject: dlq ?? null,
    });
    msg.term();
    this.failedErrors.delete(msg.seq);
    this.counters.deadLetters++;
    this.counters.deadLetter++;
  }

  private async publishReply(event: QueueEvent, reply: NormalizedReply): Promise<void> {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(reply.headers)) if (isUserHeader(k)) h.set(k, v);
    h.set(MessageHeaders.status, String(reply.status));
    h.set(MessageHeaders.function, this.options.functionName);
    h.set(MessageHeaders.ceSpecVersion, '1.0');
    h.set(MessageHeaders.ceId, `${event.id}-response`);
    h.set(MessageHeaders.ceType, QueueEventTypes.response);
    h.set(MessageHeaders.ceSource, `/kubefaas/function/${this.options.functionName}`);
    h.set(MessageHeaders.ceTime, new Date().toISOString());
    const traceparent = event.headers.traceparent;
    if (typeof traceparent === 'string') h.set(MessageHeaders.traceparent, traceparent);
    // Stable id: a redelivered message that succeeds again does not publish a second response.
    await publishDurably(this.js, {
      subject: this.sub.responseSubject!,
      data: reply.body,
      headers: h,
      msgId: `${event.id}-response`,
    });
  }

  private backoff(attempt: number): number {
    const steps = this.sub.backoffMs;
    if (steps.length === 0) return 0;
    return steps[Math.min(attempt - 1, steps.length - 1)];
  }

  private rememberError(seq: number, error: AttemptFailure): void {
    if (this.failedErrors.size >= MAX_REMEMBERED_ERRORS) {
      const oldest = this.failedErrors.keys().next().value;
      if (oldest !== undefined) this.failedErrors.delete(oldest);
    }
    this.failedErrors.set(seq, error);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves on the next state change (a handler finished, a pull ended, stop) or after `ms`. */
  private changed(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
      if (ms !== undefined) timer = setTimeout(done, ms);
    });
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  return flat.length > 1024 ? `${flat.slice(0, 1021)}...` : flat;
}

function defaultLogger(fn: string, trigger: string): FunctionLogger {
  const write = (level: string, stream: NodeJS.WriteStream) => (msg: string, fields?: Record<string, unknown>) => {
    stream.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, function: fn, trigger, msg, ...fields })}\n`,
    );
  };
  return {
    info: write('info', process.stdout),
    warn: write('warn', process.stderr),
    error: write('error', process.stderr),
  };
}

/** The Delivery a handler gets; its AbortController is only created if the handler asks for the signal. */
class ActiveDelivery implements Delivery {
  #controller?: AbortController;
  #reason?: Error;
  #listeners?: ((reason: Error) => void)[];

  constructor(
    readonly attempt: number,
    readonly maxAttempts: number,
    readonly deadline: number,
    readonly subscription: QueueSubscription,
  ) {}

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  onAbort(listener: (reason: Error) => void): void {
    if (this.#reason) listener(this.#reason);
    else (this.#listeners ??= []).push(listener);
  }

  abort(reason: Error): void {
    if (this.#reason) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener(reason);
      } catch {
        // A failing listener must not stop the abort: the attempt still fails on time.
      }
    }
  }
}

function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<T>).then === 'function'
  );
}
