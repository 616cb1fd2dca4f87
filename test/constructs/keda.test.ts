/**
 * KEDA autoscaling (issue 10, constructs): `Autoscaling.keda()` swaps each autoscaled function's
 * HPA for a ScaledObject (external-push to the platform's scaler, nats-jetstream per consumer,
 * cpu/memory when set), adds the scaler Deployment and the router's EndpointSlice access, writes
 * the activator's `scaling` into the route table, and opens exactly the new data paths in the
 * NetworkPolicies. Every synthesized object passes the schema (KEDA's included), semantic and PSS
 * checks; impossible combinations are ValidationErrors naming the construct and the fix.
 */
import { Duration, Size, Testing } from 'cdk8s';
import {
  Autoscaling,
  CallbackPolicy,
  Code,
  ContainerFunction,
  CronTrigger,
  HttpTrigger,
  Metrics,
  NodeFunction,
  Placement,
  Platform,
  PythonFunction,
  Queue,
  QueueTrigger,
  ValidationError,
} from '../../constructs';
import {
  DEFAULT_ACTIVATION_TIMEOUT_MS,
  EndpointSources,
  ROUTER_ADMIN_PORT,
  SCALER_ADMIN_PORT,
  SCALER_GRPC_PORT,
  type RouteTable,
} from '../../src/contract';
import { checkScaledObject } from '../support/keda-schema';
import { checkSemantics } from '../support/semantics';
import { Endpoint, NetworkPolicyEvaluator, podEndpoints } from '../support/network-policy';
import { INLINE, container, envOf, errorOf, expectValid, find, kinds, maybeFind, newPlatform, synth } from './helpers';

function kedaPlatform(props: Parameters<typeof newPlatform>[0] = {}): Platform {
  return newPlatform({ namespace: 'faas', autoscaling: Autoscaling.keda(), ...props });
}

function routeTable(objects: readonly Record<string, any>[]): RouteTable {
  return JSON.parse(find(objects, 'ConfigMap', 'kubefaas-routes').data['routes.json']);
}

function nodeError(props: Record<string, unknown>, platformProps: Parameters<typeof newPlatform>[0] = {}): Error {
  const platform = kedaPlatform(platformProps);
  return errorOf(() => new NodeFunction(platform, 'fn', { code: INLINE, ...props }));
}

