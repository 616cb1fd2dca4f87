/**
 * The local platform: synthesize → plan → materialize → supervise, and again on every change.
 * See docs/local-runner.md for the behaviour from the developer's side.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { QueueEnv, type RouteTable } from '../contract';
import { DEFAULT_SCALE_INTERVAL_MS, LocalAutoscaler } from './autoscaler';
import { ControlServer, controlStateFile } from './control';
import { LocalCron, type JobRun } from './cron';
import { EndpointPusher } from './endpoint-push';
import { consoleSink, runnerLog, type LogSink } from './log';
import { materializeVolumes } from './materialize';
import type { Manifests } from './manifests';
import { requireNatsServer } from './nats';
import {
  baseEnv,
  planLocalRun,
  workloadNames,
  type CronJobPlan,
  type EnvOverride,
  type LocalPlan,
  type ProcessPlan,
  type SkippedWorkload,
} from './plan';
import { freePort, isListening, LOOPBACK } from './ports';
import { DEFAULT_STOP_GRACE_MS, ManagedProcess, type SupervisorOptions } from './process';
import { Reaper } from './process-group';
import { QueueWatch } from './queue-watch';
import { waitUntilReady } from './readiness';
import { FunctionReplicas, type ReplicaInfo } from './replicas';
import { formatRoutes } from './routes';
import { bundledScalerPlan } from './scaler';
import { formatDelay, planScaling, type LocalScaling, type ScalingPlan } from './scaling';
import { defaultWatchDirs, resolveAppSource, synthesize, type AppSource } from './synth';
import { watchDirs, type Watcher } from './watch';

/** Port the router listens on unless told otherwise. */
export const DEFAULT_ROUTER_PORT = 8080;

export interface LocalPlatformOptions {
  /** cdk8s app file (.ts or .js) or a directory of synthesized manifests. @default the `app` of ./cdk8s.yaml */
  readonly app?: string;
  /** Directory of already-synthesized manifests (instead of an app). @default none */
  readonly manifestsDir?: string;
  /** Project directory: where the app runs and relative paths resolve. @default process.cwd() */
  readonly cwd?: string;
  /** Router port; 0 picks a free one. @default 8080 */
  readonly port?: number;
  /**
   * Address the router listens on. Functions, the queue and the control endpoint always listen on
   * 127.0.0.1 (the router reaches them there); pass `0.0.0.0` (or a LAN address) to share the router.
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /** Re-synthesize and restart changed processes when files change. @default false */
  readonly watch?: boolean;
  /** Directories to watch. @default the app file's directory (or the manifest directory) */
  readonly watchPaths?: readonly string[];
  /** The developer's environment: PATH/HOME for the processes, values of Secrets missing from the app. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Env values that replace (or add to) what the manifests give a workload, for services that exist
   * in the cluster but not on the laptop (e.g. a Redis URL). @default none
   */
  readonly envOverrides?: readonly EnvOverride[];
  /** Receives every output line (runner messages and process output). @default a console printer */
  readonly log?: LogSink;
  /** How long to wait for each process's readiness probe. @default 30000 */
  readonly readyTimeoutMs?: number;
  /** Crash-restart and stop behaviour. @default see SupervisorOptions */
  readonly supervisor?: SupervisorOptions;
  /**
   * Test hook: fire every CronJob on this croner pattern (6 fields allow seconds) instead of its
   * own schedule. Not on the command line. @default each CronJob's schedule
   */
  readonly cronScheduleOverride?: string;
  /**
   * Most replicas of one function (`--max-replicas`): the runner starts more processes of a function
   * when the scaler asks for them, up to its ScaledObject's `maxReplicaCount` and this. @default 3
   */
  readonly maxReplicas?: number;
  /** How often the runner asks the scaler about every function it scales (KEDA's polling). @default 1000 */
  readonly scaleIntervalMs?: number;
}

export interface LocalFunction {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** Pid of the current process (changes on restart); undefined while it is down (or at zero). */
  readonly pid: number | undefined;
}

export interface ReloadResult {
  readonly started: readonly string[];
  readonly restarted: readonly string[];
  readonly stopped: readonly string[];
  /** Processes whose volume files were updated in place (no restart). */
  readonly updated: readonly string[];
}

/**
 * A running local platform. Events: `reload` (ReloadResult) after each applied change, `reloadError`
 * (Error) when a change could not be applied (the previous processes keep running).
 */
