import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Headers, type AuthInfo, type QueueConfig, type QueueSubscription } from '../../src/contract';
import {
  CallbackHeaders,
  InvalidCallIdError,
  QueueClient,
  QueueUnavailableError,
  type CallState,
} from '../../src/queue';
import { NatsServer, freePort } from './nats-server';
import { testConfig, waitFor } from './support';

let server: NatsServer;
const clients: QueueClient[] = [];
/** The receivers of these tests listen on loopback: allowed as `kubefaas dev` allows it. */
const LOOPBACK_CALLBACKS = {
  allow: ['http://127.0.0.1/', 'http://127.0.0.1:'],
  allowPrivateNetworks: false,
  allowLoopback: true,
};
const quietLog = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  server = await NatsServer.start();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close(5000)));
});
afterAll(async () => {
  await server?.dispose();
});

async function client(config: QueueConfig, publishTimeoutMs?: number): Promise<QueueClient> {
  const c = await QueueClient.connect({ servers: [server.url], config, log: quietLog, publishTimeoutMs });
  clients.push(c);
  return c;
}

function asyncSubscription(
  config: QueueConfig,
  fn: string,
  overrides: Partial<QueueSubscription> = {},
): QueueSubscription {
  return {
    kind: 'async',
    subject: `${config.asyncPrefix}.${fn}`,
    durable: `${fn}_async`,
    trigger: 'async',
    maxInFlight: 4,
    ackWaitMs: 5000,
    maxRetries: 2,
    backoffMs: [20],
    ordered: false,
    ...overrides,
  };
}

const request = (body: string, extra: Partial<Parameters<QueueClient['enqueueCall']>[1]> = {}) => ({
  method: 'POST',
  path: '/orders?id=7',
  headers: { 'content-type': 'text/plain', 'x-custom': 'yes', connection: 'keep-alive' },
  body: Buffer.from(body),
  ...extra,
});

/** The router's verified-caller header for `info` (as the async endpoint adds it). */
function authHeader(info: AuthInfo): Record<string, string> {
  return { [Headers.auth]: Buffer.from(JSON.stringify(info), 'utf8').toString('base64url') };
}