describe('Autoscaling.hpa() (the default)', () => {
  test('keeps HPAs, and neither a scaler nor ScaledObjects nor router access appear', () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'fn', { code: INLINE, scaling: { minReplicas: 1, maxReplicas: 4 } });
    const objects = synth(platform);
    expect(find(objects, 'HorizontalPodAutoscaler', 'fn').spec.metrics).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
    ]);
    expect(objects.filter((o) => ['ScaledObject', 'Role', 'RoleBinding'].includes(o.kind))).toEqual([]);
    expect(maybeFind(objects, 'Deployment', 'kubefaas-scaler')).toBeUndefined();
    expect(maybeFind(objects, 'Service', 'kubefaas-router-peers')).toBeUndefined();
    const router = find(objects, 'Deployment', 'kubefaas-router');
    expect(router.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(envOf(router).map((e) => e.name)).not.toContain('KUBEFAAS_ENDPOINTS');
    expect(routeTable(objects).functions.fn.scaling).toBeUndefined();
    expect(platform.autoscaling.mode).toBe('hpa');
  });

  test('memory targets and scaleDownDelay reach the HPA', async () => {
    const platform = newPlatform();
    new NodeFunction(platform, 'mem', {
      code: INLINE,
      scaling: { maxReplicas: 3, targetMemoryUtilization: 70, scaleDownDelay: Duration.minutes(2) },
    });
    new NodeFunction(platform, 'both', {
      code: INLINE,
      scaling: { maxReplicas: 3, targetCpuUtilization: 50, targetMemoryUtilization: 90 },
    });
    const objects = synth(platform);
    const mem = find(objects, 'HorizontalPodAutoscaler', 'mem').spec;
    expect(mem.metrics.map((m: any) => m.resource.name)).toEqual(['memory']);
    expect(mem.behavior).toEqual({ scaleDown: { stabilizationWindowSeconds: 120 } });
    const both = find(objects, 'HorizontalPodAutoscaler', 'both').spec;
    expect(both.metrics.map((m: any) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([
      ['cpu', 50],
      ['memory', 90],
    ]);
    expect(both.behavior).toBeUndefined();
    await expectValid(objects);
  });

  test.each([
    [{ minReplicas: 0 }, 'scaling.minReplicas is 0 (scale to zero), which needs KEDA'],
    [{ targetConcurrency: 5 }, 'scaling.targetConcurrency is a KEDA setting'],
    [{ targetRps: 5 }, 'scaling.targetRps is a KEDA setting'],
    [{ activationTimeout: Duration.seconds(5) }, 'scaling.activationTimeout is a KEDA setting'],
    [{ holdQueueLimit: 10 }, 'scaling.holdQueueLimit is a KEDA setting'],
    [{ fallbackReplicas: 2, maxReplicas: 3 }, 'scaling.fallbackReplicas is a KEDA setting'],
  ])('KEDA-only scaling %j is refused, saying to enable Autoscaling.keda()', (scaling, message) => {
    const platform = newPlatform();
    const error = errorOf(() => new NodeFunction(platform, 'fn', { code: INLINE, scaling }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('[platform/fn]');
    expect(error.message).toContain(message);
    expect(error.message).toContain('Autoscaling.keda()');
  });

  test('functionDefaults.scaling is checked against the autoscaling too', () => {
    const error = errorOf(() => newPlatform({ functionDefaults: { scaling: { minReplicas: 0 } } }));
    expect(error.message).toContain('[platform]');
    expect(error.message).toContain('Autoscaling.keda()');
    expect(() =>
      newPlatform({ autoscaling: Autoscaling.keda(), functionDefaults: { scaling: { minReplicas: 0 } } }),
    ).not.toThrow();
  });
});

describe('Autoscaling.keda()', () => {
  /** Every kind of function KEDA scales: HTTP at zero, queue (topic, ordered topic, async, cron ticks, callbacks), Python, a container, a fixed one. */
  function richPlatform(): Platform {
    const platform = kedaPlatform({
      queue: Queue.nats({ replicas: 3 }),
      router: { callbacks: CallbackPolicy.allow(['https://hooks.example.com/']) },
    });
    new NodeFunction(platform, 'resize', {
      code: INLINE,
      scaling: { minReplicas: 0, maxReplicas: 20, targetConcurrency: 10, scaleDownDelay: Duration.minutes(5) },
      triggers: [new HttpTrigger({ path: '/resize', methods: ['POST'] })],
    });
    new NodeFunction(platform, 'worker', {
      code: INLINE,
      scaling: {
        minReplicas: 0,
        maxReplicas: 5,
        targetRps: 2.5,
        targetCpuUtilization: 60,
        targetMemoryUtilization: 75,
      },
      triggers: [
        new QueueTrigger({ topic: 'orders', maxInFlight: 4 }),
        new QueueTrigger({ topic: 'ledger', ordered: true }),
        new CronTrigger({ schedule: '*/5 * * * *' }),
      ],
    });
    new PythonFunction(platform, 'py', {
      code: Code.fromInline('def main(e, c):\n    return "a"\n'),
      handler: 'handler.main',
      scaling: { minReplicas: 0, maxReplicas: 2 },
    });
    new ContainerFunction(platform, 'img', {
      image: 'ghcr.io/acme/app:1.0.0',
      healthCheck: { path: '/healthz' },
      scaling: { minReplicas: 0, maxReplicas: 3, fallbackReplicas: 2 },
    });
    new NodeFunction(platform, 'fixed', { code: INLINE, scaling: { minReplicas: 2 } });
    return platform;
  }

  test('a rich platform synthesizes valid objects', async () => {
    const objects = synth(richPlatform());
    await expectValid(objects);
  });

  test('a ScaledObject replaces the HPA; the Deployment leaves the replica count to it', () => {
    const objects = synth(richPlatform());
    // KEDA creates the HPAs (keda-hpa-<name>); the router runs a fixed count by default.
    expect(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([]);
    expect(
      objects
        .filter((o) => o.kind === 'ScaledObject')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['img', 'py', 'resize', 'worker']);
    expect(find(objects, 'Deployment', 'resize').spec.replicas).toBeUndefined();
    // min == max: a fixed count, no autoscaler at all
    expect(find(objects, 'Deployment', 'fixed').spec.replicas).toBe(2);
    expect(maybeFind(objects, 'ScaledObject', 'fixed')).toBeUndefined();
    expect(find(objects, 'PodDisruptionBudget', 'fixed')).toBeDefined();

    expect(find(objects, 'ScaledObject', 'resize')).toEqual({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: expect.objectContaining({ name: 'resize', namespace: 'faas' }),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'resize' },
        pollingInterval: 15,
        cooldownPeriod: 300,
        minReplicaCount: 0,
        maxReplicaCount: 20,
        fallback: { failureThreshold: 3, replicas: 1, behavior: 'currentReplicasIfHigher' },
        advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } } },
        triggers: [
          {
            type: 'external-push',
            name: 'requests',
            metricType: 'AverageValue',
            metadata: {
              scalerAddress: `kubefaas-scaler.faas.svc.cluster.local:${SCALER_GRPC_PORT}`,
              function: 'resize',
              targetConcurrency: '10',
            },
          },
          // A NodeFunction on a platform with a queue consumes its async calls.
          expect.objectContaining({ type: 'nats-jetstream', name: 'queue-resize_async' }),
          expect.objectContaining({ name: 'queue-resize_async_callbacks' }),
        ],
      },
    });
  });

  test('triggers: requests per second, every JetStream consumer, cpu and memory', () => {
    const objects = synth(richPlatform());
    const triggers = find(objects, 'ScaledObject', 'worker').spec.triggers;
    expect(triggers[0].metadata).toEqual({
      scalerAddress: 'kubefaas-scaler.faas.svc.cluster.local:9090',
      function: 'worker',
      targetRps: '2.5',
    });
    const nats = triggers.filter((t: any) => t.type === 'nats-jetstream');
    const monitoring = 'kubefaas-nats-headless.faas.svc.cluster.local:8222';
    expect(nats.map((t: any) => [t.metadata.stream, t.metadata.consumer, t.metadata.lagThreshold])).toEqual([
      ['KUBEFAAS_CALLS', 'worker_async', '16'],
      ['KUBEFAAS_TOPICS', 'worker_topic_orders', '4'],
      // ordered: one message at a time whatever the replicas, so it only wakes the function
      ['KUBEFAAS_TOPICS', 'worker_topic_ledger', '1000000000'],
      // cron ticks are handled one at a time too
      ['KUBEFAAS_CALLS', expect.stringMatching(/^worker_cron_/), '1000000000'],
      ['KUBEFAAS_CALLS', 'worker_async_callbacks', '16'],
    ]);
    for (const t of nats) expect(t.metadata).toMatchObject({ natsServerMonitoringEndpoint: monitoring, account: '$G' });
    expect(triggers.slice(-2)).toEqual([
      { type: 'cpu', name: 'cpu', metricType: 'Utilization', metadata: { value: '60' } },
      { type: 'memory', name: 'memory', metricType: 'Utilization', metadata: { value: '75' } },
    ]);
    // a Python or container function consumes no queue: requests only
    expect(find(objects, 'ScaledObject', 'img').spec.triggers.map((t: any) => t.type)).toEqual(['external-push']);
    expect(find(objects, 'ScaledObject', 'img').spec.fallback.replicas).toBe(2);
  });

  test('a trigger added after construction lands in the ScaledObject', () => {
    const platform = kedaPlatform({ queue: Queue.nats() });
    const fn = new NodeFunction(platform, 'late', { code: INLINE, scaling: { minReplicas: 0 } });
    fn.addTrigger(new QueueTrigger({ topic: 'later' }));
    const consumers = find(synth(platform), 'ScaledObject', 'late')
      .spec.triggers.filter((t: any) => t.type === 'nats-jetstream')
      .map((t: any) => t.metadata.consumer);
    expect(consumers).toEqual(['late_async', 'late_topic_later']);
    expect(fn.scaledObject).toBeDefined();
  });

  test('the route table carries what the activator needs', () => {
    const table = routeTable(synth(richPlatform()));
    expect(table.functions.resize.scaling).toEqual({
      minReplicas: 0,
      activationTimeoutMs: 29_000, // 1 s below the default 30 s timeout
      holdQueueLimit: 1000,
    });
    expect(table.functions.fixed.scaling).toEqual({
      minReplicas: 2,
      activationTimeoutMs: 29_000,
      holdQueueLimit: 1000,
    });
  });

  test.each([
    [Duration.seconds(1), 500],
    [Duration.seconds(2), 1000],
    [Duration.seconds(10), 9000],
    [Duration.minutes(5), DEFAULT_ACTIVATION_TIMEOUT_MS],
  ])('the default activation timeout stays below a %s timeout', (timeout, expected) => {
    const platform = kedaPlatform();
    new NodeFunction(platform, 'fn', { code: INLINE, timeout, scaling: { minReplicas: 0 } });
    expect(routeTable(synth(platform)).functions.fn.scaling?.activationTimeoutMs).toBe(expected);
  });

  test('explicit activation timeout and hold queue limit', () => {
    const platform = kedaPlatform();
    new NodeFunction(platform, 'fn', {
      code: INLINE,
      timeout: Duration.minutes(2),
      scaling: { minReplicas: 0, activationTimeout: Duration.seconds(90), holdQueueLimit: 50 },
    });
    expect(routeTable(synth(platform)).functions.fn.scaling).toEqual({
      minReplicas: 0,
      activationTimeoutMs: 90_000,
      holdQueueLimit: 50,
    });
  });

  test("a function's own request target replaces the platform default's", () => {
    const platform = kedaPlatform({ functionDefaults: { scaling: { minReplicas: 0, targetRps: 5 } } });
    new NodeFunction(platform, 'rps', { code: INLINE });
    new NodeFunction(platform, 'conc', { code: INLINE, scaling: { targetConcurrency: 3 } });
    const objects = synth(platform);
    expect(find(objects, 'ScaledObject', 'rps').spec.triggers[0].metadata.targetRps).toBe('5');
    const conc = find(objects, 'ScaledObject', 'conc').spec.triggers[0].metadata;
    expect(conc.targetConcurrency).toBe('3');
    expect(conc.targetRps).toBeUndefined();
  });

  test('the default concurrency target follows maxConcurrency', () => {
    const platform = kedaPlatform();
    new NodeFunction(platform, 'capped', { code: INLINE, maxConcurrency: 8, scaling: { minReplicas: 0 } });
    new NodeFunction(platform, 'open', { code: INLINE, scaling: { minReplicas: 0 } });
    const objects = synth(platform);
    expect(find(objects, 'ScaledObject', 'capped').spec.triggers[0].metadata.targetConcurrency).toBe('8');
    expect(find(objects, 'ScaledObject', 'open').spec.triggers[0].metadata.targetConcurrency).toBe('100');
  });

  test('the scaler: Deployment, Service, ServiceAccount without a token and no RBAC, PDB', () => {
    const objects = synth(richPlatform());
    const deployment = find(objects, 'Deployment', 'kubefaas-scaler');
    const pod = deployment.spec.template.spec;
    const c = container(deployment);
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.serviceAccountName).toBe('kubefaas-scaler');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(find(objects, 'ServiceAccount', 'kubefaas-scaler').automountServiceAccountToken).toBe(false);
    expect(c.command).toEqual(['node', '/var/kubefaas/scaler/scaler.js']);
    expect(c.ports).toEqual([
      { name: 'grpc', containerPort: SCALER_GRPC_PORT, protocol: 'TCP' },
      { name: 'admin', containerPort: SCALER_ADMIN_PORT, protocol: 'TCP' },
    ]);
    expect(c.env).toEqual([
      { name: 'KUBEFAAS_SCALER_GRPC_PORT', value: '9090' },
      { name: 'KUBEFAAS_SCALER_ADMIN_PORT', value: '8081' },
      {
        name: 'KUBEFAAS_SCALER_ROUTERS',
        value: `dns:kubefaas-router-peers.faas.svc.cluster.local:${ROUTER_ADMIN_PORT}`,
      },
    ]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: SCALER_ADMIN_PORT });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: SCALER_ADMIN_PORT });
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '192Mi' }, limits: { memory: '192Mi' } });
    expect(find(objects, 'Service', 'kubefaas-scaler').spec.ports).toEqual([
      { name: 'grpc', port: SCALER_GRPC_PORT, targetPort: 'grpc', protocol: 'TCP' },
      { name: 'admin', port: SCALER_ADMIN_PORT, targetPort: 'admin', protocol: 'TCP' },
    ]);
    expect(find(objects, 'PodDisruptionBudget', 'kubefaas-scaler').spec.maxUnavailable).toBe(1);
    // It finds the routers by DNS: nothing binds it to any role.
    const bound = objects
      .filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')
      .flatMap((b) => b.subjects.map((s: any) => s.name));
    expect(bound).not.toContain('kubefaas-scaler');
  });

  test('one scaler replica: no PDB; options are applied', () => {
    const platform = newPlatform({
      autoscaling: Autoscaling.keda({
        namespace: 'autoscalers',
        pollingInterval: Duration.seconds(5),
        scaler: { replicas: 1, resources: { memory: Size.mebibytes(256) } },
      }),
    });
    new NodeFunction(platform, 'fn', { code: INLINE, scaling: { minReplicas: 0 } });
    const objects = synth(platform);
    expect(maybeFind(objects, 'PodDisruptionBudget', 'kubefaas-scaler')).toBeUndefined();
    expect(find(objects, 'ScaledObject', 'fn').spec.pollingInterval).toBe(5);
    expect(container(find(objects, 'Deployment', 'kubefaas-scaler')).resources.limits.memory).toBe('256Mi');
    expect(find(objects, 'NetworkPolicy', 'kubefaas-scaler').spec.ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'autoscalers' } } }],
        ports: [{ protocol: 'TCP', port: SCALER_GRPC_PORT }],
      },
    ]);
  });

  test('the router: its own ServiceAccount with a token, a Role to watch EndpointSlices only, the peers Service', () => {
    const objects = synth(richPlatform());
    const router = find(objects, 'Deployment', 'kubefaas-router');
    expect(router.spec.template.spec.serviceAccountName).toBe('kubefaas-router');
    expect(router.spec.template.spec.automountServiceAccountToken).toBe(true);
    expect(envOf(router)).toEqual(
      expect.arrayContaining([
        { name: 'KUBEFAAS_ENDPOINTS', value: EndpointSources.kubernetes },
        { name: 'KUBEFAAS_ROUTER_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ]),
    );
    expect(find(objects, 'Role', 'kubefaas-router').rules).toEqual([
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
    ]);
    expect(find(objects, 'RoleBinding', 'kubefaas-router')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kubefaas-router' },
      subjects: [{ kind: 'ServiceAccount', name: 'kubefaas-router', namespace: 'faas' }],
    });
    expect(find(objects, 'Service', 'kubefaas-router-peers').spec).toEqual({
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { 'kubefaas.dev/component': 'router' },
      ports: [{ name: 'scaling', port: ROUTER_ADMIN_PORT, targetPort: 'admin', protocol: 'TCP' }],
    });
    // The admin Service keeps its ClusterIP for the cron sender's balanced address.
    expect(find(objects, 'Service', 'kubefaas-router-admin').spec.clusterIP).toBeUndefined();
    // Only the router and nothing else of ours gets a token.
    const withToken = objects
      .filter((o) => o.spec?.template?.spec?.automountServiceAccountToken === true)
      .map((o) => `${o.kind}/${o.metadata.name}`);
    expect(withToken).toEqual(['Deployment/kubefaas-router']);
  });

  test('kinds of a minimal KEDA platform', () => {
    const platform = kedaPlatform();
    new NodeFunction(platform, 'fn', { code: INLINE, scaling: { minReplicas: 0 } });
    const names = kinds(synth(platform)).filter((k) => !k.startsWith('ConfigMap/'));
    expect(names).toEqual(
      [
        'Deployment/fn',
        'Deployment/kubefaas-router',
        'Deployment/kubefaas-scaler',
        'Namespace/faas',
        'NetworkPolicy/fn',
        'NetworkPolicy/kubefaas-router',
        'NetworkPolicy/kubefaas-scaler',
        'PodDisruptionBudget/kubefaas-router',
        'PodDisruptionBudget/kubefaas-scaler',
        'Role/kubefaas-router',
        'RoleBinding/kubefaas-router',
        'ScaledObject/fn',
        'Service/fn',
        'Service/kubefaas-router',
        'Service/kubefaas-router-admin',
        'Service/kubefaas-router-peers',
        'Service/kubefaas-scaler',
        'ServiceAccount/kubefaas-router',
        'ServiceAccount/kubefaas-scaler',
      ].sort(),
    );
  });
});

