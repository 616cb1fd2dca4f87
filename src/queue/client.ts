import { type JetStreamClient, type JetStreamManager, type NatsConnection, type PubAck } from 'nats';
import type { Registry } from 'prom-client';
import type { QueueConfig, QueueSubscription } from '../contract';
import type { FunctionLogger } from '../contract';
import { AsyncCallHooks, enqueueCall, type AsyncCallRequest, type EnqueuedCall } from './async-calls';
import type { CallbackPolicy } from './callback';
import { CallbackHooks, CallbackQueue, callbackHandler, callbackSubscription } from './callback-queue';
import { CallStateStore, type CallState } from './call-state';
import { QueueConsumer, type QueueHandler } from './consumer';
import { QueueMetrics } from './metrics';
import { publishToTopic, type TopicPublishOptions } from './publisher';
import { PubAckInbox } from './puback-inbox';
import { connectQueue, type QueueConnectionOptions } from './connection';

/** Connection options (servers, config, name, ensureResources, reconnectTimeWaitMs) plus what the client adds. */
export interface QueueClientOptions extends QueueConnectionOptions {
  /** Where queue metrics are registered. @default a private registry (see `metrics.registry`) */
  readonly registry?: Registry;
  /** Use these metrics instead of registering new ones. @default new QueueMetrics(registry) */
  readonly metrics?: QueueMetrics;
  /** @default one-line JSON on stdout/stderr */
  readonly log?: FunctionLogger;
  /** How long async-call and publish confirmations may take before QueueUnavailableError. @default 10000 */
  readonly publishTimeoutMs?: number;
}

export interface SubscribeOptions {
  /** @default subscription.ackWaitMs */
  readonly handlerTimeoutMs?: number;
  /** Callback delivery of async calls. @default 5 attempts from 500 ms, doubling; 10 s each; 16 at once */
  readonly callback?: CallbackPolicy;
  /** @default 64 KiB */
  readonly maxResultBytes?: number;
  /** @default 5000 */
  readonly fetchExpiresMs?: number;
  /** Async calls: store handlers' exception messages in call states and callbacks (unsafe). @default false */
  readonly exposeErrorMessages?: boolean;
}

/**
 * One NATS connection shared by everything a process does with the queue: topic publishing,
 * async-call enqueueing and state reads (router), and consumers (runtime). The connection
 * reconnects forever; publishes made while it is down wait for it up to their timeout.
 */
export class QueueClient {
  readonly metrics: QueueMetrics;
  readonly calls: CallStateStore;
  readonly js: JetStreamClient;
  /** PubAcks of the async-call enqueue path (the router's hot path), without nats.js' per-request objects. */
  private readonly acks: PubAckInbox;
  private readonly consumers: QueueConsumer[] = [];
  private closing?: Promise<void>;

  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    private readonly options: QueueClientOptions,
  ) {
    // JetStream API calls (KV reads/writes, publishes) wait no longer than a publish may.
    const apiTimeoutMs = Math.min(5000, options.publishTimeoutMs ?? 5000);
    this.js = nc.jetstream({ timeout: apiTimeoutMs });
    this.acks = new PubAckInbox(nc);
    this.metrics = options.metrics ?? new QueueMetrics(options.registry);
    this.calls = new CallStateStore(this.js, options.config, { inbox: this.acks, timeoutMs: apiTimeoutMs });
    this.watchStatus();
  }

  /** Connects (retrying until the server answers) and makes sure the streams exist. */
  static async connect(options: QueueClientOptions): Promise<QueueClient> {
    const { nc, jsm } = await connectQueue(options);
    return new QueueClient(nc, jsm, options);
  }

  get config(): QueueConfig {
    return this.options.config;
  }

  /** True while the connection to NATS is up (readiness). */
  isConnected(): boolean {
    return !this.nc.isClosed() && !this.nc.isDraining() && !this.disconnected;
  }

  private disconnected = false;

  private watchStatus(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnecting') this.disconnected = true;
        else if (s.type === 'reconnect') this.disconnected = false;
      }
    })().catch(() => undefined);
  }

  /** `context.publish(topic, data)`: resolves once the topics stream stored the message. */
  publish(topic: string, data: unknown, options: TopicPublishOptions = {}): Promise<PubAck> {
    return publishToTopic(this.js, this.options.config, topic, data, {
      timeoutMs: this.options.publishTimeoutMs,
      ...options,
    });
  }

  /** `POST /async-function/<name>`: resolves once the call is durable (→ 202). */
  enqueueCall(functionName: string, request: AsyncCallRequest): Promise<EnqueuedCall> {
    return enqueueCall(this.acks, this.calls, this.options.config, functionName, request, {
      timeoutMs: this.options.publishTimeoutMs,
      metrics: this.metrics,
    });
  }

  /** `GET /async-function/<name>/<call-id>`: undefined when unknown or expired. */
  getCallState(callId: string): Promise<CallState | undefined> {
    return this.calls.get(callId);
  }

  /** Starts a durable pull consumer for one subscription of `functionName`. */
  async subscribe(
    functionName: string,
    subscription: QueueSubscription,
    handler: QueueHandler,
    options: SubscribeOptions = {},
  ): Promise<QueueConsumer> {
    const callbacks =
      subscription.kind === 'async'
        ? new CallbackQueue(this.js, this.options.config, functionName, this.options.publishTimeoutMs)
        : undefined;
    const hooks = callbacks
      ? new AsyncCallHooks(
          this.calls,
          functionName,
          this.metrics,
          (id, req) => callbacks.enqueue(id, req),
          options.maxResultBytes,
          options.exposeErrorMessages,
        )
      : undefined;
    const consumer = new QueueConsumer(this.js, this.jsm, {
      nc: this.nc,
      functionName,
      subscription,
      config: this.options.config,
      handler,
      metrics: this.metrics,
      log: this.options.log,
      hooks,
      handlerTimeoutMs: options.handlerTimeoutMs,
      fetchExpiresMs: options.fetchExpiresMs,
    });
    await consumer.start();
    this.consumers.push(consumer);
    if (callbacks) await this.startCallbackDeliverer(functionName, subscription, options);
    return consumer;
  }

  /** The pull consumer POSTing an async function's callbacks, with its own slots (callback-queue.ts). */
  private async startCallbackDeliverer(
    functionName: string,
    asyncSub: QueueSubscription,
    options: SubscribeOptions,
  ): Promise<void> {
    const deliverer = new QueueConsumer(this.js, this.jsm, {
      nc: this.nc,
      functionName,
      subscription: callbackSubscription(this.options.config, functionName, asyncSub, options.callback),
      config: this.options.config,
      handler: callbackHandler(this.calls, options.callback),
      metrics: this.metrics,
      log: this.options.log,
      hooks: new CallbackHooks(this.calls),
      fetchExpiresMs: options.fetchExpiresMs,
    });
    await deliverer.start();
    this.consumers.push(deliverer);
  }

  /** Stops every consumer (finishing in-flight handlers within `graceMs`), then drains the connection. */
  close(graceMs = 30_000): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        await Promise.all(this.consumers.map((c) => c.stop(graceMs)));
        if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
      })();
    }
    return this.closing;
  }
}
