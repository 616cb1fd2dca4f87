/**
 * CronJobs, locally: each CronJob's pod runs as a one-shot process (same env, volumes and command
 * rewriting as a Deployment's) whenever its schedule fires — croner, in the CronJob's time zone —
 * or on demand (`kubefaas invoke <fn> --trigger cron/<name>`, through the runner's control
 * endpoint). `concurrencyPolicy` is honoured: Forbid skips a tick while the previous one runs,
 * Replace stops it, Allow runs both.
 */
import type { ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';
import { Cron } from 'croner';
import { checkSchedule } from '../contract';
import { runnerLog, type LogSink } from './log';
import { materializeVolumes } from './materialize';
import type { CronJobPlan } from './plan';
import { signalGroup, spawnGroup, type Reaper } from './process-group';

/** The outcome of one tick. */
export interface JobRun {
  readonly cronJob: string;
  /** Exit code of the tick's process (null when killed by a signal). */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Its output (stdout and stderr), also streamed to the log. */
  readonly output: string;
  /** True when the tick was skipped because the previous one still ran (concurrencyPolicy Forbid). */
  readonly skipped: boolean;
}

export interface LocalCronOptions {
  /**
   * Test hook: a croner pattern (6 fields = with seconds) used instead of every CronJob's own
   * schedule, so tests need not wait for a minute boundary. Never exposed on the command line.
   * @default - each CronJob's schedule
   */
  readonly scheduleOverride?: string;
  /** Registers each tick's process group, so a dying runner does not leave ticks running. @default none */
  readonly reaper?: Reaper;
}

interface Entry {
  plan: CronJobPlan;
  timer?: Cron;
  running: Set<ChildProcess>;
}

export class LocalCron {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(
    private readonly log: LogSink,
    private readonly opts: LocalCronOptions = {},
  ) {}

  /** CronJobs known to the runner. */
  get cronJobs(): readonly CronJobPlan[] {
    return [...this.entries.values()].map((e) => e.plan);
  }

  /** Replaces the schedules with those of `plans` (ticks already running finish). */
  update(plans: readonly CronJobPlan[]): void {
    const wanted = new Set(plans.map((p) => p.name));
    for (const [name, entry] of this.entries) {
      if (!wanted.has(name)) {
        entry.timer?.stop();
        this.entries.delete(name);
      }
    }
    for (const plan of plans) {
      const entry = this.entries.get(plan.name) ?? { plan, running: new Set<ChildProcess>() };
      entry.timer?.stop();
      entry.timer = undefined;
      entry.plan = plan;
      this.entries.set(plan.name, entry);
      if (plan.suspend) continue;
      const pattern = this.opts.scheduleOverride ?? this.cronerPattern(plan);
      if (!pattern) continue;
      entry.timer = new Cron(pattern, { timezone: plan.timeZone, protect: false }, () => {
        void this.fire(plan.name).catch((err: Error) => runnerLog(this.log, 'error', `${plan.name}: ${err.message}`));
      });
    }
  }

  private cronerPattern(plan: CronJobPlan): string | undefined {
    const check = checkSchedule(plan.schedule, nextRun);
    if (!check.ok) {
      runnerLog(this.log, 'warn', `CronJob ${plan.name} is not scheduled locally: ${check.problem}`);
      return undefined;
    }
    return check.cronerPattern;
  }

  /** Finds a CronJob by its name, or by function and trigger name (`<fn>` + `cron/<name>`). */
  find(name: string, functionName?: string): CronJobPlan | undefined {
    const plans = this.cronJobs;
    if (functionName === undefined) return plans.find((p) => p.name === name);
    return plans.find(
      (p) => (p.function === functionName && p.trigger === name) || p.name === `${functionName}-cron-${name}`,
    );
  }

  /** Runs one tick of `name` now and resolves with its outcome. */
  async fire(name: string): Promise<JobRun> {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`no CronJob named ${name}`);
    if (this.stopped) throw new Error('the local runner is stopping');
    const { plan } = entry;
    if (entry.running.size > 0) {
      if (plan.concurrencyPolicy === 'Forbid') {
        runnerLog(
          this.log,
          'warn',
          `${plan.name}: previous tick still running; skipping this one (concurrencyPolicy Forbid)`,
        );
        return { cronJob: name, exitCode: null, signal: null, output: '', skipped: true };
      }
      if (plan.concurrencyPolicy === 'Replace') for (const child of entry.running) signalGroup(child, 'SIGTERM');
    }
    runnerLog(this.log, 'info', `${plan.name}: tick`);
    materializeVolumes(plan.process);
    return this.run(entry);
  }

  private run(entry: Entry): Promise<JobRun> {
    const p = entry.plan.process;
    const child = spawnGroup(p, this.opts.reaper);
    entry.running.add(child);
    const lines: string[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      readline.createInterface({ input: child[stream]!, crlfDelay: Infinity }).on('line', (text) => {
        lines.push(text);
        this.log({ source: entry.plan.name, stream, level: stream === 'stderr' ? 'warn' : 'info', text });
      });
    }
    return new Promise((resolve, reject) => {
      child.once('error', (err) => {
        entry.running.delete(child);
        reject(new Error(`cannot start ${p.command}: ${err.message}`));
      });
      child.once('close', (exitCode, signal) => {
        entry.running.delete(child);
        if (exitCode !== 0)
          runnerLog(
            this.log,
            'error',
            `${entry.plan.name}: tick failed (${signal ? `signal ${signal}` : `exit code ${exitCode}`})`,
          );
        resolve({ cronJob: entry.plan.name, exitCode, signal, output: lines.join('\n'), skipped: false });
      });
    });
  }

  /** Stops every schedule and kills running ticks. */
  stop(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) {
      entry.timer?.stop();
      for (const child of entry.running) signalGroup(child, 'SIGKILL');
    }
  }
}

/** croner's next run of a pattern (null: never), for the contract's schedule check. */
function nextRun(cronerPattern: string): Date | null {
  const cron = new Cron(cronerPattern, { paused: true });
  try {
    return cron.nextRun();
  } finally {
    cron.stop();
  }
}
