import * as path from 'node:path';
import { ActivatorEnv, Env, Paths, type RouteTable } from '../../src/contract';
import { LocalConfigError, resolveEnv } from '../../src/local/env';
import { Manifests, parseManifests, type KubeObject } from '../../src/local/manifests';
import {
  nodeImageMajor,
  parseEnvOverride,
  planLocalRun,
  type PlanOptions,
  type ProcessPlan,
} from '../../src/local/plan';
import { expandVariables, pathRewriter, serviceAddressRewriter } from '../../src/local/rewrite';
import { defaultWatchDirs, resolveAppSource } from '../../src/local/synth';
import { fixtureObjects } from './fixtures/platform';

const runDir = '/run/kf';
const handler = 'module.exports = () => "hi";';

function plan(objects: KubeObject[], overrides: Partial<PlanOptions> = {}) {
  const manifests = new Manifests(objects);
  const ports = new Map<string, number>();
  let next = 40000;
  for (const o of objects)
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') ports.set(o.metadata!.name!, next++);
  return planLocalRun(manifests, {
    runDir,
    projectDir: '/project',
    routerPort: 8080,
    routerAdminPort: 8081,
    ports,
    developerEnv: { PATH: '/usr/bin' },
    ...overrides,
  });
}

function processNamed(p: { processes: readonly ProcessPlan[] }, name: string): ProcessPlan {
  const found = p.processes.find((x) => x.name === name);
  if (!found) throw new Error(`no process ${name}`);
  return found;
}

describe('manifest parsing', () => {
  test('reads multi-document YAML, skips empty documents and expands Lists', () => {
    const objects = parseManifests(
      [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}',
        '',
        'kind: List\nitems:\n- kind: Service\n  metadata: {name: b}\n- kind: Secret\n  metadata: {name: c}',
      ].join('\n---\n'),
    );
    expect(objects.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(['ConfigMap/a', 'Service/b', 'Secret/c']);
  });

  test('names the file when YAML is invalid', () => {
    expect(() => parseManifests('kind: [unclosed', 'broken.yaml')).toThrow(/broken\.yaml: invalid YAML/);
  });
});

describe('string rewrites', () => {
  const rewrite = serviceAddressRewriter([{ service: 'hello', namespace: 'faas', port: 80, localPort: 41234 }]);

  test.each([
    ['http://hello.faas.svc.cluster.local:80/x', 'http://127.0.0.1:41234/x'],
    ['hello.faas.svc:80', '127.0.0.1:41234'],
    ['hello.faas:80', '127.0.0.1:41234'],
    ['{"url":"http://hello:80"}', '{"url":"http://127.0.0.1:41234"}'],
    ['http://hello.faas.svc.cluster.local/path', 'http://127.0.0.1:41234/path'],
  ])('rewrites %s', (input, expected) => {
    expect(rewrite(input)).toBe(expected);
  });

  test.each(['myhello:80', 'hello:8080', 'hello.other:80', 'hello.faas.svc.cluster.local.evil:80'])(
    'leaves %s alone',
    (input) => {
      expect(rewrite(input)).toBe(input);
    },
  );

  test('maps mounted paths, longest mount first, and only as a prefix', () => {
    const rewritePath = pathRewriter([
      { containerPath: '/var/kubefaas', localPath: '/l/all' },
      { containerPath: '/var/kubefaas/function', localPath: '/l/fn' },
    ]);
    expect(rewritePath('/var/kubefaas/function/index.js')).toBe('/l/fn/index.js');
    expect(rewritePath('/var/kubefaas/runtime/runtime.js')).toBe('/l/all/runtime/runtime.js');
    expect(rewritePath('/var/kubefaas-other')).toBe('/var/kubefaas-other');
    expect(rewritePath('x/var/kubefaas/function')).toBe('x/var/kubefaas/function');
  });

  test('expands $(VAR) like the kubelet and honours the $$ escape', () => {
    expect(expandVariables('$(A)-$(B)-$$(A)', { A: '1' })).toBe('1-$(B)-$(A)');
  });
});

