// Parity: what Pulumi registers for the example app is exactly what `cdk8s synth` writes for it.
import { buildExampleApp } from '../../examples/app';
import { KubefaasPlatform } from '../../stacks';
import { exampleAppOptions, readStackConfig } from '../../stacks/example/config';
import { deployExample, REDIS_SECRET_NAME } from '../../stacks/example/program';
import { idOf, synthesizedFiles } from './support/cdk8s-output';
import { installRecordingMocks, revealSecrets, settled } from './support/recording-mocks';
import { stackConfig, useConfig } from './support/stack-config';

const recorder = installRecordingMocks();

function registeredObjects(component: string): Record<string, any>[] {
  return recorder.resources.filter((r) => r.name.startsWith(`${component}/`)).map((r) => revealSecrets(r.inputs));
}

function expectSameObjects(registered: Record<string, any>[], written: Record<string, any>[]): void {
  expect(registered.map(idOf).sort()).toEqual(written.map(idOf).sort());
  const byId = new Map(registered.map((o) => [idOf(o), o]));
  for (const object of written) expect(byId.get(idOf(object))).toEqual(object);
}

describe('the example app through Pulumi', () => {
  beforeEach(() => recorder.reset());

  test('registers the same kinds, names, namespaces and specs that cdk8s synth writes', async () => {
    const platform = new KubefaasPlatform('example', { build: (app) => buildExampleApp(app) });
    await settled(platform);
    const written = synthesizedFiles((app) => buildExampleApp(app));
    // The example app is a full platform, not a toy: router, runtime, functions and their policies.
    const kinds = written.map((o) => o.kind);
    for (const kind of ['Namespace', 'ConfigMap', 'Deployment', 'Service', 'NetworkPolicy'])
      expect(kinds).toContain(kind);
    expectSameObjects(registeredObjects('example'), written);
  });

  test.each(['dev', 'prod'])(
    'the %s stack deploys what cdk8s synth writes for the same options, plus its config Secret',
    async (stack) => {
      useConfig({ ...stackConfig(stack), 'kubefaas:redisPassword': 'hunter2-hunter2' }, ['kubefaas:redisPassword']);
      const config = readStackConfig();
      const platform = deployExample(config);
      await settled(platform);
      const written = synthesizedFiles((app) => buildExampleApp(app, exampleAppOptions(config, REDIS_SECRET_NAME)));
      const registered = registeredObjects('kubefaas');
      const isConfigSecret = (o: Record<string, any>) => o.kind === 'Secret' && o.metadata.name === REDIS_SECRET_NAME;
      expect(registered.filter(isConfigSecret)).toHaveLength(1);
      expectSameObjects(
        registered.filter((o) => !isConfigSecret(o)),
        written,
      );
    },
  );
});
