/**
 * Typed composition through a real nats-server with the SYNTHESIZED queue isolation (issue 16):
 * handlers written against `kubefaas/refs` and bundled by Code.fromAsset, run as runtime processes
 * with their synthesized env. `ingest` publishes a Reading with `ctx.publish(rawReadings, …)`;
 * `to-celsius` consumes it through `QueueTrigger({ topic: rawReadings })` and queues an async call
 * with `ctx.invokeAsync(audit, …)`, which its NATS user may do because it declares `invokes: [audit]`;
 * `audit` runs it as a typed handler. A function that does not declare the edge is refused by the server.
 */
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { connect, type NatsConnection } from 'nats';
import { Code, HttpTrigger, NodeFunction, Platform, Queue, QueueTrigger } from '../../constructs';
import { QueueEnv, type QueueConfig } from '../../src/contract';
import { QueueClient } from '../../src/queue/client';
import { audit, rawReadings } from './fixtures/refs/model';
import { waitFor } from './support';
import { SynthesizedPods, containerOf, httpStatus, type K8sObject } from './synthesized-pods';

const fixture = (name: string) => Code.fromAsset(path.join(__dirname, 'fixtures', 'refs', `${name}.ts`));

function synthApp(): K8sObject[] {
  const platform = new Platform(Testing.app(), 'platform', { queue: Queue.nats() });
  new NodeFunction(platform, 'ingest', {
    code: fixture('ingest'),
    triggers: [new HttpTrigger({ path: '/readings', methods: ['POST'] })],
    publishes: [rawReadings],
  });
  new NodeFunction(platform, 'to-celsius', {
    code: fixture('to-celsius'),
    triggers: [new QueueTrigger({ topic: rawReadings, maxRetries: 0 })],
    invokes: [audit],
  });
  new NodeFunction(platform, 'audit', { code: fixture('audit') });
  return Testing.synth(platform) as K8sObject[];
}

const pods = new SynthesizedPods(synthApp());
const queueConfig = JSON.parse(
  containerOf(pods.find('Deployment', 'ingest')).env.find((e: any) => e.name === QueueEnv.QUEUE_CONFIG).value,
) as QueueConfig;
const connections: NatsConnection[] = [];
let ingest: { port: number; output: () => string };
let toCelsius: { port: number; output: () => string };
let auditor: { port: number; output: () => string };

beforeAll(async () => {
  await pods.startNats();
  [auditor, toCelsius, ingest] = await Promise.all(['audit', 'to-celsius', 'ingest'].map((f) => pods.startFunction(f)));
  for (const [name, pod] of [
    ['audit', auditor],
    ['to-celsius', toCelsius],
    ['ingest', ingest],
  ] as const) {
    await waitFor(`${name}'s consumers`, () => pod.output().includes('"msg":"queue consumers started"'), 40_000);
    await waitFor(`${name} ready`, async () => (await httpStatus(`http://127.0.0.1:${pod.port}/readyz`)) === 200);
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
  pods.dispose();
});

async function connectAs(user: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: pods.natsUrl,
    user,
    pass: pods.passwordFor(user),
    inboxPrefix: `_INBOX_${user}`,
    noAsyncTraces: true,
  });
  connections.push(nc);
  return nc;
}

test('publish with a reference → typed queue handler → invokeAsync → typed async handler, under isolation', async () => {
  const res = await fetch(`http://127.0.0.1:${ingest.port}/readings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ city: 'oslo', tempF: 50 }),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ published: 'oslo' });

  let callId = '';
  await waitFor('to-celsius to queue the audit call', () => {
    const line = toCelsius
      .output()
      .split('\n')
      .find((l) => l.includes('"msg":"audit queued"'));
    if (line) callId = JSON.parse(line).callId;
    return callId !== '';
  });
  const router = await QueueClient.connect({
    servers: [pods.natsUrl],
    config: queueConfig,
    auth: { user: 'router', password: pods.passwordFor('router') },
  });
  try {
    let state: Awaited<ReturnType<QueueClient['getCallState']>>;
    await waitFor('the audit call to succeed', async () => {
      state = await router.getCallState(callId);
      return state?.state === 'succeeded' || state?.state === 'failed';
    });
    expect(state!).toMatchObject({ function: 'audit', state: 'succeeded', attempts: 1 });
    expect(JSON.parse(state!.result!.body)).toEqual({ audited: 'oslo: 10', callId });
  } finally {
    await router.close(1000);
  }
});

test('the server lets a function queue async calls only to what it declares in `invokes`', async () => {
  const violation = { code: 'PERMISSIONS_VIOLATION' };
  const ingestUser = await connectAs('fn-ingest');
  await expect(ingestUser.jetstream().publish(`${queueConfig.asyncPrefix}.audit`, '{}')).rejects.toMatchObject(
    violation,
  );
  const caller = await connectAs('fn-to-celsius');
  await expect(caller.jetstream().publish(`${queueConfig.asyncPrefix}.ingest`, '{}')).rejects.toMatchObject(violation);
});