describe('KEDA NetworkPolicies', () => {
  const tcp = (port: number) => ({ port, protocol: 'TCP' as const });
  const OUTSIDE: Endpoint[] = [
    {
      id: 'keda-operator',
      ip: '10.244.200.2',
      namespace: 'keda',
      labels: { app: 'keda-operator' },
      ports: [tcp(8080)],
    },
    { id: 'intruder', ip: '10.244.200.5', namespace: 'default', labels: { app: 'x' }, ports: [tcp(8080)] },
    { id: 'api-server', ip: '172.20.0.10', ports: [tcp(443), tcp(6443)] },
    {
      id: 'kube-dns',
      ip: '10.244.200.3',
      namespace: 'kube-system',
      labels: { 'k8s-app': 'kube-dns' },
      ports: [{ port: 53, protocol: 'UDP' }, tcp(53)],
    },
  ];

  function evaluate(autoscaling: Autoscaling) {
    const platform = newPlatform({ namespace: 'faas', autoscaling, queue: Queue.nats({ replicas: 3 }) });
    new NodeFunction(platform, 'fn', {
      code: INLINE,
      scaling: autoscaling.mode === 'keda' ? { minReplicas: 0 } : {},
      triggers: [new QueueTrigger({ topic: 'orders' })],
    });
    const objects = synth(platform);
    const pods = podEndpoints(objects);
    const evaluator = new NetworkPolicyEvaluator(objects);
    const by = (id: string) => [...pods, ...OUTSIDE].find((p) => p.id === id)!;
    return (from: string, to: string, port: number) => evaluator.allows(by(from), by(to), port);
  }

  test('KEDA reaches the scaler gRPC port and the queue monitoring port, and nothing else does', () => {
    const allows = evaluate(Autoscaling.keda());
    expect(allows('keda-operator', 'Deployment/kubefaas-scaler', SCALER_GRPC_PORT)).toBe(true);
    expect(allows('keda-operator', 'Deployment/kubefaas-scaler', SCALER_ADMIN_PORT)).toBe(false);
    expect(allows('keda-operator', 'StatefulSet/kubefaas-nats', 8222)).toBe(true);
    expect(allows('keda-operator', 'StatefulSet/kubefaas-nats', 4222)).toBe(false);
    expect(allows('keda-operator', 'Deployment/kubefaas-router', ROUTER_ADMIN_PORT)).toBe(false);
    expect(allows('keda-operator', 'Deployment/fn', 8080)).toBe(false);
    expect(allows('intruder', 'Deployment/kubefaas-scaler', SCALER_GRPC_PORT)).toBe(false);
    expect(allows('intruder', 'StatefulSet/kubefaas-nats', 8222)).toBe(false);
    expect(allows('Deployment/fn', 'Deployment/kubefaas-scaler', SCALER_GRPC_PORT)).toBe(false);
    expect(allows('Deployment/kubefaas-router', 'Deployment/kubefaas-scaler', SCALER_GRPC_PORT)).toBe(false);
  });

  test('the scaler reaches DNS and the routers admin port only', () => {
    const allows = evaluate(Autoscaling.keda());
    expect(allows('Deployment/kubefaas-scaler', 'Deployment/kubefaas-router', ROUTER_ADMIN_PORT)).toBe(true);
    expect(allows('Deployment/kubefaas-scaler', 'kube-dns', 53)).toBe(true);
    expect(allows('Deployment/kubefaas-scaler', 'Deployment/kubefaas-router', 8080)).toBe(false);
    expect(allows('Deployment/kubefaas-scaler', 'Deployment/fn', 8080)).toBe(false);
    expect(allows('Deployment/kubefaas-scaler', 'api-server', 443)).toBe(false);
    expect(allows('Deployment/kubefaas-scaler', 'StatefulSet/kubefaas-nats', 4222)).toBe(false);
  });

  test('the router reaches the API server with KEDA, not without', () => {
    expect(evaluate(Autoscaling.keda())('Deployment/kubefaas-router', 'api-server', 443)).toBe(true);
    expect(evaluate(Autoscaling.keda())('Deployment/kubefaas-router', 'api-server', 6443)).toBe(true);
    const hpa = evaluate(Autoscaling.hpa());
    expect(hpa('Deployment/kubefaas-router', 'api-server', 443)).toBe(false);
    expect(hpa('keda-operator', 'StatefulSet/kubefaas-nats', 8222)).toBe(false);
  });
});

