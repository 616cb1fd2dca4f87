/**
 * The replicas of one function the runner scales (scaling.ts): 0..max local processes of the same
 * plan, each on its own port (the first on the port the function's Service maps to), their ready
 * endpoints pushed to the router as they become ready and before they stop. A change of the replica
 * count is printed (`resize: 0 → 1 (first request)`) and applied in order, one change at a time.
 */
import { Env } from '../contract';
import { runnerLog, type LogSink } from './log';
import type { EndpointPusher } from './endpoint-push';
import type { ProcessPlan } from './plan';
import { freePort, LOOPBACK } from './ports';
import { ManagedProcess, type SupervisorOptions } from './process';
import type { Reaper } from './process-group';
import { waitUntilReady } from './readiness';
import type { LocalScaling } from './scaling';

/** A replica started on demand is probed this often at first: a held request waits for it. */
const FAST_PROBE_MS = 5;
const FAST_PROBE_FOR_MS = 5_000;

export interface ReplicaEnvironment {
  readonly log: LogSink;
  readonly pusher: EndpointPusher;
  readonly readyTimeoutMs: number;
  readonly supervisor?: SupervisorOptions;
  readonly reaper?: Reaper;
}

/** What a running replica looks like from outside (tests, `LocalPlatform.replicas`). */
export interface ReplicaInfo {
  readonly name: string;
  readonly port: number;
  readonly pid: number | undefined;
  readonly ready: boolean;
  /** `Date.now()` when its current process was started, and when it passed its readiness probe. */
  readonly startedAt: number;
  readonly readyAt: number | undefined;
}

class Replica {
  ready = false;
  startedAt = 0;
  readyAt: number | undefined = undefined;
  private probing: AbortController | undefined;
  readonly process: ManagedProcess;

  constructor(
    plan: ProcessPlan,
    private readonly owner: FunctionReplicas,
    env: ReplicaEnvironment,
  ) {
    this.process = new ManagedProcess(plan, env.log, env.supervisor, env.reaper, {
      started: () => this.probe(env.readyTimeoutMs),
      exited: () => this.lost(),
    });
  }

  get plan(): ProcessPlan {
    return this.process.plan;
  }

  /** Resolves when the replica passed its readiness probe (false: it did not within the timeout). */
  readyPromise: Promise<boolean> = Promise.resolve(false);

  private probe(timeoutMs: number): void {
    this.startedAt = Date.now();
    this.readyAt = undefined;
    this.probing?.abort();
    const probing = new AbortController();
    this.probing = probing;
    const plan = this.plan;
    this.readyPromise = waitUntilReady(plan.port, plan.readiness, {
      timeoutMs,
      signal: probing.signal,
      host: LOOPBACK,
      fastPollMs: FAST_PROBE_MS,
      fastForMs: FAST_PROBE_FOR_MS,
    }).then(async (ready) => {
      if (probing.signal.aborted) return false;
      this.ready = ready;
      if (ready) this.readyAt = Date.now();
      if (ready) await this.owner.readinessChanged();
      return ready;
    });
  }

  private lost(): void {
    this.probing?.abort();
    if (!this.ready) return;
    this.ready = false;
    void this.owner.readinessChanged();
  }

  /** Leaves the router's endpoint set first (no new request comes), then drains and stops. */
  async stop(): Promise<void> {
    this.probing?.abort();
    if (this.ready) {
      this.ready = false;
      await this.owner.readinessChanged();
    }
    await this.process.stop();
  }
}

