/**
 * A PythonFunction with queue and cron triggers, as synthesized, on a queue with isolation (each
 * component its own NATS user, permissions from the subscriptions) and TLS: nats-server runs the
 * synthesized nats.conf with certificates made by openssl, the Python runtime, the router and the
 * cron sender run with their synthesized env. The Python runtime uses only subjects its user may
 * (nats-server logs every violation), over TLS checked against the CA.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { connect } from 'nats';
import {
  CallbackPolicy,
  Code,
  CronTrigger,
  Platform,
  PythonFunction,
  Queue,
  QueueTrigger,
  Topic,
} from '../../constructs';
import { Env, PythonEnv, QueueEnv } from '../../src/contract';
import { freePort } from '../queue/nats-server';
import { waitFor } from '../queue/support';
import { Bundles, SynthesizedPods, containerOf, makeCertificates, type K8sObject } from '../queue/synthesized-pods';
import { expectValidManifests } from '../support/validate';
import { PythonRuntimeProcess, stopAllPython } from './process';

const SOURCE = String.raw`
def main(event, context):
    context.log.info("handled", type=event.type, body=event.text())
    return "done " + event.text()
`;

function synthApp(): K8sObject[] {
  const platform = new Platform(Testing.app(), 'platform', {
    queue: Queue.nats({ tls: { secretName: 'nats-tls' } }),
    router: { callbacks: CallbackPolicy.allow(['https://hooks.example.com/']) },
  });
  new PythonFunction(platform, 'pyworker', {
    code: Code.fromInline(SOURCE),
    handler: 'handler.main',
    // The test publishes the topic message as this function's NATS user: it must declare the topic
    // (a loop through 'orders' in the graph, allowed below: the test publishes once).
    publishes: ['orders'],
    invocation: { async: true },
    triggers: [
      new QueueTrigger({ topic: 'orders', responseTopic: 'orders-done' }),
      new CronTrigger({ name: 'tick', schedule: '*/5 * * * *' }),
    ],
  });
  new Topic(platform, 'orders', { allowCycle: true });
  return Testing.synth(platform) as K8sObject[];
}

const objects = synthApp();
const pods = new SynthesizedPods(objects);
let clientTls: string;
let worker: PythonRuntimeProcess;
const received: string[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    received.push(body);
    res.end();
  });
});

beforeAll(async () => {
  const serverTls = join(pods.dir, 'server-tls');
  makeCertificates(serverTls);
  await pods.startNats((conf) => conf.replaceAll('/etc/nats-tls/', `${serverTls}/`));
  // What the client volume holds: ca.crt alone.
  clientTls = join(pods.dir, 'client-tls');
  mkdirSync(clientTls);
  copyFileSync(join(serverTls, 'ca.crt'), join(clientTls, 'ca.crt'));
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
}, 30_000);

afterAll(async () => {
  await stopAllPython();
  receiver.close();
  pods.dispose();
});

/** The callback receiver is on loopback: let callbacks reach it, as `kubefaas dev` does. */
function loopbackCallbacks(): string {
  const port = (receiver.address() as AddressInfo).port;
  return JSON.stringify({ allow: [`http://127.0.0.1:${port}/`], allowPrivateNetworks: false, allowLoopback: true });
}

test('synthesized: the PythonFunction consumes its topic, cron ticks and async calls as its own NATS user over TLS', async () => {
  await expectValidManifests(objects, { externalSecrets: ['nats-tls'] });
  const deployment = pods.find('Deployment', 'pyworker');
  const env = pods.envOf(deployment);
  expect(env[QueueEnv.NATS_USER]).toBe('fn-pyworker');
  expect(env[QueueEnv.NATS_TLS_DIR]).toBe('/var/kubefaas/nats-tls');
  const subs = JSON.parse(env[QueueEnv.SUBSCRIPTIONS]) as Array<{ kind: string; trigger: string }>;
  expect(subs.map((s) => `${s.kind}:${s.trigger}`)).toEqual(['async:async', 'topic:orders', 'cron:tick']);
  expect(JSON.parse(env[QueueEnv.CALLBACK_POLICY])).toEqual({
    allow: ['https://hooks.example.com/'],
    allowPrivateNetworks: false,
  });
  expect(String(pods.find('ConfigMap', 'kubefaas-nats-config').data['nats.conf'])).toContain('user: "fn-pyworker"');
  const cronJob = objects.find((o) => o.kind === 'CronJob')!;
  expect(containerOf(cronJob).env).toContainEqual({ name: QueueEnv.NATS_USER, value: 'cron' });
});

