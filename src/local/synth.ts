/**
 * Synthesis: turns "the user's cdk8s app" into a directory of manifests by running the app in a child
 * process with `CDK8S_OUTDIR` pointing at a fresh temporary directory (cdk8s' `App` uses that variable as
 * its default output directory), exactly as `cdk8s synth` does. Running in a child process keeps the
 * app's module cache, globals and crashes away from the long-running runner, and lets us re-run it on
 * every change.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { GRAPH_FILES, GRAPH_VERSION, type GraphFile } from '../contract';
import { loadManifestDir, Manifests } from './manifests';

/** Where the manifests come from. */
export type AppSource =
  /** A cdk8s app file run with node (`.js`) or node + tsx (`.ts`). */
  | { readonly kind: 'file'; readonly file: string }
  /** A shell command that synthesizes (the `app` of cdk8s.yaml). */
  | { readonly kind: 'command'; readonly command: string; readonly cwd: string }
  /** A directory of already-synthesized manifests. */
  | { readonly kind: 'manifests'; readonly dir: string };

export interface ResolveAppOptions {
  /** App file or manifest directory given by the user. @default the `app` of ./cdk8s.yaml */
  readonly app?: string;
  /** Directory of already-synthesized manifests; wins over `app`. @default none */
  readonly manifestsDir?: string;
  /** Directory relative paths are resolved against. @default process.cwd() */
  readonly cwd?: string;
}

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);
const JS_EXTENSIONS = new Set(['.js', '.mjs', '.cjs']);

/** Decides what to synthesize from the user's arguments (see ResolveAppOptions). */
export function resolveAppSource(opts: ResolveAppOptions): AppSource {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.manifestsDir) return { kind: 'manifests', dir: path.resolve(cwd, opts.manifestsDir) };
  if (opts.app) {
    const target = path.resolve(cwd, opts.app);
    if (!fs.existsSync(target)) throw new Error(`app ${opts.app} does not exist (looked at ${target})`);
    if (fs.statSync(target).isDirectory()) return { kind: 'manifests', dir: target };
    const ext = path.extname(target);
    if (!TS_EXTENSIONS.has(ext) && !JS_EXTENSIONS.has(ext)) {
      throw new Error(`app ${opts.app}: expected a .ts or .js cdk8s app, or a directory of manifests`);
    }
    return { kind: 'file', file: target };
  }
  const config = path.join(cwd, 'cdk8s.yaml');
  if (!fs.existsSync(config)) {
    throw new Error(
      `no app given and no cdk8s.yaml in ${cwd}; pass an app file (kubefaas dev app.ts) or --manifests <dir>`,
    );
  }
  const parsed = parseYaml(fs.readFileSync(config, 'utf8')) as { app?: unknown } | null;
  if (!parsed || typeof parsed.app !== 'string' || parsed.app.trim() === '') {
    throw new Error(`${config} has no "app" command; pass an app file instead`);
  }
  return { kind: 'command', command: parsed.app, cwd };
}

/**
 * Directories worth watching for a source: the app file's directory (where its handlers usually live,
 * e.g. examples/app.ts next to examples/hello/handler.ts), the directories of files named in a cdk8s.yaml
 * command, or the manifest directory itself.
 */
export function defaultWatchDirs(source: AppSource): string[] {
  switch (source.kind) {
    case 'file':
      return [path.dirname(source.file)];
    case 'manifests':
      return [source.dir];
    case 'command': {
      const files = source.command
        .split(/\s+/)
        .map((token) => path.resolve(source.cwd, token.replace(/^['"]|['"]$/g, '')))
        .filter((p) => (TS_EXTENSIONS.has(path.extname(p)) || JS_EXTENSIONS.has(path.extname(p))) && fs.existsSync(p));
      return files.length > 0 ? [...new Set(files.map((f) => path.dirname(f)))] : [source.cwd];
    }
  }
}

/** A synthesis that failed: carries the app's own output so the user sees the real error. */
export class SynthError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(output.trim() ? `${message}\n${output.trimEnd()}` : message);
    this.name = 'SynthError';
  }
}

export interface SynthOptions {
  /** Working directory of the app process (relative `Code.fromAsset` paths resolve against it). @default process.cwd() */
  readonly cwd?: string;
  /** Environment of the app process. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export interface SynthResult {
  readonly manifests: Manifests;
  /** Whatever the app printed while synthesizing (warnings, logs). */
  readonly output: string;
  /** The platform graph the app wrote next to its manifests (GRAPH_FILES.json); undefined when there is none. */
  readonly graph?: GraphFile;
}

/** Synthesizes `source` (or just loads it, for a manifest directory). */
export async function synthesize(source: AppSource, opts: SynthOptions = {}): Promise<SynthResult> {
  if (source.kind === 'manifests')
    return { manifests: loadManifestDir(source.dir), output: '', ...graphIn(source.dir) };
  const cwd = source.kind === 'command' ? source.cwd : (opts.cwd ?? process.cwd());
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubefaas-synth-'));
  try {
    const env = { ...(opts.env ?? process.env), CDK8S_OUTDIR: outdir };
    const [file, args, shell] =
      source.kind === 'command'
        ? [source.command, [] as string[], true]
        : [process.execPath, nodeArgsFor(source.file, cwd), false];
    const { code, signal, output } = await run(file, args, { cwd, env, shell });
    const label = source.kind === 'command' ? `"${source.command}"` : path.relative(cwd, source.file) || source.file;
    if (code !== 0)
      throw new SynthError(
        `synthesizing ${label} failed (${signal ? `signal ${signal}` : `exit code ${code}`}):`,
        output,
      );
    try {
      return { manifests: loadManifestDir(outdir), output, ...graphIn(outdir) };
    } catch (err) {
      throw new SynthError(`synthesizing ${label} produced no usable manifests: ${(err as Error).message}`, output);
    }
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** `{ graph }` from the graph file in `dir`, or nothing when there is none. */
function graphIn(dir: string): { graph?: GraphFile } {
  const graph = readGraphFile(dir);
  return graph === undefined ? {} : { graph };
}

/**
 * The platform graph a synth wrote into `dir` (GRAPH_FILES.json); undefined when the file is not
 * there (an app synthesized by an older kubefaas, or with no Platform).
 */
export function readGraphFile(dir: string): GraphFile | undefined {
  const file = path.join(dir, GRAPH_FILES.json);
  if (!fs.existsSync(file)) return undefined;
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<GraphFile> | null;
  if (!parsed || parsed.version !== GRAPH_VERSION || !Array.isArray(parsed.platforms))
    throw new Error(`${file} is not a version ${GRAPH_VERSION} platform graph; synthesize the app again`);
  return parsed as GraphFile;
}

/** Node arguments that run `file`: directly for JavaScript, through tsx for TypeScript. */
export function nodeArgsFor(file: string, cwd: string): string[] {
  if (JS_EXTENSIONS.has(path.extname(file))) return [file];
  return ['--import', tsxLoaderUrl(cwd), file];
}

/** tsx from our own dependencies when present, else from the user's project. */
function tsxLoaderUrl(cwd: string): string {
  for (const from of [__dirname, cwd]) {
    try {
      return pathToFileURL(require.resolve('tsx', { paths: [from] })).href;
    } catch {
      // try the next location
    }
  }
  throw new Error('running a TypeScript app needs tsx: npm install --save-dev tsx (or pass a compiled .js app)');
}

function run(
  file: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; shell: boolean },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      shell: opts.shell,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, output: Buffer.concat(chunks).toString('utf8') }));
  });
}
