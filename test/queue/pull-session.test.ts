import { connect } from 'nats';
import { QueueClient } from '../../src/queue';
import { testConfig, topicSubscription, waitFor, useNatsServer } from './support';

// The consumer's pull loop (one inbox subscription, our own flow control): what it must guarantee
// beyond "messages arrive", which the other queue tests cover.

const quietLog = { info() {}, warn() {}, error() {} };
const nats = useNatsServer();

/**
 * Counts, from a connection of its own, the consumer's deliveries (messages on an inbox whose reply
 * is the consumer's ack subject) and the acks sent for them.
 */
async function watchWire(stream: string, durable: string) {
  const spy = await connect({ servers: nats.server.url });
  const ackPrefix = `$JS.ACK.${stream}.${durable}.`;
  let delivered = 0;
  let acked = 0;
  let maxHeld = 0;
  spy.subscribe('_INBOX.>', {
    callback: (_err, msg) => {
      if (!msg.reply?.startsWith(ackPrefix)) return;
      delivered++;
      maxHeld = Math.max(maxHeld, delivered - acked);
    },
  });
  spy.subscribe(`${ackPrefix}>`, { callback: () => acked++ });
  await spy.flush();
  return { maxHeld: () => maxHeld, delivered: () => delivered, close: () => spy.close() };
}

async function client(tag: string): Promise<QueueClient> {
  const c = await QueueClient.connect({ servers: [nats.server.url], config: testConfig(tag), log: quietLog });
  nats.clients.push(c);
  return c;
}

describe('pull loop', () => {
  test('behind slow handlers it holds at most 2 × maxInFlight messages, across many pull expiries, and then finishes them all', async () => {
    const warnings: string[] = [];
    const q = await QueueClient.connect({
      servers: [nats.server.url],
      config: testConfig('bounded'),
      log: { ...quietLog, warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`) },
    });
    nats.clients.push(q);
    const sub = topicSubscription(q.config, 'slow', { maxInFlight: 4, ackWaitMs: 30_000 });
    for (let n = 0; n < 200; n++) await q.publish('slow', n);
    const wire = await watchWire(q.config.topicsStream, sub.durable);
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
    // Then handlers finish one after another: each finish may pull more, never past the window. The
    // server's own count lags here (it processes acks on another goroutine, later under load), so
    // what is held is counted on the wire: deliveries seen minus acks seen, by a third connection
    // that sees each ack before the delivery the pull after it causes (one client connection, in order).
    release();
    await waitFor('every message', () => handled.size === 200);
    expect(maxRunning).toBe(4);
    // A pull declared lost (missed heartbeats under extreme load) is asked for again while the
    // server may still answer the old one: then, and only then, up to two windows may arrive.
    const lost = warnings.filter((w) => w.startsWith('queue pull interrupted'));
    expect(wire.maxHeld()).toBeLessThanOrEqual(lost.length === 0 ? 8 : 16);
    expect(wire.delivered()).toBe(200);
    await wire.close();
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
