import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import type { QueueSubscription } from '../../src/contract';
import { QueueClient, QueueUnavailableError } from '../../src/queue';
import { NatsServer } from './nats-server';
import { testConfig, topicSubscription, waitFor } from './support';

let server: NatsServer;
let dir: string;
let childBundle: string;
const children: ChildProcess[] = [];
const clients: QueueClient[] = [];
const quietLog = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubefaas-queue-'));
  // The child runs our queue module as plain JavaScript, as a function pod would.
  childBundle = join(dir, 'consumer-child.js');
  buildSync({
    entryPoints: [resolve(__dirname, 'fixtures', 'consumer-child.ts')],
    outfile: childBundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'error',
  });
  server = await NatsServer.start();
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(clients.splice(0).map((c) => c.close(5000)));
});

afterAll(async () => {
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function handledNumbers(file: string): Set<number> {
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number));
}

function startChild(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [childBundle], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolveChild, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      if (c.toString().includes('ready')) resolveChild(child);
    });
    child.once('exit', (code) => reject(new Error(`consumer child exited early (${code}): ${stderr}`)));
  });
}

describe('queue resilience', () => {
  test('kill -9 of the consumer process mid-stream, then a restart: no message lost', async () => {
    const config = testConfig('crash');
    const q = await QueueClient.connect({ servers: [server.url], config, log: quietLog });
    clients.push(q);
    const total = 2000;
    for (let start = 0; start < total; start += 250) {
      await Promise.all(
        Array.from({ length: Math.min(250, total - start) }, (_, i) => q.publish('jobs', String(start + i))),
      );
    }
    const sub: QueueSubscription = topicSubscription(config, 'jobs', { maxInFlight: 8, ackWaitMs: 1000 });
    const out = join(dir, 'crash.out');
    const env = {
      CHILD_QUEUE_CONFIG: JSON.stringify(config),
      CHILD_SUBSCRIPTION: JSON.stringify(sub),
      CHILD_OUTPUT: out,
      CHILD_NATS_URL: server.url,
      CHILD_DELAY_MS: '2',
    };
    const first = await startChild(env);
    await waitFor('the first process to handle some messages', () => handledNumbers(out).size >= 200);
    const exited = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await exited;
    const atKill = handledNumbers(out).size;
    expect(atKill).toBeLessThan(total); // it really died mid-stream

    await startChild(env);
    await waitFor('every message to be handled', () => handledNumbers(out).size === total, 60_000);
    expect(handledNumbers(out)).toEqual(new Set(Array.from({ length: total }, (_, i) => i)));
  });

  test('nats-server restart under load: publishers and consumers reconnect, confirmed messages and accepted async calls survive', async () => {
    const config = testConfig('restart');
    const q = await QueueClient.connect({ servers: [server.url], config, log: quietLog, reconnectTimeWaitMs: 100 });
    clients.push(q);
    const handled = new Set<number>();
    await q.subscribe(
      'restart-fn',
      topicSubscription(config, 'load', { maxInFlight: 16, ackWaitMs: 2000 }),
      (event) => {
        handled.add(Number(event.text()));
      },
    );
    // Async calls accepted before the restart, for a function whose consumer starts only after it.
    const calls = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        q.enqueueCall('later', {
          method: 'POST',
          path: '/',
          headers: {},
          body: Buffer.from(String(i)),
        }),
      ),
    );

    const confirmed = new Set<number>();
    let refused = 0;
    let next = 0;
    let restarted = false;
    const total = 3000;
    const publisher = async () => {
      while (next < total) {
        const n = next++;
        try {
          await q.publish('load', String(n));
          confirmed.add(n);
        } catch (err) {
          if (!(err instanceof QueueUnavailableError)) throw err;
          refused++;
        }
      }
    };
    const publishing = Promise.all(Array.from({ length: 16 }, publisher));
    await waitFor('load before the restart', () => confirmed.size >= 500);
    await server.restart(300);
    restarted = true;
    await publishing;
    expect(restarted).toBe(true);
    expect(confirmed.size + refused).toBe(total);
    expect(confirmed.size).toBeGreaterThan(total / 2); // publishers kept going after the restart
    await waitFor('every confirmed message to be handled', () => [...confirmed].every((n) => handled.has(n)), 60_000);

    await q.subscribe(
      'later',
      {
        kind: 'async',
        subject: `${config.asyncPrefix}.later`,
        durable: 'later_async',
        trigger: 'async',
        maxInFlight: 4,
        ackWaitMs: 2000,
        maxRetries: 1,
        backoffMs: [],
        ordered: false,
      },
      (event) => `done ${event.text()}`,
    );
    for (const [i, { callId }] of calls.entries()) {
      await waitFor(`call ${callId}`, async () => (await q.getCallState(callId))?.state === 'succeeded');
      expect((await q.getCallState(callId))?.result?.body).toBe(`done ${i}`);
    }
    expect(q.isConnected()).toBe(true);
  });
});