test('over TLS with auth: a topic message, a cron tick and an async call with its callback', async () => {
  const deployment = pods.find('Deployment', 'pyworker');
  const volumes = deployment.spec.template.spec.volumes as Array<{ configMap?: { name: string } }>;
  const codeMap = volumes.find((v) => v.configMap?.name.startsWith('pyworker-code-'))!.configMap!.name;
  const files = pods.find('ConfigMap', codeMap).data as Record<string, string>;
  const env = pods.envOf(deployment, {
    [Env.PORT]: '0',
    [QueueEnv.NATS_URL]: pods.natsUrl,
    [QueueEnv.NATS_TLS_DIR]: clientTls,
    [QueueEnv.CALLBACK_POLICY]: loopbackCallbacks(),
  });
  delete env[PythonEnv.CODE_DIR]; // the test's own directory holds the ConfigMap's files
  worker = await PythonRuntimeProcess.start(files, env);
  await waitFor(
    'the worker to be ready (its consumers run)',
    async () => (await worker.request('/readyz')).status === 200,
  );

  // A topic message, published by a client of the same user (it may publish to topics).
  const nc = await connect({
    servers: pods.natsUrl,
    user: 'fn-pyworker',
    pass: pods.passwordFor('fn-pyworker'),
    inboxPrefix: '_INBOX_fn-pyworker',
    tls: { caFile: join(clientTls, 'ca.crt') },
  });
  try {
    await nc.jetstream().publish('topics.orders', Buffer.from('order-1'));
  } finally {
    await nc.close();
  }
  expect(await worker.waitForLog((l) => l.msg === 'handled' && l.body === 'order-1')).toMatchObject({
    type: 'dev.kubefaas.queue.message',
  });

  // A cron tick from the cron sender, as the `cron` user.
  const cronJob = objects.find((o) => o.kind === 'CronJob')!;
  const sender = pods.spawn(
    process.execPath,
    [Bundles.cron],
    pods.envOf(cronJob, {
      [QueueEnv.NATS_URL]: pods.natsUrl,
      [QueueEnv.NATS_TLS_DIR]: clientTls,
      KUBEFAAS_CRON_JOB_NAME: 'pyworker-cron-tick-1',
    }),
  );
  expect(await new Promise((r) => sender.proc.once('exit', r))).toBe(0);
  expect(await worker.waitForLog((l) => l.msg === 'handled' && l.type === 'dev.kubefaas.cron.tick')).toBeTruthy();

  // An async call through the router (its own user), with a callback.
  const routes = join(pods.dir, 'routes.json');
  const table = JSON.parse(String(pods.find('ConfigMap', 'kubefaas-routes').data['routes.json']));
  table.functions.pyworker.url = `http://127.0.0.1:${worker.port}`;
  table.callbacks = JSON.parse(loopbackCallbacks());
  writeFileSync(routes, JSON.stringify(table));
  const routerPort = await freePort();
  pods.spawn(
    process.execPath,
    [Bundles.router],
    pods.envOf(pods.find('Deployment', 'kubefaas-router'), {
      [Env.PORT]: String(routerPort),
      [Env.ROUTES_PATH]: routes,
      [Env.DRAIN_DELAY_MS]: '0',
      [QueueEnv.NATS_URL]: pods.natsUrl,
      [QueueEnv.NATS_TLS_DIR]: clientTls,
    }),
  );
  const base = `http://127.0.0.1:${routerPort}`;
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`;
  let accepted: Response | undefined;
  await waitFor('the router to accept an async call', async () => {
    accepted = await fetch(`${base}/async-function/pyworker`, {
      method: 'POST',
      body: 'job-1',
      headers: { 'x-callback-url': hook },
    }).catch(() => undefined);
    return accepted !== undefined && accepted.status !== 503;
  });
  expect(accepted!.status).toBe(202);
  const callId = accepted!.headers.get('x-call-id')!;
  await waitFor('the callback', () => received.length > 0);
  expect(received[0]).toBe('done job-1');
  const state = (await (await fetch(`${base}/async-function/pyworker/${callId}`)).json()) as Record<string, any>;
  expect(state).toMatchObject({ state: 'succeeded', result: { body: 'done job-1' } });
  await waitFor('the callback outcome', async () => {
    const s = (await (await fetch(`${base}/async-function/pyworker/${callId}`)).json()) as Record<string, any>;
    return s.callback?.delivered === true;
  });

  // Nothing the runtime did was outside its permissions.
  expect(pods.natsLog).not.toMatch(/Violation.*fn-pyworker|fn-pyworker.*Violation/);
  expect(worker.logs.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
}, 60_000);

test('wrong NATS credentials stop the start with one fatal line (the pod restarts, visibly)', async () => {
  const deployment = pods.find('Deployment', 'pyworker');
  const volumes = deployment.spec.template.spec.volumes as Array<{ configMap?: { name: string } }>;
  const codeMap = volumes.find((v) => v.configMap?.name.startsWith('pyworker-code-'))!.configMap!.name;
  const env = pods.envOf(deployment, {
    [Env.PORT]: '0',
    [QueueEnv.NATS_URL]: pods.natsUrl,
    [QueueEnv.NATS_TLS_DIR]: clientTls,
    [QueueEnv.NATS_PASSWORD]: 'kwrongpassword0000000000',
  });
  delete env[PythonEnv.CODE_DIR];
  const rt = await PythonRuntimeProcess.start(pods.find('ConfigMap', codeMap).data as Record<string, string>, env);
  expect((await rt.exited).code).toBe(1);
  const fatal = JSON.parse(rt.stderr.trim().split('\n').pop()!);
  expect(fatal).toMatchObject({ level: 'fatal', msg: 'cannot start the queue consumers' });
  expect(fatal.error.message).toMatch(/Authorization Violation/i);
});