export class FunctionReplicas {
  private replicas: Replica[] = [];
  /** Local port of replica i (the first one's is the plan's: the function Service's mapping). */
  private readonly ports: number[] = [];
  private wanted = 0;
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private currentPlan: ProcessPlan,
    private currentScaling: LocalScaling,
    private readonly env: ReplicaEnvironment,
  ) {
    this.ports.push(currentPlan.port);
  }

  get plan(): ProcessPlan {
    return this.currentPlan;
  }

  get scaling(): LocalScaling {
    return this.currentScaling;
  }

  /** The function's name (the route table's key). */
  get function(): string {
    return this.currentScaling.function;
  }

  /** Replicas asked for by the last `resize` (applied, or being applied). */
  get desired(): number {
    return this.wanted;
  }

  get info(): readonly ReplicaInfo[] {
    return this.replicas.map((r) => ({
      name: r.plan.name,
      port: r.plan.port,
      pid: r.process.pid,
      ready: r.ready,
      startedAt: r.startedAt,
      readyAt: r.readyAt,
    }));
  }

  /**
   * Asks for `count` replicas (within the function's bounds); prints the change with `reason`.
   * Resolves once it is applied: new replicas ready (or given up on), removed ones stopped.
   */
  resize(count: number, reason: string | undefined): Promise<void> {
    if (this.stopped) return this.queue;
    const { minReplicas, maxReplicas } = this.currentScaling;
    const next = Math.max(minReplicas, Math.min(count, maxReplicas));
    if (next !== this.wanted && reason !== undefined) {
      runnerLog(this.env.log, 'info', `${this.function}: ${this.wanted} → ${next} (${reason})`);
    }
    this.wanted = next;
    return this.enqueue(() => this.apply());
  }

  /**
   * A reload: new plan (processes restart when it changed beyond volume contents) and bounds. A
   * new plan on a new port (the runner gives a changed function one) replaces the replicas side by
   * side (`replaceAll`); on the same port they can only stop first and start again.
   */
  update(plan: ProcessPlan, scaling: LocalScaling): Promise<void> {
    const restart = plan.specHash !== this.currentPlan.specHash;
    const moved = plan.port !== this.currentPlan.port;
    this.currentPlan = plan;
    this.currentScaling = scaling;
    return this.enqueue(async () => {
      if (restart && moved) await this.replaceAll();
      else if (restart) await this.restartRunning();
      await this.apply();
    });
  }

  /** Stops every replica (draining each); nothing starts afterwards. */
  stop(): Promise<void> {
    this.stopped = true;
    this.wanted = 0;
    return this.enqueue(() => this.shrinkTo(0));
  }

  /** Stops and starts every running replica (same plan). */
  restartAll(): Promise<void> {
    return this.enqueue(() => this.restartRunning());
  }

  private async restartRunning(): Promise<void> {
    const running = this.replicas.length;
    await this.shrinkTo(0);
    await this.growTo(running);
  }

  /**
   * A rolling update with surge, like a Deployment with `maxUnavailable: 0`: as many new replicas as
   * run start on new ports while the old ones serve; each one ready joins the router's endpoint set
   * in place of the old ones (the set pushed is the new replicas'), then the old ones drain and stop.
   * A function at zero stays at zero.
   */
  private async replaceAll(): Promise<void> {
    const old = this.replicas;
    this.replicas = [];
    this.ports.length = 0;
    this.ports.push(this.currentPlan.port);
    await this.growTo(old.length);
    await this.readinessChanged();
    await Promise.all(old.map((r) => r.stop()));
  }

  /** Last-resort synchronous kill (the runner's `exit` handler). */
  killNow(): void {
    this.stopped = true;
    for (const r of this.replicas) r.process.killNow();
  }

  /** Pushes the ready replicas to the router (a replica became ready or left). */
  readinessChanged(): Promise<void> {
    const ready = this.replicas.filter((r) => r.ready).map((r) => `${LOOPBACK}:${r.plan.port}`);
    return this.env.pusher.set(this.function, ready);
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step, step);
    this.queue = next.catch((err: Error) =>
      runnerLog(this.env.log, 'error', `${this.function}: cannot change its replicas: ${err.message}`),
    );
    return this.queue;
  }

  private async apply(): Promise<void> {
    const wanted = this.stopped ? 0 : this.wanted;
    if (wanted > this.replicas.length) await this.growTo(wanted);
    else if (wanted < this.replicas.length) await this.shrinkTo(wanted);
  }

  private async growTo(count: number): Promise<void> {
    const started: Replica[] = [];
    for (let i = this.replicas.length; i < count; i++) {
      const replica = new Replica(await this.planFor(i), this, this.env);
      this.replicas.push(replica);
      replica.process.start();
      started.push(replica);
    }
    const ready = await Promise.all(started.map((r) => r.readyPromise));
    ready.forEach((ok, i) => {
      if (!ok && started[i].process.pid !== undefined)
        runnerLog(
          this.env.log,
          'warn',
          `${started[i].plan.name} is not ready after ${this.env.readyTimeoutMs} ms; its output above may say why`,
        );
    });
  }

  /** Stops the newest replicas first: the first one keeps the Service's port. */
  private async shrinkTo(count: number): Promise<void> {
    const leaving = this.replicas.splice(count);
    await Promise.all(leaving.map((r) => r.stop()));
  }

  /** Replica i runs the function's plan on its own port (the first on the plan's). */
  private async planFor(index: number): Promise<ProcessPlan> {
    if (index === 0) return this.currentPlan;
    this.ports[index] ??= await freePort();
    const port = this.ports[index];
    const plan = this.currentPlan;
    return {
      ...plan,
      name: `${plan.name}#${index + 1}`,
      port,
      env: { ...plan.env, [Env.PORT]: String(port) },
      processEnv: { ...plan.processEnv, [Env.PORT]: String(port) },
    };
  }
}
