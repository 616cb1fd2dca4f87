import * as pulumi from '@pulumi/pulumi';
import * as k8s from '@pulumi/kubernetes';
import { ApiObject, App, Chart } from 'cdk8s';
import { KubefaasPlatform } from '../../stacks';
import { Code, FunctionServiceAccount, NodeFunction, Platform } from '../../constructs';
import { idOf, synthesizedFiles } from './support/cdk8s-output';
import {
  installRecordingMocks,
  isSecretValue,
  outputValue,
  RegisteredResource,
  revealSecrets,
  settled,
} from './support/recording-mocks';
import { buildSampleApp, SampleOptions } from './support/sample-app';

// The mocked cluster gives LoadBalancer Services an address, as a cloud would.
const recorder = installRecordingMocks((args) =>
  args.type === 'kubernetes:core/v1:Service' && args.inputs.spec?.type === 'LoadBalancer'
    ? { ...args.inputs, status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } } }
    : args.inputs,
);

async function deploy(name: string, options: SampleOptions = {}, provider?: k8s.Provider): Promise<KubefaasPlatform> {
  const platform = new KubefaasPlatform(name, { build: (app) => buildSampleApp(app, options), provider });
  await settled(platform);
  return platform;
}

const children = (component: string): RegisteredResource[] =>
  recorder.resources.filter((r) => r.name.startsWith(`${component}/`));

function child(component: string, id: string): RegisteredResource {
  const found = children(component).find((r) => r.name === `${component}/${id}`);
  if (!found)
    throw new Error(
      `no child ${component}/${id}; have ${children(component)
        .map((r) => r.name)
        .join(', ')}`,
    );
  return found;
}

