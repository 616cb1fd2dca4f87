// dev and prod deploy the same constructs with their own config: the differences are the ones the
// stack files ask for, and nothing else.
import { deployExample } from '../../stacks/example/program';
import { installRecordingMocks, outputValue, RegisteredResource, settled } from './support/recording-mocks';
import { stackConfig, useConfig } from './support/stack-config';

const recorder = installRecordingMocks();

interface Deployed {
  readonly resources: RegisteredResource[];
  readonly url: string | undefined;
  readonly namespace: string | undefined;
}

async function deployStack(stack: string): Promise<Deployed> {
  recorder.reset();
  useConfig(stackConfig(stack));
  const platform = deployExample();
  await settled(platform);
  return {
    resources: [...recorder.resources],
    url: await outputValue(platform.url),
    namespace: await outputValue(platform.namespace),
  };
}

const objects = (d: Deployed, kind: string) => d.resources.filter((r) => r.inputs.kind === kind).map((r) => r.inputs);
const object = (d: Deployed, kind: string, name: string) => {
  const found = objects(d, kind).find((o) => o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
const names = (d: Deployed, kind: string) =>
  objects(d, kind)
    .map((o) => o.metadata.name)
    .sort();

let dev: Deployed;
let prod: Deployed;

beforeAll(async () => {
  dev = await deployStack('dev');
  prod = await deployStack('prod');
});

test('each stack deploys into its own namespace', () => {
  expect(dev.namespace).toBe('kubefaas-dev');
  expect(prod.namespace).toBe('kubefaas');
  expect(
    new Set(dev.resources.filter((r) => r.inputs.metadata?.namespace).map((r) => r.inputs.metadata.namespace)),
  ).toEqual(new Set(['kubefaas-dev']));
  expect(
    new Set(prod.resources.filter((r) => r.inputs.metadata?.namespace).map((r) => r.inputs.metadata.namespace)),
  ).toEqual(new Set(['kubefaas']));
});

test('both stacks deploy the same functions', () => {
  expect(names(prod, 'Deployment')).toEqual(names(dev, 'Deployment'));
  expect(names(prod, 'Service')).toEqual(names(dev, 'Service'));
  expect(names(dev, 'Deployment')).toEqual(expect.arrayContaining(['hello', 'analytics', 'kubefaas-router']));
});

test('prod runs a highly available, autoscaled router; dev a single one', () => {
  const prodHpa = object(prod, 'HorizontalPodAutoscaler', 'kubefaas-router');
  expect(prodHpa.spec).toEqual(expect.objectContaining({ minReplicas: 3, maxReplicas: 12 }));
  expect(names(prod, 'PodDisruptionBudget')).toContain('kubefaas-router');
  expect(names(dev, 'HorizontalPodAutoscaler')).not.toContain('kubefaas-router');
  expect(names(dev, 'PodDisruptionBudget')).not.toContain('kubefaas-router');
  expect(object(dev, 'Deployment', 'kubefaas-router').spec.replicas).toBe(1);
});

test('prod exposes the router through the Gateway with its hostname; dev keeps it in-cluster', () => {
  const route = object(prod, 'HTTPRoute', 'kubefaas-router');
  expect(route.spec.hostnames).toEqual(['faas.example.com']);
  expect(route.spec.parentRefs[0]).toEqual(
    expect.objectContaining({ name: 'public', namespace: 'gateway-system', sectionName: 'https' }),
  );
  expect(prod.url).toBe('https://faas.example.com');
  expect(objects(dev, 'HTTPRoute')).toEqual([]);
  expect(objects(dev, 'Ingress')).toEqual([]);
  expect(object(dev, 'Service', 'kubefaas-router').spec.type ?? 'ClusterIP').toBe('ClusterIP');
  expect(dev.url).toBeUndefined();
});

test('function autoscaling limits follow kubefaas:functionMaxReplicas', () => {
  expect(object(dev, 'HorizontalPodAutoscaler', 'hello').spec.maxReplicas).toBe(2);
  expect(object(prod, 'HorizontalPodAutoscaler', 'hello').spec.maxReplicas).toBe(20);
});

test('prod pulls the node image from its mirror', () => {
  const image = (d: Deployed, name: string) => object(d, 'Deployment', name).spec.template.spec.containers[0].image;
  expect(image(prod, 'hello')).toBe('registry.example.com/mirror/node:22.20.0-alpine');
  expect(image(prod, 'kubefaas-router')).toBe('registry.example.com/mirror/node:22.20.0-alpine');
  expect(image(dev, 'hello')).toBe('node:22.20.0-alpine');
});

test('each stack deploys to the kubeconfig context it names', () => {
  const provider = (d: Deployed) => d.resources.find((r) => r.type === 'pulumi:providers:kubernetes')!;
  expect(provider(dev).inputs.context).toBe('kind-kubefaas');
  expect(provider(prod).inputs.context).toBe('prod-eu-west-1');
  const children = prod.resources.filter((r) => r.type.startsWith('kubernetes:'));
  expect(children.length).toBeGreaterThan(10);
  for (const r of children) expect(r.provider.startsWith(provider(prod).urn)).toBe(true);
});
