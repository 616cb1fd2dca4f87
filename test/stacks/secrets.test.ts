// A value set with `pulumi config set --secret` becomes a Kubernetes Secret, stays a Pulumi secret
// all the way to the engine, and shows up nowhere else in plaintext.
import * as pulumi from '@pulumi/pulumi';
import * as k8s from '@pulumi/kubernetes';
import { KubefaasPlatform } from '../../stacks';
import { deployExample, REDIS_PASSWORD_KEY, REDIS_SECRET_NAME } from '../../stacks/example/program';
import { installRecordingMocks, isSecretValue, outputValue, settled } from './support/recording-mocks';
import { buildSampleApp } from './support/sample-app';
import { stackConfig, useConfig } from './support/stack-config';

const recorder = installRecordingMocks();
const PASSWORD = 'correct-horse-battery-staple';

describe('secret config values', () => {
  let platform: KubefaasPlatform;

  beforeAll(async () => {
    useConfig({ ...stackConfig('prod'), 'kubefaas:redisPassword': PASSWORD }, ['kubefaas:redisPassword']);
    platform = deployExample();
    await settled(platform);
  });

  const secret = () => recorder.find('kubernetes:core/v1:Secret', `/Secret/kubefaas/${REDIS_SECRET_NAME}`);

  test('become a Kubernetes Secret whose data the engine receives as a Pulumi secret', () => {
    const { inputs, additionalSecretOutputs } = secret();
    expect(inputs.metadata).toEqual(expect.objectContaining({ name: REDIS_SECRET_NAME, namespace: 'kubefaas' }));
    expect(isSecretValue(inputs.stringData)).toBe(true);
    expect(inputs.stringData.value).toEqual({ [REDIS_PASSWORD_KEY]: PASSWORD });
    expect(additionalSecretOutputs).toEqual(expect.arrayContaining(['data', 'stringData']));
  });

  test('stay secret on the registered resource', async () => {
    const resource = platform.resource('Secret', REDIS_SECRET_NAME, 'kubefaas')!;
    expect(k8s.core.v1.Secret.isInstance(resource)).toBe(true);
    expect(await pulumi.isSecret((resource as unknown as { stringData: pulumi.Output<unknown> }).stringData)).toBe(
      true,
    );
  });

  test('reach the function only as a reference to the Secret', () => {
    const analytics = recorder.find('kubernetes:apps/v1:Deployment', '/Deployment/kubefaas/analytics');
    const env = analytics.inputs.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({
      name: 'REDIS_PASSWORD',
      valueFrom: { secretKeyRef: { name: REDIS_SECRET_NAME, key: REDIS_PASSWORD_KEY } },
    });
    // ...and the Deployment is created after the Secret it reads.
    expect(analytics.dependencies).toContain(secret().urn);
  });

  test('appear in no other input and no output', async () => {
    for (const r of recorder.resources) {
      if (r === secret()) continue;
      expect(JSON.stringify(r.inputs)).not.toContain(PASSWORD);
    }
    const outputs = [platform.namespace, platform.routerServiceName, platform.clusterUrl, platform.url];
    for (const output of outputs) {
      expect(JSON.stringify(await outputValue(output as pulumi.Output<unknown>)) ?? '').not.toContain(PASSWORD);
      expect(await pulumi.isSecret(output as pulumi.Output<unknown>)).toBe(false);
    }
  });
});

describe('secrets given to the component', () => {
  beforeEach(() => recorder.reset());

  test('wrap plain values as Pulumi secrets too', async () => {
    const p = new KubefaasPlatform('plain', {
      build: (app) => buildSampleApp(app),
      secrets: { 'api-keys': { stringData: { KEY: 'plain-value' } } },
    });
    await settled(p);
    const r = recorder.find('kubernetes:core/v1:Secret', 'plain/Secret/sample/api-keys');
    expect(isSecretValue(r.inputs.stringData)).toBe(true);
    expect(r.inputs.metadata.labels).toEqual({
      'app.kubernetes.io/part-of': 'kubefaas',
      'app.kubernetes.io/managed-by': 'kubefaas',
    });
  });

  test.each([
    [{ Bad_Name: { stringData: { K: 'v' } } }, /secret 'Bad_Name': the name must be a DNS-1123 subdomain/],
    [{ ok: { stringData: {} } }, /secret 'ok': give at least one key in 'stringData'/],
    [{ ok: { stringData: { 'no spaces': 'v' } } }, /secret 'ok': key 'no spaces' may only contain/],
    [
      { 'web-token': { stringData: { K: 'v' } } },
      /secret 'web-token': the cdk8s app already defines Secret sample\/web-token/,
    ],
  ])('reject invalid definitions (%j)', (secrets, message) => {
    expect(() => new KubefaasPlatform('bad', { build: (app) => buildSampleApp(app), secrets })).toThrow(message);
  });
});
