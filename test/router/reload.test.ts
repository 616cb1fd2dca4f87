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

describe('router: route table reload', () => {
  let alpha: Upstream;
  let beta: Upstream;
  const dirs: ConfigMapDir[] = [];
  const routers: RouterProcess[] = [];

  beforeAll(async () => {
    [alpha, beta] = await Promise.all([echoUpstream(), echoUpstream()]);
  });

  afterAll(async () => {
    await Promise.all(routers.map((r) => r.stop()));
    killAllRouters();
    await Promise.all([alpha, beta].map((u) => u?.close()));
    for (const d of dirs) d.remove();
  });

  async function routerOn(
    initial?: Parameters<ConfigMapDir['write']>[0],
  ): Promise<{ routes: ConfigMapDir; router: RouterProcess }> {
    const routes = new ConfigMapDir(initial);
    dirs.push(routes);
    const router = await startRouter(routes.file);
    routers.push(router);
    return { routes, router };
  }

  const fnAt = async (router: RouterProcess, path: string, port = router.port): Promise<string | number> => {
    const reply = await request(port, { path });
    return reply.status === 200 ? reply.json().headers['x-kubefaas-function'] : reply.status;
  };

  it('picks up a table swapped in like kubelet does (..data symlink), without restarting', async () => {
    const { routes, router } = await routerOn(
      table({ alpha: alpha.url }, [{ function: 'alpha', methods: ['GET'], path: '/a' }]),
    );
    expect(await fnAt(router, '/a')).toBe('alpha');
    expect(await fnAt(router, '/b')).toBe(404);

    routes.write(
      table({ alpha: alpha.url, beta: beta.url }, [
        { function: 'beta', methods: ['GET'], path: '/b' },
        { function: 'alpha', methods: ['GET'], path: '/a2' },
      ]),
    );
    await eventually(async () => (await fnAt(router, '/b')) === 'beta');
    expect(await fnAt(router, '/a')).toBe(404);
    expect(await fnAt(router, '/a2')).toBe('alpha');
    expect(await fnAt(router, '/function/beta', router.adminPort)).toBe('beta');
    expect(router.proc.exitCode).toBeNull();
    // Log lines are flushed in batches (every 10 ms): wait for the second load's line, not just its effect.
    await router.waitForLog((l) => l.msg === 'route table loaded' && l.functions === 2, 'second route table loaded');
    expect(router.logs.filter((l) => l.msg === 'listening')).toHaveLength(1);
    expect(router.logs.filter((l) => l.msg === 'route table loaded')).toHaveLength(2);
  });

  it('keeps serving the previous table when a new one is invalid', async () => {
    const { routes, router } = await routerOn(
      table({ alpha: alpha.url }, [{ function: 'alpha', methods: ['GET'], path: '/a' }]),
    );

    routes.write('{"version": 1, "functions": {');
    await router.waitForLog(
      (l) => l.msg === 'route table rejected, keeping the previous one',
      'rejection of broken JSON',
    );
    expect(await fnAt(router, '/a')).toBe('alpha');

    // Structurally fine, but two routes claim GET /x: the matcher refuses it.
    routes.write(
      table({ alpha: alpha.url, beta: beta.url }, [
        { function: 'alpha', methods: ['GET'], path: '/x' },
        { function: 'beta', methods: ['GET', 'POST'], path: '/x' },
      ]),
    );
    const conflict = await router.waitForLog(
      (l) => typeof l.reason === 'string' && l.reason.includes('routes[1]'),
      'rejection of conflicting routes',
    );
    expect(conflict.msg).toBe('route table rejected, keeping the previous one');
    expect(await fnAt(router, '/a')).toBe('alpha');
    expect(await fnAt(router, '/x')).toBe(404);

    routes.write(table({ alpha: alpha.url }, [{ function: 'ghost', methods: ['GET'], path: '/g' }]));
    const unknownFn = await router.waitForLog(
      (l) => typeof l.reason === 'string' && l.reason.includes('"ghost" is not in "functions"'),
      'rejection of unknown function',
    );
    expect(unknownFn.level).toBe('error');
    expect(await fnAt(router, '/a')).toBe('alpha');
    expect((await request(router.adminPort, { path: '/readyz' })).status).toBe(200);
  });

  it('is not ready until a table exists, then becomes ready when one appears', async () => {
    const { routes, router } = await routerOn();
    const notReady = await request(router.adminPort, { path: '/readyz' });
    expect(notReady.status).toBe(503);
    expect((await request(router.adminPort, { path: '/healthz' })).status).toBe(200);
    const early = await request(router.port, { path: '/a' });
    expect(early.status).toBe(503);
    expect(early.json()).toEqual({ error: 'route table not loaded yet' });

    routes.write(table({ alpha: alpha.url }, [{ function: 'alpha', methods: ['GET'], path: '/a' }]));
    await eventually(async () => (await request(router.adminPort, { path: '/readyz' })).status === 200);
    expect(await fnAt(router, '/a')).toBe('alpha');
  });

  it('moves a function to a new URL and drops removed functions', async () => {
    const { routes, router } = await routerOn(
      table({ svc: alpha.url }, [{ function: 'svc', methods: ['GET'], path: '/svc' }]),
    );
    const alphaBefore = alpha.received.length;
    expect((await request(router.port, { path: '/svc' })).status).toBe(200);
    expect(alpha.received.length).toBe(alphaBefore + 1);

    routes.write(table({ svc: beta.url }, [{ function: 'svc', methods: ['GET'], path: '/svc' }]));
    const betaBefore = beta.received.length;
    await eventually(async () => {
      await request(router.port, { path: '/svc' });
      return beta.received.length > betaBefore;
    });

    routes.write(table({ other: beta.url }, [{ function: 'other', methods: ['GET'], path: '/other' }]));
    await eventually(async () => (await request(router.port, { path: '/svc' })).status === 404);
    expect((await request(router.adminPort, { path: '/function/svc' })).status).toBe(404);
  });
});
