/**
 * What is callable from outside (issue 15 item 9), at synth: a function's public by-name and async
 * invocation are opt-ins (`invocation`), recorded in the route table; the exposure objects route
 * only what the router serves publicly; the admin port is on a ClusterIP Service of its own; the
 * monitors scrape the router there. Every synthesized object is schema-checked.
 */
import {
  ContainerFunction,
  CronTrigger,
  HttpTrigger,
  NodeFunction,
  Platform,
  Queue,
  QueueTrigger,
  RouterExposure,
  Size,
} from '../../constructs';
import { Metrics } from '../../constructs/metrics';
import { NOTHING_PUBLIC_RULE } from '../../constructs/exposure';
import { clearWarnings, recordedWarnings } from '../../constructs/placement/warnings';
import { coarsePublicPaths, publicPaths } from '../../constructs/public-paths';
import { Paths, type RouteTable } from '../../src/contract';
import { container, errorOf, expectValid, find, INLINE, newPlatform, synth } from './helpers';

type Objects = ReturnType<typeof synth>;

const routesOf = (objects: Objects): RouteTable =>
  JSON.parse(find(objects, 'ConfigMap', 'kubefaas-routes').data[Paths.routesFile]);
const gateway = () => RouterExposure.gatewayApi({ gatewayName: 'public' });
const httpRouteMatches = (objects: Objects): unknown[] =>
  find(objects, 'HTTPRoute', 'kubefaas-router').spec.rules.flatMap((r: { matches: unknown[] }) => r.matches);
const ingressPaths = (objects: Objects): unknown[] =>
  (find(objects, 'Ingress', 'kubefaas-router').spec.rules?.[0]?.http.paths ?? []).map(
    (p: { path: string; pathType: string }) => ({ path: p.path, pathType: p.pathType }),
  );
const withQueue = { queue: Queue.nats({ storage: Size.gibibytes(1) }) };

beforeEach(() => clearWarnings());

describe('invocation: public by-name and async calls are per-function opt-ins', () => {
  test('by default nothing beyond the routes is public: no `invocation` in the route table', async () => {
    const platform = newPlatform(withQueue);
    new NodeFunction(platform, 'web', { code: INLINE, triggers: [new HttpTrigger({ path: '/web' })] });
    new NodeFunction(platform, 'worker', { code: INLINE, triggers: [new QueueTrigger({ topic: 'jobs' })] });
    const objects = synth(platform);
    const table = routesOf(objects);
    expect(table.functions.web.invocation).toBeUndefined();
    expect(table.functions.worker.invocation).toBeUndefined();
    await expectValid(objects, { externalSecrets: ['kubefaas-nats-auth'] });
  });

  test("byName takes the methods of the function's HttpTriggers (all of them, in HTTP_METHODS order)", () => {
    const platform = newPlatform(withQueue);
    const fn = new NodeFunction(platform, 'users', {
      code: INLINE,
      invocation: { byName: true, async: true },
      triggers: [new HttpTrigger({ path: '/users/:id', methods: ['delete', 'GET'] })],
    });
    // Triggers added after construction count too (read at synth).
    fn.addTrigger(new HttpTrigger({ path: '/users', methods: ['POST'] }));
    expect(routesOf(synth(platform)).functions.users.invocation).toEqual({
      byName: ['GET', 'POST', 'DELETE'],
      async: true,
    });
  });

  test("byNameMethods replaces the triggers' methods (and serves a function without HttpTriggers)", () => {
    const platform = newPlatform(withQueue);
    new NodeFunction(platform, 'worker', {
      code: INLINE,
      invocation: { byName: true, byNameMethods: ['post', 'PUT', 'POST'] },
      triggers: [new QueueTrigger({ topic: 'jobs' })],
    });
    new NodeFunction(platform, 'reader', {
      code: INLINE,
      invocation: { async: true },
      triggers: [new HttpTrigger({ path: '/read', methods: ['GET'] })],
    });
    const table = routesOf(synth(platform));
    expect(table.functions.worker.invocation).toEqual({ byName: ['POST', 'PUT'] });
    expect(table.functions.reader.invocation).toEqual({ async: true });
  });

  test.each([
    [{ byName: 'yes' }, 'invocation.byName must be true or false'],
    [{ async: 1 }, 'invocation.async must be true or false'],
    [{ byNameMethods: ['GET'] }, 'invocation.byNameMethods is set but invocation.byName is not'],
    [{ byName: true, byNameMethods: [] }, 'invocation.byNameMethods has an empty method list'],
    [{ byName: true, byNameMethods: ['FETCH'] }, "invocation.byNameMethods has an unsupported method 'FETCH'"],
    ['all', '`invocation` must be an object'],
  ])('rejects %j at construction, naming the construct', (invocation, message) => {
    const platform = newPlatform();
    const error = errorOf(() => new NodeFunction(platform, 'bad', { code: INLINE, invocation: invocation as never }));
    expect(error.message).toContain('[platform/bad]');
    expect(error.message).toContain(message);
  });

  test('rejects at synth what depends on triggers, the queue and the function kind', () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'nomethods', { code: INLINE, invocation: { byName: true } });
    new NodeFunction(platform, 'noqueue', {
      code: INLINE,
      invocation: { async: true },
      triggers: [new HttpTrigger({ path: '/nq' })],
    });
    const message = errorOf(() => synth(platform)).message;
    expect(message).toContain('nomethods');
    expect(message).toContain('invocation.byName is true but the function has no HttpTrigger');
    expect(message).toContain("byNameMethods: ['POST']");
    expect(message).toContain('noqueue');
    expect(message).toContain('invocation.async needs the platform to have a queue');

    const queued = newPlatform(withQueue);
    new ContainerFunction(queued, 'image', {
      image: 'example/app:1.0',
      invocation: { async: true },
      triggers: [new HttpTrigger({ path: '/img' })],
    });
    expect(errorOf(() => synth(queued)).message).toContain(
      'invocation.async: only functions that run the kubefaas runtime consume async calls',
    );
  });
});

