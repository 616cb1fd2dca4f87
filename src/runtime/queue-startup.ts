import { randomBytes } from 'node:crypto';
import type { QueueSettings } from '../queue/config';
import type { QueueClient } from '../queue/client';
import type { Publisher } from './context';
import type { CallEnqueuer, FunctionCalls } from './invoke';
import { queueHandlerFor } from './queue-trigger';
import type { Runtime } from './server';
import type { Handler } from '../contract';

/** The queue side of a function pod: its consumers and `context.publish`, beside the HTTP server. */
export class RuntimeQueue {
  private client?: QueueClient;
  private started = false;
  private stopping = false;

  constructor(
    private readonly settings: QueueSettings,
    private readonly functionName: string,
    private readonly timeoutMs: number,
    private readonly exposeErrorMessages = false,
  ) {}

  /** Ready = connected and every consumer started (what /readyz adds to the HTTP side). */
  ready(): boolean {
    return this.started && this.client !== undefined && this.client.isConnected();
  }

  /** `context.publish(topic, data)`: waits for the connection, then for the stream's PubAck. */
  readonly publish: Publisher = async (topic, data, traceId) => {
    // Before waiting for the connection: an undeclared topic is a bug in the code, not an outage.
    const declared = this.settings.publishes;
    if (declared !== undefined && !declared.includes(topic))
      throw new UndeclaredTopicError(this.functionName, topic, declared);
    const client = this.client ?? (await this.connecting);
    if (!client) throw new Error(`context.publish('${topic}'): the queue is shutting down`);
    // A new span of the caller's trace (W3C trace context).
    const traceparent = traceId ? `00-${traceId}-${randomBytes(8).toString('hex')}-01` : undefined;
    await client.publish(topic, data, { traceparent, source: `/kubefaas/function/${this.functionName}` });
  };

  /** `context.invokeAsync(target, …)`: stores the call (its `queued` state and message), resolves with its id. */
  readonly enqueue: CallEnqueuer = async (target, call) => {
    const client = this.client ?? (await this.connecting);
    if (!client) throw new Error(`context.invokeAsync('${target}'): the queue is shutting down`);
    const { callId } = await client.enqueueCall(target, call);
    return callId;
  };

  private connecting?: Promise<QueueClient | undefined>;

  /** Connects (retrying until NATS answers) and starts one consumer per subscription. */
  start(runtime: Runtime, handler: Handler, calls?: FunctionCalls): Promise<void> {
    this.connecting = (async () => {
      const { QueueClient } = await import('../queue/client');
      const client = await QueueClient.connect({
        servers: this.settings.servers,
        config: this.settings.config,
        name: `runtime-${this.functionName}`,
        auth: this.settings.auth,
        updateStreams: false,
        tls: this.settings.tls,
        log: runtime.log,
      });
      if (this.stopping) {
        await client.close(0);
        return undefined;
      }
      this.client = client;
      runtime.metrics.extraRegistries.push(client.metrics.registry);
      const forSubscription = queueHandlerFor(
        handler,
        this.functionName,
        this.timeoutMs,
        runtime.sink,
        this.publish,
        runtime.metrics,
        calls,
      );
      for (const sub of this.settings.subscriptions) {
        await client.subscribe(this.functionName, sub, forSubscription(sub), {
          handlerTimeoutMs: this.timeoutMs,
          exposeErrorMessages: this.exposeErrorMessages,
          callback: { urls: this.settings.callbacks },
        });
      }
      this.started = true;
      runtime.log.info('queue consumers started', { subscriptions: this.settings.subscriptions.map((s) => s.subject) });
      return client;
    })();
    return this.connecting.then(() => undefined);
  }

  /** Stops pulling, lets running handlers finish within `graceMs`, drains the connection. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await this.client?.close(graceMs);
  }
}

/**
 * `context.publish` to a topic the function did not declare in `publishes`. In a cluster the queue's
 * permissions refuse it too; the runtime says first, and what to change.
 */
export class UndeclaredTopicError extends Error {
  override readonly name = 'UndeclaredTopicError';

  constructor(
    readonly functionName: string,
    readonly topic: string,
    declared: readonly string[],
  ) {
    super(
      `context.publish('${topic}'): function '${functionName}' does not declare topic '${topic}' ` +
        `(it declares ${declared.length === 0 ? 'none' : declared.map((t) => `'${t}'`).join(', ')}); ` +
        `add it to the function's props: publishes: [${[...declared, topic].map((t) => `'${t}'`).join(', ')}]`,
    );
  }
}