describe('planLocalRun on the agreed platform shape', () => {
  const objects = fixtureObjects({ namespace: 'faas', functions: [{ name: 'hello', code: handler }] });
  const result = plan(objects);

  test('one process per Deployment, the router on the requested port', () => {
    expect(result.processes.map((p) => p.name).sort()).toEqual(['hello', 'kubefaas-router']);
    const router = processNamed(result, 'kubefaas-router');
    expect(router.isRouter).toBe(true);
    expect(router.port).toBe(8080);
    expect(router.env[Env.PORT]).toBe('8080');
    expect(processNamed(result, 'hello').env[Env.PORT]).toBe(String(processNamed(result, 'hello').port));
  });

  test('every process listens on 127.0.0.1 (Env.BIND_HOST); routerHost moves only the router', () => {
    for (const p of result.processes) expect([p.host, p.env[Env.BIND_HOST]]).toEqual(['127.0.0.1', '127.0.0.1']);
    const shared = plan(objects, { routerHost: '0.0.0.0' });
    expect(processNamed(shared, 'kubefaas-router')).toMatchObject({
      host: '0.0.0.0',
      env: { [Env.BIND_HOST]: '0.0.0.0' },
    });
    expect(processNamed(shared, 'hello')).toMatchObject({ host: '127.0.0.1', env: { [Env.BIND_HOST]: '127.0.0.1' } });
  });

  test('the router gets its admin port: env, readiness there on loopback, the admin Service mapped; --host shares the public port only', () => {
    const shared = plan(objects, { routerHost: '0.0.0.0', routerAdminPort: 9191 });
    const router = processNamed(shared, 'kubefaas-router');
    expect(router.adminPort).toBe(9191);
    expect(router.env).toMatchObject({
      [ActivatorEnv.ADMIN_PORT]: '9191',
      [Env.ADMIN_BIND_HOST]: '127.0.0.1',
      [Env.BIND_HOST]: '0.0.0.0',
    });
    expect(router.readiness).toEqual({ kind: 'http', path: '/readyz', port: 9191, host: '127.0.0.1' });
    expect(shared.services).toContainEqual({
      service: 'kubefaas-router-admin',
      namespace: 'faas',
      port: 8081,
      localPort: 9191,
    });
    expect(shared.warnings.filter((w) => w.includes('not mapped locally'))).toEqual([]);
    // Functions have no admin port.
    expect(processNamed(shared, 'hello').adminPort).toBeUndefined();
    expect(processNamed(shared, 'hello').env[ActivatorEnv.ADMIN_PORT]).toBeUndefined();
  });

  test('node:* image with command node runs the local node on the materialized runtime', () => {
    const hello = processNamed(result, 'hello');
    expect(hello.command).toBe(process.execPath);
    expect(hello.args).toEqual([path.join(runDir, 'hello', 'volumes', 'runtime', Paths.runtimeFile)]);
    expect(hello.env[Env.HANDLER_PATH]).toBe(path.join(runDir, 'hello', 'volumes', 'code', Paths.functionFile));
    expect(hello.env.TMPDIR).toBe(path.join(runDir, 'hello', 'volumes', 'tmp'));
    expect(hello.processEnv.PATH).toBe('/usr/bin');
    expect(hello.readiness).toEqual({ kind: 'http', path: '/readyz' });
    const code = hello.volumes.find((v) => v.name === 'code');
    expect(code?.files?.get(Paths.functionFile)?.toString()).toBe(handler);
    expect(hello.volumes.find((v) => v.name === 'tmp')?.files).toBeUndefined();
  });

  test('the routes ConfigMap points at local ports', () => {
    const hello = processNamed(result, 'hello');
    const expected = `http://127.0.0.1:${hello.port}`;
    expect((result.routes as RouteTable).functions.hello.url).toBe(expected);
    const routesVolume = processNamed(result, 'kubefaas-router').volumes.find((v) => v.name === 'routes');
    const table = JSON.parse(routesVolume!.files!.get(Paths.routesFile)!.toString()) as RouteTable;
    expect(table.functions.hello.url).toBe(expected);
    expect(result.services).toContainEqual({ service: 'hello', namespace: 'faas', port: 80, localPort: hello.port });
  });

  test('warns when the image Node major differs from the local one', () => {
    const local = Number(process.versions.node.split('.')[0]);
    const other = plan(
      fixtureObjects({ functions: [{ name: 'hello', code: handler }], nodeImage: `node:${local + 1}.0.0-alpine` }),
    );
    expect(other.warnings).toContainEqual(
      expect.stringMatching(
        new RegExp(`^image node:${local + 1}\\.0\\.0-alpine runs Node ${local + 1} .*\\(kubefaas-router, hello\\)`),
      ),
    );
    const same = plan(fixtureObjects({ functions: [{ name: 'hello', code: handler }], nodeImage: `node:${local}` }));
    expect(same.warnings.join('\n')).not.toMatch(/runs Node/);
    expect(nodeImageMajor('docker.io/library/node:22.1-alpine@sha256:abc')).toBe(22);
    expect(nodeImageMajor('nodejs:22')).toBeUndefined();
  });

  test('other images run their local-command annotation in the project dir, or are skipped with the reason', () => {
    const p = plan(
      fixtureObjects({
        functions: [],
        containers: [
          { name: 'echo', image: 'example/echo:1', localCommand: ['node', 'server.js', '--port', '$(PORT)'] },
          { name: 'clock', image: 'python:3.13-alpine' },
        ],
      }),
    );
    const echo = processNamed(p, 'echo');
    expect([echo.command, ...echo.args]).toEqual([process.execPath, 'server.js', '--port', String(echo.port)]);
    expect(echo.cwd).toBe('/project');
    expect(echo.readiness).toEqual({ kind: 'tcp' });
    expect(p.skipped).toEqual([
      {
        name: 'clock',
        reason: expect.stringMatching(/python:3\.13-alpine needs a container runtime.*local: \{ command/),
      },
    ]);
  });

  test('warns about env values that point at Services the manifests lack', () => {
    const p = plan(
      fixtureObjects({
        functions: [
          {
            name: 'analytics',
            code: handler,
            env: [{ name: 'REDIS_URL', value: 'redis://redis.kubefaas.svc.cluster.local:6379' }],
          },
        ],
      }),
    );
    expect(p.warnings).toContainEqual(
      expect.stringMatching(
        /^analytics: env REDIS_URL points at redis\.kubefaas\.svc\.cluster\.local:6379, a Service that is not in the manifests/,
      ),
    );
    expect(result.warnings.join('\n')).not.toMatch(/points at/);
  });

  test('a local-command annotation on the pod template (manifests of older kubefaas) still works', () => {
    const objects = fixtureObjects({
      functions: [],
      containers: [{ name: 'echo', image: 'example/echo:1', localCommand: ['node', 'old.js'] }],
    });
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'echo')!;
    const annotations = deployment.metadata!.annotations!;
    delete (deployment.metadata as { annotations?: unknown }).annotations;
    (deployment.spec as { template: { metadata: Record<string, unknown> } }).template.metadata.annotations =
      annotations;
    const echo = processNamed(plan(objects), 'echo');
    expect([echo.command, ...echo.args]).toEqual([process.execPath, 'old.js']);
  });

  test('a malformed local-command annotation is a clear error', () => {
    expect(() =>
      plan(fixtureObjects({ functions: [], containers: [{ name: 'bad', image: 'x', localCommand: [] }] })),
    ).toThrow(/bad: annotation kubefaas\.dev\/local-command must be a non-empty JSON array/);
  });

  test('specHash changes with the code (through the code-hash annotation) but not with routes', () => {
    const again = plan(fixtureObjects({ namespace: 'faas', functions: [{ name: 'hello', code: handler }] }));
    expect(processNamed(again, 'hello').specHash).toBe(processNamed(result, 'hello').specHash);
    const newCode = plan(
      fixtureObjects({ namespace: 'faas', functions: [{ name: 'hello', code: 'module.exports = () => "new";' }] }),
    );
    expect(processNamed(newCode, 'hello').specHash).not.toBe(processNamed(result, 'hello').specHash);
    const moreRoutes = plan(
      fixtureObjects({
        namespace: 'faas',
        functions: [
          { name: 'hello', code: handler },
          { name: 'other', code: handler },
        ],
      }),
    );
    expect(processNamed(moreRoutes, 'kubefaas-router').specHash).toBe(processNamed(result, 'kubefaas-router').specHash);
  });
});

