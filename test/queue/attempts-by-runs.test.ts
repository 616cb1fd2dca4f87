import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Env, QueueEnv, type QueueSubscription } from '../../src/contract';
import { QueueClient } from '../../src/queue';
import { NatsServer, freePort } from './nats-server';
import { testConfig, waitFor } from './support';

const runtimeBundle = resolve(__dirname, '..', '..', 'lib', 'pod', 'runtime.js');
const quietLog = { info() {}, warn() {}, error() {} };

let dir: string;
let nats: NatsServer;
const procs: ChildProcess[] = [];
let client: QueueClient | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubefaas-runs-'));
  // Every run is appended to a file shared by both processes, before the handler's work.
  writeFileSync(
    join(dir, 'handler.js'),
    `
const fs = require('node:fs');
module.exports = async (event) => {
  fs.appendFileSync(process.env.RUNS_FILE, event.id + '\\n');
  await new Promise((r) => setTimeout(r, Number(process.env.RUN_MS)));
  throw new Error('always fails');
};`,
  );
  nats = await NatsServer.start();
});

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await client?.close(1000);
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('a delivery lost with a runtime killed -9 costs no attempt: every call still gets all its handler runs', async () => {
  const config = testConfig('runs');
  const runsFile = join(dir, 'runs.txt');
  const subscription: QueueSubscription = {
    kind: 'async',
    subject: `${config.asyncPrefix}.w`,
    durable: 'w_async',
    trigger: 'async',
    maxInFlight: 1,
    ackWaitMs: 1500,
    maxRetries: 2,
    backoffMs: [50],
    ordered: false,
  };
  const start = async (runMs: number): Promise<{ proc: ChildProcess; port: number }> => {
    const port = await freePort();
    const proc = spawn(process.execPath, [runtimeBundle], {
      env: {
        PATH: process.env.PATH ?? '',
        RUNS_FILE: runsFile,
        RUN_MS: String(runMs),
        [Env.PORT]: String(port),
        [Env.FUNCTION_NAME]: 'w',
        [Env.HANDLER_PATH]: join(dir, 'handler.js'),
        [Env.TIMEOUT_MS]: '10000',
        [QueueEnv.NATS_URL]: nats.url,
        [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
        [QueueEnv.SUBSCRIPTIONS]: JSON.stringify([subscription]),
      },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    procs.push(proc);
    await waitFor('runtime ready', async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
      } catch {
        return false;
      }
    });
    return { proc, port };
  };
  const runsOf = (id: string) =>
    existsSync(runsFile)
      ? readFileSync(runsFile, 'utf8')
          .split('\n')
          .filter((l) => l === id).length
      : 0;

  const first = await start(60_000); // its run never finishes: killed mid-handler
  client = await QueueClient.connect({ servers: [nats.url], config, log: quietLog });
  const request = (body: string) => ({ method: 'POST', path: '/', headers: {}, body: Buffer.from(body) });
  const a = (await client.enqueueCall('w', request('a'))).callId;
  const b = (await client.enqueueCall('w', request('b'))).callId;
  const jsm = await client.nc.jetstreamManager();
  // A runs; B is delivered too (the prefetch window), waiting for the one slot.
  await waitFor(
    'A running and B delivered',
    async () => runsOf(a) === 1 && (await jsm.consumers.info(config.callsStream, 'w_async')).num_ack_pending === 2,
  );
  const exited = new Promise((r) => first.proc.once('exit', r));
  first.proc.kill('SIGKILL');
  await exited;
  expect(runsOf(b)).toBe(0);

  await start(20);
  for (const id of [a, b])
    await waitFor(`call ${id} failed`, async () => (await client!.getCallState(id))?.state === 'failed', 30_000);
  // maxRetries 2 = 3 runs each: A's killed run counts (a message that crashes its process must
  // not run forever), B's lost delivery does not.
  expect(runsOf(a)).toBe(3);
  expect(runsOf(b)).toBe(3);
  expect((await client.getCallState(a))?.attempts).toBe(3);
  expect((await client.getCallState(b))?.attempts).toBe(3);
}, 60_000);