test('monitoring scrapes the scaler on its admin port, and only the scrapers reach it there', () => {
  const platform = kedaPlatform({ metrics: Metrics.prometheus({ ephemeral: true }) });
  new NodeFunction(platform, 'fn', { code: INLINE, scaling: { minReplicas: 0 } });
  const objects = synth(platform);
  const pods = podEndpoints(objects);
  const by = (id: string) => pods.find((p) => p.id === id)!;
  const evaluator = new NetworkPolicyEvaluator(objects);
  expect(
    evaluator.allows(by('StatefulSet/kubefaas-prometheus'), by('Deployment/kubefaas-scaler'), SCALER_ADMIN_PORT),
  ).toBe(true);
  expect(evaluator.allows(by('Deployment/fn'), by('Deployment/kubefaas-scaler'), SCALER_ADMIN_PORT)).toBe(false);
  expect(
    evaluator.allows(by('StatefulSet/kubefaas-prometheus'), by('Deployment/kubefaas-scaler'), SCALER_GRPC_PORT),
  ).toBe(false);
  const config = find(objects, 'ConfigMap', 'kubefaas-prometheus').data['prometheus.yml'];
  expect(config).toContain('function;8080|router;8081|scaler;8081');

  for (const monitor of ['PodMonitor', 'ServiceMonitor'] as const) {
    const operator = kedaPlatform({ metrics: Metrics.operator({ monitor }) });
    new NodeFunction(operator, 'fn', { code: INLINE, scaling: { minReplicas: 0 } });
    const spec = find(synth(operator), monitor, 'kubefaas').spec;
    const endpoints = spec.podMetricsEndpoints ?? spec.endpoints;
    expect(endpoints.map((e: any) => [e.port, e.relabelings.at(-1).regex])).toEqual([
      ['http', 'function'],
      ['admin', 'router'],
      ['admin', 'scaler'],
    ]);
  }
  // A ServiceMonitor selects Service ports named `admin`: the routers' peers Service has none.
  const services = objects.filter((o) => o.kind === 'Service' && o.spec.ports.some((p: any) => p.name === 'admin'));
  expect(services.map((o) => o.metadata.name).sort()).toEqual(['kubefaas-router-admin', 'kubefaas-scaler']);
});

