import { Chart, Testing } from 'cdk8s';
import { Annotations, Labels, Paths, RouteTable } from '../../src/contract';
import { Cpu, Duration, HttpTrigger, NodeFunction, Platform, RouterExposure, Size } from '../../constructs';
import { podBundle } from '../../constructs/pod-code';
import {
  container,
  errorOf,
  expectValid,
  find,
  INLINE,
  kinds,
  maybeFind,
  newPlatform,
  synth,
  codeMap,
} from './helpers';

const COMMON = { [Labels.partOf]: 'kubefaas', [Labels.managedBy]: 'kubefaas' };

function routesOf(objects: ReturnType<typeof synth>): RouteTable {
  return JSON.parse(find(objects, 'ConfigMap', 'kubefaas-routes').data[Paths.routesFile]);
}

describe('Platform', () => {
  test('an empty platform: namespace, router code, route table, router Deployment/Service/PDB', async () => {
    const objects = synth(newPlatform());
    expect(kinds(objects)).toEqual(
      [
        `ConfigMap/${codeMap(objects, 'kubefaas-router').metadata.name}`,
        'ConfigMap/kubefaas-routes',
        'Deployment/kubefaas-router',
        'Namespace/kubefaas',
        'NetworkPolicy/kubefaas-router',
        'PodDisruptionBudget/kubefaas-router',
        'Service/kubefaas-router',
        'Service/kubefaas-router-admin',
      ].sort(),
    );
    const ns = find(objects, 'Namespace', 'kubefaas');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(ns.metadata.namespace).toBeUndefined();
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) {
      expect(o.metadata.namespace).toBe('kubefaas');
      expect(o.metadata.labels).toMatchObject(COMMON);
      expect(o.metadata.name).not.toMatch(/-c8[0-9a-f]{6}$/); // no cdk8s name hashes
    }
    expect(codeMap(objects, 'kubefaas-router').data['router.js']).toBe(podBundle('router').source);
    expect(routesOf(objects)).toEqual({ version: 1, functions: {}, routes: [] });
    await expectValid(objects);
  });

  test('router.fastPath: false turns the router fast path off through its env', async () => {
    const objects = synth(newPlatform({ router: { fastPath: false } }));
    expect(container(find(objects, 'Deployment', 'kubefaas-router')).env).toContainEqual({
      name: 'KUBEFAAS_ROUTER_FAST_PATH',
      value: 'off',
    });
    await expectValid(objects);
  });

  test('router.headersTimeout and bodyTimeout reach the router through its env (only when not the default)', async () => {
    const objects = synth(
      newPlatform({ router: { headersTimeout: Duration.seconds(5), bodyTimeout: Duration.minutes(2) } }),
    );
    const env = container(find(objects, 'Deployment', 'kubefaas-router')).env;
    expect(env).toContainEqual({ name: 'KUBEFAAS_ROUTER_HEADERS_TIMEOUT_MS', value: '5000' });
    expect(env).toContainEqual({ name: 'KUBEFAAS_ROUTER_BODY_TIMEOUT_MS', value: '120000' });
    await expectValid(objects);
    const defaults = synth(
      newPlatform({ router: { headersTimeout: Duration.seconds(10), bodyTimeout: Duration.seconds(30) } }),
    );
    const names = container(find(defaults, 'Deployment', 'kubefaas-router')).env.map((e: { name: string }) => e.name);
    expect(names).not.toContain('KUBEFAAS_ROUTER_HEADERS_TIMEOUT_MS');
    expect(names).not.toContain('KUBEFAAS_ROUTER_BODY_TIMEOUT_MS');
  });

  test('router.upstreamConnections reaches the router env; bad values name the prop', async () => {
    const objects = synth(
      newPlatform({ router: { upstreamConnections: { maxAge: Duration.minutes(2), maxRequests: 500 } } }),
    );
    const env = container(find(objects, 'Deployment', 'kubefaas-router')).env;
    expect(env).toContainEqual({ name: 'KUBEFAAS_ROUTER_UPSTREAM_MAX_AGE_MS', value: '120000' });
    expect(env).toContainEqual({ name: 'KUBEFAAS_ROUTER_UPSTREAM_MAX_REQUESTS', value: '500' });
    await expectValid(objects);
    expect(
      errorOf(() => newPlatform({ router: { upstreamConnections: { maxAge: Duration.millis(10) } } })).message,
    ).toContain('router.upstreamConnections.maxAge');
    expect(errorOf(() => newPlatform({ router: { upstreamConnections: { maxRequests: 0 } } })).message).toContain(
      'router.upstreamConnections.maxRequests',
    );
  });

  test('router Deployment: command, env, mounts, probes, pod label, code hash, 2 replicas by default', () => {
    const objects = synth(newPlatform());
    const deployment = find(objects, 'Deployment', 'kubefaas-router');
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template;
    expect(pod.metadata.labels[Labels.platformComponent]).toBe('router');
    expect(deployment.spec.selector.matchLabels).toEqual({ [Labels.platformComponent]: 'router' });
    expect(pod.metadata.annotations[Annotations.codeHash]).toBe(podBundle('router').sha256.slice(0, 16));
    const c = container(deployment);
    expect(c.name).toBe('router');
    expect(c.image).toBe('node:22.20.0-alpine');
    expect(c.command).toEqual(['node', '/var/kubefaas/router/router.js']);
    expect(c.env).toEqual([
      { name: 'PORT', value: '8080' },
      { name: 'KUBEFAAS_ADMIN_PORT', value: '8081' },
      { name: 'KUBEFAAS_ROUTES', value: '/var/kubefaas/routes/routes.json' },
      { name: 'KUBEFAAS_DRAIN_DELAY_MS', value: '10000' },
      { name: 'KUBEFAAS_SHUTDOWN_GRACE_MS', value: '32000' },
    ]);
    const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    const volumes = Object.fromEntries(pod.spec.volumes.map((v: any) => [v.name, v.configMap?.name ?? 'emptyDir']));
    expect(volumes[mounts[Paths.routerDir]]).toBe(codeMap(objects, 'kubefaas-router').metadata.name);
    expect(volumes[mounts[Paths.routesDir]]).toBe('kubefaas-routes');
    expect(volumes[mounts['/tmp']]).toBe('emptyDir');
    // Health is on the admin port only; the public Service does not carry it, a ClusterIP Service of its own does.
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'admin', containerPort: 8081, protocol: 'TCP' },
    ]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 8081 });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 8081 });
    const service = find(objects, 'Service', 'kubefaas-router');
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);
    expect(service.spec.type).toBeUndefined();
    const admin = find(objects, 'Service', 'kubefaas-router-admin');
    expect(admin.spec).toEqual({
      selector: { [Labels.platformComponent]: 'router' },
      ports: [{ name: 'admin', port: 8081, targetPort: 'admin', protocol: 'TCP' }],
    });
    expect(find(objects, 'PodDisruptionBudget', 'kubefaas-router').spec.maxUnavailable).toBe(1);
  });

  test('router replicas and resources: HPA when max > min, no PDB with one replica', () => {
    const objects = synth(
      newPlatform({
        router: { replicas: { min: 1, max: 4 }, resources: { cpu: Cpu.millis(250), memory: Size.mebibytes(256) } },
      }),
    );
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'kubefaas-router');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toMatchObject({
      minReplicas: 1,
      maxReplicas: 4,
      scaleTargetRef: { kind: 'Deployment', name: 'kubefaas-router' },
    });
    expect(maybeFind(objects, 'PodDisruptionBudget', 'kubefaas-router')).toBeUndefined();
    const deployment = find(objects, 'Deployment', 'kubefaas-router');
    expect(deployment.spec.replicas).toBeUndefined();
    expect(container(deployment).resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { memory: '256Mi' },
    });
  });

  test('namespace as a string, and an existing namespace (not created)', async () => {
    const named = synth(newPlatform({ namespace: 'faas' }));
    expect(find(named, 'Namespace', 'faas')).toBeDefined();
    const existing = synth(newPlatform({ namespace: { name: 'team-a', createNamespace: false } }));
    expect(existing.some((o) => o.kind === 'Namespace')).toBe(false);
    expect(new Set(existing.map((o) => o.metadata.namespace))).toEqual(new Set(['team-a']));
    await expectValid(existing, { existingNamespaces: ['team-a'] });
  });

  test('route table: every function with its URL, timeout and body limit, every HTTP trigger', () => {
    const platform = newPlatform({ namespace: 'faas' });
    new NodeFunction(platform, 'hello', {
      code: INLINE,
      timeout: Duration.seconds(10),
      maxBodySize: Size.kibibytes(64),
      triggers: [new HttpTrigger({ path: '/hello', methods: ['GET', 'post'] })],
    });
    const users = new NodeFunction(platform, 'users', { code: INLINE });
    users.addTrigger(new HttpTrigger({ path: '/users/:id', host: 'API.example.com' }));
    new NodeFunction(platform, 'quiet', { code: INLINE });
    const table = routesOf(synth(platform));
    expect(table.version).toBe(1);
    expect(table.functions).toEqual({
      hello: { url: 'http://hello.faas.svc.cluster.local:80', timeoutMs: 11000, maxBodyBytes: 65536 },
      users: { url: 'http://users.faas.svc.cluster.local:80', timeoutMs: 31000, maxBodyBytes: 6 * 1024 * 1024 },
      quiet: { url: 'http://quiet.faas.svc.cluster.local:80', timeoutMs: 31000, maxBodyBytes: 6 * 1024 * 1024 },
    });
    expect(table.routes).toEqual([
      { function: 'hello', methods: ['GET', 'POST'], path: '/hello' },
      {
        function: 'users',
        methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        path: '/users/:id',
        host: 'api.example.com',
      },
    ]);
    expect(platform.routeTable()).toEqual(table);
  });

  test('triggers added after construction still land in the route table (rendered at synth)', () => {
    const platform = newPlatform();
    const fn = new NodeFunction(platform, 'late', { code: INLINE });
    const before = platform.routeTable().routes.length;
    fn.addTrigger(new HttpTrigger({ path: '/late' }));
    expect(before).toBe(0);
    expect(routesOf(synth(platform)).routes.map((r) => r.path)).toEqual(['/late']);
  });

  test('functions defined by reference from another chart join the platform', async () => {
    const app = Testing.app();
    const platform = newPlatform({ namespace: 'shared' }, app);
    const team = new Chart(app, 'team');
    const fn = new NodeFunction(team, 'orders', {
      platform,
      code: INLINE,
      triggers: [new HttpTrigger({ path: '/orders' })],
    });
    expect(fn.platform).toBe(platform);
    const teamObjects = synth(team);
    expect(kinds(teamObjects)).toEqual([
      `ConfigMap/${codeMap(teamObjects, 'orders').metadata.name}`,
      'Deployment/orders',
      'NetworkPolicy/orders',
      'Service/orders',
    ]);
    for (const o of teamObjects) expect(o.metadata.namespace).toBe('shared');
    const platformObjects = synth(platform);
    expect(routesOf(platformObjects).routes).toEqual([
      expect.objectContaining({ function: 'orders', path: '/orders' }),
    ]);
    // the shared runtime stays with the platform
    expect(codeMap(platformObjects, 'kubefaas-runtime')).toBeDefined();
    await expectValid([...platformObjects, ...teamObjects]);
  });

  test('functionDefaults apply to every function; a function overrides them', () => {
    const platform = newPlatform({
      functionDefaults: {
        timeout: Duration.seconds(5),
        memory: Size.mebibytes(256),
        cpu: Cpu.millis(200),
        maxConcurrency: 10,
        maxBodySize: Size.kibibytes(64),
        scaling: { minReplicas: 2, maxReplicas: 5 },
        env: { REGION: 'eu', LEVEL: 'info' },
      },
    });
    new NodeFunction(platform, 'a', { code: INLINE });
    new NodeFunction(platform, 'b', {
      code: INLINE,
      memory: Size.mebibytes(512),
      env: { LEVEL: 'debug' },
      scaling: { minReplicas: 1 },
    });
    const objects = synth(platform);
    const a = container(find(objects, 'Deployment', 'a'));
    expect(a.resources).toEqual({ requests: { cpu: '200m', memory: '256Mi' }, limits: { memory: '256Mi' } });
    expect(a.env).toEqual(
      expect.arrayContaining([
        { name: 'KUBEFAAS_TIMEOUT_MS', value: '5000' },
        { name: 'KUBEFAAS_MAX_CONCURRENCY', value: '10' },
        { name: 'KUBEFAAS_MAX_BODY_BYTES', value: '65536' },
        { name: 'REGION', value: 'eu' },
        { name: 'LEVEL', value: 'info' },
      ]),
    );
    expect(find(objects, 'HorizontalPodAutoscaler', 'a').spec).toMatchObject({ minReplicas: 2, maxReplicas: 5 });
    expect(find(objects, 'PodDisruptionBudget', 'a')).toBeDefined();
    const b = container(find(objects, 'Deployment', 'b'));
    expect(b.resources.limits.memory).toBe('512Mi');
    expect(b.env).toEqual(expect.arrayContaining([{ name: 'LEVEL', value: 'debug' }]));
    expect(find(objects, 'HorizontalPodAutoscaler', 'b').spec).toMatchObject({ minReplicas: 1, maxReplicas: 5 });
    expect(maybeFind(objects, 'PodDisruptionBudget', 'b')).toBeUndefined();
  });

  test('Platform.find and instanceof tell platforms from other charts', () => {
    const app = Testing.app();
    const platform = newPlatform({}, app);
    const other = new Chart(app, 'other');
    expect(other instanceof Platform).toBe(false);
    expect(platform instanceof Platform).toBe(true);
    expect(Platform.find(other)).toBeUndefined();
    const fn = new NodeFunction(platform, 'x', { code: INLINE });
    expect(Platform.find(fn)).toBe(platform);
  });

  test('exposure: ClusterIP by default', () => {
    const objects = synth(newPlatform({ router: { exposure: RouterExposure.clusterIp() } }));
    expect(find(objects, 'Service', 'kubefaas-router').spec.type).toBeUndefined();
    expect(objects.some((o) => o.kind === 'Ingress' || o.kind === 'HTTPRoute')).toBe(false);
  });

  test('exposure: LoadBalancer Service with annotations and source ranges', async () => {
    const objects = synth(
      newPlatform({
        router: {
          exposure: RouterExposure.loadBalancer({
            annotations: { 'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing' },
            sourceRanges: ['203.0.113.0/24'],
          }),
        },
      }),
    );
    const service = find(objects, 'Service', 'kubefaas-router');
    expect(service.spec.type).toBe('LoadBalancer');
    expect(service.spec.loadBalancerSourceRanges).toEqual(['203.0.113.0/24']);
    expect(service.metadata.annotations).toEqual({
      'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
    });
    await expectValid(objects);
  });

  test('exposure: Gateway API HTTPRoute attached to a named Gateway, timeout covers the slowest function', async () => {
    const platform = newPlatform({
      router: {
        exposure: RouterExposure.gatewayApi({
          gatewayName: 'public',
          gatewayNamespace: 'gateway-system',
          sectionName: 'https',
          hostnames: ['fn.example.com'],
        }),
      },
    });
    new NodeFunction(platform, 'slow', {
      code: INLINE,
      timeout: Duration.minutes(2),
      triggers: [new HttpTrigger({ path: '/slow' })],
    });
    const objects = synth(platform);
    const route = find(objects, 'HTTPRoute', 'kubefaas-router');
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.spec.parentRefs).toEqual([
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: 'public',
        namespace: 'gateway-system',
        sectionName: 'https',
      },
    ]);
    expect(route.spec.hostnames).toEqual(['fn.example.com']);
    // Only what the router serves publicly (more in exposure.test.ts).
    expect(route.spec.rules).toEqual([
      {
        matches: [{ path: { type: 'Exact', value: '/slow' } }],
        backendRefs: [{ name: 'kubefaas-router', port: 80 }],
        timeouts: { request: '121s' },
      },
    ]);
    expect(find(objects, 'Service', 'kubefaas-router').spec.type).toBeUndefined();
    await expectValid(objects);
  });

  test('exposure: Ingress with class, host, TLS and annotations', async () => {
    const platform = newPlatform({
      router: {
        exposure: RouterExposure.ingress({
          className: 'traefik',
          host: 'fn.example.com',
          tlsSecretName: 'fn-tls',
          annotations: { 'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure' },
        }),
      },
    });
    new NodeFunction(platform, 'files', { code: INLINE, triggers: [new HttpTrigger({ path: '/files/*' })] });
    const objects = synth(platform);
    const ingress = find(objects, 'Ingress', 'kubefaas-router');
    expect(ingress.apiVersion).toBe('networking.k8s.io/v1');
    expect(ingress.metadata.annotations).toEqual({ 'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure' });
    expect(ingress.spec).toEqual({
      ingressClassName: 'traefik',
      tls: [{ hosts: ['fn.example.com'], secretName: 'fn-tls' }],
      rules: [
        {
          host: 'fn.example.com',
          http: {
            paths: [
              {
                path: '/files',
                pathType: 'Prefix',
                backend: { service: { name: 'kubefaas-router', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    });
    await expectValid(objects, { externalSecrets: ['fn-tls'] });
  });

  test('exposure: a bare Ingress catches every host', () => {
    const platform = newPlatform({ router: { exposure: RouterExposure.ingress() } });
    new NodeFunction(platform, 'hello', { code: INLINE, triggers: [new HttpTrigger({ path: '/hello' })] });
    const ingress = find(synth(platform), 'Ingress', 'kubefaas-router');
    expect(ingress.spec.rules[0].host).toBeUndefined();
    expect(ingress.spec.tls).toBeUndefined();
  });
});

test('the manifest validator used above does catch a weakened pod (guards against vacuous checks)', async () => {
  const { validateManifests } = await import('../support/validate');
  const platform = newPlatform();
  new NodeFunction(platform, 'hello', { code: INLINE });
  const objects = synth(platform);
  const deployment = find(objects, 'Deployment', 'hello');
  delete container(deployment).securityContext.capabilities;
  deployment.spec.template.spec.securityContext.runAsUser = 0;
  const problems = await validateManifests(objects);
  expect(problems.length).toBeGreaterThan(0);
  expect(problems.every((p) => p.object.includes('hello'))).toBe(true);
});

describe('objects too large for client-side kubectl apply (issue 13, item 1)', () => {
  test('warns, naming the object and server-side apply, for every object over 256 KiB', () => {
    const { clearWarnings, recordedWarnings } = require('../../constructs/placement/warnings');
    clearWarnings();
    const objects = synth(newPlatform());
    const router = codeMap(objects, 'kubefaas-router');
    const warnings = recordedWarnings().filter((w: any) => w.rule === 'apply/last-applied-size');
    const tooLarge = objects
      .filter((o) => Buffer.byteLength(JSON.stringify(o)) > 256 * 1024)
      .map((o) => `${o.kind}/${o.metadata.name}`);
    expect(tooLarge).toContain(`ConfigMap/${router.metadata.name}`);
    expect(warnings.map((w: any) => w.message.split(' ')[0])).toEqual(tooLarge);
    expect(warnings[0].message).toMatch(/kubectl apply --server-side.*ServerSideApply=true/);
    // The route table of an empty platform is small: no warning for it.
    expect(warnings.some((w: any) => w.message.startsWith('ConfigMap/kubefaas-routes '))).toBe(false);
  });
});
