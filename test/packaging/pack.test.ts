/**
 * The package as users get it: `npm pack` the built repo, install the tarball into a fresh cdk8s
 * TypeScript project (its own package.json, tsconfig, main.ts and handler), type-check that project
 * with strict settings and synthesize it, then look at the manifests it wrote. Also runs the
 * `kubefaas` bin from the installed package and resolves the subpath entries.
 *
 * Slow by nature (pack, npm install, tsc, synth): everything is set up once in beforeAll. npm
 * installs with --prefer-offline, so a warm npm cache (CI installs the same versions first) means
 * no network at all; a cold one needs only the npm registry.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { freePort } from '../../src/local/ports';
import { run } from './commands';
import {
  declarationExports,
  ENTRY_POINTS,
  PUBLIC_API_FILE,
  PublicApi,
  runtimeExports,
  typesFile,
  UPDATE_HINT,
} from './public-api';

const repoRoot = path.resolve(__dirname, '..', '..');
const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

const { BUNDLES } = require('../../scripts/pod-bundles.cjs') as { BUNDLES: Record<string, string> };

const SLOW = 5 * 60_000;
const MARKER = 'packed-kubefaas-greeting';

interface PackedFile {
  readonly path: string;
}
interface PackResult {
  readonly filename: string;
  readonly files: readonly PackedFile[];
}
interface KubeObject {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly data?: Record<string, string>;
  readonly spec?: Record<string, unknown>;
}

let work: string;
let project: string;
let packed: PackResult;

/** The version of one of our installed packages, so the test project asks npm for what its cache has. */
function installedVersion(name: string): string {
  return (
    JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
}

function newestMtime(dir: string, skip: (p: string) => boolean): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (skip(p)) continue;
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, skip));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * `npm test` builds first (pretest); a lone `npx jest test/packaging` may find lib/ missing or older
 * than the sources, so compile then. Only tsc: the pod bundles are rebuilt by jest's global setup, and
 * rebuilding them here would race with the tests that run them.
 */
async function ensureLibraryCompiled(): Promise<void> {
  const marker = path.join(repoRoot, 'lib', 'constructs', 'index.js');
  const example = path.join(repoRoot, 'stacks', 'example');
  const sources = Math.max(
    ...['constructs', 'src', 'stacks'].map((d) => newestMtime(path.join(repoRoot, d), (p) => p === example)),
  );
  if (fs.existsSync(marker) && fs.statSync(marker).mtimeMs >= sources) return;
  await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: repoRoot });
}

function writeProject(dir: string, tarball: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {
    'package.json': JSON.stringify(
      {
        name: 'my-faas-app',
        version: '1.0.0',
        private: true,
        dependencies: {
          cdk8s: installedVersion('cdk8s'),
          constructs: installedVersion('constructs'),
          kubefaas: `file:${tarball}`,
        },
        devDependencies: { '@types/node': installedVersion('@types/node') },
      },
      null,
      2,
    ),
    // What `cdk8s init typescript-app` generates, minus what does not matter here, plus
    // skipLibCheck: false so our published declarations must type-check too.
    'tsconfig.json': JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2020',
          module: 'commonjs',
          lib: ['es2020'],
          types: ['node'],
          strict: true,
          noImplicitReturns: true,
          noUnusedLocals: true,
          esModuleInterop: true,
          skipLibCheck: false,
          outDir: 'out',
          rootDir: '.',
        },
        include: ['main.ts', 'handler.ts', 'greeting.ts'],
      },
      null,
      2,
    ),
    'main.ts': [
      "import { App } from 'cdk8s';",
      "import { Code, Duration, HttpTrigger, NodeFunction, Platform, PythonFunction } from 'kubefaas';",
      '',
      'const app = new App();',
      "const platform = new Platform(app, 'faas', { namespace: { name: 'shop' } });",
      "const greet = new NodeFunction(platform, 'greet', {",
      "  code: Code.fromAsset('./handler.ts'),",
      '  timeout: Duration.seconds(5),',
      "  triggers: [new HttpTrigger({ path: '/greet/:name', methods: ['GET'] })],",
      '});',
      "greet.addTrigger(new HttpTrigger({ path: '/hi', methods: ['POST'] }));",
      "new PythonFunction(platform, 'pyhello', { code: Code.fromInline('def main(event, context):\\n    return \"hi\"\\n'), handler: 'handler.main' });",
      'app.synth();',
      '',
    ].join('\n'),
    'handler.ts': [
      "import type { FunctionEvent, FunctionContext } from 'kubefaas';",
      "import { greeting } from './greeting';",
      '',
      'export default function greet(event: FunctionEvent, context: FunctionContext): string {',
      "  context.log.info('greeting', { name: event.params.name });",
      '  return greeting(event.params.name ?? event.text());',
      '}',
      '',
    ].join('\n'),
    // A second module so the ConfigMap proves esbuild bundled the handler's imports.
    'greeting.ts': `export function greeting(name: string): string {\n  return '${MARKER}: ' + name;\n}\n`,
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

