/**
 * `PythonDependencies.installAtStart()` in `kubefaas dev`: the init container's pip install runs once
 * per requirements on the local python3, into a cache keyed by them; an unchanged requirements.txt
 * installs nothing on a reload or the next run, a changed one installs while the old process keeps
 * serving, and a failed install keeps the previous version running. The "index" is an HTTP wheel
 * listing this test serves (`findLinks` + `noIndex`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { Code, HttpTrigger, Platform, PythonDependencies, PythonFunction } from '../../constructs';
import { startLocalPlatform, type LocalPlatform } from '../../src/local';
import { Manifests, type KubeObject } from '../../src/local/manifests';
import { planLocalRun } from '../../src/local/plan';
import { testPython } from '../runtime-python/process';
import { buildWheel, WheelServer } from '../support/wheels';
import { get, LogCapture, tempDir } from './helpers';

const project = tempDir('python-install');
const cache = path.join(project, 'pip-cache');
const wheels = path.join(project, 'wheels');
let server: WheelServer;

const handler = (tag: string) =>
  `import kftinydep\n\ndef main(event, context):\n    return "${tag} " + kftinydep.greet(event.text())\n`;

function synthObjects(source: string, requirements: string): KubeObject[] {
  const code = fs.mkdtempSync(path.join(project, 'code-'));
  fs.writeFileSync(path.join(code, 'handler.py'), source);
  fs.writeFileSync(path.join(code, 'requirements.txt'), requirements);
  const platform = new Platform(Testing.app(), 'faas', { namespace: 'faas' });
  new PythonFunction(platform, 'py', {
    code: Code.fromAsset(code),
    handler: 'handler.main',
    dependencies: PythonDependencies.installAtStart({ findLinks: [server.url], noIndex: true }),
    triggers: [new HttpTrigger({ path: '/py', methods: ['GET', 'POST'] })],
  });
  return Testing.synth(platform) as KubeObject[];
}

const developerEnv = () => ({ PATH: process.env.PATH ?? '', KUBEFAAS_PIP_CACHE: cache, PIP_CONFIG_FILE: '/dev/null' });

function planOf(objects: KubeObject[]) {
  const ports = new Map<string, number>();
  let next = 40000;
  for (const o of objects) if (o.kind === 'Deployment') ports.set(o.metadata!.name!, next++);
  const plan = planLocalRun(new Manifests(objects), {
    runDir: '/run/kf',
    projectDir: '/project',
    routerPort: 8080,
    routerAdminPort: 8081,
    ports,
    developerEnv: developerEnv(),
  });
  return { plan, py: plan.processes.find((p) => p.name === 'py')! };
}

beforeAll(async () => {
  const python = testPython();
  for (const version of ['1.0', '2.0'])
    buildWheel(python, wheels, 'kftinydep', version, {
      'kftinydep/__init__.py': `def greet(name):\n    return "hi " + name + " from kftinydep ${version}"\n`,
    });
  server = await WheelServer.start(wheels);
});
afterAll(async () => {
  await server?.close();
  fs.rmSync(project, { recursive: true, force: true });
});

describe('planning an install at start', () => {
  it('runs the init container on the local python3 into a cache directory keyed by the requirements', () => {
    const { plan, py } = planOf(synthObjects(handler('v1'), 'kftinydep==1.0\n'));
    expect(plan.warnings.filter((w) => /init containers/.test(w))).toEqual([]);
    const install = py.install!;
    expect(install.dir).toBe(path.join(cache, 'installed', install.key));
    expect(install.command).toBe('python3');
    expect(install.args.slice(0, 6)).toEqual(['-m', 'pip', 'install', '--target', install.stagingDir, '--requirement']);
    expect(install.args[6]).toBe('/run/kf/py/install/requirements/requirements.txt');
    expect([...install.volumes[0].files!.keys()]).toEqual(['requirements.txt']);
    expect(install.processEnv).toMatchObject({
      PIP_FIND_LINKS: server.url,
      PIP_NO_INDEX: '1',
      TMPDIR: '/run/kf/py/volumes/tmp',
    });
    // The function reads the packages from the cache directory.
    expect(py.env.PYTHONPATH).toBe(install.dir);
    expect(py.volumes.find((v) => v.dir === install.dir)).toBeDefined();

    // The handler does not count; the requirements do.
    expect(planOf(synthObjects(handler('v2'), 'kftinydep==1.0\n')).py.install!.key).toBe(install.key);
    expect(planOf(synthObjects(handler('v1'), 'kftinydep==2.0\n')).py.install!.key).not.toBe(install.key);
  });
});

describe('an install at start through the local runner', () => {
  const dist = path.join(project, 'dist');
  const log = new LogCapture();
  let platform: LocalPlatform | undefined;

  const write = (objects: KubeObject[]) => {
    fs.mkdirSync(dist, { recursive: true });
    fs.writeFileSync(
      path.join(dist, 'app.k8s.json'),
      JSON.stringify({ kind: 'List', apiVersion: 'v1', items: objects }),
    );
  };
  const start = () =>
    startLocalPlatform({ manifestsDir: dist, cwd: project, port: 0, env: developerEnv(), log: log.sink });
  const installs = () => log.entries.filter((e) => /: installing requirements\.txt \(/.test(e.text)).length;
  const call = async () => get(`${platform!.url}/py`, { method: 'POST', body: 'ada' });

  afterAll(async () => {
    await platform?.stop();
  });

  it('installs once, before the function starts, and serves the package', async () => {
    write(synthObjects(handler('v1'), 'kftinydep==1.0\n'));
    platform = await start();
    expect(installs()).toBe(1);
    expect(log.text()).toMatch(/py: dependencies installed in \d+ ms/);
    expect(await call()).toEqual({ status: 200, body: 'v1 hi ada from kftinydep 1.0' });
    const dirs = fs.readdirSync(path.join(cache, 'installed'));
    expect(dirs).toHaveLength(1); // no staging directory left behind
    expect(fs.readdirSync(path.join(cache, 'installed', dirs[0]))).toEqual(expect.arrayContaining(['kftinydep']));
  });

  it('a handler edit restarts the function without installing again', async () => {
    const fetched = server.requests;
    write(synthObjects(handler('v2'), 'kftinydep==1.0\n'));
    await platform!.reload();
    expect(installs()).toBe(1);
    expect(server.requests).toBe(fetched);
    expect(await call()).toEqual({ status: 200, body: 'v2 hi ada from kftinydep 1.0' });
  });

  it('new requirements install into a new directory; a failed install keeps the previous version serving', async () => {
    write(synthObjects(handler('v3'), 'kftinydep==2.0\n'));
    await platform!.reload();
    expect(installs()).toBe(2);
    expect(await call()).toEqual({ status: 200, body: 'v3 hi ada from kftinydep 2.0' });
    expect(fs.readdirSync(path.join(cache, 'installed'))).toHaveLength(2);

    write(synthObjects(handler('v4'), 'kf-no-such-package==9.9\n'));
    await platform!.reload();
    expect(installs()).toBe(3);
    expect(log.text('kubefaas')).toMatch(
      /py: installing requirements\.txt failed \(exit 1\): .*kf-no-such-package==9\.9.*\npy is not \(re\)started/,
    );
    expect(await call()).toEqual({ status: 200, body: 'v3 hi ada from kftinydep 2.0' });
    expect(fs.readdirSync(path.join(cache, 'installed'))).toHaveLength(2); // nothing half-installed kept
  });

  it('the next run finds the install in the cache', async () => {
    await platform!.stop();
    write(synthObjects(handler('v5'), 'kftinydep==2.0\n'));
    const fetched = server.requests;
    const before = installs();
    platform = await start();
    expect(installs()).toBe(before);
    expect(server.requests).toBe(fetched);
    expect(await call()).toEqual({ status: 200, body: 'v5 hi ada from kftinydep 2.0' });
  });
});
