/**
 * Issue 13 item 4, end to end with real processes: a nats-server started with the SYNTHESIZED
 * nats.conf (users, permissions, `$VARIABLE` passwords filled from the env the StatefulSet gets from
 * the auth Secret), the runtime and router bundles with their synthesized env (passwords resolved
 * from the same Secret keys), and clients holding another component's credentials, refused by the
 * server on everything that is not theirs.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { connect, type NatsConnection } from 'nats';
import { CallbackPolicy, Code, CronTrigger, HttpTrigger, NodeFunction, Platform, Queue } from '../../constructs';
import { QueueTrigger } from '../../constructs/triggers/queue-trigger';
import { ActivatorEnv, CronEnv, Env, QueueEnv, type QueueConfig } from '../../src/contract';
import { QueueClient } from '../../src/queue/client';
import { freePort } from './nats-server';
import { waitFor } from './support';
import { expectValidManifests } from '../support/validate';
import { Bundles, SynthesizedPods, containerOf, httpStatus, type K8sObject } from './synthesized-pods';

const WORKER = `module.exports = async (event) => event.type === 'dev.kubefaas.queue.message' ? 'done ' + event.text() : 'async ' + event.text();`;
const OTHER = `module.exports = async () => 'other';`;
const WEB = `module.exports = async () => 'http only';`;

function synthApp(): K8sObject[] {
  const app = Testing.app();
  const platform = new Platform(app, 'platform', {
    queue: Queue.nats(),
    router: { callbacks: CallbackPolicy.allow(['https://hooks.example.com/']) },
  });
  new NodeFunction(platform, 'worker', {
    code: Code.fromInline(WORKER),
    invocation: { async: true },
    triggers: [new QueueTrigger({ topic: 'orders', responseTopic: 'orders-done' })],
  });
  new NodeFunction(platform, 'other', {
    code: Code.fromInline(OTHER),
    triggers: [new HttpTrigger({ path: '/other' }), new CronTrigger({ name: 'tick', schedule: '*/5 * * * *' })],
    publishes: ['orders'],
  });
  // HTTP triggers only (its one queue subscription is the implicit async-call consumer).
  new NodeFunction(platform, 'web', { code: Code.fromInline(WEB), triggers: [new HttpTrigger({ path: '/web' })] });
  return Testing.synth(platform) as K8sObject[];
}

const objects = synthApp();
const pods = new SynthesizedPods(objects);
const find = (kind: string, name: string) => pods.find(kind, name);
const passwordFor = (key: string) => pods.passwordFor(key);
const envOf = (o: K8sObject, overrides: Record<string, string>) => pods.envOf(o, overrides);
const spawnLogged = (command: string, args: string[], env: Record<string, string>) => pods.spawn(command, args, env);
const startFunction = (name: string, overrides: Record<string, string> = {}) => pods.startFunction(name, overrides);
const status = httpStatus;
let natsUrl: string;
const connections: NatsConnection[] = [];

beforeAll(async () => {
  natsUrl = await pods.startNats();
  const conf = String(find('ConfigMap', 'kubefaas-nats-config').data['nats.conf']);
  expect(conf).toContain('authorization {');
  expect(conf).not.toMatch(/password: "/); // only $VARIABLE references
}, 30_000);

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
  pods.dispose();
});

/** A raw connection as `user` (its password from the Secret). */
async function connectAs(user: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: natsUrl,
    user,
    pass: passwordFor(user),
    inboxPrefix: `_INBOX_${user}`,
    noAsyncTraces: true,
  });
  connections.push(nc);
  return nc;
}

const queueConfig = JSON.parse(
  containerOf(find('Deployment', 'kubefaas-router')).env.find((e: any) => e.name === QueueEnv.QUEUE_CONFIG).value,
) as QueueConfig;

