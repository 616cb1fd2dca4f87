/**
 * The Python runtime on the queue, over real processes and sockets: a real nats-server, the Python
 * runtime consuming its subscriptions, Node consumers (the src/queue client and the Node runtime
 * bundle) reading what it writes, the cron sender bundle publishing a tick.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { headers as natsHeaders } from 'nats';
import { CronEnv, Env, MetricNames, QueueEnv } from '../../src/contract';
import { QueueClient } from '../../src/queue';
import { podNode } from '../support/pod-node';
import { RuntimeProcess, stopAll } from '../runtime/process';
import { testConfig, useNatsServer, waitFor } from '../queue/support';
import { PythonRuntimeProcess, stopAllPython } from './process';
import { FUNCTION, metricValue, pyTopic, readTopic, startPythonConsumer } from './queue-support';

const nats = useNatsServer();
const quiet = { info() {}, warn() {}, error() {} };
const CRON_BUNDLE = resolve(__dirname, '..', '..', 'lib', 'pod', 'cron.js');
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

afterEach(async () => {
  await stopAllPython();
  await stopAll();
});

async function client(tag: string): Promise<{ q: QueueClient; config: ReturnType<typeof testConfig> }> {
  const config = testConfig(tag);
  const q = await QueueClient.connect({ servers: [nats.server.url], config, log: quiet });
  nats.clients.push(q);
  return { q, config };
}

const ECHO = String.raw`
def main(event, context):
    return {
        "type": event.type, "source": event.source, "id": event.id, "time": event.time,
        "method": event.method, "path": event.path, "query": event.query, "params": event.params,
        "headers": event.headers, "body": event.text(), "json": event.json() if event.body.startswith(b"{") else None,
        "subject": event.subject, "attempt": event.attempt, "requestId": context.request_id,
        "traceId": context.trace_id, "dict": sorted(event.to_dict()),
    }
`;

test('a topic message runs the handler with the CloudEvents fields; its result goes to the response topic', async () => {
  const { q, config } = await client('py_topic');
  const responses = await readTopic(q, config, 'orders-done');
  const rt = await startPythonConsumer(ECHO, nats.server.url, config, [
    pyTopic(config, 'orders', { responseSubject: `${config.topicsPrefix}.orders-done` }),
  ]);

  await q.publish('orders', { n: 1 }, { id: 'msg-1', traceparent: TRACEPARENT, headers: { 'x-custom': 'yes' } });
  // A bare message (no CloudEvents headers) gets the defaults.
  const js = nats.nc.jetstream();
  const bare = await js.publish(`${config.topicsPrefix}.orders`, Buffer.from('plain'));
  await waitFor('two responses', () => responses.length === 2);

  const byId = new Map(responses.map((r) => [r.headers['ce-id'], r]));
  const first = byId.get('msg-1-response')!;
  expect(first.headers).toMatchObject({
    'kubefaas-status': '200',
    'kubefaas-function': FUNCTION,
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-type': 'dev.kubefaas.queue.response',
    'ce-source': `/kubefaas/function/${FUNCTION}`,
    traceparent: TRACEPARENT,
  });
  const seen = first.json<Record<string, any>>();
  expect(seen).toMatchObject({
    type: 'dev.kubefaas.queue.message',
    source: '/kubefaas/publish',
    id: 'msg-1',
    method: 'POST',
    path: '/',
    query: {},
    params: {},
    body: '{"n":1}',
    json: { n: 1 },
    subject: `${config.topicsPrefix}.orders`,
    attempt: 1,
    requestId: 'msg-1',
    traceId: '0af7651916cd43dd8448eb211c80319c',
    dict: ['body', 'headers', 'id', 'method', 'path', 'query', 'source', 'specversion', 'subject', 'time', 'type'],
  });
  expect(seen.headers).toMatchObject({
    'x-custom': 'yes',
    'content-type': 'application/json',
    traceparent: TRACEPARENT,
  });
  expect(Object.keys(seen.headers).some((k) => k.startsWith('nats-'))).toBe(false);
  expect(Date.parse(seen.time)).toBeGreaterThan(Date.now() - 60_000);

  const second = byId.get(`${config.topicsStream}:${bare.seq}-response`)!.json<Record<string, any>>();
  expect(second).toMatchObject({
    type: 'dev.kubefaas.queue.message',
    source: '/kubefaas/queue/orders',
    id: `${config.topicsStream}:${bare.seq}`,
    body: 'plain',
    headers: {},
  });

  await waitFor('the acks counted', async () => {
    const acks = await metricValue(
      rt,
      `${MetricNames.queueDeliveries}{function="${FUNCTION}",trigger="orders",outcome="ack"}`,
    );
    return acks === 2;
  });
  expect(
    await metricValue(
      rt,
      `${MetricNames.functionInvocations}{function="${FUNCTION}",trigger="queue",outcome="success"}`,
    ),
  ).toBe(2);
  expect(await metricValue(rt, `${MetricNames.functionDuration}_count{function="${FUNCTION}",trigger="queue"}`)).toBe(
    2,
  );
  // The lag is read from the server at scrape time (a scrape shows what the previous one read).
  await waitFor('the lag gauge', async () => {
    const lag = await metricValue(rt, `${MetricNames.queueConsumerLag}{function="${FUNCTION}",trigger="orders"}`);
    return lag === 0;
  });
});

const FLAKY = String.raw`
import asyncio, time

async def main(event, context):
    text = event.text()
    if text == "slow":
        await asyncio.sleep(30)
    if text == "ok":
        return "fine"
    raise RuntimeError("cannot handle " + text)
`;

test('a failing message is retried with its backoff, then dead-lettered with the error; platform headers cannot be forged', async () => {
  const { q, config } = await client('py_dlq');
  const dead = await readTopic(q, config, `dead-letter.${FUNCTION}`);
  const rt = await startPythonConsumer(
    FLAKY,
    nats.server.url,
    config,
    [pyTopic(config, 'jobs', { maxRetries: 2, backoffMs: [200, 400] })],
    { [Env.TIMEOUT_MS]: '500' },
  );
  const h = natsHeaders();
  h.set('x-order', '7');
  h.set('kubefaas-error', 'forged');
  h.set('Kubefaas-Attempts', '99');
  const js = nats.nc.jetstream();
  const started = Date.now();
  const bad = await js.publish(`${config.topicsPrefix}.jobs`, Buffer.from('bad'), { headers: h });
  await js.publish(`${config.topicsPrefix}.jobs`, Buffer.from('slow'));
  await js.publish(`${config.topicsPrefix}.jobs`, Buffer.from('ok'));
  await waitFor('two dead letters', () => dead.length === 2);
  // Three runs, 200 and 400 ms apart at least.
  expect(Date.now() - started).toBeGreaterThanOrEqual(600);

  const letter = dead.find((d) => d.text() === 'bad')!;
  expect(letter.headers).toMatchObject({
    'x-order': '7',
    'kubefaas-error': 'cannot handle bad',
    'kubefaas-attempts': '3',
    'kubefaas-function': FUNCTION,
    'kubefaas-trigger': 'jobs',
    'kubefaas-original-subject': `${config.topicsPrefix}.jobs`,
    'kubefaas-original-stream': config.topicsStream,
    'kubefaas-original-sequence': String(bad.seq),
  });
  // Only the platform's own Kubefaas-* headers, whatever the case of the publisher's.
  const stored = await (
    await nats.nc.jetstreamManager()
  ).streams.getMessage(config.topicsStream, { seq: letter.sequence });
  const names = [...stored.header.keys()];
  expect(names.filter((k) => k.toLowerCase() === 'kubefaas-error')).toEqual(['Kubefaas-Error']);
  expect(names.filter((k) => k.toLowerCase() === 'kubefaas-attempts')).toEqual(['Kubefaas-Attempts']);
  const slow = dead.find((d) => d.text() === 'slow')!;
  expect(slow.headers['kubefaas-error']).toBe('handler timed out after 500 ms');

  const runs = rt.logs.filter((l) => l.msg === 'handler failed' && l.requestId === `${config.topicsStream}:${bad.seq}`);
  expect(runs.map((l) => l.attempt)).toEqual([1, 2, 3]);
  expect(runs[0]).toMatchObject({
    level: 'error',
    trigger: 'jobs',
    error: { name: 'RuntimeError', message: 'cannot handle bad' },
  });
  expect(
    await rt.waitForLog(
      (l) => l.msg === 'queue message dead-lettered after the last attempt' && l.sequence === bad.seq,
    ),
  ).toMatchObject({ level: 'error', attempts: 3, deadLetterSubject: `${config.topicsPrefix}.dead-letter.${FUNCTION}` });

  const series = (outcome: string) =>
    `${MetricNames.queueDeliveries}{function="${FUNCTION}",trigger="jobs",outcome="${outcome}"}`;
  await waitFor('the counts', async () => (await metricValue(rt, series('ack'))) === 1);
  expect(await metricValue(rt, series('retry'))).toBe(4);
  expect(await metricValue(rt, series('dead_letter'))).toBe(2);
  expect(await metricValue(rt, `${MetricNames.queueRetries}{function="${FUNCTION}",trigger="jobs"}`)).toBe(4);
  expect(await metricValue(rt, `${MetricNames.queueDeadLetters}{function="${FUNCTION}",trigger="jobs"}`)).toBe(2);
  const invocations = (outcome: string) =>
    metricValue(rt, `${MetricNames.functionInvocations}{function="${FUNCTION}",trigger="queue",outcome="${outcome}"}`);
  expect(await invocations('error')).toBe(3);
  expect(await invocations('timeout')).toBe(3);
  expect(await invocations('success')).toBe(1);
});

const PUBLISHER = String.raw`
import asyncio

def main(event, context):
    if event.path == "/sync":
        context.publish("audit", {"from": "sync", "body": event.text()})
        context.publish("audit", "plain text")
        context.publish("audit", b"\x00\x01")
        return "published"
    if event.path == "/bad-topic":
        context.publish("no spaces allowed", "x")
    return "?"

async def amain(event, context):
    await context.publish("audit", {"from": "async"})
    context.publish("audit", {"from": "async, not awaited"})
    await asyncio.sleep(0.2)
    return "published"
`;

test('context.publish from sync and async handlers is consumed by a Node function', async () => {
  const { config } = await client('py_publish');
  const queueEnv = {
    [QueueEnv.NATS_URL]: nats.server.url,
    [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
  };
  const node = await RuntimeProcess.start(
    `module.exports = async (event, context) => {
       context.log.info('consumed', { type: event.type, source: event.source, id: event.id,
         contentType: event.headers['content-type'], traceparent: event.headers.traceparent, body: event.body.toString('base64') });
     };`,
    {
      ...queueEnv,
      [Env.FUNCTION_NAME]: 'auditor',
      [QueueEnv.SUBSCRIPTIONS]: JSON.stringify([
        { ...pyTopic(config, 'audit'), durable: 'auditor_audit', deadLetterSubject: undefined },
      ]),
    },
  );
  await node.waitForLog((l) => l.msg === 'queue consumers started');
  // (On a platform with a queue every PythonFunction consumes at least its async calls; none here.)
  const sync = await startPythonConsumer(PUBLISHER, nats.server.url, config, []);
  const res = await sync.request('/sync', { method: 'POST', body: 'hi', headers: { traceparent: TRACEPARENT } });
  expect(res.status).toBe(200);
  const asyncRt = await startPythonConsumer(PUBLISHER, nats.server.url, config, [], {
    [Env.HANDLER_PATH]: 'handler.amain',
  });
  expect((await asyncRt.request('/')).status).toBe(200);
  expect((await sync.request('/bad-topic')).status).toBe(500);

  const consumed = () => node.logs.filter((l) => l.msg === 'consumed');
  await waitFor('five messages consumed by the Node function', () => consumed().length === 5);
  const bodies = consumed().map((l) => Buffer.from(l.body as string, 'base64').toString('latin1'));
  expect(bodies.sort()).toEqual(
    [
      '{"from":"sync","body":"hi"}',
      'plain text',
      '\x00\x01',
      '{"from":"async"}',
      '{"from":"async, not awaited"}',
    ].sort(),
  );
  for (const line of consumed()) {
    expect(line).toMatchObject({ type: 'dev.kubefaas.queue.message', source: `/kubefaas/function/${FUNCTION}` });
    expect(line.id).toMatch(/^[0-9a-f-]{36}$/);
  }
  const contentTypes = Object.fromEntries(
    consumed().map((l) => [Buffer.from(l.body as string, 'base64').toString('latin1'), l.contentType]),
  );
  expect(contentTypes['plain text']).toBe('text/plain; charset=utf-8');
  expect(contentTypes['\x00\x01']).toBe('application/octet-stream');
  expect(contentTypes['{"from":"sync","body":"hi"}']).toBe('application/json');
  // The caller's trace continues, in a new span.
  const traced = consumed().find((l) => l.contentType === 'text/plain; charset=utf-8')!;
  expect(traced.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
  expect(traced.traceparent).not.toBe(TRACEPARENT);
  const refused = await sync.waitForLog((l) => l.msg === 'handler failed');
  expect((refused.error as { message: string }).message).toMatch(/invalid topic 'no spaces allowed'/);
});

const BUSY = String.raw`
import threading, time
lock = threading.Lock()
running = [0]

def main(event, context):
    with lock:
        running[0] += 1
        now = running[0]
    context.log.info("started", body=event.text(), running=now)
    time.sleep(1.5)
    with lock:
        running[0] -= 1
    return "ok"
`;

test('at most maxInFlight handlers at once; a handler longer than the ack wait is kept in progress, not redelivered', async () => {
  const { q, config } = await client('py_busy');
  const rt = await startPythonConsumer(BUSY, nats.server.url, config, [
    pyTopic(config, 'busy', { maxInFlight: 2, ackWaitMs: 1000 }),
  ]);
  for (const n of [1, 2, 3, 4]) await q.publish('busy', `b${n}`);
  const series = (outcome: string) =>
    `${MetricNames.queueDeliveries}{function="${FUNCTION}",trigger="busy",outcome="${outcome}"}`;
  await waitFor('four acks', async () => (await metricValue(rt, series('ack'))) === 4, 20_000);
  const started = rt.logs.filter((l) => l.msg === 'started');
  // Each message ran once although it took longer than its ack wait (+WPI every third of it).
  expect(started.map((l) => l.body).sort()).toEqual(['b1', 'b2', 'b3', 'b4']);
  expect(Math.max(...started.map((l) => l.running as number))).toBe(2);
  expect(await metricValue(rt, `${MetricNames.queueRetries}{function="${FUNCTION}",trigger="busy"}`)).toBe(0);
});

const SLOW = String.raw`
import time

def main(event, context):
    context.log.info("started", body=event.text())
    time.sleep(1.0)
    return "done " + event.text()
`;

test('SIGTERM: the running delivery finishes and is acked, the ones not started go back to the queue, exit 0', async () => {
  const { q, config } = await client('py_drain');
  const done = await readTopic(q, config, 'drain-done');
  const sub = pyTopic(config, 'drain', { maxInFlight: 1, responseSubject: `${config.topicsPrefix}.drain-done` });
  const first = await startPythonConsumer(SLOW, nats.server.url, config, [sub]);
  for (const n of [1, 2, 3]) await q.publish('drain', `m${n}`);
  await first.waitForLog((l) => l.msg === 'started');
  first.child.kill('SIGTERM');
  expect(await first.exited).toEqual({ code: 0, signal: null });
  expect(first.logs.filter((l) => l.msg === 'started')).toHaveLength(1);
  expect(first.logs.some((l) => l.msg === 'shut down')).toBe(true);
  await waitFor('the running one acked with its response', () => done.length === 1);
  // The rest were handed back (NAK), not left to their ack wait: another replica takes them at once.
  const second = await startPythonConsumer(SLOW, nats.server.url, config, [sub]);
  await waitFor('the others handled by the next replica', () => done.length === 3, 15_000);
  expect(done.map((d) => d.text()).sort()).toEqual(['done m1', 'done m2', 'done m3']);
  expect(second.logs.filter((l) => l.msg === 'started')).toHaveLength(2);
});

const TICKS = String.raw`
def main(event, context):
    context.log.info("tick", type=event.type, source=event.source, id=event.id, at=event.time, tick=event.json())
`;

test('a cron tick delivered through the queue runs the handler with the cron event', async () => {
  const { config } = await client('py_cron');
  const rt = await startPythonConsumer(TICKS, nats.server.url, config, [
    {
      kind: 'cron',
      subject: `${config.cronPrefix}.${FUNCTION}.nightly`,
      durable: `${FUNCTION}_cron_nightly`,
      trigger: 'nightly',
      maxInFlight: 1,
      ackWaitMs: 5000,
      maxRetries: 2,
      backoffMs: [5000, 30000],
      ordered: false,
    },
  ]);
  {
    const sender = spawn(podNode(), [CRON_BUNDLE], {
      env: {
        PATH: process.env.PATH ?? '',
        [CronEnv.FUNCTION]: FUNCTION,
        [CronEnv.TRIGGER]: 'nightly',
        [CronEnv.SCHEDULE]: '0 2 * * *',
        [CronEnv.TIME_ZONE]: 'Europe/Berlin',
        [CronEnv.DATA]: JSON.stringify({ report: 'daily' }),
        [CronEnv.JOB_NAME]: 'test-fn-cron-nightly-29000000',
        [QueueEnv.NATS_URL]: nats.server.url,
        [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    sender.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    sender.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    expect(await new Promise((r) => sender.once('exit', r))).toBe(0);
    expect(out).toContain('cron tick delivered');
  }
  const tick = await rt.waitForLog((l) => l.msg === 'tick');
  expect(tick).toMatchObject({
    type: 'dev.kubefaas.cron.tick',
    source: `/kubefaas/cron/${FUNCTION}/nightly`,
    id: 'test-fn-cron-nightly-29000000',
    requestId: 'test-fn-cron-nightly-29000000',
    tick: {
      function: FUNCTION,
      trigger: 'nightly',
      schedule: '0 2 * * *',
      timeZone: 'Europe/Berlin',
      data: { report: 'daily' },
    },
  });
  // ce-time is when the sender published the tick, just after it fired.
  const firedAt = Date.parse((tick.tick as { firedAt: string }).firedAt);
  expect(Date.parse(tick.at as string) - firedAt).toBeGreaterThanOrEqual(0);
  expect(Date.parse(tick.at as string) - firedAt).toBeLessThan(10_000);
  await waitFor('the cron invocation counted', async () => {
    const n = await metricValue(
      rt,
      `${MetricNames.functionInvocations}{function="${FUNCTION}",trigger="cron",outcome="success"}`,
    );
    return n === 1;
  });
  expect(
    await metricValue(rt, `${MetricNames.queueDeliveries}{function="${FUNCTION}",trigger="nightly",outcome="ack"}`),
  ).toBe(1);
});

test('bad queue settings stop the runtime at start with one fatal line naming the variable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-py-badq-')); // a TLS directory without ca.crt
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ [QueueEnv.SUBSCRIPTIONS]: '{not json' }, /KUBEFAAS_SUBSCRIPTIONS is not valid JSON/],
    [
      { [QueueEnv.SUBSCRIPTIONS]: '[{"kind":"topic"}]' },
      /KUBEFAAS_SUBSCRIPTIONS\[0\]\.subject must be a non-empty string/,
    ],
    [{ [QueueEnv.NATS_USER]: 'fn-test-fn' }, /add key "fn-test-fn" to the queue's auth Secret/],
    [{ [QueueEnv.NATS_USER]: 'fn-test-fn', [QueueEnv.NATS_PASSWORD]: '1short' }, /must start with a letter/],
    [{ [QueueEnv.NATS_TLS_DIR]: dir }, /has no ca\.crt/],
    [
      { [QueueEnv.CALLBACK_POLICY]: '{"allow":["ftp://x/"],"allowPrivateNetworks":false}' },
      /KUBEFAAS_CALLBACK_POLICY: "allow" must be/,
    ],
  ];
  for (const [env, message] of cases) {
    const rt = await PythonRuntimeProcess.start(
      'def main(e, c):\n    return 1\n',
      { [QueueEnv.NATS_URL]: nats.server.url, ...env },
      { waitForListening: false },
    );
    expect((await rt.exited).code).toBe(1);
    const fatal = JSON.parse(rt.stderr.trim().split('\n').pop()!);
    expect(fatal).toMatchObject({ level: 'fatal' });
    expect(fatal.msg).toMatch(message);
  }
  rmSync(dir, { recursive: true, force: true });
});

test('context.publish to a topic the function did not declare (KUBEFAAS_PUBLISHES) is refused, naming the fix', async () => {
  const { config } = await client('py_declared');
  const rt = await startPythonConsumer(PUBLISHER, nats.server.url, config, [], {
    [QueueEnv.PUBLISHES]: JSON.stringify(['orders']),
  });
  expect((await rt.request('/sync', { method: 'POST', body: 'hi' })).status).toBe(500);
  const refused = await rt.waitForLog((l) => l.msg === 'handler failed');
  expect(refused.error).toMatchObject({ name: 'UndeclaredTopicError' });
  expect((refused.error as { message: string }).message).toContain(
    "function 'test-fn' does not declare topic 'audit' (it declares 'orders'); add it to the function's props: publishes: ['orders', 'audit']",
  );
});
