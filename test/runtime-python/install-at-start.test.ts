/**
 * PythonDependencies.installAtStart(), for real: the synthesized init container's command runs on
 * this machine's python3 with the pod's mounts mapped to directories (as the kubelet would mount
 * them), against a wheel "index" this test serves over HTTP (`findLinks` + `noIndex`: no package index
 * is reachable here); then the runtime starts with the function container's env and imports the
 * package. Also: hash pinning enforced by pip at install, and the bundled size error offering it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, PythonDependencies, PythonFunction } from '../../constructs';
import { Paths, PythonPaths } from '../../src/contract';
import { codeMap, container, errorOf, expectValid, find, K8sObject, newPlatform, synth } from '../constructs/helpers';
import { buildWheel, sha256File, WheelServer } from '../support/wheels';
import { PythonRuntimeProcess, stopAllPython, testPython } from './process';

const work = mkdtempSync(join(tmpdir(), 'kubefaas-pyinstall-'));
const wheels = join(work, 'wheels');
let python: string;
let server: WheelServer;
let tinyWheel: string;
const savedEnv: Record<string, string | undefined> = {};

function setEnv(name: string, value: string): void {
  if (!(name in savedEnv)) savedEnv[name] = process.env[name];
  process.env[name] = value;
}

beforeAll(async () => {
  python = testPython();
  setEnv('KUBEFAAS_PYTHON', python);
  tinyWheel = buildWheel(python, wheels, 'kftinydep', '1.0', {
    'kftinydep/__init__.py': 'def greet(name):\n    return "hi " + name + " from kftinydep"\n',
  });
  // Incompressible and over the ConfigMap's 1 MiB once base64-encoded.
  buildWheel(python, wheels, 'kfbigdep', '1.0', {
    'kfbigdep/__init__.py': 'SIZE = 900_000\n',
    'kfbigdep/blob.bin': Buffer.from(Array.from({ length: 900_000 }, (_, i) => (i * 2654435761) >>> 24)),
  });
  server = await WheelServer.start(wheels);
});

afterAll(async () => {
  await stopAllPython();
  await server?.close();
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(work, { recursive: true, force: true });
});

const HANDLER = 'import kftinydep\n\ndef main(event, context):\n    return kftinydep.greet(event.text())\n';

function codeDir(requirements: string, handler = HANDLER): string {
  const dir = mkdtempSync(join(work, 'code-'));
  writeFileSync(join(dir, 'handler.py'), handler);
  writeFileSync(join(dir, 'requirements.txt'), requirements);
  return dir;
}

function installed(requirements: string): K8sObject[] {
  const platform = newPlatform();
  new PythonFunction(platform, 'greeter', {
    code: Code.fromAsset(codeDir(requirements)),
    handler: 'handler.main',
    dependencies: PythonDependencies.installAtStart({ findLinks: [server.url], noIndex: true }),
  });
  return synth(platform);
}

/** A pod's mounts as local directories: what the kubelet does, for the paths these containers use. */
class LocalPod {
  readonly root = mkdtempSync(join(work, 'pod-'));
  readonly dirs: Record<string, string> = {};

  constructor(readonly objects: K8sObject[]) {
    const spec = find(objects, 'Deployment', 'greeter').spec.template.spec;
    for (const volume of spec.volumes as K8sObject[]) {
      const dir = join(this.root, volume.name);
      mkdirSync(dir);
      this.dirs[volume.name] = dir;
      if (!volume.configMap) continue;
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap.name)!;
      const items: { key: string; path: string }[] =
        volume.configMap.items ?? Object.keys(cm.data).map((key) => ({ key, path: key }));
      for (const item of items) writeFileSync(join(dir, item.path), cm.data[item.key]);
    }
  }

  /** `value` with every mount path of `c` replaced by its local directory (in one pass: they nest under /tmp). */
  map(c: K8sObject, value: string): string {
    const mounts = [...(c.volumeMounts as K8sObject[])].sort((a, b) => b.mountPath.length - a.mountPath.length);
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = new RegExp(`(${mounts.map((m) => escape(m.mountPath)).join('|')})(?=/|$)`, 'g');
    return value.replace(pattern, (path) => this.dirs[mounts.find((m) => m.mountPath === path)!.name]);
  }

  env(c: K8sObject): Record<string, string> {
    return Object.fromEntries((c.env as K8sObject[]).map((e) => [e.name, this.map(c, e.value)]));
  }

  /** Runs the init container; resolves with its exit code, output and duration. */
  runInit(): Promise<{ code: number | null; output: string; ms: number }> {
    const init = find(this.objects, 'Deployment', 'greeter').spec.template.spec.initContainers[0];
    const [file, ...args] = (init.command as string[]).map((a) => this.map(init, a));
    expect(file).toBe('python3');
    const started = Date.now();
    const child = spawn(python, args, {
      env: {
        PATH: process.env.PATH ?? '',
        ...this.env(init),
        TMPDIR: this.map(init, Paths.tmpDir),
        PIP_CONFIG_FILE: devNull,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, output, ms: Date.now() - started })));
  }

  /** Starts the runtime the way the function container does: its env, its mounts. */
  startRuntime(): Promise<PythonRuntimeProcess> {
    const fn = container(find(this.objects, 'Deployment', 'greeter'));
    const env = this.env(fn);
    return PythonRuntimeProcess.start({}, { ...env, PORT: '0', TMPDIR: env.HOME });
  }
}

