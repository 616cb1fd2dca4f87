/**
 * `kubefaas init [dir]`: writes a new project that depends on kubefaas and runs at once: a cdk8s app
 * with one function, its handler, cdk8s.yaml, tsconfig.json and a package.json whose scripts are
 * `dev` (kubefaas dev), `synth` (the manifests into dist/) and `typecheck`. The versions of cdk8s,
 * constructs, tsx, TypeScript and @types/node are the ones this kubefaas is developed and tested with.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from './dev';
import { INIT_USAGE } from './usage';

interface OwnPackage {
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

/** kubefaas' own package.json (this file is in src/cli/ of a checkout or lib/src/cli/ of a package). */
export function ownPackage(from: string = __dirname): OwnPackage {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as OwnPackage & { name?: string };
      if (pkg.name === 'kubefaas') return pkg;
    }
    if (path.dirname(dir) === dir) throw new Error(`no package.json of kubefaas above ${from}`);
  }
}

export interface InitOptions {
  /** Directory of the new project (created when missing). */
  readonly dir: string;
  /** How the project depends on kubefaas: an npm spec, or a path to a packed tarball or a directory. */
  readonly kubefaas: string;
  /** npm package name. @default the directory's name, made a valid npm name */
  readonly name?: string;
}

/** A valid npm package name from a directory name: lower case, URL-safe characters only. */
export function packageNameFor(dir: string): string {
  const name = path
    .basename(path.resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|[-]+$/g, '');
  return name || 'my-faas-app';
}

/**
 * The dependency spec written into package.json: a path on disk (a tarball from `npm pack`, or a
 * directory) becomes `file:` relative to the project, so the project can move with it; anything
 * else (`^1.2.0`, `file:…`, a git URL) is taken as it is.
 */
export function dependencySpec(spec: string, projectDir: string, cwd = process.cwd()): string {
  if (/^[a-z+]+:/i.test(spec) || !/^(\.{1,2}[\\/]|[\\/])|\.tgz$/.test(spec)) return spec;
  const absolute = path.resolve(cwd, spec);
  if (!fs.existsSync(absolute)) throw new Error(`--kubefaas ${spec}: no such file or directory`);
  const relative = path.relative(path.resolve(cwd, projectDir), absolute).split(path.sep).join('/');
  return `file:${relative.startsWith('.') ? relative : `./${relative}`}`;
}

/** The files of a new project, by path relative to its directory. */
export function projectFiles(opts: InitOptions, own: OwnPackage = ownPackage()): Map<string, string> {
  const range = (name: string): string => {
    const r = own.devDependencies?.[name] ?? own.dependencies?.[name] ?? own.peerDependencies?.[name];
    if (!r) throw new Error(`kubefaas' package.json names no version of ${name}`);
    return r;
  };
  const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
  const files = new Map<string, string>();
  files.set(
    'package.json',
    json({
      name: opts.name ?? packageNameFor(opts.dir),
      version: '0.1.0',
      private: true,
      scripts: {
        dev: 'kubefaas dev',
        // What `cdk8s synth` runs (cdk8s.yaml's app), without needing the cdk8s CLI installed.
        synth: 'node --import tsx app.ts',
        typecheck: 'tsc --noEmit',
      },
      dependencies: {
        cdk8s: range('cdk8s'),
        constructs: range('constructs'),
        kubefaas: dependencySpec(opts.kubefaas, opts.dir),
      },
      devDependencies: {
        '@types/node': range('@types/node'),
        tsx: range('tsx'),
        typescript: range('typescript'),
      },
    }),
  );
  files.set(
    'app.ts',
    `// The platform and its functions. \`npm run dev\` runs it locally, \`npm run synth\` writes its
// Kubernetes manifests to dist/ (so does \`cdk8s synth\`, with cdk8s.yaml).
import { App } from 'cdk8s';
import { Code, HttpTrigger, NodeFunction, Platform } from 'kubefaas';

const app = new App();
const platform = new Platform(app, 'faas');

new NodeFunction(platform, 'hello', {
  code: Code.fromAsset('functions/hello.ts'), // bundled with its imports by esbuild at synth
  triggers: [new HttpTrigger({ path: '/hello', methods: ['GET', 'POST'] })],
});

app.synth();
`,
  );
  files.set(
    'functions/hello.ts',
    `import type { FunctionContext, FunctionEvent } from 'kubefaas';

/** GET /hello answers "Hello, world!"; POST /hello with a body answers "Hello, <body>!". */
export default function hello(event: FunctionEvent, context: FunctionContext): string {
  const name = event.text() || 'world';
  context.log.info('greeting', { name });
  return \`Hello, \${name}!\`;
}
`,
  );
  files.set('cdk8s.yaml', 'language: typescript\napp: node --import tsx app.ts\noutput: dist\n');
  files.set(
    'tsconfig.json',
    json({
      compilerOptions: {
        target: 'ES2022',
        module: 'commonjs',
        lib: ['es2022'],
        types: ['node'],
        strict: true,
        esModuleInterop: true,
        skipLibCheck: true,
        noEmit: true,
      },
      include: ['app.ts', 'functions'],
    }),
  );
  files.set('.gitignore', 'node_modules/\ndist/\n');
  return files;
}

/** Writes the project; refuses to overwrite any file that exists. Returns the paths written. */
export function writeProject(opts: InitOptions): string[] {
  const files = projectFiles(opts);
  const existing = [...files.keys()].filter((f) => fs.existsSync(path.join(opts.dir, f)));
  if (existing.length > 0)
    throw new Error(`${opts.dir} already has ${existing.join(', ')}; pick a new directory (nothing was written)`);
  for (const [file, text] of files) {
    fs.mkdirSync(path.dirname(path.join(opts.dir, file)), { recursive: true });
    fs.writeFileSync(path.join(opts.dir, file), text);
  }
  return [...files.keys()];
}

/** `kubefaas init`: returns the process exit code. */
export function initCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kubefaas: { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(INIT_USAGE);
    return Promise.resolve(0);
  }
  if (positionals.length > 1) throw new UsageError(`init takes one directory, got ${positionals.length}`, INIT_USAGE);
  const dir = positionals[0] ?? '.';
  const own = ownPackage();
  const spec = values.kubefaas ?? `^${own.version}`;
  let written: string[];
  try {
    written = writeProject({ dir, kubefaas: spec, name: values.name });
  } catch (err) {
    process.stderr.write(`kubefaas init: ${(err as Error).message}\n`);
    return Promise.resolve(1);
  }
  const cd = path.resolve(dir) === process.cwd() ? '' : `  cd ${dir}\n`;
  process.stdout.write(
    `created ${written.join(', ')} in ${path.resolve(dir)}\n\n` +
      `next:\n${cd}  npm install\n` +
      '  npm run dev              # kubefaas dev: curl localhost:8080/hello\n' +
      '  npm run synth            # the Kubernetes manifests, in dist/\n',
  );
  if (values.kubefaas === undefined) {
    process.stdout.write(
      `\nkubefaas is a dependency as ^${own.version} from the npm registry; to use a checkout instead, run \`npm pack\`\n` +
        'in it and pass the tarball: kubefaas init <dir> --kubefaas ../kubefaas/kubefaas-<version>.tgz\n',
    );
  }
  return Promise.resolve(0);
}