describe('env resolution', () => {
  const objects = fixtureObjects({
    functions: [],
    extra: [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings', namespace: 'kubefaas' },
        data: { upstream: 'http://hello.kubefaas.svc.cluster.local:80' },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'creds', namespace: 'kubefaas' },
        data: { token: Buffer.from('s3cret').toString('base64') },
      },
    ],
  });
  const manifests = new Manifests(objects);
  const ctx = (developerEnv: Record<string, string> = {}) => ({
    manifests,
    namespace: 'kubefaas',
    workload: 'analytics',
    developerEnv,
    rewrite: serviceAddressRewriter([{ service: 'hello', namespace: 'kubefaas', port: 80, localPort: 5000 }]),
  });
  const container = (env: object[]) => ({ name: 'function', env }) as never;

  test('literal values, ConfigMap and Secret keys, $(VAR) expansion, downward API', () => {
    const env = resolveEnv(
      container([
        { name: 'A', value: 'a' },
        { name: 'B', value: '$(A)-b' },
        { name: 'UP', valueFrom: { configMapKeyRef: { name: 'settings', key: 'upstream' } } },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
        { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ]),
      ctx(),
    );
    expect(env).toEqual({ A: 'a', B: 'a-b', UP: 'http://127.0.0.1:5000', TOKEN: 's3cret', NS: 'kubefaas' });
  });

  test('a Secret missing from the manifests comes from the developer environment variable of the same name', () => {
    const ref = { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis', key: 'password' } } };
    expect(resolveEnv(container([ref]), ctx({ REDIS_PASSWORD: 'pw' }))).toEqual({ REDIS_PASSWORD: 'pw' });
    let error: unknown;
    try {
      resolveEnv(container([ref]), ctx());
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LocalConfigError);
    expect((error as Error).message).toMatch(
      /^analytics: env REDIS_PASSWORD needs key "password" of Secret "redis".*setting REDIS_PASSWORD in your environment/,
    );
    expect(
      resolveEnv(
        container([{ ...ref, valueFrom: { secretKeyRef: { ...ref.valueFrom.secretKeyRef, optional: true } } }]),
        ctx(),
      ),
    ).toEqual({});
  });

  test('a missing ConfigMap key is an error naming the workload', () => {
    expect(() =>
      resolveEnv(container([{ name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'nope' } } }]), ctx()),
    ).toThrow(/analytics: env X refers to key "nope" of ConfigMap "settings"/);
  });

  test('planLocalRun reports every workload with an unresolvable env at once', () => {
    const missing = { name: 'PW', valueFrom: { secretKeyRef: { name: 'vault', key: 'pw' } } };
    const objs = fixtureObjects({
      functions: [
        { name: 'one', code: handler, env: [missing] },
        { name: 'two', code: handler, env: [missing] },
      ],
    });
    expect(() => plan(objs)).toThrow(/one: env PW[\s\S]*two: env PW/);
    expect(processNamed(plan(objs, { developerEnv: { PW: 'x' } }), 'one').env.PW).toBe('x');
  });
});

