/**
 * What the router serves on which listener (issue 15 item 9), on both HTTP paths of the public
 * listener (fast path and node:http) over real sockets, with a real nats-server for async calls:
 * - public: declared routes; `/function/<name>` only for functions whose table entry lists
 *   `invocation.byName` methods (others 405 with Allow, a function that did not opt in 404);
 *   `/async-function/<name>` only with `invocation.async`; never `/healthz` `/readyz` `/metrics`
 *   (not even through a parameter route or `/function/<name>/metrics`); the platform's policies;
 * - admin: health, metrics, and every function by name (any method) and async, without policies.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEnv, type RouteTable } from '../../src/contract';
import { NatsServer } from '../queue/nats-server';
import { testConfig } from '../queue/support';
import {
  ConfigMapDir,
  type RouterProcess,
  type Upstream,
  echoUpstream,
  eventually,
  killAllRouters,
  request,
  startRouter,
  table,
} from './harness';

jest.setTimeout(60_000);

const routesOf = (url: string, extra: Partial<RouteTable> = {}): RouteTable => ({
  ...table(
    {
      open: { url, invocation: { byName: ['GET', 'POST'], async: true } },
      getonly: { url, invocation: { byName: ['GET'] } },
      closed: url,
      // A queue-only function: no routes, nothing public.
      qonly: url,
    },
    [
      { function: 'open', methods: ['GET', 'POST'], path: '/open' },
      { function: 'getonly', methods: ['GET'], path: '/getonly' },
      { function: 'closed', methods: ['GET'], path: '/closed' },
      // A parameter route that would match `/metrics` if the public listener forwarded it.
      { function: 'closed', methods: ['GET'], path: '/:page' },
    ],
  ),
  ...extra,
});

describe.each([
  ['fast path', {}],
  ['node:http', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router listeners (%s)', (_label, env: Record<string, string>) => {
  let nats: NatsServer;
  let upstream: Upstream;
  let routes: ConfigMapDir;
  let router: RouterProcess;
  const status = async (port: number, method: string, path: string, body?: string): Promise<number> =>
    (
      await request(port, {
        method,
        path,
        ...(body !== undefined ? { body, headers: { 'content-length': Buffer.byteLength(body) } } : {}),
      })
    ).status;

  beforeAll(async () => {
    [nats, upstream] = await Promise.all([NatsServer.start(), echoUpstream()]);
    routes = new ConfigMapDir(routesOf(upstream.url));
    router = await startRouter(routes.file, {
      ...env,
      [QueueEnv.NATS_URL]: nats.url,
      [QueueEnv.QUEUE_CONFIG]: JSON.stringify(testConfig(`expose${Object.keys(env).length}`)),
    });
    // The queue connects in the background: wait until the admin path accepts an async call.
    await eventually(async () => (await status(router.adminPort, 'POST', '/async-function/qonly', '{}')) === 202);
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await upstream?.close();
    await nats?.dispose();
    routes?.remove();
  });

  it('public by name: 404 for functions that did not opt in, whatever the method', async () => {
    const before = upstream.received.length;
    for (const fn of ['closed', 'qonly'])
      for (const method of ['GET', 'POST', 'DELETE', 'HEAD']) {
        const path = `/function/${fn}${method === 'POST' ? '/x?y=1' : ''}`;
        expect({ method, path, status: await status(router.port, method, path, '') }).toEqual({
          method,
          path,
          status: 404,
        });
      }
    expect(upstream.received.length).toBe(before);
  });

  it("public by name: the function's own methods (GET admits HEAD); others 405 with Allow", async () => {
    expect(await status(router.port, 'GET', '/function/getonly')).toBe(200);
    expect(await status(router.port, 'HEAD', '/function/getonly/a')).toBe(200);
    const post = await request(router.port, { method: 'POST', path: '/function/getonly', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(post.json().error).toContain('POST');
    const del = await request(router.port, { method: 'DELETE', path: '/function/open/x' });
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe('GET, HEAD, POST');
    const ok = await request(router.port, { method: 'POST', path: '/function/open/deep?q=1', body: 'abc' });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ method: 'POST', url: '/deep?q=1', bytes: 3 });
  });

  it('admin by name: every function, any method', async () => {
    for (const [fn, method] of [
      ['qonly', 'DELETE'],
      ['closed', 'POST'],
      ['getonly', 'PUT'],
    ] as const) {
      // An explicit length: node's client frames no DELETE body by itself.
      const reply = await request(router.adminPort, {
        method,
        path: `/function/${fn}/p`,
        headers: { 'content-length': 1 },
        body: 'x',
      });
      expect({ fn, status: reply.status, method: reply.json().method }).toEqual({ fn, status: 200, method });
    }
  });

  it('async: public only for functions that opted in; the admin listener takes every function', async () => {
    const accepted = await request(router.port, { method: 'POST', path: '/async-function/open', body: '{}' });
    expect(accepted.status).toBe(202);
    const callId = accepted.json().callId as string;
    expect((await request(router.port, { path: `/async-function/open/${callId}` })).status).toBe(200);
    for (const fn of ['closed', 'qonly', 'getonly']) {
      const reply = await request(router.port, { method: 'POST', path: `/async-function/${fn}`, body: '{}' });
      expect({ fn, status: reply.status }).toEqual({ fn, status: 404 });
    }
    const internal = await request(router.adminPort, { method: 'POST', path: '/async-function/closed', body: '{}' });
    expect(internal.status).toBe(202);
    const internalId = internal.json().callId as string;
    expect((await request(router.adminPort, { path: `/async-function/closed/${internalId}` })).status).toBe(200);
    // Its state is not readable on the public listener either.
    expect((await request(router.port, { path: `/async-function/closed/${internalId}` })).status).toBe(404);
  });

  it('public: no /healthz, /readyz, /metrics — not even through a parameter route or a by-name path', async () => {
    const before = upstream.received.length;
    for (const path of [
      '/healthz',
      '/readyz',
      '/metrics',
      '/metrics?x=1',
      '/function/open/metrics',
      '/function/open/healthz?x',
    ]) {
      expect({ path, status: await status(router.port, 'GET', path) }).toEqual({ path, status: 404 });
    }
    expect(upstream.received.length).toBe(before);
    // The parameter route itself still works.
    expect(await status(router.port, 'GET', '/anything')).toBe(200);
  });

  it('admin: health, readiness and metrics; routes are not served there', async () => {
    expect(await status(router.adminPort, 'GET', '/healthz')).toBe(200);
    expect(await status(router.adminPort, 'GET', '/readyz')).toBe(200);
    const metrics = await request(router.adminPort, { path: '/metrics' });
    expect(metrics.status).toBe(200);
    expect(metrics.text()).toContain('kubefaas_router_requests_total');
    const route = await request(router.adminPort, { path: '/open' });
    expect(route.status).toBe(404);
    expect(route.json().error).toContain('/open');
  });

  it('a new table changes what is public without a restart', async () => {
    routes.write(table({ closed: { url: upstream.url, invocation: { byName: ['DELETE'] } }, qonly: upstream.url }, []));
    await eventually(async () => (await status(router.port, 'DELETE', '/function/closed')) === 200);
    expect(await status(router.port, 'GET', '/function/closed')).toBe(405);
    expect(await status(router.port, 'GET', '/function/open')).toBe(404);
    routes.write(routesOf(upstream.url));
    await eventually(async () => (await status(router.port, 'GET', '/function/open')) === 200);
  });

  it('logged no uncaught exception', () => {
    expect(router.logs.filter((l) => l.msg === 'uncaught exception')).toEqual([]);
  });
});

describe.each([
  ['fast path', {}],
  ['node:http', { KUBEFAAS_ROUTER_FAST_PATH: 'off' }],
])('router listeners with platform auth (%s)', (_label, env: Record<string, string>) => {
  let upstream: Upstream;
  let routes: ConfigMapDir;
  let router: RouterProcess;
  let secrets: string;

  beforeAll(async () => {
    upstream = await echoUpstream();
    secrets = mkdtempSync(join(tmpdir(), 'kubefaas-expose-secrets-'));
    mkdirSync(join(secrets, 'keys'));
    writeFileSync(join(secrets, 'keys', 'client'), 'client-key');
    routes = new ConfigMapDir(
      routesOf(upstream.url, { policies: { auth: { type: 'apiKeys', secret: 'keys' }, trustedProxies: 0 } }),
    );
    router = await startRouter(routes.file, { ...env, KUBEFAAS_ROUTER_SECRETS_DIR: secrets });
    await router.waitForLog((l) => l.msg === 'secret loaded', 'keys loaded');
  });

  afterAll(async () => {
    await router?.stop();
    killAllRouters();
    await upstream?.close();
    routes?.remove();
    rmSync(secrets, { recursive: true, force: true });
  });

  it("applies the platform's policies to public by-name calls, not to the admin listener's internal ones", async () => {
    expect((await request(router.port, { path: '/function/open' })).status).toBe(401);
    const keyed = await request(router.port, { path: '/function/open', headers: { 'x-api-key': 'client-key' } });
    expect(keyed.status).toBe(200);
    // Internal callers (the cron sender, `kubefaas invoke`) carry no credentials.
    expect((await request(router.adminPort, { path: '/function/open' })).status).toBe(200);
    expect((await request(router.adminPort, { method: 'POST', path: '/function/closed', body: '' })).status).toBe(200);
    // A function that did not opt in is 404 before any policy runs (nothing to authenticate).
    expect((await request(router.port, { path: '/function/closed' })).status).toBe(404);
  });
});
