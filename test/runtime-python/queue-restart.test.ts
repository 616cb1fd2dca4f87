/**
 * A NATS crash under a Python consumer: nats-server is killed with SIGKILL while messages are being
 * published and handled, and restarted on the same port and store. Everything the queue accepted
 * (a confirmed publish, a 202'd async call) is still handled; the runtime reconnects by itself.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueClient, QueueUnavailableError } from '../../src/queue';
import { NatsServer } from '../queue/nats-server';
import { testConfig, waitFor } from '../queue/support';
import { stopAllPython } from './process';
import { pyAsync, pyTopic, startPythonConsumer } from './queue-support';

const HANDLER = String.raw`
import os, time

def main(event, context):
    if event.type == "dev.kubefaas.async.call":
        return "done " + event.text()
    with open(os.environ["HANDLED_FILE"], "a") as out:
        out.write(event.text() + "\n")
    time.sleep(0.002)
`;

let server: NatsServer;
let dir: string;
const quiet = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  server = await NatsServer.start();
  dir = mkdtempSync(join(tmpdir(), 'kubefaas-py-restart-'));
});

afterAll(async () => {
  await stopAllPython();
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function handled(file: string): Set<number> {
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number));
}

test('kill -9 of nats-server mid-stream, restarted on the same port and store: nothing accepted is lost', async () => {
  const config = testConfig('py_restart');
  const file = join(dir, 'handled.txt');
  const rt = await startPythonConsumer(
    HANDLER,
    server.url,
    config,
    [pyAsync(config), pyTopic(config, 'load', { maxInFlight: 8, ackWaitMs: 3000 })],
    { HANDLED_FILE: file },
  );
  const q = await QueueClient.connect({ servers: [server.url], config, log: quiet, reconnectTimeWaitMs: 100 });
  try {
    // Async calls accepted before the crash.
    const calls = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        q.enqueueCall('test-fn', { method: 'POST', path: '/', headers: {}, body: Buffer.from(`call-${i}`) }),
      ),
    );
    const total = 600;
    const confirmed = new Set<number>();
    let refused = 0;
    let next = 0;
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
    const publishing = Promise.all(Array.from({ length: 8 }, publisher));
    await waitFor('messages handled before the crash', () => handled(file).size >= 100);
    const atCrash = handled(file).size;
    await server.restart(300, 'SIGKILL');
    await publishing;
    expect(confirmed.size + refused).toBe(total);
    expect(confirmed.size).toBeGreaterThan(total / 2); // publishing went on after the restart
    expect(atCrash).toBeLessThan(total); // the crash really was mid-stream

    await waitFor(
      'every confirmed message to be handled',
      () => {
        const seen = handled(file);
        return [...confirmed].every((n) => seen.has(n));
      },
      60_000,
    );
    for (const [i, { callId }] of calls.entries()) {
      await waitFor(`call ${callId}`, async () => (await q.getCallState(callId))?.state === 'succeeded', 30_000);
      expect((await q.getCallState(callId))?.result?.body).toBe(`done call-${i}`);
    }
    expect(rt.logs.some((l) => l.msg === 'NATS connection lost, reconnecting')).toBe(true);
    expect(rt.logs.some((l) => l.msg === 'reconnected to NATS')).toBe(true);
    expect((await rt.request('/readyz')).status).toBe(200);
    expect(rt.child.exitCode).toBeNull();
  } finally {
    await q.close(2000);
  }
}, 120_000);

const STUCK = String.raw`
import time

def main(event, context):
    if event.text() == "stuck":
        context.log.info("stuck")
        time.sleep(60)
    return "ran " + event.text()
`;

test('kill -9 of the Python runtime mid-call: the run counts as an attempt, the last one is recorded as lost', async () => {
  const config = testConfig('py_crash');
  const sub = pyAsync(config, { maxRetries: 0, ackWaitMs: 1500 });
  const first = await startPythonConsumer(STUCK, server.url, config, [sub]);
  const q = await QueueClient.connect({ servers: [server.url], config, log: quiet });
  try {
    const { callId } = await q.enqueueCall('test-fn', {
      method: 'POST',
      path: '/',
      headers: {},
      body: Buffer.from('stuck'),
    });
    await first.waitForLog((l) => l.msg === 'stuck');
    expect((await q.getCallState(callId))?.state).toBe('running');
    first.child.kill('SIGKILL');
    await first.exited;
    // The next replica gets the call again after its ack wait: its one attempt is used up, so it is not run again.
    const second = await startPythonConsumer(STUCK, server.url, config, [sub]);
    await waitFor('the call to fail', async () => (await q.getCallState(callId))?.state === 'failed', 20_000);
    expect(await q.getCallState(callId)).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: 'attempt 1 did not finish (process stopped or ack wait expired)',
    });
    expect(second.logs.some((l) => l.msg === 'stuck')).toBe(false);
    // The new replica serves the next call as usual.
    const { callId: next } = await q.enqueueCall('test-fn', {
      method: 'POST',
      path: '/',
      headers: {},
      body: Buffer.from('ok'),
    });
    await waitFor('the next call', async () => (await q.getCallState(next))?.state === 'succeeded');
    expect((await q.getCallState(next))?.result?.body).toBe('ran ok');
  } finally {
    await q.close(2000);
  }
}, 60_000);