describe('KubefaasPlatform', () => {
  beforeEach(() => recorder.reset());

  test('registers exactly the objects cdk8s synth writes, with identical content', async () => {
    await deploy('parity', { exposure: 'gateway' });
    const written = synthesizedFiles((app) => buildSampleApp(app, { exposure: 'gateway' }));
    // Secret data reaches the engine as Pulumi secrets; compare the plaintext.
    expect(isSecretValue(child('parity', 'Secret/sample/web-token').inputs.stringData)).toBe(true);
    const registered = children('parity').map((r) => revealSecrets(r.inputs));
    expect(registered.map(idOf).sort()).toEqual(written.map(idOf).sort());
    for (const object of written) {
      expect(registered.find((r) => idOf(r) === idOf(object))).toEqual(object);
    }
  });

  test('uses typed Kubernetes resources for built-in kinds and CustomResource for CRD instances', async () => {
    await deploy('types', { exposure: 'gateway' });
    expect(child('types', 'Deployment/sample/web').type).toBe('kubernetes:apps/v1:Deployment');
    expect(child('types', 'ConfigMap/sample/web-code').type).toBe('kubernetes:core/v1:ConfigMap');
    expect(child('types', 'HorizontalPodAutoscaler/sample/web').type).toBe(
      'kubernetes:autoscaling/v2:HorizontalPodAutoscaler',
    );
    expect(child('types', 'PodDisruptionBudget/sample/web').type).toBe('kubernetes:policy/v1:PodDisruptionBudget');
    expect(child('types', 'Namespace/sample').type).toBe('kubernetes:core/v1:Namespace');
    expect(child('types', 'HTTPRoute/sample/kubefaas-router').type).toBe(
      'kubernetes:gateway.networking.k8s.io/v1:HTTPRoute',
    );
    expect(child('types', 'Widget/sample/gizmo').type).toBe('kubernetes:example.com/v1:Widget');
  });

  test('every object is a child of the component', async () => {
    const platform = await deploy('parents');
    const urn = await outputValue(platform.urn);
    expect(children('parents').length).toBeGreaterThan(10);
    for (const r of children('parents')) expect(r.parent).toBe(urn);
  });

  test('orders creation by what objects reference', async () => {
    await deploy('order', { exposure: 'gateway' });
    const urn = (id: string) => child('order', id).urn;
    const depsOf = (id: string) => child('order', id).dependencies;

    // Everything namespaced waits for its Namespace; the Namespace and the CRD wait for nothing.
    for (const r of children('order')) {
      if (r.inputs.metadata.namespace) expect(r.dependencies).toContain(urn('Namespace/sample'));
    }
    expect(depsOf('Namespace/sample')).toEqual([]);
    expect(depsOf('CustomResourceDefinition/widgets.example.com')).toEqual([]);
    // A CRD instance waits for its CRD.
    expect(depsOf('Widget/sample/gizmo')).toContain(urn('CustomResourceDefinition/widgets.example.com'));
    // The Deployment waits for the ConfigMap it mounts, the Secret it reads and its ServiceAccount,
    // and for nothing it does not use.
    expect(new Set(depsOf('Deployment/sample/web'))).toEqual(
      new Set([
        urn('Namespace/sample'),
        urn('ConfigMap/sample/web-code'),
        urn('Secret/sample/web-token'),
        urn('ServiceAccount/sample/web'),
      ]),
    );
    // Autoscaler, disruption budget and route come after what they point at.
    expect(depsOf('HorizontalPodAutoscaler/sample/web')).toContain(urn('Deployment/sample/web'));
    expect(depsOf('PodDisruptionBudget/sample/web')).toContain(urn('Deployment/sample/web'));
    expect(depsOf('HTTPRoute/sample/kubefaas-router')).toContain(urn('Service/sample/kubefaas-router'));
    // And the engine really sees them in that order.
    const position = (id: string) => recorder.resources.indexOf(child('order', id));
    expect(position('ConfigMap/sample/web-code')).toBeLessThan(position('Deployment/sample/web'));
    expect(position('Deployment/sample/web')).toBeLessThan(position('HorizontalPodAutoscaler/sample/web'));
  });

  test('a function ServiceAccount (IRSA) is registered as written and created before the Deployment', async () => {
    const build = (app: App) => {
      const platform = new Platform(app, 'faas', { namespace: 'ids' });
      new NodeFunction(platform, 'orders', {
        code: Code.fromInline('module.exports = async () => "ok";'),
        serviceAccount: FunctionServiceAccount.awsIamRole('arn:aws:iam::123456789012:role/orders'),
      });
    };
    await settled(new KubefaasPlatform('identity', { build }));
    const written = synthesizedFiles(build);
    const account = child('identity', 'ServiceAccount/ids/orders');
    expect(account.type).toBe('kubernetes:core/v1:ServiceAccount');
    expect(account.inputs).toEqual(written.find((o) => idOf(o) === 'ServiceAccount/ids/orders'));
    expect(child('identity', 'Deployment/ids/orders').dependencies).toContain(account.urn);
  });

  test('carries dependencies declared in cdk8s over to Pulumi', async () => {
    const platform = new KubefaasPlatform('declared', {
      build: (app) => {
        const chart = new Chart(app, 'c', { disableResourceNameHashes: true });
        const first = new ApiObject(chart, 'a', {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'a' },
          data: {},
        });
        const second = new ApiObject(chart, 'b', {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'b' },
          data: {},
        });
        second.addDependency(first);
      },
    });
    await settled(platform);
    expect(child('declared', 'ConfigMap/b').dependencies).toEqual([child('declared', 'ConfigMap/a').urn]);
  });

  test('spreads the registrations over event-loop turns, a few children at a time', async () => {
    const platform = new KubefaasPlatform('paced', { build: (app) => buildSampleApp(app, { exposure: 'gateway' }) });
    // Every child exists as soon as the constructor returns...
    expect(platform.resources.length).toBeGreaterThan(10);
    // ...but only the first batch reaches the engine before the event loop turns.
    await new Promise((resolve) => setImmediate(resolve));
    const firstTurn = children('paced').length;
    expect(firstTurn).toBeGreaterThan(0);
    expect(firstTurn).toBeLessThan(platform.resources.length);
    await settled(platform);
    expect(children('paced').length).toBe(platform.resources.length);
  });

  test('names derive from kind/namespace/name only: re-running or nesting constructs renames nothing', async () => {
    await deploy('stable', { exposure: 'gateway' });
    const first = children('stable')
      .map((r) => r.urn)
      .sort();
    recorder.reset();
    await deploy('stable', { exposure: 'gateway', nested: true });
    expect(
      children('stable')
        .map((r) => r.urn)
        .sort(),
    ).toEqual(first);
    expect(first).toContain(
      'urn:pulumi:test::kubefaas::kubefaas:index:Platform$kubernetes:apps/v1:Deployment::stable/Deployment/sample/web',
    );
  });

  test('passes the given Kubernetes provider to every object', async () => {
    const provider = new k8s.Provider('dev-cluster', { context: 'kind-dev' });
    await deploy('provided', {}, provider);
    const reference = `${await outputValue(provider.urn)}::${await outputValue(provider.id)}`;
    expect(children('provided').length).toBeGreaterThan(10);
    for (const r of children('provided')) expect(r.provider).toBe(reference);
  });

  test.each([
    ['gateway', 'http://faas.example.com'],
    ['gateway-tls', 'https://faas.example.com'],
    ['ingress', 'http://faas.example.org'],
    ['ingress-tls', 'https://faas.example.org'],
    ['loadBalancer', 'http://203.0.113.7'],
    ['clusterIp', undefined],
  ] as const)('outputs the router URL when exposed via %s', async (exposure, url) => {
    const platform = await deploy(`url-${exposure}`, { exposure });
    expect(await outputValue(platform.url)).toBe(url);
    expect(await outputValue(platform.namespace)).toBe('sample');
    expect(await outputValue(platform.routerServiceName)).toBe('kubefaas-router');
    expect(await outputValue(platform.clusterUrl)).toBe('http://kubefaas-router.sample.svc.cluster.local:80');
  });

  test('reports cdk8s validation errors as synth does', () => {
    expect(
      () =>
        new KubefaasPlatform('invalid', {
          build: (app) => {
            const chart = new Chart(app, 'c');
            chart.node.addValidation({ validate: () => ['replicas must be positive'] });
          },
        }),
    ).toThrow(/Validation failed with the following errors:\n {2}\[c\] replicas must be positive/);
  });

  test('sends every rendered field, including ones the typed SDK class would not know', async () => {
    const platform = new KubefaasPlatform('extra', {
      build: (app) => {
        const chart = new Chart(app, 'c', { disableResourceNameHashes: true });
        new ApiObject(chart, 'x', {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'x' },
          data: { a: '1' },
          extra: { b: 2 },
        } as never);
      },
    });
    await settled(platform);
    expect(child('extra', 'ConfigMap/x').type).toBe('kubernetes:core/v1:ConfigMap');
    expect(child('extra', 'ConfigMap/x').inputs).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x' },
      data: { a: '1' },
      extra: { b: 2 },
    });
  });

  test('registers with the Kubernetes provider plugin version of @pulumi/kubernetes', async () => {
    const platform = await deploy('versioned');
    const deployment = platform.resource('Deployment', 'web', 'sample')!;
    expect((deployment as unknown as { __version?: string }).__version).toBe(
      require('@pulumi/kubernetes/package.json').version,
    );
  });

  test('keeps stack traces on: the limit is restored after registration', async () => {
    const before = Error.stackTraceLimit;
    await deploy('limit');
    expect(Error.stackTraceLimit).toBe(before);
  });

  test('reports a dependency cycle, naming the objects', () => {
    expect(
      () =>
        new KubefaasPlatform('cycle', {
          build: (app) => {
            const chart = new Chart(app, 'c', { disableResourceNameHashes: true });
            // The Deployment mounts the ConfigMap, and the ConfigMap was told to wait for the Deployment.
            const config = new ApiObject(chart, 'cm', {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: 'code' },
              data: {},
            });
            const deployment = new ApiObject(chart, 'd', {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              metadata: { name: 'web' },
              spec: { template: { spec: { containers: [], volumes: [{ name: 'c', configMap: { name: 'code' } }] } } },
            });
            config.addDependency(deployment);
          },
        }),
    ).toThrow(
      /dependency cycle between Kubernetes objects: (Deployment\/web, ConfigMap\/code|ConfigMap\/code, Deployment\/web)$/,
    );
  });

  test('needs an app or a build function', () => {
    expect(() => new KubefaasPlatform('empty', {})).toThrow(/give either an 'app' or a 'build' function/);
  });

  test('accepts an app that is already built', async () => {
    const app = new App();
    buildSampleApp(app);
    const platform = new KubefaasPlatform('prebuilt', { app });
    await settled(platform);
    // The same type token as the SDK's typed classes, so their isInstance recognizes the resources.
    expect(k8s.apps.v1.Deployment.isInstance(platform.resource('Deployment', 'web', 'sample'))).toBe(true);
    expect(k8s.core.v1.Service.isInstance(platform.resource('Service', 'web', 'sample'))).toBe(true);
    expect(pulumi.CustomResource.isInstance(platform.resource('Widget', 'gizmo', 'sample'))).toBe(true);
  });
});

describe('code ConfigMaps keep their history (issue 13, item 3)', () => {
  beforeEach(() => recorder.reset());

  test('content-hashed code ConfigMaps are retained on delete and never deleted before replace', async () => {
    const options = new Map<string, pulumi.CustomResourceOptions>();
    const platform = new KubefaasPlatform(
      'history',
      {
        build: (app) => {
          const chart = new Chart(app, 'c', { namespace: 'h' });
          new ApiObject(chart, 'code', {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'fn-code-0123456789', labels: { 'kubefaas.dev/code-of': 'fn' } },
            immutable: true,
            data: { 'index.js': '1' },
          });
          new ApiObject(chart, 'routes', {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'routes' },
            data: { 'routes.json': '{}' },
          });
        },
      },
      {
        transformations: [
          (args) => {
            options.set(args.name, args.opts as pulumi.CustomResourceOptions);
            return undefined;
          },
        ],
      },
    );
    await settled(platform);
    expect(options.get('history/ConfigMap/h/fn-code-0123456789')).toMatchObject({
      retainOnDelete: true,
      deleteBeforeReplace: false,
    });
    expect(options.get('history/ConfigMap/h/routes')?.retainOnDelete).toBeUndefined();
  });
});
