import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { inboxPrefixFor, type QueueConfig } from '../contract';
import type { QueueAuth, QueueTls } from './config';
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
  /** This component's NATS user and password (queue isolation). @default - no auth */
  readonly auth?: QueueAuth;
  /** TLS files. @default - plain TCP */
  readonly tls?: QueueTls;
  /** Update existing streams whose limits changed; functions and cron senders leave that to the router (they may not). @default true */
  readonly updateStreams?: boolean;
}

/**
 * Connects (retrying until the server answers) and makes sure the streams exist. Kept apart from
 * QueueClient so that a process that only publishes (the cron sender) bundles the connection
 * without the consumer, the call-state store and prom-client (scripts/pod-bundles.cjs).
 */
export async function connectQueue(
  options: QueueConnectionOptions,
): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
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
    // Queue isolation: each user may only subscribe under its own inbox prefix (constructs/queue/nats-auth.ts).
    ...(options.auth
      ? { user: options.auth.user, pass: options.auth.password, inboxPrefix: inboxPrefixFor(options.auth.user) }
      : {}),
    ...(options.tls ? { tls: { caFile: options.tls.caFile } } : {}),
  });
  try {
    const jsm = await nc.jetstreamManager();
    if (options.ensureResources !== false)
      await ensureQueueResources(jsm, options.config, { update: options.updateStreams });
    return { nc, jsm };
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}