describe('--env overrides', () => {
  test('parse [workload:]NAME=VALUE and refuse anything else', () => {
    expect(parseEnvOverride('analytics:REDIS_URL=redis://127.0.0.1:6379')).toEqual({
      workload: 'analytics',
      name: 'REDIS_URL',
      value: 'redis://127.0.0.1:6379',
    });
    expect(parseEnvOverride('A=b=c')).toEqual({ workload: undefined, name: 'A', value: 'b=c' });
    expect(() => parseEnvOverride('no-equals')).toThrow(LocalConfigError);
    expect(() => parseEnvOverride('Bad:A=1')).toThrow(/--env expects \[workload:\]NAME=VALUE/);
  });

  test('a workload-scoped override replaces only that workload; an unscoped one only where the name exists', () => {
    const objs = fixtureObjects({
      functions: [
        { name: 'one', code: handler, env: [{ name: 'URL', value: 'cluster' }] },
        { name: 'two', code: handler, env: [{ name: 'URL', value: 'cluster' }] },
      ],
    });
    const scoped = plan(objs, { envOverrides: [{ workload: 'one', name: 'URL', value: 'local' }] });
    expect(processNamed(scoped, 'one').env.URL).toBe('local');
    expect(processNamed(scoped, 'two').env.URL).toBe('cluster');
    const everywhere = plan(objs, {
      envOverrides: [
        { name: 'URL', value: 'local' },
        { name: 'UNSET', value: 'x' },
      ],
    });
    expect(processNamed(everywhere, 'two').env.URL).toBe('local');
    expect(processNamed(everywhere, 'two').env.UNSET).toBeUndefined();
  });
});

describe('choosing what to synthesize', () => {
  const repo = path.resolve(__dirname, '..', '..');

  test('no app → the app command of ./cdk8s.yaml, watching the directory of the file it names', () => {
    const source = resolveAppSource({ cwd: repo });
    expect(source).toEqual({ kind: 'command', command: expect.stringContaining('examples/app.ts'), cwd: repo });
    expect(defaultWatchDirs(source)).toEqual([path.join(repo, 'examples')]);
  });

  test('a file is run, a directory is loaded as manifests, anything else is refused', () => {
    expect(resolveAppSource({ cwd: repo, app: 'examples/app.ts' })).toEqual({
      kind: 'file',
      file: path.join(repo, 'examples', 'app.ts'),
    });
    expect(resolveAppSource({ cwd: repo, app: 'examples' })).toEqual({
      kind: 'manifests',
      dir: path.join(repo, 'examples'),
    });
    expect(() => resolveAppSource({ cwd: repo, app: 'package.json' })).toThrow(/expected a \.ts or \.js cdk8s app/);
    expect(() => resolveAppSource({ cwd: repo, app: 'nope.ts' })).toThrow(/app nope\.ts does not exist/);
    expect(() => resolveAppSource({ cwd: '/' })).toThrow(/no cdk8s\.yaml in \//);
  });
});
