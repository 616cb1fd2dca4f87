// PythonFunction through the Pulumi component: the same objects as `cdk8s synth` writes, for bundled
// wheels (binaryData in the code ConfigMap) and for an install at start (init container, its
// requirements volume, a Secret index URL, the egress rule), created in reference order.
import * as path from 'node:path';
import { ApiObject, App } from 'cdk8s';
import { Code, Egress, EnvValue, NetworkPort, Platform, PythonDependencies, PythonFunction } from '../../constructs';
import { PythonPaths } from '../../src/contract';
import { KubefaasPlatform } from '../../stacks';
import { idOf, synthesizedFiles } from './support/cdk8s-output';
import { installRecordingMocks, revealSecrets, settled } from './support/recording-mocks';

const recorder = installRecordingMocks();
const examples = path.resolve(__dirname, '..', '..', 'examples');

function build(app: App): void {
  const platform = new Platform(app, 'faas', { namespace: 'py' });
  new ApiObject(platform, 'IndexSecret', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'pypi', namespace: 'py' },
    stringData: { url: 'https://token@pypi.example.com/simple' },
  });
  // The example's function: its requirements.txt resolves offline (the vendored, hash-pinned wheel).
  new PythonFunction(platform, 'bundled', {
    code: Code.fromAsset(path.join(examples, 'slug')),
    handler: 'handler.main',
  });
  new PythonFunction(platform, 'installer', {
    code: Code.fromAsset(path.join(examples, 'slug')),
    handler: 'handler.main',
    dependencies: PythonDependencies.installAtStart({
      indexUrl: EnvValue.fromSecret('pypi', 'url'),
      egress: Egress.cidr('203.0.113.0/24', { ports: [NetworkPort.tcp(443)] }),
    }),
  });
}

describe('PythonFunction through Pulumi', () => {
  test('registers exactly what cdk8s synth writes, bundled wheels and install at start alike', async () => {
    await settled(new KubefaasPlatform('python', { build }));
    const written = synthesizedFiles(build);
    const registered = recorder.resources.filter((r) => r.name.startsWith('python/'));
    expect(registered.map((r) => idOf(r.inputs)).sort()).toEqual(written.map(idOf).sort());
    for (const object of written) {
      expect(revealSecrets(registered.find((r) => idOf(r.inputs) === idOf(object))!.inputs)).toEqual(object);
    }

    // The wheel reaches the ConfigMap as the same bytes.
    const bundledCode = registered.find(
      (r) =>
        r.type === 'kubernetes:core/v1:ConfigMap' && r.inputs.metadata.labels?.['kubefaas.dev/code-of'] === 'bundled',
    )!;
    expect(Object.keys(bundledCode.inputs.binaryData)).toEqual(['kfexample_slug-1.0-py3-none-any.whl']);

    // The installer's Deployment waits for its code ConfigMap (the requirements volume) and the index Secret.
    const deployment = recorder.find('kubernetes:apps/v1:Deployment', 'Deployment/py/installer');
    const init = deployment.inputs.spec.template.spec.initContainers[0];
    expect(init.name).toBe(PythonPaths.installContainer);
    expect(init.env).toContainEqual({
      name: 'PIP_INDEX_URL',
      valueFrom: { secretKeyRef: { name: 'pypi', key: 'url' } },
    });
    const installerCode = registered.find(
      (r) =>
        r.type === 'kubernetes:core/v1:ConfigMap' && r.inputs.metadata.labels?.['kubefaas.dev/code-of'] === 'installer',
    )!;
    expect(deployment.dependencies).toEqual(
      expect.arrayContaining([installerCode.urn, recorder.find('kubernetes:core/v1:Secret', 'Secret/py/pypi').urn]),
    );
  });
});
