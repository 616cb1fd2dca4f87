import { connect, type NatsConnection } from 'nats';
import type { QueueClient } from '../../src/queue';
import { NatsServer } from './nats-server';
import type { QueueConfig, QueueSubscription } from '../../src/contract';
import { DEFAULT_QUEUE_CONFIG } from '../../src/contract';
import { ensureQueueResources } from '../../src/queue/resources';

/** A QueueConfig with names unique to one test, so tests sharing a server never see each other's messages. */
export function testConfig(tag: string, overrides: Partial<QueueConfig> = {}): QueueConfig {
  const t = tag.replace(/[^A-Za-z0-9]/g, '_');
  return {
    ...DEFAULT_QUEUE_CONFIG,
    topicsStream: `T_${t}`,
    topicsPrefix: `t_${t}`,
    callsStream: `C_${t}`,
    asyncPrefix: `a_${t}`,
    cronPrefix: `c_${t}`,
    callsBucket: `calls_${t}`,
    maxAgeMs: 3600_000,
    callStateTtlMs: 3600_000,
    ...overrides,
  };
}

export function topicSubscription(
  config: QueueConfig,
  topic: string,
  overrides: Partial<QueueSubscription> = {},
): QueueSubscription {
  return {
    kind: 'topic',
    subject: `${config.topicsPrefix}.${topic}`,
    durable: `fn_${topic}`,
    trigger: topic,
    maxInFlight: 16,
    ackWaitMs: 5000,
    maxRetries: 3,
    backoffMs: [20, 50],
    ordered: false,
    ...overrides,
  };
}

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * One nats-server and an admin connection per test file (`nats.server`, `nats.nc`), with the
 * streams and bucket of `resources` created when given; QueueClients pushed to `nats.clients` are
 * closed after each test.
 */
export function useNatsServer(options: { readonly resources?: QueueConfig } = {}): {
  server: NatsServer;
  nc: NatsConnection;
  clients: QueueClient[];
} {
  const nats = { clients: [] as QueueClient[] } as { server: NatsServer; nc: NatsConnection; clients: QueueClient[] };
  beforeAll(async () => {
    nats.server = await NatsServer.start();
    // As QueueClient connects: no stack trace captured per request.
    nats.nc = await connect({ servers: nats.server.url, noAsyncTraces: true });
    if (options.resources) await ensureQueueResources(await nats.nc.jetstreamManager(), options.resources);
  });
  afterEach(async () => {
    await Promise.all(nats.clients.splice(0).map((c) => c.close(5000)));
  });
  afterAll(async () => {
    await nats.nc?.close();
    await nats.server?.dispose();
  });
  return nats;
}
