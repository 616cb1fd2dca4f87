/**
 * PythonDependencies.installAtStart(): the init container, its volumes and the egress rule to the
 * index, at synth (no pip runs here: requirements.txt is installed in the pod). The install itself
 * is exercised for real in test/runtime-python/install-at-start.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Code,
  Cpu,
  Egress,
  EnvValue,
  NetworkPort,
  Placement,
  PythonDependencies,
  PythonFunction,
  PythonRuntime,
  Size,
} from '../../constructs';
import { PythonPaths } from '../../src/contract';
import { codeMap, container, envOf, errorOf, expectValid, find, K8sObject, newPlatform, synth } from './helpers';

const HANDLER = 'import kftinydep\n\ndef main(event, context):\n    return kftinydep.greet(event.text())\n';
const SHA = 'a'.repeat(64);

const dirs: string[] = [];
function codeDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-py-install-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries({ 'handler.py': HANDLER, ...files }))
    writeFileSync(join(dir, name), content);
  return dir;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function build(
  requirements: Record<string, string> | undefined,
  dependencies: PythonDependencies,
  extra: Partial<ConstructorParameters<typeof PythonFunction>[2]> = {},
): K8sObject[] {
  const platform = newPlatform();
  new PythonFunction(platform, 'greeter', {
    code: Code.fromAsset(codeDir(requirements ?? {})),
    handler: 'handler.main',
    dependencies,
    ...extra,
  });
  return synth(platform);
}

const podSpec = (objects: K8sObject[]) => find(objects, 'Deployment', 'greeter').spec.template.spec;
const initContainer = (objects: K8sObject[]) => podSpec(objects).initContainers[0];
const initEnv = (objects: K8sObject[]) =>
  Object.fromEntries((initContainer(objects).env as K8sObject[]).map((e) => [e.name, e.value ?? e.valueFrom]));
const egressRules = (objects: K8sObject[]) => find(objects, 'NetworkPolicy', 'greeter').spec.egress as K8sObject[];

function makeError(requirements: Record<string, string> | undefined, dependencies: PythonDependencies): string {
  return errorOf(() => build(requirements, dependencies)).message;
}

describe('PythonDependencies.installAtStart()', () => {
  it('installs requirements.txt in a restricted init container into an emptyDir the runtime has on PYTHONPATH', async () => {
    const objects = build({ 'requirements.txt': 'kftinydep==1.0\n' }, PythonDependencies.installAtStart());
    await expectValid(objects);

    // No wheels at synth: the code ConfigMap carries requirements.txt as text, nothing binary.
    const code = codeMap(objects, 'greeter');
    expect(Object.keys(code.data).sort()).toEqual(['handler.py', 'requirements.txt']);
    expect(code.binaryData).toBeUndefined();

    const spec = podSpec(objects);
    const init = initContainer(objects);
    expect(spec.initContainers).toHaveLength(1);
    expect(init.name).toBe(PythonPaths.installContainer);
    expect(init.image).toBe(PythonRuntime.PYTHON_3_13.image);
    expect(init.command).toEqual([
      'python3',
      '-m',
      'pip',
      'install',
      '--target',
      PythonPaths.installDir,
      '--requirement',
      `${PythonPaths.requirementsDir}/requirements.txt`,
      '--only-binary=:all:',
      '--no-cache-dir',
      '--disable-pip-version-check',
      '--no-input',
      '--progress-bar',
      'off',
    ]);
    expect(initEnv(objects)).toEqual({ HOME: '/tmp', PYTHONDONTWRITEBYTECODE: '1' });
    expect(init.resources).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '256Mi' } });
    expect(init.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    // The installer sees requirements.txt only (not the handler), writes the deps volume and /tmp.
    expect(init.volumeMounts).toEqual([
      { name: 'requirements', mountPath: PythonPaths.requirementsDir, readOnly: true },
      { name: 'python-deps', mountPath: PythonPaths.installDir },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    const volumes = Object.fromEntries((spec.volumes as K8sObject[]).map((v) => [v.name, v]));
    expect(volumes.requirements.configMap).toEqual({
      name: code.metadata.name,
      items: [{ key: 'requirements.txt', path: 'requirements.txt' }],
    });
    expect(volumes['python-deps'].emptyDir).toEqual({ sizeLimit: '1Gi' });

    // The function container reads the packages, cannot change them, and imports them via PYTHONPATH.
    const fn = container(find(objects, 'Deployment', 'greeter'));
    expect(fn.volumeMounts).toContainEqual({ name: 'python-deps', mountPath: PythonPaths.installDir, readOnly: true });
    expect(envOf(find(objects, 'Deployment', 'greeter'))).toContainEqual({
      name: 'PYTHONPATH',
      value: PythonPaths.installDir,
    });

    // PyPI: the public internet on 443 only (private ranges and the metadata service stay closed).
    expect(egressRules(objects)).toContainEqual({
      ports: [{ protocol: 'TCP', port: 443 }],
      to: [
        { ipBlock: { cidr: '0.0.0.0/0', except: expect.arrayContaining(['10.0.0.0/8', '169.254.0.0/16']) } },
        { ipBlock: { cidr: '::/0', except: expect.arrayContaining(['fc00::/7']) } },
      ],
    });
  });

  it('bundled() is the default: wheels at synth, no init container, no egress beyond DNS', async () => {
    const objects = build(undefined, PythonDependencies.bundled());
    await expectValid(objects);
    expect(podSpec(objects).initContainers).toBeUndefined();
    expect(egressRules(objects)).toHaveLength(1); // DNS
    expect(envOf(find(objects, 'Deployment', 'greeter')).map((e) => e.name)).not.toContain('PYTHONPATH');
  });

  it('passes the index settings to pip and derives the egress rule from their hosts and ports', async () => {
    const objects = build(
      { 'requirements.txt': 'kftinydep==1.0\n' },
      PythonDependencies.installAtStart({
        indexUrl: 'https://pypi.example.com:8443/simple',
        extraIndexUrls: ['https://extra.example.org/simple'],
        findLinks: ['http://203.0.113.9:8080/wheels/', 'https://[2001:db8::7]/wheels/'],
        cpu: Cpu.millis(500),
        memory: Size.mebibytes(512),
        size: Size.gibibytes(3),
      }),
    );
    await expectValid(objects);
    expect(initEnv(objects)).toMatchObject({
      PIP_INDEX_URL: 'https://pypi.example.com:8443/simple',
      PIP_EXTRA_INDEX_URL: 'https://extra.example.org/simple',
      PIP_FIND_LINKS: 'http://203.0.113.9:8080/wheels/ https://[2001:db8::7]/wheels/',
    });
    expect(initContainer(objects).resources.requests).toEqual({ cpu: '500m', memory: '512Mi' });
    expect(podSpec(objects).volumes).toContainEqual({ name: 'python-deps', emptyDir: { sizeLimit: '3Gi' } });
    const rules = egressRules(objects);
    expect(rules).toContainEqual(
      expect.objectContaining({
        ports: [
          { protocol: 'TCP', port: 443 },
          { protocol: 'TCP', port: 8443 },
        ],
      }),
    );
    expect(rules).toContainEqual({
      ports: [{ protocol: 'TCP', port: 8080 }],
      to: [{ ipBlock: { cidr: '203.0.113.9/32' } }],
    });
    expect(rules).toContainEqual({
      ports: [{ protocol: 'TCP', port: 443 }],
      to: [{ ipBlock: { cidr: '2001:db8::7/128' } }],
    });
  });

  it('turns on --require-hashes for a hash-pinned file and mounts the files it includes', async () => {
    const objects = build(
      {
        'requirements.txt': `-r base.txt\n-c constraints.txt\nkftinydep==1.0 \\\n    --hash=sha256:${SHA}\n`,
        'base.txt': `other==2.0 --hash=sha256:${SHA}  # the base set\n`,
        'constraints.txt': 'other<3\n',
      },
      PythonDependencies.installAtStart(),
    );
    await expectValid(objects);
    expect(initContainer(objects).command).toContain('--require-hashes');
    expect(podSpec(objects).volumes).toContainEqual({
      name: 'requirements',
      configMap: {
        name: codeMap(objects, 'greeter').metadata.name,
        items: ['requirements.txt', 'base.txt', 'constraints.txt'].map((f) => ({ key: f, path: f })),
      },
    });
  });

  it('an index named in requirements.txt counts for the egress rule; noIndex with findLinks only reaches them', () => {
    const inFile = build(
      { 'requirements.txt': '--index-url https://mirror.example.net:9443/simple\nkftinydep==1.0\n' },
      PythonDependencies.installAtStart({ noIndex: true, findLinks: ['https://198.51.100.4/wheels/'] }),
    );
    expect(initEnv(inFile)).toMatchObject({ PIP_NO_INDEX: '1', PIP_FIND_LINKS: 'https://198.51.100.4/wheels/' });
    // The mirror, on the internet; not PyPI (no index).
    const internet = egressRules(inFile).filter((r) => r.to?.[0]?.ipBlock?.cidr === '0.0.0.0/0');
    expect(internet.map((r) => r.ports)).toEqual([[{ protocol: 'TCP', port: 9443 }]]);
    expect(egressRules(inFile)).toContainEqual({
      ports: [{ protocol: 'TCP', port: 443 }],
      to: [{ ipBlock: { cidr: '198.51.100.4/32' } }],
    });
  });

  it('takes an index URL from a Secret with an explicit egress rule, never copying it', async () => {
    const objects = build(
      { 'requirements.txt': 'kftinydep==1.0\n' },
      PythonDependencies.installAtStart({
        indexUrl: EnvValue.fromSecret('pypi-credentials', 'url'),
        egress: Egress.namespace('pypi-mirror', { ports: [NetworkPort.tcp(3141)] }),
      }),
    );
    await expectValid(objects, { externalSecrets: ['pypi-credentials'] });
    expect(initEnv(objects).PIP_INDEX_URL).toEqual({ secretKeyRef: { name: 'pypi-credentials', key: 'url' } });
    expect(egressRules(objects)).toContainEqual({
      ports: [{ protocol: 'TCP', port: 3141 }],
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'pypi-mirror' } } }],
    });
    expect(JSON.stringify(egressRules(objects))).not.toContain('0.0.0.0/0');
  });

  describe('errors say what is wrong and what to do', () => {
    it.each<[string, Record<string, string> | undefined, PythonDependencies, RegExp]>([
      [
        'no requirements.txt',
        undefined,
        PythonDependencies.installAtStart(),
        /installAtStart\(\) needs a requirements\.txt in the code, which has handler\.py.*Add requirements\.txt/s,
      ],
      [
        'noIndex without find-links',
        { 'requirements.txt': 'a==1\n' },
        PythonDependencies.installAtStart({ noIndex: true }),
        /leaves pip nowhere to find packages.*findLinks/s,
      ],
      [
        'credentials in a URL',
        { 'requirements.txt': 'a==1\n' },
        PythonDependencies.installAtStart({ indexUrl: 'https://user:token@pypi.example.com/simple' }),
        /carries credentials, which would be stored in the manifests.*EnvValue\.fromSecret/s,
      ],
      [
        'a local directory as find-links',
        { 'requirements.txt': 'a==1\n' },
        PythonDependencies.installAtStart({ findLinks: ['/srv/wheels'] }),
        /findLinks: '\/srv\/wheels' is not an http\(s\) URL.*PIP_FIND_LINKS/s,
      ],
      [
        'an index inside the cluster without egress',
        { 'requirements.txt': 'a==1\n' },
        PythonDependencies.installAtStart({ indexUrl: 'http://devpi.tools.svc.cluster.local:3141/root/pypi' }),
        /index host 'devpi\.tools\.svc\.cluster\.local' looks like it is inside the cluster.*Egress\.namespace\('<its namespace>', \{ ports: \[NetworkPort\.tcp\(3141\)\] \}\)/s,
      ],
      [
        'a Secret index without egress',
        { 'requirements.txt': 'a==1\n' },
        PythonDependencies.installAtStart({ indexUrl: EnvValue.fromSecret('pypi', 'url') }),
        /comes from a Secret, so synth cannot tell which host.*egress/s,
      ],
      [
        'hashes on some requirements only',
        { 'requirements.txt': `a==1 --hash=sha256:${SHA}\nb>=2\nc==3\n` },
        PythonDependencies.installAtStart(),
        /hash-pinned \(pip then runs with --require-hashes\), but 'b>=2' \(requirements\.txt\), 'c==3' \(requirements\.txt\) are not pinned.*pip-compile --generate-hashes/s,
      ],
      [
        'an editable requirement',
        { 'requirements.txt': '-e git+https://example.com/x.git#egg=x\n' },
        PythonDependencies.installAtStart(),
        /editable requirement .*cannot install in the pod.*Publish the package as a wheel/s,
      ],
      [
        'a local path',
        { 'requirements.txt': './vendor/pkg\n' },
        PythonDependencies.installAtStart(),
        /names a local path \('\.\/vendor\/pkg'\); in the pod only requirements\.txt and the files it includes exist/,
      ],
      [
        'a VCS URL',
        { 'requirements.txt': 'x @ git+https://example.com/x.git@v1\n' },
        PythonDependencies.installAtStart(),
        /VCS requirement .*needs git in the pod/,
      ],
      [
        'an include outside the code directory',
        { 'requirements.txt': '-r ../shared/base.txt\n' },
        PythonDependencies.installAtStart(),
        /requirements\.txt includes '\.\.\/shared\/base\.txt', which is not a top-level file.*Put base\.txt beside requirements\.txt/s,
      ],
    ])('%s', (_what, requirements, dependencies, message) => {
      const error = makeError(requirements, dependencies);
      expect(error).toContain('platform/greeter');
      expect(error).toMatch(message);
    });

    it('`dependencies` must be a PythonDependencies', () => {
      expect(makeError(undefined, { bundled: false } as unknown as PythonDependencies)).toMatch(
        /`dependencies` is not a PythonDependencies.*installAtStart/s,
      );
    });

    it('on AKS virtual nodes (v1), which run no init containers, the placement check refuses it', () => {
      const error = errorOf(() =>
        build({ 'requirements.txt': 'a==1\n' }, PythonDependencies.installAtStart(), {
          placement: Placement.azureVirtualNode({ version: 'v1' }),
        }),
      ).message;
      expect(error).toMatch(/init container "install-dependencies" is not supported on AKS virtual nodes \(v1\)/);
    });
  });
});
