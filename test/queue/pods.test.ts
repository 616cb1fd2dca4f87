import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AckPolicy, DeliverPolicy, connect, nanos, type NatsConnection } from 'nats';
import { ActivatorEnv, Env, QueueEnv, type QueueConfig, type QueueSubscription } from '../../src/contract';
import { NatsServer, freePort } from './nats-server';
import { testConfig, waitFor } from './support';

const root = resolve(__dirname, '..', '..');
const runtimeBundle = join(root, 'lib', 'pod', 'runtime.js');
const routerBundle = join(root, 'lib', 'pod', 'router.js');

let dir: string;
const procs: ChildProcess[] = [];
const servers: NatsServer[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubefaas-queue-pods-'));
  writeFileSync(
    join(dir, 'handler.js'),
    `
module.exports = async function handler(event, context) {
  if (event.type === 'dev.kubefaas.queue.message') {
    await context.publish('audit', { saw: event.text() });
    return 'processed ' + event.text();
  }
  return 'async ' + event.method + ' ' + event.path + ' ' + event.text();
};`,
  );
});

afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function spawnPod(bundle: string, env: Record<string, string>): { proc: ChildProcess; output: () => string } {
  const proc = spawn(process.execPath, [bundle], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return { proc, output: () => out };
}

async function status(url: string): Promise<number> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

function subscriptions(config: QueueConfig): QueueSubscription[] {
  const base = { maxInFlight: 4, ackWaitMs: 10_000, maxRetries: 1, backoffMs: [50], ordered: false };
  return [
    {
      ...base,
      kind: 'topic',
      subject: `${config.topicsPrefix}.orders`,
      durable: 'worker_orders',
      trigger: 'orders',
      responseSubject: `${config.topicsPrefix}.orders-done`,
    },
    { ...base, kind: 'async', subject: `${config.asyncPrefix}.worker`, durable: 'worker_async', trigger: 'async' },
  ];
}

async function readOne(nc: NatsConnection, stream: string, subject: string): Promise<string> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.consumers.add(stream, {
    filter_subject: subject,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    inactive_threshold: nanos(30_000),
  });
  const consumer = await nc.jetstream().consumers.get(stream, info.name);
  for (;;) {
    const msg = await consumer.next({ expires: 2000 });
    if (msg) return msg.string();
  }
}

async function startRuntime(natsUrl: string, config: QueueConfig) {
  const port = await freePort();
  const pod = spawnPod(runtimeBundle, {
    [Env.PORT]: String(port),
    [Env.FUNCTION_NAME]: 'worker',
    [Env.HANDLER_PATH]: join(dir, 'handler.js'),
    [Env.SHUTDOWN_GRACE_MS]: '5000',
    [QueueEnv.NATS_URL]: natsUrl,
    [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
    [QueueEnv.SUBSCRIPTIONS]: JSON.stringify(subscriptions(config)),
  });
  return { ...pod, port };
}

describe('runtime and router bundles with a queue', () => {
  test('the runtime is ready only once NATS is up, consumes topics, context.publish works, SIGTERM exits cleanly', async () => {
    const natsPort = await freePort();
    const config = testConfig('pod');
    const runtime = await startRuntime(`nats://127.0.0.1:${natsPort}`, config);
    await waitFor(
      'the runtime to serve health',
      async () => (await status(`http://127.0.0.1:${runtime.port}/healthz`)) === 200,
    );
    expect(await status(`http://127.0.0.1:${runtime.port}/readyz`)).toBe(503); // no NATS yet

    const nats = await NatsServer.start(natsPort);
    servers.push(nats);
    await waitFor(
      'ready once connected',
      async () => (await status(`http://127.0.0.1:${runtime.port}/readyz`)) === 200,
    );

    const nc = await connect({ servers: nats.url });
    try {
      await nc.jetstream().publish(`${config.topicsPrefix}.orders`, Buffer.from('order-1'));
      expect(await readOne(nc, config.topicsStream, `${config.topicsPrefix}.orders-done`)).toBe('processed order-1');
      expect(JSON.parse(await readOne(nc, config.topicsStream, `${config.topicsPrefix}.audit`))).toEqual({
        saw: 'order-1',
      });
      const metrics = await (await fetch(`http://127.0.0.1:${runtime.port}/metrics`)).text();
      expect(metrics).toContain('kubefaas_queue_deliveries_total{function="worker",trigger="orders",outcome="ack"} 1');
    } finally {
      await nc.close();
    }
    const exited = new Promise<number | null>((r) => runtime.proc.once('exit', r));
    runtime.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  test('the router accepts async calls (202 + X-Call-Id), reports their state, 404s unknown functions and 503s without the queue', async () => {
    const nats = await NatsServer.start();
    servers.push(nats);
    const config = testConfig('router');
    const runtime = await startRuntime(nats.url, config);
    await waitFor('runtime ready', async () => (await status(`http://127.0.0.1:${runtime.port}/readyz`)) === 200);

    const [routerPort, adminPort] = [await freePort(), await freePort()];
    const routes = join(dir, 'routes.json');
    writeFileSync(
      routes,
      JSON.stringify({
        version: 1,
        functions: {
          worker: { url: `http://127.0.0.1:${runtime.port}`, timeoutMs: 10_000, invocation: { async: true } },
          internal: { url: `http://127.0.0.1:${runtime.port}`, timeoutMs: 10_000 },
        },
        routes: [],
      }),
    );
    const router = spawnPod(routerBundle, {
      [Env.PORT]: String(routerPort),
      [ActivatorEnv.ADMIN_PORT]: String(adminPort),
      [Env.ROUTES_PATH]: routes,
      [QueueEnv.NATS_URL]: nats.url,
      [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
    });
    const base = `http://127.0.0.1:${routerPort}`;
    const admin = `http://127.0.0.1:${adminPort}`;
    await waitFor('router ready', async () => (await status(`${admin}/readyz`)) === 200);

    let accepted: Response | undefined;
    await waitFor('the router to accept an async call', async () => {
      accepted = await fetch(`${base}/async-function/worker/reports?x=1`, { method: 'POST', body: 'payload' });
      return accepted.status !== 503;
    });
    expect(accepted!.status).toBe(202);
    const callId = accepted!.headers.get('x-call-id')!;
    expect(callId).toBeTruthy();
    await waitFor('the call to succeed', async () => {
      const state = (await (await fetch(`${base}/async-function/worker/${callId}`)).json()) as { state: string };
      return state.state === 'succeeded';
    });
    const state = (await (await fetch(`${base}/async-function/worker/${callId}`)).json()) as {
      result: { body: string };
    };
    expect(state.result.body).toBe('async POST /reports payload');

    expect((await fetch(`${base}/async-function/nobody`, { method: 'POST', body: 'x' })).status).toBe(404);
    expect((await fetch(`${base}/async-function/worker/not-a-call`)).status).toBe(404);
    // A function that did not opt in: 404 on the public listener, accepted on the admin one.
    expect((await fetch(`${base}/async-function/internal`, { method: 'POST', body: 'x' })).status).toBe(404);
    expect((await fetch(`${admin}/async-function/internal`, { method: 'POST', body: 'x' })).status).toBe(202);

    await nats.stop();
    const refused = await fetch(`${base}/async-function/worker`, { method: 'POST', body: 'lost?' });
    expect(refused.status).toBe(503);
    expect(router.output()).not.toContain('uncaught');
  });
});