describe('async calls', () => {
  test('states go queued → running → succeeded with the result, visible through getCallState', async () => {
    const config = testConfig('states');
    const q = await client(config);
    const { callId, duplicate } = await q.enqueueCall(
      'hello',
      request('world', { traceparent: '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01' }),
    );
    expect(duplicate).toBe(false);
    expect((await q.getCallState(callId))?.state).toBe('queued');

    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: Record<string, unknown>[] = [];
    await q.subscribe('hello', asyncSubscription(config, 'hello'), async (event) => {
      seen.push({
        method: event.method,
        path: event.path,
        query: event.query,
        headers: event.headers,
        type: event.type,
        id: event.id,
        body: event.text(),
      });
      await gate;
      return { status: 201, headers: { 'content-type': 'text/plain' }, body: `Hello, ${event.text()}` };
    });
    await waitFor('running', async () => (await q.getCallState(callId))?.state === 'running');
    const running = (await q.getCallState(callId))!;
    expect(running.attempts).toBe(1);
    release();
    await waitFor('succeeded', async () => (await q.getCallState(callId))?.state === 'succeeded');
    const done = (await q.getCallState(callId))!;
    expect(done.result).toEqual({
      status: 201,
      headers: { 'content-type': 'text/plain' },
      body: 'Hello, world',
      bodyEncoding: 'utf8',
      truncated: false,
    });
    expect(done.function).toBe('hello');
    expect(seen[0]).toMatchObject({
      method: 'POST',
      path: '/orders',
      query: { id: '7' },
      type: 'dev.kubefaas.async.call',
      id: callId,
      body: 'world',
      headers: {
        'content-type': 'text/plain',
        'x-custom': 'yes',
        'x-call-id': callId,
        traceparent: '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01',
      },
    });
    expect((seen[0].headers as Record<string, unknown>).connection).toBeUndefined();
  });

  test('a call that keeps failing ends failed with the error and attempt count', async () => {
    const config = testConfig('failing');
    const q = await client(config);
    // Opted in (exposeErrorMessages): the message itself is reported.
    await q.subscribe(
      'broken',
      asyncSubscription(config, 'broken', { maxRetries: 2 }),
      () => {
        throw new Error('database unreachable');
      },
      { exposeErrorMessages: true },
    );
    const { callId } = await q.enqueueCall('broken', request('x'));
    await waitFor('failed', async () => (await q.getCallState(callId))?.state === 'failed');
    const state = (await q.getCallState(callId))!;
    expect(state.error).toBe('database unreachable');
    expect(state.attempts).toBe(3);
  });

  test("a handler's exception message is not in the call state nor the callback unless the function exposes it", async () => {
    const callbacks: string[] = [];
    const receiver: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        callbacks.push(Buffer.concat(chunks).toString());
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`;
    try {
      const config = testConfig('secretleak');
      const q = await client(config);
      await q.subscribe(
        'leaky',
        asyncSubscription(config, 'leaky', { maxRetries: 1 }),
        () => {
          throw new Error('cannot connect to postgres://admin:s3cr3t-value@db');
        },
        { callback: { urls: LOOPBACK_CALLBACKS } },
      );
      const { callId } = await q.enqueueCall('leaky', request('x', { callbackUrl: url }));
      await waitFor('callback', async () => (await q.getCallState(callId))?.callback !== undefined);
      const state = (await q.getCallState(callId))!;
      expect(state.state).toBe('failed');
      expect(state.error).toBe(`the function failed; see its logs for request id ${callId}`);
      expect(JSON.stringify(state)).not.toContain('s3cr3t');
      expect(callbacks).toHaveLength(1);
      expect(callbacks[0]).not.toContain('s3cr3t');
      expect(JSON.parse(callbacks[0])).toMatchObject({ callId, state: 'failed', error: state.error });
    } finally {
      receiver.close();
    }
  });

  test("a timeout is the platform's own message and is reported as such", async () => {
    const config = testConfig('timeoutmsg');
    const q = await client(config);
    await q.subscribe(
      'slow',
      asyncSubscription(config, 'slow', { maxRetries: 0 }),
      () => new Promise(() => undefined),
      { handlerTimeoutMs: 200 },
    );
    const { callId } = await q.enqueueCall('slow', request('x'));
    await waitFor('failed', async () => (await q.getCallState(callId))?.state === 'failed');
    expect((await q.getCallState(callId))!.error).toBe('handler timed out after 200 ms');
  });

  test('the callback is retried until the receiver accepts it and carries the result and call id', async () => {
    const received: { status: number; headers: IncomingMessage['headers']; body: string }[] = [];
    let answered = 0;
    const receiver: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        answered++;
        const status = answered === 1 ? 503 : 204;
        received.push({ status, headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`;
    try {
      const config = testConfig('callback');
      const q = await client(config);
      await q.subscribe(
        'cb',
        asyncSubscription(config, 'cb'),
        (event) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify({ got: event.text() }) }),
        {
          callback: { initialDelayMs: 50, urls: LOOPBACK_CALLBACKS },
        },
      );
      const { callId } = await q.enqueueCall('cb', request('ping', { callbackUrl: url }));
      await waitFor('callback recorded', async () => (await q.getCallState(callId))?.callback !== undefined);
      const state = (await q.getCallState(callId)) as CallState;
      expect(state.callback).toEqual({ url, delivered: true, attempts: 2, status: 204 });
      expect(received).toHaveLength(2);
      const last = received[1];
      expect(JSON.parse(last.body)).toEqual({ got: 'ping' });
      expect(last.headers['x-call-id']).toBe(callId);
      expect(last.headers[CallbackHeaders.status]).toBe('200');
      expect(last.headers[CallbackHeaders.state]).toBe('succeeded');
      expect(last.headers['content-type']).toBe('application/json');
    } finally {
      receiver.close();
    }
  });

  test('a callback nobody answers is recorded as undelivered, never crashing the consumer', async () => {
    const config = testConfig('deadcb');
    const q = await client(config);
    const url = `http://127.0.0.1:${await freePort()}/nobody`;
    await q.subscribe('cb2', asyncSubscription(config, 'cb2'), () => 'ok', {
      callback: { attempts: 2, initialDelayMs: 10, urls: LOOPBACK_CALLBACKS },
    });
    const { callId } = await q.enqueueCall('cb2', request('x', { callbackUrl: url }));
    await waitFor('callback recorded', async () => (await q.getCallState(callId))?.callback !== undefined);
    const state = (await q.getCallState(callId))!;
    expect(state.state).toBe('succeeded');
    expect(state.callback).toMatchObject({ url, delivered: false, attempts: 2 });
    expect(state.callback?.error).toBeTruthy();
  });

  test('idempotency keys: resubmission returns the first call; call ids are generated; keys are scoped per function and caller', async () => {
    const config = testConfig('ids');
    const q = await client(config);
    const first = await q.enqueueCall('f', request('a', { idempotencyKey: 'order-42' }));
    expect(first.duplicate).toBe(false);
    expect(first.callId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await q.enqueueCall('f', request('a', { idempotencyKey: 'order-42' }))).toEqual({
      callId: first.callId,
      duplicate: true,
    });
    // The key is not a call id: nobody reads a call's state by guessing the key.
    expect(await q.getCallState('order-42')).toBeUndefined();
    // Another function, or another verified caller, with the same key: a call of its own.
    const other = await q.enqueueCall('g', request('a', { idempotencyKey: 'order-42' }));
    expect(other.duplicate).toBe(false);
    expect(other.callId).not.toBe(first.callId);
    const asAlice = authHeader({ type: 'apiKey', keyId: 'alice' });
    const alice = await q.enqueueCall('f', request('a', { idempotencyKey: 'order-42', headers: asAlice }));
    expect(alice.duplicate).toBe(false);
    expect(await q.enqueueCall('f', request('a', { idempotencyKey: 'order-42', headers: asAlice }))).toEqual({
      callId: alice.callId,
      duplicate: true,
    });
    await expect(q.enqueueCall('f', request('a', { idempotencyKey: 'bad id!' }))).rejects.toBeInstanceOf(
      InvalidCallIdError,
    );
    expect(await q.getCallState('never-seen')).toBeUndefined();
    expect(await q.getCallState('../etc')).toBeUndefined();
    const jsm = q.jsm;
    const info = await jsm.streams.info(config.callsStream);
    expect(info.state.messages).toBe(3);
  });

  test('the stored call carries the request and CloudEvents attributes as headers, the call id as Nats-Msg-Id', async () => {
    const config = testConfig('wire');
    const q = await client(config);
    const { callId } = await q.enqueueCall(
      'wired',
      request('payload', {
        callbackUrl: 'http://cb.example/x',
        traceparent: '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01',
      }),
    );
    const stored = await q.jsm.streams.getMessage(config.callsStream, { last_by_subj: `${config.asyncPrefix}.wired` });
    const h = stored.header;
    expect(Buffer.from(stored.data).toString()).toBe('payload');
    expect({
      msgId: h.get('Nats-Msg-Id'),
      callId: h.get('Kubefaas-Call-Id'),
      method: h.get('Kubefaas-Method'),
      path: h.get('Kubefaas-Path'),
      callback: h.get('Kubefaas-Callback-Url'),
      traceparent: h.get('traceparent'),
      spec: h.get('ce-specversion'),
      id: h.get('ce-id'),
      type: h.get('ce-type'),
      source: h.get('ce-source'),
    }).toEqual({
      msgId: callId,
      callId,
      method: 'POST',
      path: '/orders?id=7',
      callback: 'http://cb.example/x',
      traceparent: '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01',
      spec: '1.0',
      id: callId,
      type: 'dev.kubefaas.async.call',
      source: '/kubefaas/async/wired',
    });
    expect(JSON.parse(h.get('Kubefaas-Http-Headers'))).toEqual({ 'content-type': 'text/plain', 'x-custom': 'yes' });
    expect(new Date(h.get('ce-time')).toString()).not.toBe('Invalid Date');
    expect(await q.getCallState(callId)).toMatchObject({
      state: 'queued',
      callbackUrl: 'http://cb.example/x',
      function: 'wired',
    });
  });

  test('when the server is gone, enqueueing fails with QueueUnavailableError instead of pretending success', async () => {
    const lonely = await NatsServer.start();
    const config = testConfig('down');
    const q = await QueueClient.connect({ servers: [lonely.url], config, log: quietLog, publishTimeoutMs: 1500 });
    try {
      await lonely.stop();
      await expect(q.enqueueCall('f', request('lost?'))).rejects.toBeInstanceOf(QueueUnavailableError);
    } finally {
      await q.nc.close();
      await lonely.dispose();
    }
  });
});