it('the init container installs from the find-links URL into the deps volume, and the runtime imports the package', async () => {
  const objects = installed('kftinydep==1.0\n');
  await expectValid(objects);
  const pod = new LocalPod(objects);
  const requestsBefore = server.requests;
  const result = await pod.runInit();
  expect(result).toMatchObject({ code: 0 });
  expect(server.requests).toBeGreaterThan(requestsBefore); // it did fetch from the "index"
  expect(readdirSync(pod.dirs['python-deps'])).toEqual(expect.arrayContaining(['kftinydep']));
  // The installer saw requirements.txt only, never the handler.
  expect(readdirSync(pod.dirs.requirements)).toEqual(['requirements.txt']);

  const rt = await pod.startRuntime();
  expect((await rt.request('/', { method: 'POST', body: 'ada' })).text).toBe('hi ada from kftinydep');
  // The packages came from the deps volume, not from wheels unpacked at start.
  expect(readdirSync(pod.dirs.tmp).filter((d) => d.startsWith(PythonPaths.depsDir))).toEqual([]);
  process.stdout.write(`install at start of one tiny wheel: ${result.ms} ms\n`);
});

it('hash-pinned requirements are checked by pip at install: a wrong hash fails the init container', async () => {
  const good = new LocalPod(installed(`kftinydep==1.0 --hash=sha256:${sha256File(tinyWheel)}\n`));
  expect(find(good.objects, 'Deployment', 'greeter').spec.template.spec.initContainers[0].command).toContain(
    '--require-hashes',
  );
  expect(await good.runInit()).toMatchObject({ code: 0 });

  const bad = new LocalPod(installed(`kftinydep==1.0 --hash=sha256:${'0'.repeat(64)}\n`));
  const result = await bad.runInit();
  expect(result.code).not.toBe(0);
  expect(result.output).toMatch(/DO NOT MATCH THE HASHES/);
  expect(readdirSync(bad.dirs['python-deps'])).not.toContain('kftinydep');
});

it('a requirement the index lacks fails the init container with pip naming it', async () => {
  const result = await new LocalPod(installed('kf-no-such-package==9.9\n')).runInit();
  expect(result.code).not.toBe(0);
  expect(result.output).toMatch(/kf-no-such-package/);
});

it('bundled wheels over the ConfigMap limit: the synth error offers installAtStart, which then works', async () => {
  // Synth-time resolution (bundled) reads the same wheel directory through pip's own settings.
  setEnv('PIP_CONFIG_FILE', devNull);
  setEnv('PIP_NO_INDEX', '1');
  setEnv('PIP_FIND_LINKS', wheels);
  setEnv('KUBEFAAS_PIP_CACHE', join(work, 'synth-cache'));
  const code = codeDir(
    'kfbigdep==1.0\n',
    'import kfbigdep\n\ndef main(event, context):\n    return str(kfbigdep.SIZE)\n',
  );
  const error = errorOf(
    () => new PythonFunction(newPlatform(), 'big', { code: Code.fromAsset(code), handler: 'handler.main' }),
  );
  expect(error.message).toMatch(
    /platform\/big.*the code is 1\.\d+ MiB \(\d+ bytes\), 1\.\d+ MiB of it the wheels of requirements\.txt; a ConfigMap holds at most 1 MiB/s,
  );
  expect(error.message).toMatch(
    /dependencies: PythonDependencies\.installAtStart\(\).*egress to the index.*cold start/s,
  );

  const platform = newPlatform();
  new PythonFunction(platform, 'greeter', {
    code: Code.fromAsset(code),
    handler: 'handler.main',
    dependencies: PythonDependencies.installAtStart({ findLinks: [server.url], noIndex: true }),
  });
  const objects = synth(platform);
  expect(codeMap(objects, 'greeter').binaryData).toBeUndefined();
  const pod = new LocalPod(objects);
  expect(await pod.runInit()).toMatchObject({ code: 0 });
  const rt = await pod.startRuntime();
  expect((await rt.request('/')).text).toBe('900000');
});
