/**
 * `kubefaas dev` as a real process, stopped the ways a developer's machine stops it: SIGHUP (the
 * terminal closed), SIGKILL (nothing in the runner runs), a double Ctrl-C. Each time, every process
 * it started — router, runtimes (one stuck in a busy loop), a foreign local command, nats-server —
 * must be gone within a bounded time, their ports closed and the run directory removed. Also: what
 * each process listens on (loopback, unless --host shares the router).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { controlStateFile } from '../../src/local/control';
import { freePort, isListening } from '../../src/local/ports';
import { writeFixtureManifests } from '../local/fixtures/platform';
import { childPids, isAlive, listeningAddresses, natsFixtureObjects, tempDir } from '../local/helpers';
import { printFigures } from './harness';

jest.setTimeout(90_000);

const repo = path.resolve(__dirname, '..', '..');
const cliArgs = ['--import', 'tsx', path.join(repo, 'src', 'cli', 'main.ts')];
const linux = fs.existsSync('/proc/self/fd');
/** How long the processes may take to go after the runner is gone (stop grace 5 s + margin). */
const GONE_WITHIN_MS = 15_000;

const manifests = tempDir('signals');
const fixtureDir = path.join(__dirname, '..', 'local', 'fixtures');
beforeAll(() => {
  writeFixtureManifests(manifests, {
    functions: [
      { name: 'hello', code: 'module.exports = () => "hi";' },
      // A handler that never yields: a parent-death check inside this process could never run.
      { name: 'spin', code: 'module.exports = () => { for (;;) {} };' },
    ],
    containers: [
      { name: 'echo', image: 'example/echo:1.0', localCommand: ['node', path.join(fixtureDir, 'echo-server.js')] },
    ],
    extra: natsFixtureObjects(),
  });
});
afterAll(() => fs.rmSync(manifests, { recursive: true, force: true }));

interface Dev {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly port: number;
  /** Every process the runner started (workloads and the reaper), and their ports. */
  readonly children: readonly number[];
  readonly ports: readonly number[];
  readonly runDir: string;
  output(): string;
}

async function startDev(extraArgs: string[] = []): Promise<Dev> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [...cliArgs, 'dev', '--manifests', manifests, '--port', String(port), '--no-watch', ...extraArgs],
    { cwd: repo },
  );
  let output = '';
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  await new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      output += `${line}\n`;
      if (line.includes('router listening on')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`dev exited with ${code}:\n${output}`)));
  });
  // (tsx's esbuild service is the runner's own helper, not something it started for the app.)
  const children = childPids(proc.pid!).filter((pid) => !commandLine(pid).includes('esbuild'));
  const ports = [...output.matchAll(/ready on [^\s]+:(\d+)/g)].map((m) => Number(m[1]));
  // A workload's working directory is <run dir>/<name>.
  const routerCwd = children.map((pid) => readCwd(pid)).find((cwd) => cwd?.endsWith(`${path.sep}kubefaas-router`));
  const dev = {
    proc,
    port,
    children,
    ports,
    runDir: path.dirname(routerCwd ?? '/nonexistent/x'),
    output: () => output,
  };
  started.push(dev);
  return dev;
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Started runners, killed after each test whatever happened. */
const started: Dev[] = [];
afterEach(() => {
  for (const dev of started.splice(0))
    if (dev.proc.exitCode === null && dev.proc.signalCode === null) dev.proc.kill('SIGKILL');
});

function readCwd(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

async function waitUntil(what: string, test: () => Promise<boolean> | boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function expectAllGone(dev: Dev, title?: string): Promise<void> {
  const since = Date.now();
  await waitUntil(
    `processes ${dev.children.filter(isAlive).join(', ')} gone`,
    () => dev.children.every((pid) => !isAlive(pid)),
    GONE_WITHIN_MS,
  );
  for (const port of dev.ports) expect(await isListening(port)).toBe(false);
  expect(await isListening(dev.port)).toBe(false);
  await waitUntil(`run directory ${dev.runDir} removed`, () => !fs.existsSync(dev.runDir), GONE_WITHIN_MS);
  await waitUntil('control state file removed', () => !fs.existsSync(controlStateFile(dev.port)), GONE_WITHIN_MS);
  if (title) printFigures(title, { processes: dev.children.length, allGoneAfterMs: Date.now() - since });
}

const describeLinux = linux ? describe : describe.skip;

describeLinux('stopping kubefaas dev', () => {
  test('SIGKILL: the reaper stops every process (even one in a busy loop) and removes the run directory', async () => {
    const dev = await startDev();
    // router, hello, spin, echo, nats-server and the reaper.
    expect(dev.children).toHaveLength(6);
    expect(dev.ports).toHaveLength(5);
    expect(fs.existsSync(dev.runDir)).toBe(true);
    // Put the spin runtime into its busy loop (the router times out on its own; we do not wait).
    const spinning = fetch(`http://127.0.0.1:${dev.port}/spin`, { signal: AbortSignal.timeout(500) }).catch(
      () => undefined,
    );
    await spinning;
    dev.proc.kill('SIGKILL');
    await expectAllGone(dev, 'SIGKILL to kubefaas dev (one runtime in a busy loop)');
  });

  test('SIGHUP stops gracefully: exit 0, nothing left', async () => {
    const dev = await startDev();
    const exited = new Promise<number | null>((resolve) => dev.proc.once('exit', resolve));
    dev.proc.kill('SIGHUP');
    expect(await exited).toBe(0);
    expect(dev.output()).toMatch(/SIGHUP, stopping/);
    await expectAllGone(dev, 'SIGHUP to kubefaas dev');
  });

  test('a second SIGINT exits at once (130) and still removes the run directory', async () => {
    const dev = await startDev();
    // A runtime stuck in a busy loop ignores SIGTERM, so the graceful stop takes its full grace period.
    await fetch(`http://127.0.0.1:${dev.port}/spin`, { signal: AbortSignal.timeout(500) }).catch(() => undefined);
    const exited = new Promise<number | null>((resolve) => dev.proc.once('exit', resolve));
    dev.proc.kill('SIGINT');
    await waitUntil('first SIGINT seen', () => /SIGINT, stopping/.test(dev.output()), 10_000);
    dev.proc.kill('SIGINT');
    expect(await exited).toBe(130);
    await expectAllGone(dev, 'second SIGINT to kubefaas dev (one runtime in a busy loop)');
  });
});

describeLinux('what kubefaas dev listens on', () => {
  /** Listening addresses of every process the runner started, by pid. */
  function addresses(dev: Dev): string[] {
    return dev.children.flatMap((pid) => listeningAddresses(pid) ?? []);
  }

  test('every process (router, runtimes, local command, nats-server) listens on 127.0.0.1 only', async () => {
    const dev = await startDev();
    try {
      const all = addresses(dev);
      expect(all.length).toBeGreaterThanOrEqual(5);
      expect(all.filter((a) => !a.startsWith('127.0.0.1:'))).toEqual([]);
      expect(all).toContain(`127.0.0.1:${dev.port}`);
    } finally {
      dev.proc.kill('SIGTERM');
      await expectAllGone(dev);
    }
  });

  test('--host 0.0.0.0 shares the router only; functions and the queue stay on loopback', async () => {
    const dev = await startDev(['--host', '0.0.0.0']);
    try {
      const all = addresses(dev);
      expect(all).toContain(`0.0.0.0:${dev.port}`);
      expect(all.filter((a) => !a.startsWith('127.0.0.1:'))).toEqual([`0.0.0.0:${dev.port}`]);
    } finally {
      dev.proc.kill('SIGTERM');
      await expectAllGone(dev);
    }
  });
});
