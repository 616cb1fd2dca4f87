import { QueueClient } from '../../src/queue';
import { testConfig, topicSubscription, waitFor, useNatsServer } from './support';

// The consumer's pull loop (one inbox subscription, our own flow control): what it must guarantee
// beyond "messages arrive", which the other queue tests cover.

const quietLog = { info() {}, warn() {}, error() {} };
const nats = useNatsServer();

async function client(tag: string): Promise<QueueClient> {
  const c = await QueueClient.connect({ servers: [nats.server.url], config: testConfig(tag), log: quietLog });
  nats.clients.push(c);
  return c;
}

describe('pull loop', () => {
  test('behind slow handlers it holds at most 2 × maxInFlight messages, across many pull expiries, and then finishes them all', async () => {
    const q = await client('bounded');
    const sub = topicSubscription(q.config, 'slow', { maxInFlight: 4, ackWaitMs: 30_000 });
    for (let n = 0; n < 200; n++) await q.publish('slow', n);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handled = new Set<number>();
    let running = 0;
    let maxRunning = 0;
    await q.subscribe(
      'bounded-fn',
      sub,
      async (event) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gate;
        await new Promise((r) => setTimeout(r, 10));
        handled.add(event.json<number>());
        running--;
      },
      { fetchExpiresMs: 1000 },
    );
    const jsm = await nats.nc.jetstreamManager();
    // The acks the client sent before the flush are processed by the server after it (NATS keeps a
    // connection's order): what the server reports is then what the consumer holds, not acks in flight.
    const held = async () => {
      await q.nc.flush();
      return (await jsm.consumers.info(q.config.topicsStream, sub.durable)).num_ack_pending;
    };
    await waitFor('the handler slots to fill', () => running === 4);
    // Several 1-second pull requests expire and are renewed while every handler is blocked.
    const samples: number[] = [];
    for (let i = 0; i < 6; i++) {
      samples.push(await held());
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(Math.max(...samples)).toBeLessThanOrEqual(8);
    expect(Math.max(...samples)).toBeGreaterThanOrEqual(4);
    // Then handlers finish one after another: each finish may pull more, never past the window (one
    // more at most while an ack and the next pull request cross on the server).
    release();
    const whileRunning: number[] = [];
    while (handled.size < 150) {
      whileRunning.push(await held());
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(Math.max(...whileRunning)).toBeLessThanOrEqual(9);
    await waitFor('every message', () => handled.size === 200);
    expect(maxRunning).toBe(4);
  });

  test('a consumer deleted on the server is recreated and consumption goes on', async () => {
    const q = await client('deleted');
    const sub = topicSubscription(q.config, 'jobs', { maxInFlight: 2 });
    const handled = new Set<number>();
    await q.subscribe(
      'deleted-fn',
      sub,
      (event) => {
        handled.add(event.json<number>());
      },
      { fetchExpiresMs: 1000 },
    );
    await q.publish('jobs', 1);
    await waitFor('the first message', () => handled.has(1));
    const jsm = await nats.nc.jetstreamManager();
    await jsm.consumers.delete(q.config.topicsStream, sub.durable);
    await waitFor('the consumer to be recreated', async () => {
      try {
        await jsm.consumers.info(q.config.topicsStream, sub.durable);
        return true;
      } catch {
        return false;
      }
    });
    await q.publish('jobs', 2);
    await waitFor('a message published after the recreation', () => handled.has(2));
    expect([...handled].sort()).toEqual([1, 2]);
  });
});
