/**
 * One supervised local process standing in for a workload: started in its own process group (so
 * stopping it also stops anything it spawned), its output streamed line by line under its name,
 * restarted with exponential backoff when it exits on its own, stopped with SIGTERM then SIGKILL.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as readline from 'node:readline';
import type { LogSink } from './log';
import { runnerLog } from './log';
import type { ProcessPlan } from './plan';
import { signalGroup, spawnGroup, type Reaper } from './process-group';

/** How long `stop()` waits after SIGTERM before SIGKILL, unless told otherwise. */
export const DEFAULT_STOP_GRACE_MS = 5000;

export interface SupervisorOptions {
  /** First restart delay after a crash; doubles per consecutive crash. @default 250 */
  readonly initialBackoffMs?: number;
  /** Longest restart delay. @default 10000 */
  readonly maxBackoffMs?: number;
  /** A process that ran at least this long before exiting counts as healthy: backoff resets. @default 10000 */
  readonly healthyAfterMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL. @default 5000 */
  readonly stopGraceMs?: number;
}

/** Told when the process starts (also after a crash restart) and when it exits (also when stopped). */
export interface ProcessHooks {
  readonly started?: () => void;
  readonly exited?: () => void;
}

/**
 * Events: `line` (text, stream) for every output line, `crash` (code, signal) when it exited on its
 * own. The runner uses them to hear the router confirm a route table and to stop waiting for a
 * process that died before it was ready.
 */
export class ManagedProcess extends EventEmitter {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private backoffMs: number;
  private startedAt = 0;
  private crashCount = 0;
  private readonly opts: Required<SupervisorOptions>;

  constructor(
    private currentPlan: ProcessPlan,
    private readonly log: LogSink,
    opts: SupervisorOptions = {},
    private readonly reaper?: Reaper,
    private readonly hooks: ProcessHooks = {},
  ) {
    super();
    this.opts = {
      initialBackoffMs: opts.initialBackoffMs ?? 250,
      maxBackoffMs: opts.maxBackoffMs ?? 10_000,
      healthyAfterMs: opts.healthyAfterMs ?? 10_000,
      stopGraceMs: opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
    };
    this.backoffMs = this.opts.initialBackoffMs;
  }

  get plan(): ProcessPlan {
    return this.currentPlan;
  }

  get name(): string {
    return this.currentPlan.name;
  }

  /** Pid of the running process, if any. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** How many times the process exited on its own (and was restarted). */
  get crashes(): number {
    return this.crashCount;
  }

  start(): void {
    this.stopping = false;
    const p = this.currentPlan;
    const child = spawnGroup(p, this.reaper);
    this.child = child;
    this.startedAt = Date.now();
    this.hooks.started?.();
    for (const stream of ['stdout', 'stderr'] as const) {
      readline.createInterface({ input: child[stream]!, crlfDelay: Infinity }).on('line', (text) => {
        this.log({ source: p.name, stream, level: stream === 'stderr' ? 'warn' : 'info', text });
        this.emit('line', text, stream);
      });
    }
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        runnerLog(this.log, 'error', `${p.name}: cannot start ${p.command}: ${err.message}`);
      });
      child.once('close', (code, signal) => {
        resolve();
        if (this.child === child) this.child = undefined;
        this.hooks.exited?.();
        if (!this.stopping) this.onCrash(code, signal);
      });
    });
  }

  private onCrash(code: number | null, signal: NodeJS.Signals | null): void {
    this.crashCount++;
    this.emit('crash', code, signal);
    if (Date.now() - this.startedAt >= this.opts.healthyAfterMs) this.backoffMs = this.opts.initialBackoffMs;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
    runnerLog(
      this.log,
      'error',
      `${this.name} exited (${signal ? `signal ${signal}` : `code ${code}`}); restarting in ${delay} ms`,
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping) this.start();
    }, delay);
  }

  /** SIGTERM to the process group, SIGKILL after the grace period; resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(child, 'SIGTERM');
    const killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), this.opts.stopGraceMs);
    await this.exited;
    clearTimeout(killTimer);
    // Anything the process left behind in its group goes too.
    signalGroup(child, 'SIGKILL');
  }

  /** Stops and starts again, optionally with a new plan. */
  async restart(plan?: ProcessPlan): Promise<void> {
    await this.stop();
    if (plan) this.currentPlan = plan;
    this.backoffMs = this.opts.initialBackoffMs;
    this.start();
  }

  /** Last-resort synchronous kill (for process `exit` handlers). */
  killNow(): void {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.child) signalGroup(this.child, 'SIGKILL');
  }
}
