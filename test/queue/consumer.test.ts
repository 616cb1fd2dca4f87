import { AckPolicy, DeliverPolicy, nanos } from 'nats';
import { Registry } from 'prom-client';
import { MessageHeaders, MetricNames } from '../../src/contract';
import { QueueClient, QueueMetrics, publishToTopic, type QueueEvent } from '../../src/queue';
import { testConfig, topicSubscription, waitFor, useNatsServer } from './support';

const nats = useNatsServer();

async function client(tag: string, registry?: Registry): Promise<QueueClient> {
  const c = await QueueClient.connect({ servers: [nats.server.url], config: testConfig(tag), registry, log: quietLog });
  nats.clients.push(c);
  return c;
}

const quietLog = { info() {}, warn() {}, error() {} };

/** Reads every message stored on `subject` (an ordered consumer, no durable state). */
async function readSubject(stream: string, subject: string, expected: number) {
  const js = nats.nc.jetstream();
  const jsm = await nats.nc.jetstreamManager();
  // An ephemeral consumer (servers before 2.10 cannot filter ordered consumers).
  const info = await jsm.consumers.add(stream, {
    filter_subject: subject,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    inactive_threshold: nanos(30_000),
  });
  const consumer = await js.consumers.get(stream, info.name);
  const out: { data: string; headers: Record<string, string> }[] = [];
  while (out.length < expected) {
    const batch = await consumer.fetch({ max_messages: expected - out.length, expires: 2000 });
    for await (const m of batch) {
      const headers: Record<string, string> = {};
      for (const [k, v] of m.headers ?? []) headers[k] = v[0];
      out.push({ data: m.string(), headers });
    }
  }
  return out;
}

