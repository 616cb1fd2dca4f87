import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import type { QueueConfig } from '../contract';
import { ensureQueueResources } from './resources';

/** How one process connects to the platform's NATS servers. */
export interface QueueConnectionOptions {
  /** NATS server URLs. */
  readonly servers: readonly string[];
  readonly config: QueueConfig;
  /** Connection name shown by the server's monitoring. @default `kubefaas` */
  readonly name?: string;
  /** Create/update the streams and the call-state bucket on connect. @default true */
  readonly ensureResources?: boolean;
  /** Delay between reconnect attempts. @default 500 */
  readonly reconnectTimeWaitMs?: number;
}

/**
 * Connects (retrying until the server answers) and makes sure the streams exist. Kept apart from
 * QueueClient so that a process that only publishes (the cron sender) bundles the connection
 * without the consumer, the call-state store and prom-client (scripts/pod-bundles.cjs).
 */
export async function connectQueue(options: QueueConnectionOptions): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const nc = await connect({
    servers: [...options.servers],
    name: options.name ?? 'kubefaas',
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 500,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    // nats.js otherwise captures a stack trace (new Error()) for every request and publish, in
    // case it times out: about a fifth of the CPU of an async-call enqueue. Our errors carry their
    // subject and context in the message instead.
    noAsyncTraces: true,
  });
  try {
    const jsm = await nc.jetstreamManager();
    if (options.ensureResources !== false) await ensureQueueResources(jsm, options.config);
    return { nc, jsm };
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}
