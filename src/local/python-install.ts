/**
 * `PythonDependencies.installAtStart()` in the local runner. In a pod the init container
 * `install-dependencies` runs `pip install --target` into an emptyDir at every start; locally the same
 * command runs on the local python3 once per requirements, into a cache directory keyed by what the
 * install depends on (the requirements files, the command, its env, the interpreter). Unchanged
 * requirements therefore install nothing on a restart, a reload or the next `kubefaas dev`; changed
 * ones install into a new directory while the previous process keeps running.
 *
 * The cache is `$KUBEFAAS_PIP_CACHE/installed/<key>` (default `<tmpdir>/kubefaas-pip-wheels`, shared
 * with the wheels resolved at synth); delete it to force a reinstall.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { Paths, PythonPaths } from '../contract';
import { resolveEnv } from './env';
import { runnerLog, type LogSink } from './log';
import type { Container, Manifests } from './manifests';
import { materializeVolumes } from './materialize';
import { spawnGroup, type GroupCommand, type Reaper } from './process-group';
import { isPythonCommand, isPythonImage, type LocalPython } from './python';
import { expandVariables, pathRewriter, type PathMapping } from './rewrite';
import type { PlannedVolume } from './volume';

/** The install a process needs before it starts. */
export interface DependencyInstall extends GroupCommand {
  /** Directory the packages end up in: the deps volume of the function, shared by every run with this key. */
  readonly dir: string;
  /** Where pip installs before the result is moved to `dir` (a failed install leaves nothing in `dir`). */
  readonly stagingDir: string;
  /** The ConfigMap volumes the init container reads (requirements.txt), in directories of their own. */
  readonly volumes: readonly PlannedVolume[];
  /** sha256 of everything the install depends on. */
  readonly key: string;
}

/** Marks a complete install in its directory. */
const COMPLETE = '.kubefaas-installed';

/** The dependency-install init container of a pod, when it has one the runner can run. */
export function findInstallContainer(initContainers: readonly Container[] | undefined): Container | undefined {
  return initContainers?.find(
    (c) =>
      c.name === PythonPaths.installContainer &&
      isPythonImage(c.image ?? '') &&
      isPythonCommand(c.command?.[0]) &&
      (c.volumeMounts ?? []).some((m) => m.mountPath === PythonPaths.installDir),
  );
}

export interface InstallPlanContext {
  readonly workload: string;
  readonly namespace: string;
  readonly manifests: Manifests;
  /** The pod's volumes as planned for the process (ConfigMap files read, emptyDirs as directories). */
  readonly volumes: readonly PlannedVolume[];
  /** Where the process's own files live. */
  readonly processDir: string;
  readonly developerEnv: Readonly<Record<string, string | undefined>>;
  readonly python: LocalPython;
  /** Applied to the install's env after it is resolved (kubefaas dev --env). */
  readonly overrideEnv: (env: Record<string, string>) => void;
  readonly rewriteServices: (value: string) => string;
  readonly baseEnv: Readonly<Record<string, string>>;
}