describe('queue consumer against a real nats-server', () => {
  test('streams and the call bucket are created idempotently by racing processes, and updated to new limits', async () => {
    const config = testConfig('race');
    const racers = await Promise.all(
      [0, 1, 2, 3].map(() => QueueClient.connect({ servers: [nats.server.url], config, log: quietLog })),
    );
    nats.clients.push(...racers);
    const jsm = await nats.nc.jetstreamManager();
    const topics = await jsm.streams.info(config.topicsStream);
    expect(topics.config.subjects).toEqual([`${config.topicsPrefix}.>`]);
    expect(topics.config.max_age).toBe(config.maxAgeMs * 1e6);
    const calls = await jsm.streams.info(config.callsStream);
    expect(calls.config.subjects).toEqual([`${config.asyncPrefix}.>`, `${config.cronPrefix}.>`]);
    const bucket = await jsm.streams.info(`KV_${config.callsBucket}`);
    expect(bucket.config.max_age).toBe(config.callStateTtlMs * 1e6);

    const longer = { ...config, maxAgeMs: config.maxAgeMs * 2, callStateTtlMs: 60_000 };
    nats.clients.push(await QueueClient.connect({ servers: [nats.server.url], config: longer, log: quietLog }));
    expect((await jsm.streams.info(config.topicsStream)).config.max_age).toBe(longer.maxAgeMs * 1e6);
    expect((await jsm.streams.info(`KV_${config.callsBucket}`)).config.max_age).toBe(60_000 * 1e6);
  });

  test('10,000 messages with ~10% of attempts failing at random: every message handled successfully, none lost', async () => {
    const registry = new Registry();
    const q = await client('bulk', registry);
    const sub = topicSubscription(q.config, 'orders', {
      maxInFlight: 64,
      maxRetries: 8,
      backoffMs: [5],
      deadLetterSubject: `${q.config.topicsPrefix}.dead.orders`,
    });
    const total = 10_000;
    const succeeded = new Set<number>();
    let attempts = 0;
    let failures = 0;
    await q.subscribe('bulk-fn', sub, (event) => {
      attempts++;
      if (Math.random() < 0.1) {
        failures++;
        throw new Error('random failure');
      }
      succeeded.add(event.json<{ n: number }>().n);
    });
    const js = nats.nc.jetstream();
    for (let start = 0; start < total; start += 500) {
      const batch = [];
      for (let n = start; n < Math.min(total, start + 500); n++) {
        batch.push(publishToTopic(js, q.config, 'orders', { n }));
      }
      await Promise.all(batch);
    }
    await waitFor('every message to succeed', () => succeeded.size === total, 120_000);
    expect(succeeded.size).toBe(total);
    expect(failures).toBeGreaterThan(0);
    expect(attempts).toBeGreaterThanOrEqual(total + failures);
    const jsm = await nats.nc.jetstreamManager();
    await waitFor('acks to settle', async () => {
      const info = await jsm.consumers.info(q.config.topicsStream, sub.durable);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    });
    const dead = await jsm.streams.info(q.config.topicsStream, { subjects_filter: sub.deadLetterSubject });
    expect(dead.state.subjects?.[sub.deadLetterSubject!] ?? 0).toBe(0);
    const text = await registry.metrics();
    expect(text).toContain(`${MetricNames.queueDeliveries}{function="bulk-fn",trigger="orders",outcome="ack"}`);
    expect(text).toContain(`${MetricNames.queueDeliveries}{function="bulk-fn",trigger="orders",outcome="retry"}`);
    expect(text).toMatch(new RegExp(`${MetricNames.queueConsumerLag}\\{function="bulk-fn",trigger="orders"\\} 0`));
  });

  test('poison messages land on the dead-letter subject after maxRetries with the error, attempts and function', async () => {
    const q = await client('poison');
    const dlq = `${q.config.topicsPrefix}.dead.poison`;
    const sub = topicSubscription(q.config, 'work', { maxRetries: 2, backoffMs: [10, 20], deadLetterSubject: dlq });
    const calls = new Map<string, number>();
    const good = new Set<string>();
    await q.subscribe('poison-fn', sub, (event) => {
      const body = event.text();
      calls.set(body, (calls.get(body) ?? 0) + 1);
      if (body.startsWith('poison')) throw new Error(`cannot digest ${body}\nsecond line`);
      good.add(body);
    });
    for (const body of ['ok-1', 'poison-1', 'ok-2', 'poison-2'])
      await q.publish('work', body, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    const dead = await readSubject(q.config.topicsStream, dlq, 2);
    expect(dead.map((d) => d.data).sort()).toEqual(['poison-1', 'poison-2']);
    for (const d of dead) {
      expect(d.headers[MessageHeaders.error]).toBe(`cannot digest ${d.data} second line`);
      expect(d.headers[MessageHeaders.attempts]).toBe('3');
      expect(d.headers[MessageHeaders.function]).toBe('poison-fn');
      expect(d.headers[MessageHeaders.originalSubject]).toBe(`${q.config.topicsPrefix}.work`);
      expect(d.headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    }
    expect(calls.get('poison-1')).toBe(3);
    expect(calls.get('poison-2')).toBe(3);
    expect([...good].sort()).toEqual(['ok-1', 'ok-2']);
  });

  test('the handler gets a CloudEvent with headers and traceparent; its result goes to the response subject', async () => {
    const q = await client('events');
    const responses = `${q.config.topicsPrefix}.replies`;
    const seen: QueueEvent[] = [];
    await q.subscribe('echo', topicSubscription(q.config, 'in', { responseSubject: responses }), (event) => {
      seen.push(event);
      return { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ echoed: event.json() }) };
    });
    await q.publish(
      'in',
      { hello: 'world' },
      { traceparent: '00-11111111111111111111111111111111-2222222222222222-01', source: '/test' },
    );
    const [reply] = await readSubject(q.config.topicsStream, responses, 1);
    expect(JSON.parse(reply.data)).toEqual({ echoed: { hello: 'world' } });
    expect(reply.headers[MessageHeaders.status]).toBe('200');
    expect(reply.headers.traceparent).toBe('00-11111111111111111111111111111111-2222222222222222-01');
    const event = seen[0];
    expect(event.type).toBe('dev.kubefaas.queue.message');
    expect(event.source).toBe('/test');
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(event.time).toString()).not.toBe('Invalid Date');
    expect(event.headers['content-type']).toBe('application/json');
    expect(event.headers.traceparent).toBe('00-11111111111111111111111111111111-2222222222222222-01');
    expect(event.attempt).toBe(1);
  });

  test('ordered subscriptions handle one message at a time, retrying a failure before later messages', async () => {
    const q = await client('ordered');
    const order: number[] = [];
    let running = 0;
    let maxRunning = 0;
    let failedOnce = false;
    await q.subscribe(
      'ordered-fn',
      topicSubscription(q.config, 'seq', { ordered: true, maxInFlight: 8, backoffMs: [30] }),
      async (event) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
        const n = event.json<number>();
        if (n === 5 && !failedOnce) {
          failedOnce = true;
          throw new Error('first try fails');
        }
        order.push(n);
      },
    );
    for (let n = 0; n < 20; n++) await q.publish('seq', n);
    await waitFor('all 20 in order', () => order.length === 20);
    expect(order).toEqual([...Array(20).keys()]);
    expect(maxRunning).toBe(1);
  });

  test('a handler longer than the ack wait keeps its message (working) and is not redelivered', async () => {
    const q = await client('long');
    const attempts: number[] = [];
    await q.subscribe(
      'slow',
      topicSubscription(q.config, 'slow', { ackWaitMs: 1000 }),
      async (event) => {
        attempts.push(event.attempt);
        await new Promise((r) => setTimeout(r, 2600));
      },
      { handlerTimeoutMs: 10_000 },
    );
    await q.publish('slow', 'x');
    await waitFor('the slow handler to finish', () => attempts.length >= 1);
    const jsm = await nats.nc.jetstreamManager();
    await waitFor(
      'the ack',
      async () => (await jsm.consumers.info(q.config.topicsStream, 'fn_slow')).num_ack_pending === 0,
      10_000,
    );
    expect(attempts).toEqual([1]);
  });

  test('a handler past its timeout is told through onAbort and its signal, without the signal being needed for onAbort', async () => {
    const q = await client('abort');
    const told: string[] = [];
    const attempts: number[] = [];
    await q.subscribe(
      'hang',
      topicSubscription(q.config, 'hang', { maxRetries: 0 }),
      (event, delivery) => {
        attempts.push(event.attempt);
        delivery.onAbort((reason) => {
          told.push(`onAbort: ${reason.message}`);
          // Listeners registered after the abort are called at once.
          delivery.onAbort(() => told.push('late listener'));
          told.push(`signal aborted: ${delivery.signal.aborted}`);
        });
        return new Promise(() => undefined);
      },
      { handlerTimeoutMs: 300 },
    );
    await q.publish('hang', 'x');
    await waitFor('the abort', () => told.length >= 3, 10_000);
    expect(told).toEqual(['onAbort: handler timed out after 300 ms', 'late listener', 'signal aborted: true']);
    expect(attempts).toEqual([1]);
  });

  test('stop finishes in-flight handlers; messages not started go to the next consumer; nothing lost', async () => {
    const config = testConfig('stop');
    const first = await QueueClient.connect({ servers: [nats.server.url], config, log: quietLog });
    const sub = topicSubscription(config, 'jobs', { maxInFlight: 4 });
    const finished = new Set<number>();
    let started = 0;
    await first.subscribe('stop-fn', sub, async (event) => {
      started++;
      await new Promise((r) => setTimeout(r, 200));
      finished.add(event.json<number>());
    });
    for (let n = 0; n < 40; n++) await first.publish('jobs', n);
    await waitFor('some handlers to start', () => started >= 4);
    await first.close(10_000);
    const afterStop = finished.size;
    expect(afterStop).toBeGreaterThanOrEqual(4); // the in-flight ones completed before close resolved
    const second = await client('stop');
    await second.subscribe('stop-fn', sub, (event) => {
      finished.add(event.json<number>());
    });
    await waitFor('the rest', () => finished.size === 40);
    expect(finished.size).toBe(40);
  });

  test('metrics register on the caller registry', async () => {
    const registry = new Registry();
    const metrics = new QueueMetrics(registry);
    metrics.asyncCall('f', 'queued');
    expect(await registry.metrics()).toContain(`${MetricNames.asyncCalls}{function="f",state="queued"} 1`);
  });
});