export class LocalPlatform extends EventEmitter {
  private readonly processes = new Map<string, ManagedProcess>();
  /** Functions the runner scales (0..max processes each), by workload name. */
  private readonly scaled = new Map<string, FunctionReplicas>();
  private autoscaler?: LocalAutoscaler;
  private queueWatch?: QueueWatch;
  private pusher?: EndpointPusher;
  /** gRPC port of the bundled scaler, when the manifests have no scaler (scaler.ts). */
  private bundledScalerPort = 0;
  private cron?: LocalCron;
  private control?: ControlServer;
  private readonly ports = new Map<string, number>();
  private readonly printedWarnings = new Set<string>();
  private plan?: LocalPlan;
  private watcher?: Watcher;
  private reloading?: Promise<void>;
  private reloadQueued = false;
  private stopped = false;
  private reaper?: Reaper;
  /** The runner exits without stop() (a second Ctrl-C): kill everything and still remove the run directory. */
  private readonly exitHandler = (): void => {
    for (const p of this.processes.values()) p.killNow();
    for (const r of this.scaled.values()) r.killNow();
    this.cron?.stop();
    fs.rmSync(this.runDir, { recursive: true, force: true });
  };

  private constructor(
    private readonly source: AppSource,
    private readonly opts: LocalPlatformOptions,
    private readonly log: LogSink,
    readonly port: number,
    /**
     * The router's admin port (health, metrics, and every function by name and async: the path
     * `kubefaas invoke` and the cron sender use). Picked free at start, stable across reloads.
     */
    readonly adminPort: number,
    /** The scaler's admin port (its health and metrics), when it runs. */
    readonly scalerAdminPort: number,
    readonly runDir: string,
    /** Address the router listens on. */
    readonly host: string,
  ) {
    super();
  }

  /** The router's base URL (its public listener: declared routes and opted-in by-name/async calls). */
  get url(): string {
    return `http://${urlHost(connectHost(this.host))}:${this.port}`;
  }

  /**
   * The router's admin URL: `/healthz`, `/metrics`, and `/function/<name>` for every function.
   * Always on loopback (`--host` shares the public listener only).
   */
  get adminUrl(): string {
    return `http://${LOOPBACK}:${this.adminPort}`;
  }

  /** Pid of the reaper process, which ends every process if the runner dies without stopping them. */
  get reaperPid(): number | undefined {
    return this.reaper?.pid;
  }

  /**
   * Every workload except the router, by name. A function the runner scales is listed with its first
   * replica's port (where its Service maps) and pid (undefined while it is at zero).
   */
  get functions(): ReadonlyMap<string, LocalFunction> {
    const out = new Map<string, LocalFunction>();
    const add = (name: string, port: number, pid: number | undefined): void => {
      out.set(name, { name, port, url: `http://${LOOPBACK}:${port}`, pid });
    };
    for (const [name, p] of this.processes) if (!p.plan.isRouter) add(name, p.plan.port, p.pid);
    for (const [name, r] of this.scaled) add(name, r.plan.port, r.info[0]?.pid);
    return out;
  }

  /** The replicas of a function the runner scales (empty while it is at zero, or when it is not scaled). */
  replicas(name: string): readonly ReplicaInfo[] {
    return this.scaled.get(name)?.info ?? [];
  }

  /** Pid of the scaler process, when the runner plays KEDA against one. */
  get scalerPid(): number | undefined {
    return [...this.processes.values()].find((p) => p.plan.isScaler)?.pid;
  }

  /** Pid of the router process. */
  get routerPid(): number | undefined {
    return [...this.processes.values()].find((p) => p.plan.isRouter)?.pid;
  }

  /** The route table the router serves (pointing at local ports). */
  get routes(): RouteTable | undefined {
    return this.plan?.routes;
  }

  /** CronJobs fired on their schedules (and by `kubefaas invoke --trigger cron/<name>`). */
  get cronJobs(): readonly CronJobPlan[] {
    return this.cron?.cronJobs ?? [];
  }

  /** The control endpoint other commands reach this runner through (see control.ts). */
  get controlUrl(): string | undefined {
    return this.control?.url;
  }

  /** Runs one tick of a CronJob (by CronJob name, or by trigger name with `functionName`). */
  fireCron(name: string, functionName?: string): Promise<JobRun> {
    const plan = this.cron?.find(name, functionName);
    if (!this.cron || !plan)
      return Promise.reject(new Error(`no cron trigger ${functionName ? `${functionName} cron/${name}` : name}`));
    return this.cron.fire(plan.name);
  }

