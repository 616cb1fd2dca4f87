/**
 * The verified caller on the async path (issue 11): `POST /async-function/<name>` under the
 * platform's auth policy stores the router's `x-kubefaas-auth` with the call, and the function's
 * runtime gives it to the handler as `event.auth` when it consumes the call; a client's own
 * `x-kubefaas-auth` never gets through, with or without an auth policy. Also CORS on the async
 * endpoint (preflight, headers on the 202). Real processes: nats-server, the runtime and router bundles.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env, QueueEnv, type QueueConfig, type QueueSubscription } from '../../src/contract';
import { podNode } from '../support/pod-node';
import { NatsServer } from '../queue/nats-server';
import { testConfig } from '../queue/support';
import {
  ConfigMapDir,
  RUNTIME_BUNDLE,
  type RouterProcess,
  eventually,
  freePort,
  killAllRouters,
  request,
  startRouter,
} from './harness';

const APP = 'https://app.example.com';
const forged = Buffer.from(JSON.stringify({ type: 'apiKey', keyId: 'admin' })).toString('base64url');

describe.each([
  ['fast path on', {}],
  ['fast path off', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('async calls carry the verified caller (%s)', (_label, env: Record<string, string>) => {
  let dir: string;
  let nats: NatsServer;
  let runtime: ChildProcess;
  let guarded: RouterProcess;
  let open: RouterProcess;
  const tables: ConfigMapDir[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubefaas-async-auth-'));
    writeFileSync(
      join(dir, 'handler.js'),
      `module.exports = async (event) => ({ auth: event.auth ?? null, header: event.headers['x-kubefaas-auth'] ?? null });`,
    );
    mkdirSync(join(dir, 'secrets', 'keys'), { recursive: true });
    writeFileSync(join(dir, 'secrets', 'keys', 'partner'), 'partner-key');
    nats = await NatsServer.start();
    const config: QueueConfig = testConfig(`asyncauth${Object.keys(env).length}`);
    const subscription: QueueSubscription = {
      kind: 'async',
      subject: `${config.asyncPrefix}.worker`,
      durable: 'worker_async',
      trigger: 'async',
      maxInFlight: 4,
      ackWaitMs: 10_000,
      maxRetries: 1,
      backoffMs: [50],
      ordered: false,
    };
    const port = await freePort();
    runtime = spawn(podNode(), [RUNTIME_BUNDLE], {
      env: {
        PATH: process.env.PATH ?? '',
        [Env.PORT]: String(port),
        [Env.FUNCTION_NAME]: 'worker',
        [Env.HANDLER_PATH]: join(dir, 'handler.js'),
        [QueueEnv.NATS_URL]: nats.url,
        [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config),
        [QueueEnv.SUBSCRIPTIONS]: JSON.stringify([subscription]),
      },
      stdio: 'ignore',
    });
    await eventually(
      async () => (await request(port, { path: '/readyz' }).catch(() => ({ status: 0 }))).status === 200,
    );
    // Async calls from outside are an opt-in of the function (issue 15 item 9).
    const functions = { worker: { url: `http://127.0.0.1:${port}`, timeoutMs: 10_000, invocation: { async: true } } };
    const queueEnv = { [QueueEnv.NATS_URL]: nats.url, [QueueEnv.QUEUE_CONFIG]: JSON.stringify(config) };
    const guardedTable = new ConfigMapDir({
      version: 1,
      functions,
      routes: [],
      policies: {
        auth: { type: 'apiKeys', secret: 'keys' },
        cors: { origins: [APP], methods: ['POST'], credentials: false, maxAgeSeconds: 60 },
        trustedProxies: 0,
      },
    });
    const openTable = new ConfigMapDir({ version: 1, functions, routes: [] });
    tables.push(guardedTable, openTable);
    guarded = await startRouter(guardedTable.file, {
      ...env,
      ...queueEnv,
      KUBEFAAS_ROUTER_SECRETS_DIR: join(dir, 'secrets'),
    });
    open = await startRouter(openTable.file, { ...env, ...queueEnv });
    await guarded.waitForLog((l) => l.msg === 'secret loaded', 'keys loaded');
  });

  afterAll(async () => {
    await guarded?.stop();
    await open?.stop();
    killAllRouters();
    runtime?.kill('SIGKILL');
    await nats?.dispose();
    for (const t of tables) t.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Submits an async call, retrying (bounded) while the router is still connecting to NATS (503). */
  async function submitAsync(router: RouterProcess, headers: Record<string, string>) {
    const submit = () => request(router.port, { method: 'POST', path: '/async-function/worker', headers, body: 'x' });
    let reply = await submit();
    for (let i = 0; reply.status === 503 && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      reply = await submit();
    }
    return reply;
  }

  async function callAndWait(router: RouterProcess, headers: Record<string, string>): Promise<unknown> {
    const accepted = await submitAsync(router, headers);
    expect(accepted.status).toBe(202);
    const callId = String(accepted.headers['x-call-id']);
    let state: { state: string; result?: { body: string } } = { state: 'queued' };
    await eventually(async () => {
      const reply = await request(router.port, { path: `/async-function/worker/${callId}`, headers });
      state = reply.json();
      return state.state === 'succeeded' || state.state === 'failed';
    });
    expect(state.state).toBe('succeeded');
    return JSON.parse(state.result!.body);
  }

  it('gives the handler the caller the router verified as event.auth, never a forged header', async () => {
    const seen = await callAndWait(guarded, { 'x-api-key': 'partner-key', 'x-kubefaas-auth': forged });
    expect(seen).toEqual({ auth: { type: 'apiKey', keyId: 'partner' }, header: expect.any(String) });
    expect((seen as { header: string }).header).not.toBe(forged);
  });

  it('refuses an async call without credentials with 401 (CORS headers on), before anything is queued', async () => {
    const refused = await request(guarded.port, {
      method: 'POST',
      path: '/async-function/worker',
      headers: { origin: APP },
      body: 'x',
    });
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(APP);
  });

  it('drops a client’s x-kubefaas-auth on a platform without auth: no event.auth', async () => {
    expect(await callAndWait(open, { 'x-kubefaas-auth': forged })).toEqual({ auth: null, header: null });
  });

  it('an Idempotency-Key (or X-Call-Id) returns the first call; the call id is generated, never the key', async () => {
    const submit = (headers: Record<string, string>) => submitAsync(open, headers);
    const key = `order-${Object.keys(env).length}`;
    const first = await submit({ 'idempotency-key': key });
    expect(first.status).toBe(202);
    const callId = String(first.headers['x-call-id']);
    expect(callId).toMatch(/^[0-9a-f-]{36}$/);
    const again = await submit({ 'x-call-id': key });
    expect([again.status, again.headers['x-call-id'], again.json()]).toEqual([
      202,
      callId,
      { callId, status: 'duplicate' },
    ]);
    expect((await request(open.port, { path: `/async-function/worker/${key}` })).status).toBe(404);
    expect((await submit({ 'idempotency-key': 'not a key!' })).status).toBe(400);
  });

  it('answers CORS preflights for the async endpoint and exposes X-Call-Id on the 202', async () => {
    const pre = await request(guarded.port, {
      method: 'OPTIONS',
      path: '/async-function/worker',
      headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(APP);
    const accepted = await request(guarded.port, {
      method: 'POST',
      path: '/async-function/worker',
      headers: { origin: APP, 'x-api-key': 'partner-key' },
      body: 'x',
    });
    expect(accepted.status).toBe(202);
    expect(accepted.headers['access-control-allow-origin']).toBe(APP);
    expect(accepted.headers['access-control-expose-headers']).toContain('x-call-id');
  });
});