test('the synthesized users: every component its own user, passwords from the Secret only', async () => {
  await expectValidManifests(objects);
  const cronJob = objects.find((o) => o.kind === 'CronJob')!;
  const serverEnv = containerOf(find('StatefulSet', 'kubefaas-nats')).env.filter((e: any) =>
    e.name.startsWith('KUBEFAAS_NATS_PASSWORD_'),
  );
  expect(serverEnv.map((e: any) => e.valueFrom.secretKeyRef.key).sort()).toEqual([
    'cron',
    'fn-other',
    'fn-web',
    'fn-worker',
    'router',
  ]);
  for (const [kind, name, user] of [
    ['Deployment', 'kubefaas-router', 'router'],
    ['Deployment', 'worker', 'fn-worker'],
    ['CronJob', cronJob.metadata.name, 'cron'],
  ]) {
    const env = containerOf(find(kind, name)).env;
    expect(env.find((e: any) => e.name === QueueEnv.NATS_USER)).toEqual({ name: QueueEnv.NATS_USER, value: user });
    expect(env.find((e: any) => e.name === QueueEnv.NATS_PASSWORD)).toEqual({
      name: QueueEnv.NATS_PASSWORD,
      valueFrom: { secretKeyRef: { name: 'kubefaas-nats-auth', key: user } },
    });
  }
  expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
});

test('a client without credentials, or with a wrong password, is refused', async () => {
  await expect(connect({ servers: natsUrl, reconnect: false })).rejects.toMatchObject({
    code: 'AUTHORIZATION_VIOLATION',
  });
  await expect(
    connect({ servers: natsUrl, user: 'router', pass: 'kwrongpassword0000', reconnect: false }),
  ).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
});