describe('KEDA validation', () => {
  test.each([
    [{ scaling: { minReplicas: 3, maxReplicas: 2 } }, 'scaling.maxReplicas (2) is below scaling.minReplicas (3)'],
    [{ scaling: { minReplicas: -1 } }, 'scaling.minReplicas must be a whole number between 0 and 1000'],
    [{ scaling: { maxReplicas: 0 } }, 'scaling.maxReplicas must be a whole number between 1 and 1000'],
    [{ scaling: { targetConcurrency: 0 } }, 'scaling.targetConcurrency must be a number above 0'],
    [{ scaling: { targetConcurrency: -3 } }, 'scaling.targetConcurrency must be a number above 0'],
    [{ scaling: { targetRps: 0 } }, 'scaling.targetRps must be a number above 0'],
    [{ scaling: { targetRps: Number.NaN } }, 'scaling.targetRps must be a number above 0'],
    [{ scaling: { targetCpuUtilization: 0 } }, 'scaling.targetCpuUtilization must be a whole number between 1 and 100'],
    [{ scaling: { targetMemoryUtilization: 101 } }, 'scaling.targetMemoryUtilization must be'],
    [{ scaling: { targetConcurrency: 5, targetRps: 5 } }, 'targetConcurrency and scaling.targetRps are both set'],
    [
      { scaling: { minReplicas: 0, activationTimeout: Duration.seconds(30) } },
      "scaling.activationTimeout (30 seconds) is not below the function's timeout (30 seconds)",
    ],
    [{ scaling: { activationTimeout: Duration.millis(500) } }, 'scaling.activationTimeout must be'],
    [{ scaling: { holdQueueLimit: 0 } }, 'scaling.holdQueueLimit must be a whole number between 1 and 10000'],
    [{ scaling: { scaleDownDelay: Duration.hours(2) } }, 'scaling.scaleDownDelay must be'],
    [{ scaling: { scaleDownDelay: Duration.millis(1500) } }, 'scaling.scaleDownDelay must be whole seconds'],
    [
      { scaling: { maxReplicas: 4, fallbackReplicas: 5 } },
      'scaling.fallbackReplicas must be a whole number between 1 and 4',
    ],
    [{ scaling: { minReplicas: 2, maxReplicas: 4, fallbackReplicas: 1 } }, 'between 2 and 4'],
    [
      { maxConcurrency: 4, scaling: { minReplicas: 0, targetConcurrency: 5 } },
      'scaling.targetConcurrency (5) is above maxConcurrency (4)',
    ],
  ])('case %#: %j is refused with a message naming the prop and a fix', (props, message) => {
    const error = nodeError(props);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('[platform/fn]');
    expect(error.message).toContain(message);
    expect(error.message).toMatch(/\. [A-Z]/);
  });

  test('a ContainerFunction at zero needs a health check', () => {
    const platform = kedaPlatform();
    const error = errorOf(
      () => new ContainerFunction(platform, 'img', { image: 'nginx:1.27.0', scaling: { minReplicas: 0 } }),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('[platform/img]');
    expect(error.message).toContain('has no healthCheck');
    expect(error.message).toContain('Set healthCheck');
    expect(
      () =>
        new ContainerFunction(platform, 'ok', {
          image: 'nginx:1.27.0',
          healthCheck: { path: '/' },
          scaling: { minReplicas: 0 },
        }),
    ).not.toThrow();
  });

  test.each([
    ['AWS Fargate', Placement.awsFargate({ profileName: 'fns' })],
    ['AKS virtual nodes v1', Placement.azureVirtualNode({ version: 'v1' })],
    ['AKS virtual nodes v2', Placement.azureVirtualNode()],
  ])('scale to zero on %s needs a chosen activation timeout', (description, placement) => {
    const error = nodeError({ placement, scaling: { minReplicas: 0 } });
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain(`scaling.minReplicas is 0 on ${description}`);
    expect(error.message).toContain('Set scaling.activationTimeout');
    const platform = kedaPlatform();
    expect(
      () =>
        new NodeFunction(platform, 'chosen', {
          code: INLINE,
          placement,
          timeout: Duration.minutes(3),
          scaling: { minReplicas: 0, activationTimeout: Duration.minutes(2) },
        }),
    ).not.toThrow();
    // Burst starts pods on regular nodes; min 1 keeps a pod: both fine.
    expect(
      () =>
        new NodeFunction(platform, 'burst', {
          code: INLINE,
          placement: Placement.burst(Placement.azureVirtualNode()),
          scaling: { minReplicas: 0 },
        }),
    ).not.toThrow();
    expect(
      () =>
        new NodeFunction(platform, 'warm', { code: INLINE, placement, scaling: { minReplicas: 1, maxReplicas: 3 } }),
    ).not.toThrow();
  });

  test.each([
    [{ namespace: 'Bad_NS' }, "namespace 'Bad_NS' is not a valid DNS-1123 label"],
    [{ pollingInterval: Duration.millis(1500) }, 'autoscaling.pollingInterval must be whole seconds'],
    [{ pollingInterval: Duration.hours(2) }, 'autoscaling.pollingInterval must be'],
    [{ scaler: { replicas: 0 } }, 'autoscaling.scaler.replicas must be a whole number between 1 and 10'],
    [{ scaler: { resources: { memory: Size.mebibytes(16) } } }, 'autoscaling.scaler.resources.memory must be'],
    [{ scaler: { placement: 'fargate' as any } }, 'autoscaling.scaler.placement must be a Placement'],
  ])('Autoscaling.keda(%j) is refused on the platform', (options, message) => {
    const error = errorOf(() => newPlatform({ autoscaling: Autoscaling.keda(options) }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('[platform]');
    expect(error.message).toContain(message);
  });

  test('a non-Autoscaling value is refused', () => {
    const error = errorOf(() => newPlatform({ autoscaling: { mode: 'keda' } as any }));
    expect(error.message).toContain('`autoscaling` must be an Autoscaling');
  });
});

describe('the KEDA schema and semantic checks can fail', () => {
  const good = () => JSON.parse(JSON.stringify(find(synth(minimal()), 'ScaledObject', 'fn')));
  function minimal(): Platform {
    const platform = kedaPlatform();
    new NodeFunction(platform, 'fn', { code: INLINE, scaling: { minReplicas: 0, targetCpuUtilization: 50 } });
    return platform;
  }

  test('the synthesized object passes', () => {
    expect(checkScaledObject(good())).toEqual([]);
  });

  test.each([
    ['an unknown field', (o: any) => (o.spec.minReplicas = 0), '.spec.minReplicas: unknown field'],
    ['a string count', (o: any) => (o.spec.maxReplicaCount = '3'), '.spec.maxReplicaCount: expected integer'],
    ['min above max', (o: any) => (o.spec.minReplicaCount = 30), 'minReplicaCount (30) must be less than or equal'],
    ['no triggers', (o: any) => (o.spec.triggers = []), 'at least one trigger'],
    ['polling 0', (o: any) => (o.spec.pollingInterval = 0), '.spec.pollingInterval: must be at least 1'],
    ['duplicate names', (o: any) => (o.spec.triggers[1].name = 'requests'), '"requests" is used by another trigger'],
    [
      'Utilization on external-push',
      (o: any) => (o.spec.triggers[0].metricType = 'Utilization'),
      'Utilization is only for cpu and memory',
    ],
    [
      'a bad fallback behavior',
      (o: any) => (o.spec.fallback.behavior = 'max'),
      '.spec.fallback.behavior: must be one of',
    ],
    [
      'a fallback with cpu only',
      (o: any) => (o.spec.triggers = o.spec.triggers.filter((t: any) => t.type === 'cpu')),
      'needs a trigger other than cpu/memory',
    ],
    ['non-string metadata', (o: any) => (o.spec.triggers[0].metadata.targetConcurrency = 10), 'expected string'],
    ['no scaler address', (o: any) => delete o.spec.triggers[0].metadata.scalerAddress, 'scalerAddress: required'],
    ['a wrong version', (o: any) => (o.apiVersion = 'keda.sh/v1'), 'apiVersion: expected keda.sh/v1alpha1'],
    [
      'a window above an hour',
      (o: any) => (o.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds = 4000),
      'must be 0..3600',
    ],
  ])('schema: %s', (_label, mutate, message) => {
    const object = good();
    mutate(object);
    expect(checkScaledObject(object).join('\n')).toContain(message);
  });

  test('semantics: a missing target, a target with replicas, a competing HPA, an address that is no Service', () => {
    const objects = synth(minimal()).map((o) => JSON.parse(JSON.stringify(o)));
    const so = objects.find((o) => o.kind === 'ScaledObject');
    const problems = () =>
      checkSemantics(objects)
        .map((p) => `${p.object}: ${p.message}`)
        .join('\n');
    expect(problems()).toBe('');
    find(objects, 'Deployment', 'fn').spec.replicas = 1;
    objects.push({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'extra', namespace: 'faas' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'fn' }, maxReplicas: 2 },
    });
    so.spec.triggers[0].metadata.scalerAddress = 'kubefaas-scaler.faas.svc.cluster.local:9999';
    const found = problems();
    expect(found).toContain('sets spec.replicas (1) while this ScaledObject scales it');
    expect(found).toContain('HorizontalPodAutoscaler faas/extra scales the same Deployment');
    expect(found).toContain('port 9999 is not a port of Service "kubefaas-scaler"');
    so.spec.scaleTargetRef.name = 'nope';
    expect(problems()).toContain('spec.scaleTargetRef Deployment "nope" is not among the objects');
  });
});

test('the platform exposes the scaler as an escape hatch', () => {
  const app = Testing.app();
  const platform = new Platform(app, 'p', { autoscaling: Autoscaling.keda() });
  expect(platform.scaler?.deployment.kind).toBe('Deployment');
  expect(platform.scaler?.address).toBe('kubefaas-scaler.kubefaas.svc.cluster.local:9090');
  expect(new Platform(app, 'q').scaler).toBeUndefined();
});