describe('the router: admin port on its own Service, never behind an exposure', () => {
  test('LoadBalancer: the public Service carries only the public port; the admin Service stays ClusterIP', async () => {
    const objects = synth(newPlatform({ router: { exposure: RouterExposure.loadBalancer() } }));
    const lb = find(objects, 'Service', 'kubefaas-router');
    expect(lb.spec.type).toBe('LoadBalancer');
    expect(lb.spec.ports.map((p: { port: number }) => p.port)).toEqual([80]);
    const admin = find(objects, 'Service', 'kubefaas-router-admin');
    expect(admin.spec.type).toBeUndefined();
    expect(admin.spec.ports).toEqual([{ name: 'admin', port: 8081, targetPort: 'admin', protocol: 'TCP' }]);
    await expectValid(objects);
  });

  test('a CronTrigger without a queue ticks through the admin URL (every function is callable by name there)', async () => {
    const platform = newPlatform({ namespace: 'faas' });
    new NodeFunction(platform, 'nightly', { code: INLINE, triggers: [new CronTrigger({ schedule: '0 3 * * *' })] });
    const objects = synth(platform);
    const cronJob = objects.find((o) => o.kind === 'CronJob')!;
    const env = cronJob.spec.jobTemplate.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({
      name: 'KUBEFAAS_ROUTER_URL',
      value: 'http://kubefaas-router-admin.faas.svc.cluster.local:8081',
    });
    expect(platform.routerAdminUrl).toBe('http://kubefaas-router-admin.faas.svc.cluster.local:8081');
    // The function itself opted in to nothing.
    expect(routesOf(objects).functions.nightly.invocation).toBeUndefined();
    await expectValid(objects);
  });

  test('monitors scrape functions on `http` and the router on `admin`; the bundled job keeps each on its port', async () => {
    const operator = newPlatform({ metrics: Metrics.operator({ monitor: 'ServiceMonitor' }) });
    new NodeFunction(operator, 'hello', { code: INLINE, triggers: [new HttpTrigger({ path: '/hello' })] });
    const objects = synth(operator);
    const monitor = find(objects, 'ServiceMonitor', 'kubefaas');
    expect(monitor.spec.endpoints.map((e: { port: string }) => e.port)).toEqual(['http', 'admin']);
    expect(monitor.spec.endpoints.map((e: { relabelings: unknown[] }) => e.relabelings.at(-1))).toEqual([
      { sourceLabels: ['component'], regex: 'function', action: 'keep' },
      { sourceLabels: ['component'], regex: 'router', action: 'keep' },
    ]);
    await expectValid(objects);

    const bundled = synth(newPlatform({ metrics: Metrics.prometheus({ ephemeral: true }) }));
    const yaml = find(bundled, 'ConfigMap', 'kubefaas-prometheus').data['prometheus.yml'] as string;
    expect(yaml).toContain('regex: function;8080|router;8081');
    expect(
      container(find(bundled, 'Deployment', 'kubefaas-router')).ports.map((p: { name: string }) => p.name),
    ).toEqual(['http', 'admin']);
  });
});