describe('with the worker running under its own credentials', () => {
  let worker: { port: number; output: () => string };
  // The callback receiver is on loopback: the test lets callbacks reach it (as `kubefaas dev` does),
  // the synthesized policy being for hooks.example.com.
  const received: string[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push(body);
      res.end();
    });
  });
  let callbacks: { allow: string[]; allowPrivateNetworks: boolean; allowLoopback: boolean };

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const synthesized = JSON.parse(
      String(envOf(find('Deployment', 'worker'), {})[QueueEnv.CALLBACK_POLICY]),
    ) as typeof callbacks;
    expect(synthesized).toEqual({ allow: ['https://hooks.example.com/'], allowPrivateNetworks: false });
    callbacks = {
      allow: [`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`],
      allowPrivateNetworks: false,
      allowLoopback: true,
    };
    worker = await startFunction('worker', { [QueueEnv.CALLBACK_POLICY]: JSON.stringify(callbacks) });
    await waitFor(
      'worker ready (its queue trigger consumes)',
      async () => (await status(`http://127.0.0.1:${worker.port}/readyz`)) === 200,
    );
  }, 40_000);

  afterAll(() => receiver.close());

  test('end to end: an async call through the router, and a topic message published by another function', async () => {
    const routes = join(pods.dir, 'routes.json');
    const table = JSON.parse(String(find('ConfigMap', 'kubefaas-routes').data['routes.json']));
    table.functions.worker.url = `http://127.0.0.1:${worker.port}`;
    expect(table.callbacks).toEqual({ allow: ['https://hooks.example.com/'], allowPrivateNetworks: false });
    table.callbacks = callbacks;
    writeFileSync(routes, JSON.stringify(table));
    const [routerPort, adminPort] = [await freePort(), await freePort()];
    spawnLogged(
      process.execPath,
      [Bundles.router],
      envOf(find('Deployment', 'kubefaas-router'), {
        [Env.PORT]: String(routerPort),
        [ActivatorEnv.ADMIN_PORT]: String(adminPort),
        [Env.ROUTES_PATH]: routes,
        [Env.DRAIN_DELAY_MS]: '0',
        [QueueEnv.NATS_URL]: natsUrl,
      }),
    );
    const base = `http://127.0.0.1:${routerPort}`;
    let accepted: Response | undefined;
    await waitFor('the router to accept an async call', async () => {
      accepted = await fetch(`${base}/async-function/worker`, { method: 'POST', body: 'job-1' }).catch(() => undefined);
      return accepted !== undefined && accepted.status !== 503;
    });
    expect(accepted!.status).toBe(202);
    const callId = accepted!.headers.get('x-call-id')!;
    await waitFor('the async call to succeed', async () => {
      const state = (await (await fetch(`${base}/async-function/worker/${callId}`)).json()) as { state: string };
      return state.state === 'succeeded';
    });

    // A callback goes through the function's own callback subject and consumer: allowed for its user.
    {
      const port = (receiver.address() as AddressInfo).port;
      const withCallback = await fetch(`${base}/async-function/worker`, {
        method: 'POST',
        body: 'job-2',
        headers: { 'x-callback-url': `http://127.0.0.1:${port}/done` },
      });
      expect(withCallback.status).toBe(202);
      await waitFor('the callback to arrive', () => received.length > 0);
      expect(received[0]).toContain('async job-2');
    }

    // `other` publishes to the worker's topic with its own credentials (it declared `publishes: ['orders']`).
    const publisher = await QueueClient.connect({
      servers: [natsUrl],
      config: queueConfig,
      auth: { user: 'fn-other', password: passwordFor('fn-other') },
    });
    try {
      await publisher.publish('orders', 'order-1');
    } finally {
      await publisher.close(1000);
    }
    await waitFor('the worker to process the topic message', async () => {
      const metrics = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
      return metrics.includes('kubefaas_queue_deliveries_total{function="worker",trigger="orders",outcome="ack"} 1');
    });
  }, 60_000);

  test("another function's credentials: no reading the worker's consumer or inbox, no purge, no injecting async calls", async () => {
    const nc = await connectAs('fn-other');
    const jsm = await nc.jetstreamManager();
    const violation = { code: 'PERMISSIONS_VIOLATION' };
    const consumer = `$JS.API.CONSUMER.MSG.NEXT.${queueConfig.topicsStream}.worker_topic_orders`;
    await expect(nc.request(consumer, JSON.stringify({ batch: 1 }), { timeout: 2000 })).rejects.toMatchObject(
      violation,
    );
    await expect(jsm.consumers.info(queueConfig.topicsStream, 'worker_topic_orders')).rejects.toMatchObject(violation);
    await expect(jsm.streams.purge(queueConfig.topicsStream)).rejects.toMatchObject(violation);
    await expect(jsm.streams.delete(queueConfig.callsStream)).rejects.toMatchObject(violation);
    await expect(jsm.streams.update(queueConfig.topicsStream, { max_age: 1 })).rejects.toMatchObject(violation);
    await expect(nc.jetstream().publish(`${queueConfig.asyncPrefix}.worker`, 'injected')).rejects.toMatchObject(
      violation,
    );
    await expect(nc.jetstream().publish(`${queueConfig.cronPrefix}.worker.tick`, 'injected')).rejects.toMatchObject(
      violation,
    );
    const snoop = nc.subscribe('_INBOX_fn-worker.>');
    await snoop.closed; // the server refuses the subscription; nats.js closes it
    // The server says so, naming the user, in its log (what an operator would see).
    await waitFor('the violations in the server log', () =>
      [
        `Publish Violation - User "fn-other", Subject "${consumer}"`,
        `Publish Violation - User "fn-other", Subject "$JS.API.STREAM.PURGE.${queueConfig.topicsStream}"`,
        `Subscription Violation - User "fn-other", Subject "_INBOX_fn-worker.>"`,
      ].every((line) => pods.natsLog.includes(line)),
    );
  });

  test('publish permissions follow the declared graph: `publishes`, then response and dead-letter topics, nothing else', async () => {
    const violation = { code: 'PERMISSIONS_VIOLATION' };
    const stored = { stream: queueConfig.topicsStream };
    const topic = (name: string) => `${queueConfig.topicsPrefix}.${name}`;
    const other = (await connectAs('fn-other')).jetstream();
    await expect(other.publish(topic('orders'), 'declared')).resolves.toMatchObject(stored);
    await expect(other.publish(topic('orders-done'), 'not declared')).rejects.toMatchObject(violation);
    await expect(other.publish(topic('audit'), 'not declared')).rejects.toMatchObject(violation);
    // The worker publishes its results and its dead letters, and cannot feed its own topic.
    const worker = (await connectAs('fn-worker')).jetstream();
    await expect(worker.publish(topic('orders-done'), 'result')).resolves.toMatchObject(stored);
    await expect(worker.publish(topic('dead-letter.worker'), 'failed')).resolves.toMatchObject(stored);
    await expect(worker.publish(topic('orders'), 'loop')).rejects.toMatchObject(violation);
    // A function that declared nothing publishes nowhere.
    const web = (await connectAs('fn-web')).jetstream();
    await expect(web.publish(topic('orders'), 'x')).rejects.toMatchObject(violation);
    await waitFor('the violation in the server log', () =>
      pods.natsLog.includes(`Publish Violation - User "fn-web", Subject "${topic('orders')}"`),
    );
  });

  test('after a retention change only the router updates the streams; a function pod meanwhile starts (it may not update them)', async () => {
    const changed = { ...queueConfig, maxAgeMs: queueConfig.maxAgeMs - 60_000 };
    const auth = { user: 'fn-other', password: passwordFor('fn-other') };
    await expect(QueueClient.connect({ servers: [natsUrl], config: changed, auth })).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });
    const fn = await QueueClient.connect({ servers: [natsUrl], config: changed, auth, updateStreams: false });
    await fn.close(1000);
  });

  test("the cron user publishes its ticks and nothing else; the router cannot consume functions' messages", async () => {
    // The cron sender bundle with the CronJob's synthesized env delivers its tick (exit 0 = PubAck received).
    const cronJob = objects.find((o) => o.kind === 'CronJob')!;
    const sender = spawnLogged(
      process.execPath,
      [Bundles.cron],
      envOf(cronJob, { [QueueEnv.NATS_URL]: natsUrl, [CronEnv.JOB_NAME]: 'other-tick-1' }),
    );
    expect(await new Promise((r) => sender.proc.once('exit', r))).toBe(0);
    expect(sender.output()).toContain('cron tick delivered');

    const cron = await connectAs('cron');
    await expect(cron.jetstream().publish(`${queueConfig.cronPrefix}.other.tick`, '{}')).resolves.toMatchObject({
      stream: queueConfig.callsStream,
    });
    await expect(cron.jetstream().publish(`${queueConfig.topicsPrefix}.orders`, 'x')).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });
    const router = await connectAs('router');
    const next = `$JS.API.CONSUMER.MSG.NEXT.${queueConfig.callsStream}.worker_async`;
    await expect(router.request(next, JSON.stringify({ batch: 1 }), { timeout: 2000 })).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });
    await expect(router.jetstream().publish(`${queueConfig.topicsPrefix}.orders`, 'x')).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });
  });
});

