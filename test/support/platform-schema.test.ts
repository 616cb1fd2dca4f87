/**
 * What the constructs synthesize passes every check of the verification layer: one small platform
 * per router exposure, each with a NodeFunction and a ContainerFunction.
 */
import { ApiObject, Testing } from 'cdk8s';
import { buildExampleApp } from '../../examples/app';
import {
  Code,
  ContainerFunction,
  Cpu,
  Duration,
  EnvValue,
  HttpTrigger,
  NodeFunction,
  Platform,
  PlatformProps,
  RouterExposure,
  Size,
} from '../../constructs';
import { K8sObject } from './manifest';
import { expectValidManifests, validateManifests } from './validate';

/** A platform with one NodeFunction (autoscaled, env from a Secret and a ConfigMap) and one ContainerFunction. */
function synthPlatform(props: PlatformProps): K8sObject[] {
  const platform = new Platform(Testing.app(), 'platform', props);
  new ApiObject(platform, 'Settings', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'settings', namespace: platform.namespace },
    data: { greeting: 'hello' },
  });
  new NodeFunction(platform, 'hello', {
    code: Code.fromInline('module.exports = async (event) => `Yeah, ${event.body ?? "it works!!!"}`;'),
    env: {
      MODE: 'test',
      GREETING: EnvValue.fromConfigMap('settings', 'greeting'),
      REDIS_PASSWORD: EnvValue.fromSecret('redis', 'password'),
    },
    memory: Size.mebibytes(128),
    cpu: Cpu.millis(100),
    timeout: Duration.seconds(10),
    scaling: { minReplicas: 2, maxReplicas: 4 },
    labels: { team: 'web' },
    triggers: [new HttpTrigger({ path: '/hello', methods: ['GET', 'POST'] })],
  });
  const thumbs = new ContainerFunction(platform, 'thumbnails', {
    image: 'ghcr.io/acme/thumbnailer:1.4.2',
    healthCheck: { path: '/healthz' },
    local: { command: ['node', 'server.js'] },
  });
  thumbs.addTrigger(new HttpTrigger({ path: '/thumbs/:id' }));
  new ContainerFunction(platform, 'resizer', { image: 'ghcr.io/acme/resizer@sha256:' + 'b'.repeat(64) });
  return Testing.synth(platform);
}

const OPTIONS = { externalSecrets: ['redis', 'faas-tls'] };

describe('synthesized platforms pass schema, semantic and pod-security checks', () => {
  const exposures: ReadonlyArray<[string, RouterExposure | undefined, string[]]> = [
    ['default (ClusterIP)', undefined, []],
    ['ClusterIP', RouterExposure.clusterIp(), []],
    [
      'LoadBalancer',
      RouterExposure.loadBalancer({
        annotations: { 'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing' },
        sourceRanges: ['203.0.113.0/24'],
      }),
      [],
    ],
    [
      'Gateway API',
      RouterExposure.gatewayApi({
        gatewayName: 'public',
        gatewayNamespace: 'gateway-system',
        sectionName: 'https',
        hostnames: ['faas.example.com'],
      }),
      ['HTTPRoute'],
    ],
    [
      'Ingress',
      RouterExposure.ingress({ className: 'traefik', host: 'faas.example.com', tlsSecretName: 'faas-tls' }),
      ['Ingress'],
    ],
  ];

  it.each(exposures)('%s exposure', async (_label, exposure, extraKinds) => {
    const objects = synthPlatform({ namespace: 'faas', router: { exposure } });
    await expectValidManifests(objects, OPTIONS);
    // The checks saw what they were meant to see.
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'Namespace',
      'Deployment',
      'Service',
      'ConfigMap',
      'NetworkPolicy',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      ...extraKinds,
    ]) {
      expect(kinds).toContain(kind);
    }
  });

  it('the example app, with an autoscaled router behind a Gateway API route', async () => {
    const app = Testing.app();
    buildExampleApp(app, {
      routerReplicas: { min: 2, max: 4 },
      exposure: RouterExposure.gatewayApi({ gatewayName: 'public', gatewayNamespace: 'gateway-system' }),
      analyticsSecretName: 'redis-auth',
    });
    const objects = app.charts.flatMap((chart) => Testing.synth(chart));
    await expectValidManifests(objects, { externalSecrets: ['redis-auth'] });
  });

  it('a platform in an existing namespace', async () => {
    const objects = synthPlatform({ namespace: { name: 'apps', createNamespace: false } });
    expect(objects.some((o) => o.kind === 'Namespace')).toBe(false);
    await expectValidManifests(objects, { ...OPTIONS, existingNamespaces: ['apps'] });
    // Without saying the namespace exists, the same objects are refused.
    expect((await validateManifests(objects, OPTIONS)).length).toBeGreaterThan(0);
  });
});