describe('exposures route only what the router serves publicly', () => {
  function platformWith(exposure: RouterExposure, opts: { byName?: boolean; async?: boolean } = {}): Platform {
    const platform = newPlatform({ router: { exposure }, ...withQueue });
    new NodeFunction(platform, 'site', {
      code: INLINE,
      triggers: [
        new HttpTrigger({ path: '/' }),
        new HttpTrigger({ path: '/hello', methods: ['GET'] }),
        new HttpTrigger({ path: '/users/:id' }),
        new HttpTrigger({ path: '/users/:id/posts' }),
        new HttpTrigger({ path: '/orgs/:org/members' }),
        new HttpTrigger({ path: '/files/*' }),
        new HttpTrigger({ path: '/files/readme' }),
        new HttpTrigger({ path: '/api', host: 'api.example.com' }),
      ],
    });
    new NodeFunction(platform, 'other', {
      code: INLINE,
      invocation: {
        byName: opts.byName ?? false,
        async: opts.async ?? false,
        ...(opts.byName ? { byNameMethods: ['POST'] } : {}),
      },
      triggers: [new QueueTrigger({ topic: 'work' })],
    });
    return platform;
  }
  const EXPECTED_ROUTE_PATHS = [
    { type: 'Exact', value: '/' },
    { type: 'Exact', value: '/api' },
    { type: 'PathPrefix', value: '/files' },
    { type: 'Exact', value: '/hello' },
    { type: 'PathPrefix', value: '/orgs' },
    { type: 'PathPrefix', value: '/users' },
  ];

  test('HTTPRoute: exact static paths, prefixes before the first parameter; no /function/ without an opt-in', async () => {
    const objects = synth(platformWith(gateway()));
    expect(httpRouteMatches(objects)).toEqual(EXPECTED_ROUTE_PATHS.map((path) => ({ path })));
    await expectValid(objects, { externalSecrets: ['kubefaas-nats-auth'] });
  });

  test('HTTPRoute: /function and /async-function prefixes once a function opts in, never the admin endpoints', async () => {
    const objects = synth(platformWith(gateway(), { byName: true, async: true }));
    const matches = httpRouteMatches(objects) as Array<{ path: { type: string; value: string } }>;
    expect(matches.map((m) => m.path)).toEqual(
      expect.arrayContaining([
        { type: 'PathPrefix', value: '/async-function' },
        { type: 'PathPrefix', value: '/function' },
      ]),
    );
    expect(matches).toHaveLength(EXPECTED_ROUTE_PATHS.length + 2);
    for (const m of matches) expect(['/metrics', '/healthz', '/readyz']).not.toContain(m.path.value);
    expect(matches.some((m) => m.path.type === 'PathPrefix' && m.path.value === '/')).toBe(false);
    // At most 8 matches per rule (the Gateway API schema), every rule to the router with the timeout.
    const rules = find(objects, 'HTTPRoute', 'kubefaas-router').spec.rules;
    expect(rules.map((r: { matches: unknown[] }) => r.matches.length)).toEqual([8]);
    await expectValid(objects, { externalSecrets: ['kubefaas-nats-auth'] });
  });

  test('Ingress: the same paths, Exact and Prefix', async () => {
    const objects = synth(platformWith(RouterExposure.ingress({ host: 'fn.example.com' }), { async: true }));
    expect(ingressPaths(objects)).toEqual([
      ...EXPECTED_ROUTE_PATHS.slice(0, 1).map((p) => ({ path: p.value, pathType: 'Exact' })),
      { path: '/api', pathType: 'Exact' },
      { path: '/async-function', pathType: 'Prefix' },
      { path: '/files', pathType: 'Prefix' },
      { path: '/hello', pathType: 'Exact' },
      { path: '/orgs', pathType: 'Prefix' },
      { path: '/users', pathType: 'Prefix' },
    ]);
    await expectValid(objects, { externalSecrets: ['kubefaas-nats-auth'] });
  });

  test('a catch-all route is the one case of a prefix "/" (it is what the user declared)', () => {
    const platform = newPlatform({ router: { exposure: gateway() } });
    new NodeFunction(platform, 'spa', { code: INLINE, triggers: [new HttpTrigger({ path: '/*' })] });
    new NodeFunction(platform, 'api', {
      code: INLINE,
      invocation: { byName: true },
      triggers: [new HttpTrigger({ path: '/api' })],
    });
    expect(httpRouteMatches(synth(platform))).toEqual([{ path: { type: 'PathPrefix', value: '/' } }]);
  });

  test('nothing public: the exposure routes nothing (an empty HTTPRoute rule list, an Ingress without rules) and says so', async () => {
    const routeOnly = newPlatform({ router: { exposure: gateway() }, ...withQueue });
    new NodeFunction(routeOnly, 'worker', { code: INLINE, triggers: [new QueueTrigger({ topic: 'jobs' })] });
    const objects = synth(routeOnly);
    expect(find(objects, 'HTTPRoute', 'kubefaas-router').spec.rules).toEqual([]);
    expect(recordedWarnings().map((w) => w.rule)).toContain(NOTHING_PUBLIC_RULE);
    await expectValid(objects, { externalSecrets: ['kubefaas-nats-auth'] });

    const ingress = synth(newPlatform({ router: { exposure: RouterExposure.ingress() } }));
    expect(find(ingress, 'Ingress', 'kubefaas-router').spec.rules).toBeUndefined();
    await expectValid(ingress);
  });

  test('more paths than an HTTPRoute holds: widened to first segments; too many first segments fail synth', async () => {
    const many = newPlatform({ router: { exposure: gateway() } });
    new NodeFunction(many, 'big', {
      code: INLINE,
      triggers: Array.from({ length: 200 }, (_, i) => new HttpTrigger({ path: `/area${i % 20}/item${i}` })),
    });
    const objects = synth(many);
    const matches = httpRouteMatches(objects);
    expect(matches).toHaveLength(20);
    expect(matches).toContainEqual({ path: { type: 'PathPrefix', value: '/area7' } });
    await expectValid(objects);

    const tooMany = newPlatform({ router: { exposure: gateway() } });
    new NodeFunction(tooMany, 'huge', {
      code: INLINE,
      triggers: Array.from({ length: 130 }, (_, i) => new HttpTrigger({ path: `/top${i}/x` })),
    });
    expect(errorOf(() => synth(tooMany)).message).toContain("the HTTPRoute cannot hold the platform's public paths");
  });
});

