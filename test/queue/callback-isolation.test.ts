import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
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
let runtime: ChildProcess | undefined;
let client: QueueClient | undefined;
let receiver: Server | undefined;
const held: Socket[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubefaas-callbacks-'));
  writeFileSync(join(dir, 'handler.js'), `module.exports = async (event) => 'done ' + event.text();`);
  nats = await NatsServer.start();
});

afterAll(async () => {
  runtime?.kill('SIGKILL');
  await client?.close(1000);
  for (const s of held) s.destroy();
  receiver?.close();
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('callbacks to a receiver that never answers do not delay an unrelated async call of the same function', async () => {
  // Accepts connections and reads requests, never answers: each callback POST waits for its timeout.
  let connections = 0;
  receiver = createServer((socket) => {
    connections++;
    held.push(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
  const callbackUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

  const config = testConfig('cbisolation');
  const subscription: QueueSubscription = {
    kind: 'async',
    subject: `${config.asyncPrefix}.slowcb`,
    durable: 'slowcb_async',
    trigger: 'async',
    maxInFlight: 16,
    ackWaitMs: 30_000,
    maxRetries: 2,
    backoffMs: [100],
    ordered: false,
  };
  const port = await freePort();
  runtime = spawn(process.execPath, [runtimeBundle], {
    env: {
      PATH: process.env.PATH ?? '',
      [Env.PORT]: String(port),
      [Env.FUNCTION_NAME]: 'slowcb',
      [Env.HANDLER_PATH]: join(dir, 'handler.js'),
      [QueueEnv.NATS_URL]: nats.url,
      [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
      [QueueEnv.SUBSCRIPTIONS]: JSON.stringify([subscription]),
      // The receiver is on loopback: allowed as `kubefaas dev` allows it.
      [QueueEnv.CALLBACK_POLICY]: JSON.stringify({
        allow: [new URL(callbackUrl).origin + '/'],
        allowPrivateNetworks: false,
        allowLoopback: true,
      }),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor('runtime ready', async () => {
    try {
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    } catch {
      return false;
    }
  });

  client = await QueueClient.connect({ servers: [nats.url], config, log: quietLog });
  const request = (body: string, callback?: string) => ({
    method: 'POST',
    path: '/',
    headers: {},
    body: Buffer.from(body),
    callbackUrl: callback,
  });
  const withCallbacks = await Promise.all(
    Array.from({ length: 16 }, (_, i) => client!.enqueueCall('slowcb', request(`cb-${i}`, callbackUrl))),
  );
  for (const { callId } of withCallbacks) {
    await waitFor(
      'calls with callbacks to succeed',
      async () => (await client!.getCallState(callId))?.state === 'succeeded',
      10_000,
    );
  }
  await waitFor('every callback POST to be hanging at the receiver', () => connections >= 16, 10_000);

  const started = Date.now();
  const { callId } = await client.enqueueCall('slowcb', request('unrelated'));
  await waitFor('the unrelated call', async () => (await client!.getCallState(callId))?.state === 'succeeded', 8_000);
  const tookMs = Date.now() - started;
  // Before callbacks had their own queue, this call waited for a handler slot held by a callback
  // (10 s per POST attempt, 5 attempts); now it runs at once.
  expect(tookMs).toBeLessThan(3_000);
  expect((await client.getCallState(callId))?.result?.body).toBe('done unrelated');
  expect((await client.getCallState(withCallbacks[0].callId))?.callback).toBeUndefined(); // still being retried
});
