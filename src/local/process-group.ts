/**
 * Process groups of the local runner. Every process `kubefaas dev` starts (workloads, cron ticks)
 * runs in a process group of its own, so stopping it also stops what it spawned; each group is
 * registered with the reaper (reaper-main.ts), a watchdog process that ends the groups and removes
 * the run directory when the runner dies without cleaning up (SIGKILL, a crash).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { LogSink } from './log';
import { runnerLog } from './log';
import { nodeArgsFor } from './synth';

/** What a group is started from (a ProcessPlan has these fields). */
export interface GroupCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly processEnv: Readonly<Record<string, string>>;
}

/** How often the runner starts a new reaper after the previous one died. */
const MAX_REAPER_RESPAWNS = 3;

/** The runner's side of the reaper: registers groups and paths; `close()` at a clean stop. */
export class Reaper {
  private child?: ChildProcess;
  private readonly groups = new Set<number>();
  private readonly paths = new Set<string>();
  private respawns = 0;
  private closed = false;

  private constructor(
    private readonly log: LogSink,
    private readonly graceMs: number,
  ) {}

  /** Starts the reaper process; it ends registered groups after `graceMs` of SIGTERM when the runner dies. */
  static start(log: LogSink, graceMs: number): Reaper {
    const reaper = new Reaper(log, graceMs);
    reaper.spawn();
    return reaper;
  }

  /** Pid of the reaper process (tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawn(): void {
    // reaper-main.ts under tsx/jest, reaper-main.js once compiled.
    const script = path.join(__dirname, `reaper-main${path.extname(__filename)}`);
    // Its own session (detached): a terminal's SIGHUP/SIGINT to the runner's group does not reach it.
    const child = spawn(process.execPath, nodeArgsFor(script, __dirname), {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    this.child = child;
    child.unref();
    const stdin = child.stdin!;
    (stdin as unknown as { unref?: () => void }).unref?.();
    stdin.on('error', () => undefined); // EPIPE after it died: the exit handler below takes over
    child.once('error', (err) =>
      runnerLog(
        this.log,
        'warn',
        `cannot start the reaper (${err.message}); a SIGKILL of the runner would leave its processes running`,
      ),
    );
    child.once('exit', () => {
      if (this.closed || this.child !== child) return;
      if (this.respawns >= MAX_REAPER_RESPAWNS) {
        runnerLog(
          this.log,
          'warn',
          'the reaper keeps exiting; a SIGKILL of the runner would leave its processes running',
        );
        return;
      }
      this.respawns++;
      this.spawn();
    });
    this.send(`grace ${this.graceMs}`);
    for (const pgid of this.groups) this.send(`group ${pgid}`);
    for (const p of this.paths) this.send(`path ${p}`);
  }

  private send(line: string): void {
    if (this.closed || !this.child?.stdin?.writable) return;
    this.child.stdin.write(`${line}\n`);
  }

  addGroup(pgid: number): void {
    this.groups.add(pgid);
    this.send(`group ${pgid}`);
  }

  removeGroup(pgid: number): void {
    if (this.groups.delete(pgid)) this.send(`ungroup ${pgid}`);
  }

  /** A path (file or directory) removed when the runner dies without removing it itself. */
  addPath(p: string): void {
    this.paths.add(p);
    this.send(`path ${p}`);
  }

  removePath(p: string): void {
    if (this.paths.delete(p)) this.send(`unpath ${p}`);
  }

  /** The runner cleaned up itself: the reaper exits without touching anything. Resolves once it has (at most `waitMs`). */
  close(waitMs = 2000): Promise<void> {
    const child = this.child;
    if (this.closed || !child || child.exitCode !== null || child.signalCode !== null) {
      this.closed = true;
      return Promise.resolve();
    }
    // Referenced again while waiting: a runner on its way out must not exit before its reaper has.
    child.ref();
    const exited = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.send('done');
    this.closed = true;
    child.stdin?.end();
    return exited;
  }
}

/**
 * Starts `cmd` in a process group of its own (registered with `reaper` until the group is gone) with
 * stdout/stderr piped. When the group leader exits, whatever it left in its group is killed.
 */
export function spawnGroup(cmd: GroupCommand, reaper: Reaper | undefined): ChildProcess {
  const child = spawn(cmd.command, [...cmd.args], {
    cwd: cmd.cwd,
    env: { ...cmd.processEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pgid = child.pid;
  if (pgid !== undefined) {
    reaper?.addGroup(pgid);
    child.once('exit', () => {
      signalGroup(child, 'SIGKILL');
      reaper?.removeGroup(pgid);
    });
  }
  return child;
}

/** Signals the whole process group of `child` (ignored when it is gone). */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}
