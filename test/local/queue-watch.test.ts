/**
 * The runner's watch on the local queue (queue-watch.ts over its own small NATS client): pending
 * messages of a function's consumer as KEDA's nats-jetstream scaler counts them, before and after
 * the consumer exists, and a subscription that sees every publish, also across a server restart.
 * A real nats-server; nats.js only plays the function's runtime.
 */
import { AckPolicy, DeliverPolicy, connect, type NatsConnection } from 'nats';
import { QueueWatch } from '../../src/local/queue-watch';
import type { QueueWake } from '../../src/local/scaling';
import { NatsServer } from '../queue/nats-server';
import { eventually } from './helpers';

const wake: QueueWake = { stream: 'WATCH_TEST', durable: 'fn_topic_jobs', subject: 'topics.jobs', kind: 'topic' };

describe('local queue watch', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let watch: QueueWatch;

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    watch = await QueueWatch.connect(server.url);
  });
  afterAll(async () => {
    watch?.close();
    await nc?.close();
    await server?.dispose();
  });

  test('counts nothing before the stream exists, then every message on the subject before the consumer does', async () => {
    expect(await watch.pending(wake)).toBe(0);
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: wake.stream, subjects: ['topics.>'] });
    const js = nc.jetstream();
    for (let i = 0; i < 3; i++) await js.publish(wake.subject, `m${i}`);
    await js.publish('topics.other', 'not for this function');
    expect(await watch.pending(wake)).toBe(3);
  });

  test("then the consumer's undelivered plus unacknowledged messages", async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(wake.stream, {
      durable_name: wake.durable,
      filter_subject: wake.subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    expect(await watch.pending(wake)).toBe(3);
    const consumer = await nc.jetstream().consumers.get(wake.stream, wake.durable);
    const first = await consumer.next({ expires: 2000 });
    expect(first?.string()).toBe('m0');
    expect(await watch.pending(wake)).toBe(3); // delivered, not acknowledged yet
    first!.ack();
    await nc.flush();
    await eventually(async () => ((await watch.pending(wake)) === 2 ? true : undefined), 20);
  });

  test('a subscription sees every publish at once, also after the server restarted', async () => {
    const seen: string[] = [];
    const off = watch.subscribe(wake.subject, () => seen.push('x'));
    await watch.flush(); // two connections: the SUB must be in before the other one publishes
    await nc.jetstream().publish(wake.subject, 'a');
    await eventually(async () => (seen.length === 1 ? true : undefined), 10);
    await server.restart();
    await eventually(async () => {
      await nc.publish(wake.subject, 'b');
      return seen.length >= 2 ? true : undefined;
    }, 100);
    off();
    const before = seen.length;
    await nc.publish(wake.subject, 'c');
    await nc.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.length).toBe(before);
  });
});