function loadManifests(dir: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      const value = doc.toJS() as KubeObject | null;
      if (value) objects.push(value);
    }
  }
  return objects;
}

/** A code ConfigMap (content-hashed name) by its `kubefaas.dev/code-of` label. */
function codeConfigMapOf(objects: readonly KubeObject[], codeOf: string): KubeObject {
  const found = objects.find(
    (o) =>
      o.kind === 'ConfigMap' &&
      (o.metadata as { labels?: Record<string, string> }).labels?.['kubefaas.dev/code-of'] === codeOf,
  );
  if (!found) throw new Error(`no code ConfigMap of ${codeOf} in the synthesized manifests`);
  return found;
}

function findObject(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) {
    const present = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`no ${kind} ${name} in the synthesized manifests (present: ${present})`);
  }
  return found;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'kubefaas-pack-'));
  project = path.join(work, 'my-faas-app');
  await ensureLibraryCompiled();
  // --ignore-scripts: prepack would rebuild lib/ (and the pod bundles other tests are running).
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: repoRoot,
  });
  [packed] = JSON.parse(stdout) as PackResult[];
  writeProject(project, path.join(work, packed.filename));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project });
}, SLOW);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the compiled library, its declarations and the pod bundles, and nothing else', () => {
  const files = new Set(packed.files.map((f) => f.path));
  const expected = [
    'package.json',
    'LICENSE',
    'README.md',
    'lib/constructs/index.js',
    'lib/constructs/index.d.ts',
    'lib/src/contract/index.d.ts',
    'lib/src/contract/handler.d.ts',
    // The bin: runs lib/src/cli/main.js (src/ through tsx only in a checkout that was not built).
    'bin/kubefaas.js',
    // The bin: runs lib/src/cli/main.js (src/ through tsx only in a checkout that was not built).
    'bin/kubefaas.js',
    'lib/src/cli/main.js',
    'lib/src/local/index.js',
    'lib/src/local/index.d.ts',
    'lib/stacks/index.js',
    'lib/stacks/index.d.ts',
    ...Object.keys(BUNDLES).map((name) => `lib/pod/${name}.js`),
    // constructs/pod-code.ts reads the bundle definitions from here (it builds them on demand in a checkout).
    'scripts/pod-bundles.cjs',
    'lib/pod/python-runtime/kubefaas_main.py',
    'lib/pod/python-runtime/kubefaas.py',
  ];
  expect(expected.filter((f) => !files.has(f))).toEqual([]);
  const unwanted = [...files].filter(
    (f) =>
      f.endsWith('.map') ||
      (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
      /^(test|examples|src|constructs|stacks|node_modules)\//.test(f) ||
      (f.startsWith('scripts/') && f !== 'scripts/pod-bundles.cjs') ||
      f.startsWith('lib/examples/') ||
      f.startsWith('lib/stacks/example/') ||
      f.startsWith('lib/test/'),
  );
  expect(unwanted).toEqual([]);
});

test(
  'the project type-checks with node16 resolution, which reads the "exports" conditions',
  async () => {
    await run(
      process.execPath,
      [tsc, '-p', 'tsconfig.json', '--noEmit', '--module', 'node16', '--moduleResolution', 'node16'],
      {
        cwd: project,
      },
    );
  },
  SLOW,
);

