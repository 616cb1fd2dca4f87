// Missing or malformed stack config fails before anything is registered, naming the key.
import { readStackConfig } from '../../stacks/example/config';
import { deployExample } from '../../stacks/example/program';
import { installRecordingMocks } from './support/recording-mocks';
import { stackConfig, useConfig } from './support/stack-config';

const recorder = installRecordingMocks();

function withConfig(changes: Record<string, string | undefined>, secretKeys: string[] = []): void {
  const config: Record<string, string> = { ...stackConfig('prod') };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete config[key];
    else config[key] = value;
  }
  useConfig(config, secretKeys);
}

beforeEach(() => recorder.reset());

test('the program fails on a missing namespace, naming the key', () => {
  withConfig({ 'kubefaas:namespace': undefined });
  expect(() => deployExample()).toThrow(
    'kubefaas:namespace is required: pulumi config set kubefaas:namespace <namespace>',
  );
});

test.each([
  [{ 'kubefaas:namespace': 'Prod_Faas' }, /^kubefaas:namespace must be a DNS-1123 label/],
  [
    { 'kubefaas:routerReplicas': '{"min":4,"max":2}' },
    /^kubefaas:routerReplicas must be \{ min, max \} with whole numbers 1 <= min <= max/,
  ],
  [{ 'kubefaas:routerReplicas': '{"min":0,"max":2}' }, /^kubefaas:routerReplicas must be/],
  [{ 'kubefaas:routerReplicas': '3' }, /^kubefaas:routerReplicas must be a map/],
  [{ 'kubefaas:functionMaxReplicas': 'lots' }, /^kubefaas:functionMaxReplicas must be a number, got 'lots'/],
  [{ 'kubefaas:functionMaxReplicas': '2.5' }, /^kubefaas:functionMaxReplicas must be a whole number >= 1/],
  [
    { 'kubefaas:exposure': '{"kind":"nodePort"}' },
    /^kubefaas:exposure.kind must be one of clusterIp, loadBalancer, gateway, ingress/,
  ],
  [
    { 'kubefaas:exposure': '{"kind":"gateway"}' },
    /^kubefaas:exposure.gatewayName is required when kubefaas:exposure.kind is gateway/,
  ],
  [
    { 'kubefaas:exposure': '{"kind":"gateway","gatewayName":"g","hostnames":"a.example.com"}' },
    /^kubefaas:exposure.hostnames must be a list of strings/,
  ],
  [
    { 'kubefaas:exposure': '{"kind":"gateway","gatewayName":"g","scheme":"ftp"}' },
    /^kubefaas:exposure.scheme must be http or https/,
  ],
  [{ 'kubefaas:redisUrl': 'localhost:6379' }, /^kubefaas:redisUrl must be a redis:\/\/ or rediss:\/\/ URL/],
  [{ 'kubefaas:nodeImage': 'node 22' }, /^kubefaas:nodeImage must be an image reference/],
])('rejects %j', (changes, message) => {
  withConfig(changes);
  expect(() => readStackConfig()).toThrow(message);
});

test('a redis password stored in plaintext in the stack file is refused', () => {
  withConfig({ 'kubefaas:redisPassword': 'hunter2' });
  expect(() => readStackConfig()).toThrow(
    'kubefaas:redisPassword must be a secret: pulumi config set --secret kubefaas:redisPassword <password>',
  );
});

test('optional keys fall back to the example app defaults', () => {
  useConfig({ 'kubefaas:namespace': 'faas' });
  const config = readStackConfig();
  expect(config).toEqual(expect.objectContaining({ namespace: 'faas', exposure: { kind: 'clusterIp' } }));
  expect(config.routerReplicas).toBeUndefined();
  expect(config.redisPassword).toBeUndefined();
  expect(config.kubeconfigContext).toBeUndefined();
});

test('the construct validation still applies to config values (an unpinned image)', () => {
  withConfig({ 'kubefaas:nodeImage': 'node:latest' });
  expect(() => deployExample()).toThrow(/nodeImage 'node:latest' uses the floating tag :latest/);
});
