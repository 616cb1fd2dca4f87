/**
 * What the local runner reads from the manifests to scale like the cluster (issue 10): the router
 * switched to pushed endpoints, the scaler wired to the router's admin port, and per function the
 * bounds, cooldown, scale-down window, scaler metadata and queue subscriptions (scaling.ts).
 */
import {
  ActivatorEnv,
  EndpointSources,
  Env,
  KedaDefaults,
  QueueEnv,
  SCALER_NAME,
  ScalerEnv,
  ScalerMetadata,
  type QueueSubscription,
} from '../../src/contract';
import { Manifests, type KubeObject } from '../../src/local/manifests';
import { planLocalRun, type LocalPlan, type ProcessPlan } from '../../src/local/plan';
import { bundledScalerPlan } from '../../src/local/scaler';
import { DEFAULT_LOCAL_MAX_REPLICAS, formatDelay, planScaling } from '../../src/local/scaling';
import { fixtureObjects } from './fixtures/platform';
import { withScaling } from './fixtures/scaling';

const handler = 'module.exports = () => "hi";';

function planOf(objects: KubeObject[]): { manifests: Manifests; plan: LocalPlan } {
  const manifests = new Manifests(objects);
  const ports = new Map<string, number>();
  let next = 40000;
  for (const o of objects)
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') ports.set(o.metadata!.name!, next++);
  const plan = planLocalRun(manifests, {
    runDir: '/run/kf',
    projectDir: '/project',
    routerPort: 8080,
    routerAdminPort: 18081,
    scalerAdminPort: 19090,
    ports,
    developerEnv: { PATH: '/usr/bin' },
  });
  return { manifests, plan };
}

function named(plan: LocalPlan, name: string): ProcessPlan {
  const p = plan.processes.find((x) => x.name === name);
  if (!p) throw new Error(`no process ${name}`);
  return p;
}

const two = fixtureObjects({
  functions: [
    { name: 'lazy', code: handler },
    { name: 'plain', code: handler },
  ],
});

describe('plan: router and scaler', () => {
  const { plan } = planOf(
    withScaling(two, {
      functions: { lazy: {} },
      scalerEnv: { [ScalerEnv.RATE_WINDOW_MS]: '2000' },
    }),
  );

  test('the router takes pushed endpoints instead of watching EndpointSlices', () => {
    expect(named(plan, 'kubefaas-router').env[ActivatorEnv.ENDPOINTS]).toBe(EndpointSources.push);
  });

  test("the scaler's gRPC and admin ports are local ports and it reads the router's admin port", () => {
    const scaler = named(plan, SCALER_NAME);
    expect(scaler.isScaler).toBe(true);
    expect(scaler.env).toMatchObject({
      [ScalerEnv.ROUTERS]: '127.0.0.1:18081',
      [ScalerEnv.GRPC_PORT]: String(scaler.port),
      [ScalerEnv.ADMIN_PORT]: '19090',
      [ScalerEnv.RATE_WINDOW_MS]: '2000',
      [Env.BIND_HOST]: '127.0.0.1',
    });
    expect(scaler.env[ActivatorEnv.ADMIN_PORT]).toBeUndefined();
    expect(scaler.readiness).toEqual({ kind: 'http', path: '/readyz', port: 19090, host: '127.0.0.1' });
    // Its Service (gRPC) is mapped, its admin port needs none: no warning about either.
    expect(plan.warnings.filter((w) => w.includes(`Service ${SCALER_NAME}`))).toEqual([]);
  });

  test('the bundled scaler gets the same environment, and only the --env values meant for it', () => {
    const scaler = bundledScalerPlan({
      runDir: '/run/kf',
      grpcPort: 41000,
      adminPort: 19090,
      routerAdminPort: 18081,
      namespace: 'kubefaas',
      baseEnv: { PATH: '/usr/bin' },
      envOverrides: [
        { workload: SCALER_NAME, name: ScalerEnv.POLL_INTERVAL_MS, value: '100' },
        { name: ScalerEnv.RATE_WINDOW_MS, value: '1' },
      ],
    });
    expect(scaler.args[0]).toMatch(/lib\/pod\/scaler\.js$/);
    expect(scaler.processEnv).toEqual({
      PATH: '/usr/bin',
      [ScalerEnv.ROUTERS]: '127.0.0.1:18081',
      [ScalerEnv.GRPC_PORT]: '41000',
      [ScalerEnv.ADMIN_PORT]: '19090',
      [ScalerEnv.POLL_INTERVAL_MS]: '100',
      [Env.BIND_HOST]: '127.0.0.1',
    });
  });
});