test(
  'the project compiles and synthesizes the function, its bundled code and its routes',
  async () => {
    // The project's own settings (node10 resolution, as cdk8s init generates) read "types"; tsc fails on
    // any type error, so this is also the type check.
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project });
    const outdir = path.join(work, 'dist');
    await run(process.execPath, [path.join('out', 'main.js')], {
      cwd: project,
      env: { ...process.env, CDK8S_OUTDIR: outdir },
    });
    const objects = loadManifests(outdir);

    const deployment = findObject(objects, 'Deployment', 'greet');
    expect(deployment.metadata.namespace).toBe('shop');
    findObject(objects, 'Service', 'greet');
    findObject(objects, 'Deployment', 'kubefaas-router');

    const code = Object.values(codeConfigMapOf(objects, 'greet').data ?? {}).join('\n');
    expect(code).toContain(MARKER); // greeting.ts was bundled into the handler
    expect(code).not.toMatch(/require\(["']\.\/greeting["']\)/);
    const runtime = Object.values(codeConfigMapOf(objects, 'kubefaas-runtime').data ?? {}).join('\n');
    expect(runtime).toBe(
      fs.readFileSync(path.join(project, 'node_modules', 'kubefaas', 'lib', 'pod', 'runtime.js'), 'utf8'),
    );

    // The Python runtime comes from the installed package's lib/pod/python-runtime (no src/ there).
    const pythonRuntime = codeConfigMapOf(objects, 'kubefaas-python-runtime').data ?? {};
    expect(pythonRuntime['kubefaas_main.py']).toBe(
      fs.readFileSync(
        path.join(project, 'node_modules', 'kubefaas', 'lib', 'pod', 'python-runtime', 'kubefaas_main.py'),
        'utf8',
      ),
    );
    expect(fs.existsSync(path.join(project, 'node_modules', 'kubefaas', 'src'))).toBe(false);
    expect(codeConfigMapOf(objects, 'pyhello').data).toEqual({
      'handler.py': 'def main(event, context):\n    return "hi"\n',
    });

    const routesJson = Object.values(findObject(objects, 'ConfigMap', 'kubefaas-routes').data ?? {})[0];
    const table = JSON.parse(routesJson) as {
      functions: Record<string, unknown>;
      routes: { function: string; path: string; methods: string[] }[];
    };
    expect(Object.keys(table.functions).sort()).toEqual(['greet', 'pyhello']);
    expect(table.routes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ function: 'greet', path: '/greet/:name', methods: ['GET'] }),
        expect.objectContaining({ function: 'greet', path: '/hi', methods: ['POST'] }),
      ]),
    );
  },
  SLOW,
);

test('the kubefaas command runs from the installed package', async () => {
  const { stdout } = await run('npx', ['--no-install', 'kubefaas', '--help'], { cwd: project });
  expect(stdout).toMatch(/^Usage: kubefaas/m);
  expect(stdout).toMatch(/^\s+dev \[app\]/m);
  expect(stdout).toMatch(/^\s+invoke <function>/m);
});

test('the subpath entries resolve, and `kubefaas dev` finds tsx for TypeScript apps', async () => {
  const script = [
    "const path = require('node:path');",
    "const pulumi = require.resolve('kubefaas/pulumi');",
    "const local = require.resolve('kubefaas/local');",
    "const tsx = require.resolve('tsx', { paths: [path.dirname(local)] });",
    "console.log(JSON.stringify({ pulumi, local, tsx, local_api: typeof require('kubefaas/local').startLocalPlatform }));",
  ].join('\n');
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: project });
  const resolved = JSON.parse(stdout) as Record<string, string>;
  const installed = path.join(project, 'node_modules', 'kubefaas');
  expect(resolved.pulumi).toBe(path.join(installed, 'lib', 'stacks', 'index.js'));
  expect(resolved.local).toBe(path.join(installed, 'lib', 'src', 'local', 'index.js'));
  expect(resolved.tsx.startsWith(path.join(project, 'node_modules'))).toBe(true);
  expect(resolved.local_api).toBe('function');
});

test('a bundle missing from the installed package is reported, not rebuilt from sources it does not have', async () => {
  const installed = path.join(project, 'node_modules', 'kubefaas');
  const bundle = path.join(installed, 'lib', 'pod', 'cron.js');
  const aside = `${bundle}.aside`;
  fs.renameSync(bundle, aside);
  try {
    const script = `try { require(${JSON.stringify(path.join(installed, 'lib', 'constructs', 'pod-code.js'))}).podBundle('cron'); console.log('built'); } catch (e) { console.log(e.message); }`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: project });
    expect(stdout).toMatch(/cron\.js is missing and its sources are not here; reinstall kubefaas/);
    expect(fs.existsSync(bundle)).toBe(false);
  } finally {
    fs.renameSync(aside, bundle);
  }
});

test(
  'the public API of every entry point is the recorded one (values at run time and the .d.ts names)',
  async () => {
    const installed = path.join(project, 'node_modules', 'kubefaas');
    const values = await runtimeExports(project, path.join(repoRoot, 'node_modules'));
    const api = {} as Record<string, { values: string[]; types: string[] }>;
    for (const entry of ENTRY_POINTS) {
      const declared = declarationExports(typesFile(installed, entry));
      // Every run-time export is declared (a value missing from the .d.ts is unusable from TypeScript).
      expect({ entry, undeclared: values[entry].filter((v) => !declared.includes(v)) }).toEqual({
        entry,
        undeclared: [],
      });
      api[entry] = { values: values[entry], types: declared.filter((d) => !values[entry].includes(d)) };
    }
    if (process.env.UPDATE_PUBLIC_API === '1') fs.writeFileSync(PUBLIC_API_FILE, `${JSON.stringify(api, null, 2)}\n`);
    const recorded = JSON.parse(fs.readFileSync(PUBLIC_API_FILE, 'utf8')) as PublicApi;
    const changes: string[] = [];
    for (const entry of ENTRY_POINTS) {
      for (const kind of ['values', 'types'] as const) {
        const was = new Set(recorded[entry]?.[kind] ?? []);
        const now = new Set(api[entry][kind]);
        for (const name of now) if (!was.has(name)) changes.push(`+ ${entry} ${kind}: ${name}`);
        for (const name of was) if (!now.has(name)) changes.push(`- ${entry} ${kind}: ${name}`);
      }
    }
    if (changes.length > 0) throw new Error(`${UPDATE_HINT}\n${changes.join('\n')}`);
  },
  SLOW,
);