/** Plans `init`'s install: the cache directory the deps volume becomes, and the command that fills it. */
export function planInstall(init: Container, ctx: InstallPlanContext): DependencyInstall {
  const mounts = init.volumeMounts ?? [];
  const depsVolume = mounts.find((m) => m.mountPath === PythonPaths.installDir)!.name;
  const volume = (name: string) => ctx.volumes.find((v) => v.name === name);
  // What pip reads: the files of the ConfigMap volumes the container mounts (requirements.txt only).
  const inputs = mounts
    .map((m) => volume(m.name))
    .filter((v): v is PlannedVolume => v?.files !== undefined)
    .map((v) => [v.name, [...v.files!].sort(([a], [b]) => (a < b ? -1 : 1)).map(([f, c]) => [f, sha256(c)])]);
  const rawEnv = resolveEnv(init, { ...ctx, rewrite: ctx.rewriteServices });
  ctx.overrideEnv(rawEnv);
  const key = sha256(
    JSON.stringify({
      image: init.image,
      command: init.command,
      args: init.args,
      env: rawEnv,
      inputs,
      python: [ctx.python.path, ctx.python.version],
    }),
  ).slice(0, 32);
  const root = ctx.developerEnv.KUBEFAAS_PIP_CACHE || path.join(os.tmpdir(), 'kubefaas-pip-wheels');
  const dir = path.join(root, 'installed', key);
  const stagingDir = `${dir}.partial-${process.pid}`;

  // The init container's own view: its ConfigMap volumes in directories of their own (so the install
  // can run while the previous process still uses its volumes), the deps volume → the staging dir.
  const ownVolumes: PlannedVolume[] = [];
  const mappings: PathMapping[] = mounts.map((m) => {
    if (m.name === depsVolume) return { containerPath: m.mountPath, localPath: stagingDir };
    const v = volume(m.name);
    if (v?.files !== undefined) {
      const own = { name: v.name, dir: path.join(ctx.processDir, 'install', v.name), files: v.files };
      ownVolumes.push(own);
      return { containerPath: m.mountPath, localPath: own.dir };
    }
    return { containerPath: m.mountPath, localPath: v?.dir ?? path.join(ctx.processDir, 'install', m.name) };
  });
  const rewrite = pathRewriter(mappings);
  const env = Object.fromEntries(Object.entries(rawEnv).map(([k, v]) => [k, rewrite(v)]));
  const tmp = mappings.find((m) => m.containerPath === Paths.tmpDir);
  if (tmp && env.TMPDIR === undefined) env.TMPDIR = tmp.localPath;
  const [, ...args] = [...(init.command ?? []), ...(init.args ?? [])].map((a) => rewrite(expandVariables(a, env)));
  return {
    command: ctx.python.path,
    args,
    cwd: ctx.processDir,
    processEnv: { ...ctx.baseEnv, ...env },
    dir,
    stagingDir,
    volumes: ownVolumes,
    key,
  };
}

const inFlight = new Map<string, Promise<'cached' | 'installed'>>();

/**
 * Runs the install unless its directory is complete already (several processes, or runners, with the
 * same requirements share it). Rejects with pip's last lines when pip fails.
 */
export function ensureInstalled(
  install: DependencyInstall,
  name: string,
  log: LogSink,
  reaper?: Reaper,
): Promise<'cached' | 'installed'> {
  if (fs.existsSync(path.join(install.dir, COMPLETE))) return Promise.resolve('cached');
  const running = inFlight.get(install.dir);
  if (running) return running;
  const started = runInstall(install, name, log, reaper).finally(() => inFlight.delete(install.dir));
  inFlight.set(install.dir, started);
  return started;
}

async function runInstall(
  install: DependencyInstall,
  name: string,
  log: LogSink,
  reaper?: Reaper,
): Promise<'installed'> {
  materializeVolumes(install);
  fs.rmSync(install.stagingDir, { recursive: true, force: true });
  fs.mkdirSync(install.stagingDir, { recursive: true });
  runnerLog(
    log,
    'info',
    `${name}: installing requirements.txt (${PythonPaths.installContainer}), cached in ${install.dir}`,
  );
  const startedAt = Date.now();
  const child = spawnGroup(install, reaper);
  const tail: string[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    readline.createInterface({ input: child[stream]!, crlfDelay: Infinity }).on('line', (text) => {
      tail.push(text);
      if (tail.length > 5) tail.shift();
      log({ source: name, stream, level: stream === 'stderr' ? 'warn' : 'info', text });
    });
  }
  const code = await new Promise<number | string>((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('close', (exit, signal) => resolve(exit ?? signal ?? 'killed'));
  });
  if (code !== 0) {
    fs.rmSync(install.stagingDir, { recursive: true, force: true });
    throw new Error(
      `${name}: installing requirements.txt failed (${typeof code === 'number' ? `exit ${code}` : code}): ${tail.join(' | ')}`,
    );
  }
  fs.writeFileSync(path.join(install.stagingDir, COMPLETE), '');
  try {
    // Replaces the empty directory the deps volume was materialized as; atomic, so a reader never sees half.
    if (fs.existsSync(install.dir) && fs.readdirSync(install.dir).length === 0) fs.rmdirSync(install.dir);
    fs.renameSync(install.stagingDir, install.dir);
  } catch (err) {
    // Another runner completed the same install first: use its directory.
    fs.rmSync(install.stagingDir, { recursive: true, force: true });
    if (!fs.existsSync(path.join(install.dir, COMPLETE))) throw err;
  }
  runnerLog(log, 'info', `${name}: dependencies installed in ${Date.now() - startedAt} ms`);
  return 'installed';
}

function sha256(value: string | Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}