  get skipped(): readonly SkippedWorkload[] {
    return this.plan?.skipped ?? [];
  }

  /** How often a process exited on its own. */
  crashes(name: string): number {
    return this.processes.get(name)?.crashes ?? 0;
  }

  static async start(opts: LocalPlatformOptions = {}): Promise<LocalPlatform> {
    const cwd = opts.cwd ?? process.cwd();
    const log = opts.log ?? consoleSink();
    const source = resolveAppSource({ app: opts.app, manifestsDir: opts.manifestsDir, cwd });
    const requested = opts.port ?? DEFAULT_ROUTER_PORT;
    if (requested !== 0 && (await isListening(requested))) {
      throw new Error(`port ${requested} is already in use; stop what listens there or pick another port (--port)`);
    }
    const port = requested === 0 ? await freePort() : requested;
    const adminPort = await freePort();
    const scalerAdminPort = await freePort();
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubefaas-run-'));
    const platform = new LocalPlatform(
      source,
      { ...opts, cwd },
      log,
      port,
      adminPort,
      scalerAdminPort,
      runDir,
      opts.host ?? LOOPBACK,
    );
    try {
      await platform.boot();
    } catch (err) {
      await platform.stop();
      throw err;
    }
    return platform;
  }

  private get cwd(): string {
    return this.opts.cwd ?? process.cwd();
  }

  private async synthAndPlan(): Promise<{ plan: LocalPlan; scaling: ScalingPlan }> {
    const label = this.source.kind === 'manifests' ? `loading manifests from ${this.source.dir}` : 'synthesizing';
    runnerLog(this.log, 'info', `${label}…`);
    const { manifests, output } = await synthesize(this.source, {
      cwd: this.cwd,
      env: { ...process.env, ...this.opts.env },
    });
    for (const line of output.split('\n').filter((l) => l.trim()))
      this.log({ source: 'synth', stream: 'stdout', level: 'info', text: line });
    await this.allocatePorts(manifests);
    const plan = planLocalRun(manifests, {
      runDir: this.runDir,
      projectDir: this.cwd,
      routerPort: this.port,
      routerAdminPort: this.adminPort,
      scalerAdminPort: this.scalerAdminPort,
      routerHost: this.host,
      ports: this.ports,
      developerEnv: this.opts.env ?? process.env,
      envOverrides: this.opts.envOverrides,
    });
    const scaling = planScaling(manifests, plan.routes, plan.processes, { maxReplicas: this.opts.maxReplicas });
    const withScaler = this.withScaler(plan, scaling);
    this.padLog(withScaler, scaling);
    for (const w of [...withScaler.warnings, ...scaling.warnings]) {
      if (this.printedWarnings.has(w)) continue;
      this.printedWarnings.add(w);
      runnerLog(this.log, 'warn', `warning: ${w}`);
    }
    return { plan: withScaler, scaling };
  }

  /** Functions to scale but no scaler in the manifests: the bundled scaler plays its part. */
  private withScaler(plan: LocalPlan, scaling: ScalingPlan): LocalPlan {
    if (scaling.functions.size === 0 || plan.processes.some((p) => p.isScaler)) return plan;
    const router = plan.processes.find((p) => p.isRouter);
    if (router === undefined) return plan;
    const scaler = bundledScalerPlan({
      runDir: this.runDir,
      grpcPort: this.bundledScalerPort,
      adminPort: this.scalerAdminPort,
      routerAdminPort: this.adminPort,
      namespace: router.namespace,
      baseEnv: baseEnv(this.opts.env ?? process.env),
      envOverrides: this.opts.envOverrides,
    });
    return { ...plan, processes: [...plan.processes, scaler] };
  }

  /** Stable ports: a workload keeps its port across re-syntheses, so other processes' addresses stay valid. */
  private async allocatePorts(manifests: Manifests): Promise<void> {
    for (const name of workloadNames(manifests)) {
      if (!this.ports.has(name)) this.ports.set(name, await freePort());
    }
    if (this.bundledScalerPort === 0) this.bundledScalerPort = await freePort();
  }