test('internal modules are not importable; only the documented entry points and package.json are', async () => {
  const script = [
    'const out = {};',
    "for (const id of ['kubefaas/lib/constructs/env', 'kubefaas/lib/constructs/env.js', 'kubefaas/lib/src/contract.js', 'kubefaas/lib/pod/runtime.js']) {",
    "  try { require.resolve(id); out[id] = 'resolved'; } catch (e) { out[id] = e.code; }",
    '}',
    "out.packageJson = require('kubefaas/package.json').name;",
    'console.log(JSON.stringify(out));',
  ].join('\n');
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: project });
  expect(JSON.parse(stdout)).toEqual({
    'kubefaas/lib/constructs/env': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    'kubefaas/lib/constructs/env.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    'kubefaas/lib/src/contract.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    'kubefaas/lib/pod/runtime.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    packageJson: 'kubefaas',
  });
});

describe('kubefaas init: a new project that runs at once', () => {
  let app: string;

  beforeAll(async () => {
    app = path.join(work, 'init-app');
    // The installed package's own bin, as a user runs it after `npm install kubefaas`.
    await run('npx', ['--no-install', 'kubefaas', 'init', app, '--kubefaas', path.join(work, packed.filename)], {
      cwd: project,
    });
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app });
  }, SLOW);

  test('writes the app, the handler, cdk8s.yaml, tsconfig and package.json; kubefaas from the tarball', () => {
    for (const f of ['app.ts', 'functions/hello.ts', 'cdk8s.yaml', 'tsconfig.json', '.gitignore'])
      expect(fs.existsSync(path.join(app, f))).toBe(true);
    const pkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')) as {
      name: string;
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    expect(pkg.name).toBe('init-app');
    expect(pkg.dependencies.kubefaas).toBe(`file:../${packed.filename}`);
    expect(Object.keys(pkg.scripts).sort()).toEqual(['dev', 'synth', 'typecheck']);
  });

  test(
    'npm run typecheck and npm run synth: the function, its route and its bundled handler',
    async () => {
      await run('npm', ['run', 'typecheck'], { cwd: app });
      await run('npm', ['run', 'synth'], { cwd: app });
      const objects = loadManifests(path.join(app, 'dist'));
      findObject(objects, 'Deployment', 'hello');
      findObject(objects, 'Deployment', 'kubefaas-router');
      expect(Object.values(codeConfigMapOf(objects, 'hello').data ?? {}).join('\n')).toContain('Hello, ');
      const table = JSON.parse(Object.values(findObject(objects, 'ConfigMap', 'kubefaas-routes').data ?? {})[0]) as {
        routes: { function: string; path: string }[];
      };
      expect(table.routes).toEqual([expect.objectContaining({ function: 'hello', path: '/hello' })]);
    },
    SLOW,
  );

  test(
    'npm run dev serves /hello',
    async () => {
      const port = await freePort();
      // Its own process group, so the test can stop npm, the shell and the runner together.
      const dev = spawn('npm', ['run', 'dev', '--', '--port', String(port), '--no-watch'], {
        cwd: app,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      dev.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((resolve) => dev.once('exit', resolve));
      try {
        await new Promise<void>((resolve, reject) => {
          dev.stdout.on('data', (c: Buffer) => {
            output += c.toString();
            if (output.includes('router listening on')) resolve();
          });
          void exited.then((code) => reject(new Error(`npm run dev exited with ${code}:\n${output}`)));
        });
        const get = await fetch(`http://127.0.0.1:${port}/hello`);
        expect([get.status, await get.text()]).toEqual([200, 'Hello, world!']);
        const post = await fetch(`http://127.0.0.1:${port}/hello`, { method: 'POST', body: 'kubefaas' });
        expect([post.status, await post.text()]).toEqual([200, 'Hello, kubefaas!']);
      } finally {
        process.kill(-dev.pid!, 'SIGTERM');
        await exited;
      }
    },
    SLOW,
  );
});
