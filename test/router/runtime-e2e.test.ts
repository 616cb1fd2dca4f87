/**
 * End to end through the bytes that ship: router bundle → runtime bundle → a handler, all real
 * processes. Only the public contract is used (env names, headers, handler signature).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/contract';
import {
  ConfigMapDir,
  RUNTIME_BUNDLE,
  type RouterProcess,
  eventually,
  freePort,
  killAllRouters,
  request,
  startRouter,
  table,
} from './harness';
import { podNode } from '../support/pod-node';

describe('router → function runtime', () => {
  let workDir: string;
  let runtime: ChildProcess;
  let routes: ConfigMapDir;
  let router: RouterProcess;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'kubefaas-router-e2e-'));
    const handlerPath = join(workDir, 'index.js');
    writeFileSync(
      handlerPath,
      `module.exports = async (event, context) => ({
        params: event.params, path: event.path, query: event.query, method: event.method,
        body: event.text(), requestId: context.requestId, traceparent: event.headers.traceparent,
        ...(event.auth ? { auth: event.auth } : {}),
      });`,
    );
    const port = await freePort();
    runtime = spawn(podNode(), [RUNTIME_BUNDLE], {
      env: {
        ...process.env,
        [Env.PORT]: String(port),
        [Env.FUNCTION_NAME]: 'greeter',
        [Env.HANDLER_PATH]: handlerPath,
      },
      stdio: 'ignore',
    });
    await eventually(
      async () => (await request(port, { path: '/readyz' }).catch(() => ({ status: 0 }))).status === 200,
    );
    routes = new ConfigMapDir(
      table({ greeter: { url: `http://127.0.0.1:${port}`, invocation: { byName: ['GET'] } } }, [
        { function: 'greeter', methods: ['GET', 'POST'], path: '/greet/:name' },
        {
          function: 'greeter',
          methods: ['GET'],
          path: '/keyed',
          policies: { auth: { type: 'apiKeys', secret: 'keys' } },
        },
      ]),
    );
    const keysDir = join(workDir, 'secrets', 'keys');
    mkdirSync(keysDir, { recursive: true });
    writeFileSync(join(keysDir, 'partner'), 'partner-key');
    router = await startRouter(routes.file, { KUBEFAAS_ROUTER_SECRETS_DIR: join(workDir, 'secrets') });
    await router.waitForLog((l) => l.msg === 'secret loaded', 'keys loaded');
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    runtime?.kill('SIGKILL');
    routes?.remove();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('gives the handler the verified caller as event.auth, and no event.auth from a forged header', async () => {
    const keyed = await request(router.port, { path: '/keyed', headers: { 'x-api-key': 'partner-key' } });
    expect(keyed.status).toBe(200);
    expect(keyed.json().auth).toEqual({ type: 'apiKey', keyId: 'partner' });
    const forged = Buffer.from(JSON.stringify({ type: 'apiKey', keyId: 'admin' })).toString('base64url');
    const open = await request(router.port, { path: '/greet/x', headers: { 'x-kubefaas-auth': forged } });
    expect(open.json().auth).toBeUndefined();
  });

  it('delivers path params, query, body, request id and traceparent to the handler', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const reply = await request(router.port, {
      method: 'POST',
      path: '/greet/ada?lang=en',
      headers: { 'x-request-id': 'e2e-1', traceparent, 'content-type': 'text/plain' },
      body: 'hi',
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-request-id']).toBe('e2e-1');
    expect(reply.json()).toEqual({
      params: { name: 'ada' },
      path: '/greet/ada',
      query: { lang: 'en' },
      method: 'POST',
      body: 'hi',
      requestId: 'e2e-1',
      traceparent,
    });
  });

  it('reaches the same function through /function/<name>/<rest> (opted in, GET only)', async () => {
    const reply = await request(router.port, { path: '/function/greeter/any/where' });
    expect(reply.status).toBe(200);
    expect(reply.json()).toMatchObject({ params: {}, path: '/any/where', method: 'GET' });
    const post = await request(router.port, { method: 'POST', path: '/function/greeter/any/where', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it("never publishes the runtime's own endpoints through a by-name path; the admin listener reaches them", async () => {
    for (const path of ['/function/greeter/metrics', '/function/greeter/healthz', '/function/greeter/readyz?x=1']) {
      expect({ path, status: (await request(router.port, { path })).status }).toEqual({ path, status: 404 });
    }
    const metrics = await request(router.adminPort, { path: '/function/greeter/metrics' });
    expect(metrics.status).toBe(200);
    expect(metrics.text()).toContain('kubefaas_');
  });
});