describe('planScaling', () => {
  test('reads bounds, cooldown and window from the ScaledObject, within the local cap', () => {
    const objects = withScaling(two, {
      functions: { lazy: { maxReplicas: 20, cooldownSeconds: 90, scaleDownSeconds: 30, targetConcurrency: 4 } },
    });
    const { manifests, plan } = planOf(objects);
    const { functions, warnings } = planScaling(manifests, plan.routes, plan.processes);
    expect([...functions.keys()]).toEqual(['lazy']);
    expect(functions.get('lazy')).toMatchObject({
      function: 'lazy',
      minReplicas: 0,
      maxReplicas: DEFAULT_LOCAL_MAX_REPLICAS,
      cooldownMs: 90_000,
      scaleDownWindowMs: 30_000,
      scaler: {
        name: 'lazy',
        namespace: 'kubefaas',
        scalerMetadata: expect.objectContaining({
          [ScalerMetadata.function]: 'lazy',
          [ScalerMetadata.targetConcurrency]: '4',
        }),
      },
      queue: [],
    });
    expect(warnings).toEqual(['lazy: runs at most 3 replicas locally (its ScaledObject allows 20; --max-replicas)']);
    expect(
      planScaling(manifests, plan.routes, plan.processes, { maxReplicas: 50 }).functions.get('lazy'),
    ).toMatchObject({ maxReplicas: 20 });
  });

  test("a route table's minReplicas 0 alone scales the function, with KEDA's defaults", () => {
    const objects = withScaling(two, { functions: { lazy: {} } }).filter((o) => o.kind !== 'ScaledObject');
    const { manifests, plan } = planOf(objects);
    expect(planScaling(manifests, plan.routes, plan.processes).functions.get('lazy')).toMatchObject({
      minReplicas: 0,
      maxReplicas: 1,
      cooldownMs: KedaDefaults.cooldownPeriodSeconds * 1000,
      scaleDownWindowMs: KedaDefaults.scaleDownStabilizationSeconds * 1000,
      scaler: { scalerMetadata: { [ScalerMetadata.function]: 'lazy' } },
    });
  });

  test("queue subscriptions become wakes, with the nats-jetstream trigger's lag threshold", () => {
    const subscriptions: QueueSubscription[] = [
      {
        kind: 'topic',
        subject: 'topics.jobs',
        durable: 'lazy_topic_jobs',
        trigger: 'jobs',
        maxInFlight: 16,
        ackWaitMs: 30_000,
        maxRetries: 3,
        backoffMs: [1000],
        ordered: false,
      },
      {
        kind: 'cron',
        subject: 'cron.lazy.tick',
        durable: 'lazy_cron_tick',
        trigger: 'tick',
        maxInFlight: 1,
        ackWaitMs: 30_000,
        maxRetries: 2,
        backoffMs: [5000],
        ordered: true,
      },
    ];
    const objects = withScaling(
      fixtureObjects({
        functions: [
          {
            name: 'lazy',
            code: handler,
            env: [
              { name: QueueEnv.NATS_URL, value: 'nats://127.0.0.1:4222' },
              { name: QueueEnv.SUBSCRIPTIONS, value: JSON.stringify(subscriptions) },
            ],
          },
        ],
      }),
      { functions: { lazy: { lagThreshold: 5 } } },
    );
    const { manifests, plan } = planOf(objects);
    expect(planScaling(manifests, plan.routes, plan.processes).functions.get('lazy')?.queue).toEqual([
      { stream: 'KUBEFAAS_TOPICS', durable: 'lazy_topic_jobs', subject: 'topics.jobs', kind: 'topic', lagThreshold: 5 },
      { stream: 'KUBEFAAS_CALLS', durable: 'lazy_cron_tick', subject: 'cron.lazy.tick', kind: 'cron', lagThreshold: 5 },
    ]);
  });

  test('functions without a ScaledObject or minReplicas 0 run as one process, as before', () => {
    const { manifests, plan } = planOf(two);
    expect(planScaling(manifests, plan.routes, plan.processes).functions.size).toBe(0);
    expect(named(plan, 'kubefaas-router').env[ActivatorEnv.ENDPOINTS]).toBe(EndpointSources.push);
  });

  test('delays print as the ScaledObject would say them', () => {
    expect([formatDelay(300_000), formatDelay(90_000), formatDelay(2_000), formatDelay(1_500)]).toEqual([
      '5m',
      '90s',
      '2s',
      '1.5s',
    ]);
  });
});