test('readiness of an HTTP-only function does not depend on NATS: 200 with the queue down', async () => {
  const deadPort = await freePort(); // nothing listens here
  const other = await startFunction('web', { [QueueEnv.NATS_URL]: `nats://127.0.0.1:${deadPort}` });
  await waitFor(
    'the HTTP-only function to serve',
    async () => (await status(`http://127.0.0.1:${other.port}/healthz`)) === 200,
  );
  expect(await status(`http://127.0.0.1:${other.port}/readyz`)).toBe(200);
  expect(await (await fetch(`http://127.0.0.1:${other.port}/`)).text()).toBe('http only');
}, 30_000);

/** Every container env entry of every workload (bundled code in ConfigMaps mentions the env names too). */
function allEnv(synthesized: K8sObject[]): K8sObject[] {
  return synthesized
    .filter((o) => ['Deployment', 'StatefulSet', 'CronJob'].includes(o.kind))
    .flatMap((o) => containerOf(o).env ?? []);
}

describe('auth options at synth', () => {
  test('auth: false leaves the queue open (no users, no credentials in any pod)', () => {
    const app = Testing.app();
    const platform = new Platform(app, 'platform', { queue: Queue.nats({ auth: false }) });
    new NodeFunction(platform, 'web', { code: Code.fromInline(WEB), triggers: [new HttpTrigger({ path: '/web' })] });
    const synthesized = Testing.synth(platform) as K8sObject[];
    const conf = String(
      synthesized.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'kubefaas-nats-config')!.data['nats.conf'],
    );
    expect(conf).not.toContain('authorization');
    expect(
      allEnv(synthesized).filter((e) => e.name.startsWith('KUBEFAAS_NATS_PASSWORD') || e.name === QueueEnv.NATS_USER),
    ).toEqual([]);
  });

  test('a custom Secret name is used everywhere; an invalid one fails naming the construct', () => {
    const app = Testing.app();
    const platform = new Platform(app, 'platform', { queue: Queue.nats({ auth: { secretName: 'queue-passwords' } }) });
    new NodeFunction(platform, 'web', { code: Code.fromInline(WEB), triggers: [new HttpTrigger({ path: '/web' })] });
    const refs = allEnv(Testing.synth(platform) as K8sObject[]).flatMap((e) =>
      e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [],
    );
    expect(refs).toContainEqual({ name: 'queue-passwords', key: 'fn-web' });
    expect(refs.every((r) => r.name === 'queue-passwords')).toBe(true);
    expect(
      () => new Platform(Testing.app(), 'bad', { queue: Queue.nats({ auth: { secretName: 'Not_A_Name' } }) }),
    ).toThrow(/bad\/Queue.*auth.secretName 'Not_A_Name' is not a valid Secret name/s);
  });
});