describe('publicPaths', () => {
  test('keeps the smallest set that admits every public request', () => {
    expect(
      publicPaths({
        routePaths: ['/a', '/a/:id', '/a/b', '/b/c', '/b/c/', '/b/*', '/c/:x/d'],
        byName: false,
        async: false,
      }),
    ).toEqual([
      { type: 'PathPrefix', value: '/a' },
      { type: 'PathPrefix', value: '/b' },
      { type: 'PathPrefix', value: '/c' },
    ]);
    expect(publicPaths({ routePaths: [], byName: true, async: false })).toEqual([
      { type: 'PathPrefix', value: '/function' },
    ]);
    expect(publicPaths({ routePaths: ['/x/y', '/x/y/'], byName: false, async: false })).toEqual([
      { type: 'Exact', value: '/x/y' },
      { type: 'Exact', value: '/x/y/' },
    ]);
  });

  test('coarse paths keep one-segment exact paths and widen the rest', () => {
    expect(
      coarsePublicPaths([
        { type: 'Exact', value: '/' },
        { type: 'Exact', value: '/ping' },
        { type: 'Exact', value: '/a/b' },
        { type: 'PathPrefix', value: '/a/c' },
      ]),
    ).toEqual([
      { type: 'Exact', value: '/' },
      { type: 'PathPrefix', value: '/a' },
      { type: 'Exact', value: '/ping' },
    ]);
  });
});