  private async boot(): Promise<void> {
    process.once('exit', this.exitHandler);
    // Before anything starts: from here on, even a SIGKILL of the runner leaves nothing behind.
    this.reaper = Reaper.start(this.log, this.opts.supervisor?.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
    this.reaper.addPath(this.runDir);
    this.reaper.addPath(controlStateFile(this.port));
    const { plan, scaling } = await this.synthAndPlan();
    this.plan = plan;
    this.pusher = new EndpointPusher(LOOPBACK, this.adminPort, this.log);
    for (const s of plan.skipped) runnerLog(this.log, 'warn', `skipping ${s.name}: ${s.reason}`);
    // The queue first: functions and the router connect to it as they start.
    const queues = plan.processes.filter((p) => p.isQueue);
    if (queues.length > 0) requireNatsServer(this.opts.env?.PATH ?? process.env.PATH);
    for (const p of queues) this.launch(p);
    await this.waitReady(queues.map((p) => p.name));
    const rest = plan.processes.filter((p) => !p.isQueue && !scaling.functions.has(p.name));
    for (const p of rest) this.launch(p);
    const scaledReady = plan.processes.flatMap((p) => {
      const s = scaling.functions.get(p.name);
      return s === undefined ? [] : [this.launchScaled(p, s)];
    });
    await Promise.all([this.waitReady(rest.map((p) => p.name)), ...scaledReady]);
    await this.startAutoscaler();
    this.cron = new LocalCron(this.log, { scheduleOverride: this.opts.cronScheduleOverride, reaper: this.reaper });
    this.cron.update(plan.cronJobs);
    this.control = await ControlServer.start(
      {
        findCron: (name, fn) => this.cron?.find(name, fn),
        cronJobs: () => this.cronJobs,
        fireCron: (name) => this.fireCron(name),
      },
      { routerUrl: this.url, routerAdminUrl: this.adminUrl },
      this.port,
    );
    this.printSummary();
    if (this.opts.watch) {
      const dirs = this.opts.watchPaths?.map((d) => path.resolve(this.cwd, d)) ?? defaultWatchDirs(this.source);
      runnerLog(
        this.log,
        'info',
        `watching ${dirs.map((d) => path.relative(this.cwd, d) || '.').join(', ')} for changes`,
      );
      this.watcher = watchDirs(dirs, () => void this.reload().catch(() => undefined));
    }
  }

  private padLog(plan: LocalPlan, scaling: ScalingPlan): void {
    const pad = (this.log as { pad?: (names: readonly string[]) => void }).pad;
    // Replicas beyond the first print as `<name>#<n>`.
    const replicas = [...scaling.functions.values()].map((s) => `${s.workload}#${s.maxReplicas}`);
    pad?.call(this.log, [...plan.processes.map((p) => p.name), ...replicas, 'synth']);
  }

  private launch(p: ProcessPlan): void {
    materializeVolumes(p);
    // The router forgets pushed endpoints when it restarts: it is told them again once it is ready.
    const hooks = p.isRouter ? { started: () => void this.routerStarted() } : {};
    const managed = new ManagedProcess(p, this.log, this.opts.supervisor, this.reaper, hooks);
    this.processes.set(p.name, managed);
    managed.start();
  }

  private async routerStarted(): Promise<void> {
    const router = [...this.processes.values()].find((p) => p.plan.isRouter);
    if (router === undefined) return;
    const { port, readiness, host } = router.plan;
    const ready = await waitUntilReady(port, readiness, {
      timeoutMs: this.opts.readyTimeoutMs ?? 30_000,
      host: connectHost(host),
      fastPollMs: 10,
      fastForMs: 5_000,
    });
    if (ready && !this.stopped) await this.pusher?.resendAll();
  }

  /** A function the runner scales: its volumes now (a start on demand only spawns), its minimum replicas. */
  private launchScaled(p: ProcessPlan, scaling: LocalScaling): Promise<void> {
    materializeVolumes(p);
    const replicas = new FunctionReplicas(p, scaling, {
      log: this.log,
      pusher: this.pusher!,
      readyTimeoutMs: this.opts.readyTimeoutMs ?? 30_000,
      supervisor: this.opts.supervisor,
      reaper: this.reaper,
    });
    this.scaled.set(p.name, replicas);
    this.autoscaler?.add(replicas);
    return replicas.resize(scaling.minReplicas, undefined);
  }

  /**
   * Plays KEDA for the scaled functions once the scaler is ready (started at boot, or by the first
   * reload that brings a function to scale).
   */
  private async startAutoscaler(): Promise<void> {
    if (this.autoscaler !== undefined || this.scaled.size === 0) return;
    const scaler = [...this.processes.values()].find((p) => p.plan.isScaler);
    if (scaler === undefined) {
      runnerLog(
        this.log,
        'warn',
        'functions scale, but there is no router to hold their requests; they run at their minimum',
      );
      return;
    }
    const natsUrl = [...this.scaled.values()]
      .filter((r) => r.scaling.queue.length > 0)
      .map((r) => r.plan.env[QueueEnv.NATS_URL])
      .find((url) => url !== undefined);
    if (natsUrl !== undefined) {
      try {
        this.queueWatch = await QueueWatch.connect(natsUrl);
      } catch (err) {
        runnerLog(
          this.log,
          'warn',
          `cannot watch the queue (${(err as Error).message}); queued messages will not wake functions at zero`,
        );
      }
    }
    this.autoscaler = new LocalAutoscaler({
      scalerAddress: `${LOOPBACK}:${scaler.plan.port}`,
      log: this.log,
      intervalMs: this.opts.scaleIntervalMs ?? DEFAULT_SCALE_INTERVAL_MS,
      queue: this.queueWatch,
    });
    for (const replicas of this.scaled.values()) this.autoscaler.add(replicas);
  }

  private async waitReady(names: readonly string[]): Promise<void> {
    const timeoutMs = this.opts.readyTimeoutMs ?? 30_000;
    await Promise.all(
      names.map(async (name) => {
        const p = this.processes.get(name);
        if (!p) return;
        const host = connectHost(p.plan.host);
        const ready = await waitUntilReady(p.plan.port, p.plan.readiness, { timeoutMs, host });
        if (ready) runnerLog(this.log, 'info', `${name} ready on ${urlHost(host)}:${p.plan.port}`);
        else
          runnerLog(
            this.log,
            'warn',
            `${name} is not ready after ${timeoutMs} ms (probe ${describeProbe(p.plan)}); its output above may say why`,
          );
      }),
    );
  }

  private printSummary(): void {
    const routes = this.plan?.routes;
    if (routes) runnerLog(this.log, 'info', formatRoutes(routes, this.url, this.adminUrl));
    for (const c of this.cronJobs) {
      const what = c.function && c.trigger ? `${c.function} cron/${c.trigger}` : c.name;
      runnerLog(
        this.log,
        'info',
        `cron ${what}: "${c.schedule}"${c.timeZone ? ` (${c.timeZone})` : ''}${c.suspend ? ' (suspended)' : ''}`,
      );
    }
    for (const r of this.scaled.values()) {
      const { minReplicas, maxReplicas, cooldownMs } = r.scaling;
      const zero =
        minReplicas === 0
          ? `; at zero until a request or message arrives, stopped after ${formatDelay(cooldownMs)} idle`
          : '';
      runnerLog(this.log, 'info', `${r.function}: ${minReplicas}..${maxReplicas} replicas${zero}`);
    }
    const hasRouter = [...this.processes.values()].some((p) => p.plan.isRouter);
    runnerLog(
      this.log,
      'info',
      hasRouter
        ? `router listening on ${this.url} (admin: ${this.adminUrl}, where every function is callable by name)`
        : 'no router in the manifests (no pod labelled kubefaas.dev/component: router)',
    );
  }

  /** Re-synthesizes and applies the difference: start new, stop removed, restart changed, update files in place. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadQueued = true;
      return this.reloading;
    }
    this.reloading = this.applyReload().finally(() => {
      this.reloading = undefined;
      if (this.reloadQueued && !this.stopped) {
        this.reloadQueued = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  private async applyReload(): Promise<void> {
    if (this.stopped) return;
    let next: LocalPlan;
    let scaling: ScalingPlan;
    try {
      ({ plan: next, scaling } = await this.synthAndPlan());
    } catch (err) {
      runnerLog(this.log, 'error', `${(err as Error).message}\nkeeping the previous version running`);
      this.emit('reloadError', err);
      return;
    }
    if (this.stopped) return;
    const result = {
      started: [] as string[],
      restarted: [] as string[],
      stopped: [] as string[],
      updated: [] as string[],
    };
    const wanted = new Map(next.processes.map((p) => [p.name, p]));
    // A workload that moved between "one process" and "scaled" stops as the one and starts as the other.
    for (const [name, managed] of [...this.processes]) {
      if (wanted.has(name) && !scaling.functions.has(name)) continue;
      await managed.stop();
      this.processes.delete(name);
      if (!wanted.has(name)) fs.rmSync(path.join(this.runDir, name), { recursive: true, force: true });
      result.stopped.push(name);
    }
    for (const [name, replicas] of [...this.scaled]) {
      if (scaling.functions.has(name)) continue;
      this.autoscaler?.remove(name);
      await replicas.stop();
      this.scaled.delete(name);
      if (!wanted.has(name)) fs.rmSync(path.join(this.runDir, name), { recursive: true, force: true });
      result.stopped.push(name);
    }
    const scaledReady: Promise<void>[] = [];
    for (const p of next.processes) {
      const s = scaling.functions.get(p.name);
      const replicas = this.scaled.get(p.name);
      if (s !== undefined && replicas === undefined) {
        scaledReady.push(this.launchScaled(p, s));
        result.started.push(p.name);
        continue;
      }
      if (s !== undefined && replicas !== undefined) {
        const restarted = replicas.plan.specHash !== p.specHash;
        const changedFiles = materializeVolumes(p).length > 0;
        scaledReady.push(replicas.update(p, s));
        this.autoscaler?.add(replicas);
        if (restarted) result.restarted.push(p.name);
        else if (changedFiles) result.updated.push(p.name);
        continue;
      }
      const current = this.processes.get(p.name);
      if (!current) {
        this.launch(p);
        result.started.push(p.name);
      } else if (current.plan.specHash !== p.specHash) {
        await current.stop();
        materializeVolumes(p);
        await current.restart(p);
        result.restarted.push(p.name);
      } else if (materializeVolumes(p).length > 0) {
        result.updated.push(p.name);
      }
    }
    const routesChanged = JSON.stringify(next.routes) !== JSON.stringify(this.plan?.routes);
    this.plan = next;
    this.cron?.update(next.cronJobs);
    for (const s of next.skipped)
      if (!this.processes.has(s.name)) runnerLog(this.log, 'warn', `skipping ${s.name}: ${s.reason}`);
    await Promise.all([
      this.waitReady([...result.started, ...result.restarted].filter((n) => this.processes.has(n))),
      ...scaledReady,
    ]);
    await this.startAutoscaler();
    const summary = (['started', 'restarted', 'stopped', 'updated'] as const)
      .filter((k) => result[k].length > 0)
      .map((k) => `${k} ${result[k].join(', ')}`);
    runnerLog(this.log, 'info', summary.length > 0 ? `reloaded: ${summary.join('; ')}` : 'reloaded: nothing changed');
    if (routesChanged && next.routes) runnerLog(this.log, 'info', formatRoutes(next.routes, this.url, this.adminUrl));
    this.emit('reload', result);
  }

  /** Restarts one process (with its current plan); every running replica of a function the runner scales. */
  async restart(name: string): Promise<void> {
    const replicas = this.scaled.get(name);
    if (replicas !== undefined) return replicas.restartAll();
    const p = this.processes.get(name);
    if (!p) throw new Error(`no local process named ${name}`);
    await p.restart();
    await this.waitReady([name]);
  }

  /** Stops every process (SIGTERM, then SIGKILL after the grace period) and removes the run directory. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watcher?.close();
    await this.reloading?.catch(() => undefined);
    this.cron?.stop();
    // Nothing starts any more; replicas drain like every other process.
    this.autoscaler?.stop();
    await this.control?.stop();
    await Promise.all([
      ...[...this.scaled.values()].map((r) => r.stop()),
      ...[...this.processes.values()].map((p) => p.stop()),
    ]);
    this.processes.clear();
    this.scaled.clear();
    this.pusher?.close();
    this.queueWatch?.close();
    process.removeListener('exit', this.exitHandler);
    fs.rmSync(this.runDir, { recursive: true, force: true });
    await this.reaper?.close();
  }
}

/** Where a client reaches a server listening on `host`: a wildcard address is reached on loopback. */
export function connectHost(host: string): string {
  return host === '' || host === '0.0.0.0' || host === '::' ? LOOPBACK : host;
}

/** `host` as written in a URL (IPv6 literals in brackets). */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function describeProbe(p: ProcessPlan): string {
  return p.readiness.kind === 'http' ? `GET ${p.readiness.path}` : p.readiness.kind;
}
