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
import { ensureInstalled } from './python-install';
import { QueueWatch } from './queue-watch';
import { waitUntilReady } from './readiness';
import { FunctionReplicas, type ReplicaInfo } from './replicas';
import { hearRouterTable, planReplacements, routeTableFile } from './rollout';
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
  /**
   * Processes running next to a workload's current one during a reload: its new process until the
   * route switches to it, then the old one until it has drained.
   */
  private readonly sideBySide = new Set<ManagedProcess>();
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
  /** Workloads whose files are not in `<runDir>/<name>` (replaced on a reload: `<name>~<n>`). */
  private readonly dirs = new Map<string, string>();
  private replacements = 0;
  private readonly printedWarnings = new Set<string>();
  private plan?: LocalPlan;
  private watcher?: Watcher;
  private reloading?: Promise<void>;
  private reloadQueued = false;
  private stopped = false;
  private reaper?: Reaper;
  /** The runner exits without stop() (a second Ctrl-C): kill everything and still remove the run directory. */
  private readonly exitHandler = (): void => {
    for (const p of [...this.processes.values(), ...this.sideBySide]) p.killNow();
    for (const r of this.scaled.values()) r.killNow();
    this.cron?.stop();
    fs.rmSync(this.runDir, rmOptions);
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

  private async synthesizeManifests(): Promise<Manifests> {
    const label = this.source.kind === 'manifests' ? `loading manifests from ${this.source.dir}` : 'synthesizing';
    runnerLog(this.log, 'info', `${label}…`);
    const { manifests, output } = await synthesize(this.source, {
      cwd: this.cwd,
      env: { ...process.env, ...this.opts.env },
    });
    for (const line of output.split('\n').filter((l) => l.trim()))
      this.log({ source: 'synth', stream: 'stdout', level: 'info', text: line });
    await this.allocatePorts(manifests);
    return manifests;
  }

  private planFor(
    manifests: Manifests,
    ports: ReadonlyMap<string, number> = this.ports,
    dirs: ReadonlyMap<string, string> = this.dirs,
  ): LocalPlan {
    const plan = planLocalRun(manifests, {
      runDir: this.runDir,
      processDirs: dirs,
      projectDir: this.cwd,
      routerPort: this.port,
      routerAdminPort: this.adminPort,
      scalerAdminPort: this.scalerAdminPort,
      routerHost: this.host,
      ports,
      developerEnv: this.opts.env ?? process.env,
      envOverrides: this.opts.envOverrides,
    });
    return this.withScaler(plan, this.scalingFor(manifests, plan));
  }

  /** Which functions the runner scales, and how (read from their ScaledObjects). */
  private scalingFor(manifests: Manifests, plan: LocalPlan): ScalingPlan {
    return planScaling(manifests, plan.routes, plan.processes, { maxReplicas: this.opts.maxReplicas });
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

  /** Prints what a plan found (each warning once per run). */
  private report(plan: LocalPlan, scaling: ScalingPlan): void {
    this.padLog(plan, scaling);
    for (const w of [...plan.warnings, ...scaling.warnings]) {
      if (this.printedWarnings.has(w)) continue;
      this.printedWarnings.add(w);
      runnerLog(this.log, 'warn', `warning: ${w}`);
    }
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
    const manifests = await this.synthesizeManifests();
    const plan = this.planFor(manifests);
    const scaling = this.scalingFor(manifests, plan);
    this.report(plan, scaling);
    this.plan = plan;
    this.pusher = new EndpointPusher(LOOPBACK, this.adminPort, this.log);
    for (const s of plan.skipped) runnerLog(this.log, 'warn', `skipping ${s.name}: ${s.reason}`);
    // The queue first: functions and the router connect to it as they start.
    const queues = plan.processes.filter((p) => p.isQueue);
    if (queues.length > 0) requireNatsServer(this.opts.env?.PATH ?? process.env.PATH);
    await this.waitReady(queues.map((p) => this.launch(p)));
    const rest = plan.processes.filter((p) => !p.isQueue);
    const installed = await Promise.all(rest.map((p) => this.installDependencies(p)));
    const starting = rest.filter((_, i) => installed[i]);
    // Functions the runner scales start at their minimum (maybe zero) through their replica sets.
    const scaledReady = starting.flatMap((p) => {
      const s = scaling.functions.get(p.name);
      return s === undefined ? [] : [this.launchScaled(p, s)];
    });
    const single = starting.filter((p) => !scaling.functions.has(p.name));
    await Promise.all([this.waitReady(single.map((p) => this.launch(p))), ...scaledReady]);
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

  /**
   * Runs the process's dependency install (an init container's work) unless its cache is complete;
   * false when it failed (logged): the process is then not started, or keeps its previous version.
   */
  private async installDependencies(p: ProcessPlan): Promise<boolean> {
    if (!p.install) return true;
    try {
      await ensureInstalled(p.install, p.name, this.log, this.reaper);
      return true;
    } catch (err) {
      runnerLog(
        this.log,
        'error',
        `${(err as Error).message}\n${p.name} is not (re)started; fix requirements.txt or the index settings and save again`,
      );
      return false;
    }
  }

  /** Starts a workload's process as its current one. */
  private launch(p: ProcessPlan): ManagedProcess {
    const managed = this.spawn(p);
    this.processes.set(p.name, managed);
    return managed;
  }

  private spawn(p: ProcessPlan): ManagedProcess {
    materializeVolumes(p);
    // The router forgets pushed endpoints when it restarts: it is told them again once it is ready.
    const hooks = p.isRouter ? { started: () => void this.routerStarted() } : {};
    const managed = new ManagedProcess(p, this.log, this.opts.supervisor, this.reaper, hooks);
    managed.start();
    return managed;
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

  /**
   * A reload of a function the runner scales: new, or its replicas updated (restarted one by one's
   * set when its spec changed, files rewritten when only they changed).
   */
  private applyScaled(p: ProcessPlan, s: LocalScaling, result: Record<keyof ReloadResult, string[]>): Promise<void> {
    const replicas = this.scaled.get(p.name);
    if (replicas === undefined) {
      result.started.push(p.name);
      return this.launchScaled(p, s);
    }
    const restarted = replicas.plan.specHash !== p.specHash;
    const changedFiles = materializeVolumes(p).length > 0;
    const applied = replicas.update(p, s);
    this.autoscaler?.add(replicas);
    if (restarted) result.restarted.push(p.name);
    else if (changedFiles) result.updated.push(p.name);
    return applied;
  }

  /**
   * Waits for each process's readiness probe. `untilCrash`: stop waiting for one that exits first (a
   * reload's new process that crashes at start would otherwise hold the old version for the whole timeout).
   */
  private async waitReady(procs: readonly ManagedProcess[], untilCrash = false): Promise<void> {
    const timeoutMs = this.opts.readyTimeoutMs ?? 30_000;
    await Promise.all(
      procs.map(async (p) => {
        const host = connectHost(p.plan.host);
        const crashed = new AbortController();
        const onCrash = (): void => crashed.abort();
        if (untilCrash) p.once('crash', onCrash);
        const ready = await waitUntilReady(p.plan.port, p.plan.readiness, {
          timeoutMs,
          host,
          signal: crashed.signal,
        }).finally(() => p.off('crash', onCrash));
        if (ready) runnerLog(this.log, 'info', `${p.name} ready on ${urlHost(host)}:${p.plan.port}`);
        else if (crashed.signal.aborted)
          runnerLog(this.log, 'warn', `${p.name} exited before it was ready; its output above may say why`);
        else
          runnerLog(
            this.log,
            'warn',
            `${p.name} is not ready after ${timeoutMs} ms (probe ${describeProbe(p.plan)}); its output above may say why`,
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
    let replaced: ReadonlySet<string>;
    let scaling: ScalingPlan;
    /** Directories of the processes being replaced, removed once they have drained. */
    const oldDirs = new Map<string, string>();
    try {
      const manifests = await this.synthesizeManifests();
      const planned = await planReplacements({
        planWith: (ports, dirs) => this.planFor(manifests, ports, dirs),
        current: new Map([
          ...[...this.processes].map(([name, p]) => [name, p.plan] as const),
          ...[...this.scaled].map(([name, r]) => [name, r.plan] as const),
        ]),
        ports: this.ports,
        dirs: this.dirs,
        newPort: async (taken) => {
          for (;;) {
            const port = await freePort();
            if (!taken.has(port)) return port;
          }
        },
        newDir: (name) => path.join(this.runDir, `${name}~${++this.replacements}`),
      });
      // Installs first, while the previous versions still serve and before the new plan's ports and
      // route table are taken: a failed install leaves the whole previous version running.
      const changed = planned.plan.processes.filter((p) => this.currentPlan(p.name)?.specHash !== p.specHash);
      const installed = await Promise.all(changed.map((p) => this.installDependencies(p)));
      if (this.stopped) return;
      if (installed.includes(false)) {
        this.emit('reloadError', new Error('a dependency install failed'));
        return;
      }
      ({ plan: next, replaced } = planned);
      scaling = this.scalingFor(manifests, next);
      for (const name of replaced) oldDirs.set(name, this.dirOf(name));
      for (const [name, port] of planned.ports) this.ports.set(name, port);
      for (const [name, dir] of planned.dirs) this.dirs.set(name, dir);
    } catch (err) {
      runnerLog(this.log, 'error', `${(err as Error).message}\nkeeping the previous version running`);
      this.emit('reloadError', err);
      return;
    }
    if (this.stopped) return;
    this.report(next, scaling);
    const result: Record<keyof ReloadResult, string[]> = {
      started: [],
      restarted: [],
      stopped: [],
      updated: [],
    };
    const wanted = new Map(next.processes.map((p) => [p.name, p]));
    // A workload that moved between "one process" and "scaled" stops as the one and starts as the other.
    for (const [name, managed] of [...this.processes]) {
      if (wanted.has(name) && !scaling.functions.has(name)) continue;
      await managed.stop();
      this.processes.delete(name);
      if (!wanted.has(name)) {
        fs.rmSync(this.dirOf(name), rmOptions);
        this.dirs.delete(name);
      }
      result.stopped.push(name);
    }
    for (const [name, replicas] of [...this.scaled]) {
      if (scaling.functions.has(name)) continue;
      this.autoscaler?.remove(name);
      await replicas.stop();
      this.scaled.delete(name);
      if (!wanted.has(name)) {
        fs.rmSync(this.dirOf(name), rmOptions);
        this.dirs.delete(name);
      }
      result.stopped.push(name);
    }
    // New workloads, and the new processes of replaced ones next to the old: ready before any route leads there.
    const fresh: ManagedProcess[] = [];
    const successors = new Map<string, ManagedProcess>();
    const scaledReady: Promise<void>[] = [];
    for (const p of next.processes) {
      const s = scaling.functions.get(p.name);
      if (s !== undefined) {
        // A replaced function's replica set rolls itself (replicas.ts); its old files go once it has.
        const oldDir = oldDirs.get(p.name);
        const applied = this.applyScaled(p, s, result);
        scaledReady.push(oldDir === undefined ? applied : applied.then(() => fs.rmSync(oldDir, rmOptions)));
        continue;
      }
      if (!this.processes.has(p.name)) {
        fresh.push(this.launch(p));
        result.started.push(p.name);
      } else if (replaced.has(p.name)) {
        const successor = this.spawn(p);
        this.sideBySide.add(successor);
        successors.set(p.name, successor);
        fresh.push(successor);
        result.restarted.push(p.name);
      }
    }
    await this.waitReady(fresh, true);
    // The router and the queue keep their ports: they restart in place.
    const inPlace: ManagedProcess[] = [];
    for (const p of next.processes) {
      const current = this.processes.get(p.name);
      if (!current || replaced.has(p.name) || current.plan.specHash === p.specHash) continue;
      await current.stop();
      materializeVolumes(p);
      await current.restart(p);
      inPlace.push(current);
      result.restarted.push(p.name);
    }
    // The switch: the new processes become current, then the new route table goes to the router.
    const predecessors: Array<[string, ManagedProcess]> = [];
    for (const [name, successor] of successors) {
      predecessors.push([name, this.processes.get(name)!]);
      this.sideBySide.delete(successor);
      this.processes.set(name, successor);
    }
    for (const [, old] of predecessors) this.sideBySide.add(old);
    await this.updateInPlace(next, result.updated);
    // Drain: the old processes finish what they have (the router no longer sends them anything).
    await Promise.all(
      predecessors.map(async ([name, old]) => {
        await old.stop();
        this.sideBySide.delete(old);
        fs.rmSync(oldDirs.get(name)!, rmOptions);
      }),
    );
    const routesChanged = JSON.stringify(next.routes) !== JSON.stringify(this.plan?.routes);
    this.plan = next;
    this.cron?.update(next.cronJobs);
    for (const s of next.skipped)
      if (!this.processes.has(s.name)) runnerLog(this.log, 'warn', `skipping ${s.name}: ${s.reason}`);
    await Promise.all([this.waitReady(inPlace), ...scaledReady]);
    await this.startAutoscaler();
    const summary = (['started', 'restarted', 'stopped', 'updated'] as const)
      .filter((k) => result[k].length > 0)
      .map((k) => `${k} ${result[k].join(', ')}`);
    runnerLog(this.log, 'info', summary.length > 0 ? `reloaded: ${summary.join('; ')}` : 'reloaded: nothing changed');
    if (routesChanged && next.routes) runnerLog(this.log, 'info', formatRoutes(next.routes, this.url, this.adminUrl));
    this.emit('reload', result);
  }

  /**
   * Writes new volume contents of unchanged processes in place (a router's new route table) and,
   * when the router's table changed, waits until the router serves it.
   */
  private async updateInPlace(next: LocalPlan, updated: string[]): Promise<void> {
    for (const p of next.processes) {
      const current = this.processes.get(p.name);
      if (!current || current.plan.specHash !== p.specHash) continue;
      const table = p.isRouter ? routeTableFile(p) : undefined;
      const heard = table ? hearRouterTable(current, table) : undefined;
      if (materializeVolumes(p).length === 0) {
        heard?.cancel();
        continue;
      }
      updated.push(p.name);
      const outcome = await heard?.outcome;
      if (outcome === 'rejected')
        runnerLog(
          this.log,
          'warn',
          `${p.name} rejected the new route table (its log says why) and keeps the previous one`,
        );
      else if (outcome === 'timeout')
        runnerLog(this.log, 'warn', `${p.name} did not confirm the new route table; going on without it`);
    }
  }

  private dirOf(name: string): string {
    return this.dirs.get(name) ?? path.join(this.runDir, name);
  }

  /** The plan a workload runs now (its single process's, or its replica set's). */
  private currentPlan(name: string): ProcessPlan | undefined {
    return this.processes.get(name)?.plan ?? this.scaled.get(name)?.plan;
  }

  /** Restarts one process (with its current plan); every running replica of a function the runner scales. */
  async restart(name: string): Promise<void> {
    const replicas = this.scaled.get(name);
    if (replicas !== undefined) return replicas.restartAll();
    const p = this.processes.get(name);
    if (!p) throw new Error(`no local process named ${name}`);
    await p.restart();
    await this.waitReady([p]);
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
      ...[...this.processes.values(), ...this.sideBySide].map((p) => p.stop()),
    ]);
    this.processes.clear();
    this.sideBySide.clear();
    this.scaled.clear();
    this.pusher?.close();
    this.queueWatch?.close();
    process.removeListener('exit', this.exitHandler);
    fs.rmSync(this.runDir, rmOptions);
    await this.reaper?.close();
  }
}

const rmOptions = { recursive: true, force: true } as const;

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
