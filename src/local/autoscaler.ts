/**
 * The runner playing KEDA: for every function it scales (scaling.ts) it speaks KEDA's external
 * scaler protocol to the real scaler process, exactly as KEDA's operator and its HPA would act on
 * the function's ScaledObject:
 * - `StreamIsActive`: a `true` while the function is at zero starts its first replica at once (the
 *   router holds the request and has told the scaler);
 * - every tick, `IsActive` + `GetMetrics` against `GetMetricSpec`'s target: replicas =
 *   ceil(metric / target) within the bounds, up at once, down only after the scale-down window
 *   (the HPA's stabilization), and to zero once the function was inactive for the cooldown;
 * - a function's JetStream messages (queue-watch.ts) wake it and keep it awake, and its consumer's
 *   pending count scales it on the ScaledObject's `nats-jetstream` lag threshold.
 * A scaler that cannot see the routers (`UNAVAILABLE`) changes nothing: KEDA keeps its fallback
 * replicas, and a blind scaler must never scale a function to zero.
 */
import type { ServiceError } from '@grpc/grpc-js';
import { ExternalScalerClient } from '../scaler/client';
import type { MetricSpec } from '../scaler/protocol';
import { runnerLog, type LogSink } from './log';
import type { QueueWatch } from './queue-watch';
import type { FunctionReplicas } from './replicas';
import { formatDelay, type QueueWake } from './scaling';

/** How often every function is looked at (KEDA polls every 30 s by default; a laptop wants answers sooner). */
export const DEFAULT_SCALE_INTERVAL_MS = 1_000;
/** A StreamIsActive that ended is opened again after this (KEDA waits a little too). */
const STREAM_REOPEN_MS = 500;

export interface AutoscalerOptions {
  /** `host:port` of the scaler's gRPC port. */
  readonly scalerAddress: string;
  readonly log: LogSink;
  /** @default DEFAULT_SCALE_INTERVAL_MS */
  readonly intervalMs?: number;
  /** The local queue, when the platform has one. */
  readonly queue?: QueueWatch;
}

export class LocalAutoscaler {
  private readonly client: ExternalScalerClient;
  private readonly loops = new Map<string, FunctionLoop>();
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly options: AutoscalerOptions) {
    this.client = new ExternalScalerClient(options.scalerAddress);
    this.timer = setInterval(() => {
      for (const loop of this.loops.values()) void loop.tick();
    }, options.intervalMs ?? DEFAULT_SCALE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Starts scaling `replicas` (again, after a reload: its ScaledObject may have changed). */
  add(replicas: FunctionReplicas): void {
    if (this.stopped) return;
    this.loops.get(replicas.plan.name)?.stop();
    const loop = new FunctionLoop(replicas, this.client, this.options);
    this.loops.set(replicas.plan.name, loop);
    loop.start();
  }

  remove(workload: string): void {
    this.loops.get(workload)?.stop();
    this.loops.delete(workload);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const loop of this.loops.values()) loop.stop();
    this.loops.clear();
    this.client.close();
  }
}

/** One recommendation of the HPA part: how many replicas the metrics wanted, when. */
interface Recommendation {
  readonly at: number;
  readonly replicas: number;
}

class FunctionLoop {
  private stopped = false;
  private cancelStream: (() => void) | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private ticking = false;
  private spec: MetricSpec | undefined;
  /** When the function last had demand (KEDA counts the cooldown from the last active answer). */
  private lastActive = Date.now();
  private recommendations: Recommendation[] = [];
  /** The last scaler problem logged (logged again only when it changes). */
  private problem: string | undefined;

  constructor(
    private readonly replicas: FunctionReplicas,
    private readonly client: ExternalScalerClient,
    private readonly options: AutoscalerOptions,
  ) {}

  private get ref() {
    return this.replicas.scaling.scaler;
  }

  start(): void {
    this.openStream();
    const queue = this.options.queue;
    if (queue === undefined) return;
    for (const wake of this.replicas.scaling.queue) {
      this.unsubscribe.push(queue.subscribe(wake.subject, () => this.wake(wakeReason(wake))));
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reopenTimer);
    this.cancelStream?.();
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /** Demand while at zero: the first replica starts now, without waiting for a tick. */
  private wake(reason: string): void {
    if (this.stopped) return;
    this.lastActive = Date.now();
    if (this.replicas.desired === 0) void this.replicas.resize(1, reason);
  }

  private openStream(): void {
    if (this.stopped) return;
    this.cancelStream = this.client.streamIsActive(
      this.ref,
      (active) => {
        if (active) this.wake('first request');
      },
      (err?: ServiceError) => {
        if (this.stopped) return;
        if (err !== undefined) this.report(`StreamIsActive failed: ${err.details || err.message}`);
        this.reopenTimer = setTimeout(() => this.openStream(), STREAM_REOPEN_MS);
      },
    );
  }

  /** One look at the function, as KEDA's polling loop and the HPA would take it. */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      const reading = await this.read();
      if (reading !== undefined && !this.stopped) this.decide(reading);
    } finally {
      this.ticking = false;
    }
  }

  private async read(): Promise<Reading | undefined> {
    const queue = this.queueDemand();
    let scaler: { active: boolean; value: number; target: number };
    try {
      this.spec ??= (await this.client.getMetricSpec(this.ref))[0];
      const spec = this.spec;
      if (spec === undefined) throw new Error('GetMetricSpec answered no metric');
      const [active, values] = await Promise.all([
        this.client.isActive(this.ref),
        this.client.getMetrics(this.ref, spec.metricName),
      ]);
      scaler = { active, value: values[0]?.metricValueFloat ?? 0, target: spec.targetSizeFloat || spec.targetSize };
      this.report(undefined);
    } catch (err) {
      const e = err as ServiceError;
      this.report(`${e.details || e.message}; keeping ${this.replicas.desired} replica(s)`);
      // Blind: only the queue may still wake a function at zero.
      const lag = await queue;
      if (lag.pending > 0) this.wake('pending messages');
      return undefined;
    }
    const lag = await queue;
    return { ...scaler, ...lag };
  }

  /** Pending messages over the function's subscriptions, and the replicas their lag thresholds ask for. */
  private async queueDemand(): Promise<{ pending: number; lagReplicas: number }> {
    const queue = this.options.queue;
    let pending = 0;
    let lagReplicas = 0;
    if (queue === undefined) return { pending, lagReplicas };
    for (const wake of this.replicas.scaling.queue) {
      const n = await queue.pending(wake).catch(() => 0);
      pending += n;
      if (wake.lagThreshold !== undefined) lagReplicas = Math.max(lagReplicas, Math.ceil(n / wake.lagThreshold));
    }
    return { pending, lagReplicas };
  }

  private decide(r: Reading): void {
    const now = Date.now();
    const { minReplicas, maxReplicas, cooldownMs, scaleDownWindowMs } = this.replicas.scaling;
    const active = r.active || r.pending > 0;
    if (active) this.lastActive = now;
    const current = this.replicas.desired;
    if (current === 0) {
      if (active) void this.replicas.resize(1, r.pending > 0 ? 'pending messages' : 'activity');
      return;
    }
    if (minReplicas === 0 && !active && now - this.lastActive >= cooldownMs) {
      this.recommendations = [];
      void this.replicas.resize(0, `idle ${formatDelay(cooldownMs)}`);
      return;
    }
    const fromMetric = r.target > 0 ? Math.ceil(r.value / r.target) : 0;
    const wanted = Math.max(1, minReplicas, Math.min(maxReplicas, Math.max(fromMetric, r.lagReplicas)));
    this.recommendations = this.recommendations.filter((x) => now - x.at < scaleDownWindowMs);
    this.recommendations.push({ at: now, replicas: wanted });
    // The HPA's stabilization: scale down to the highest count wanted within the window.
    const stable = Math.max(...this.recommendations.map((x) => x.replicas));
    const next = wanted > current ? wanted : Math.min(current, stable);
    if (next === current) return;
    const load = `${round(r.value)} ${this.spec?.metricName.endsWith('-rps') ? 'req/s' : 'in flight or waiting'}, target ${round(r.target)} per replica${r.pending > 0 ? `, ${r.pending} pending messages` : ''}`;
    void this.replicas.resize(next, next > current ? `load: ${load}` : `load fell: ${load}`);
  }

  private report(problem: string | undefined): void {
    if (problem === this.problem) return;
    this.problem = problem;
    const fn = this.replicas.function;
    if (problem !== undefined) runnerLog(this.options.log, 'warn', `${fn}: the scaler cannot answer: ${problem}`);
    else runnerLog(this.options.log, 'info', `${fn}: the scaler answers again`);
  }
}

interface Reading {
  readonly active: boolean;
  readonly value: number;
  readonly target: number;
  readonly pending: number;
  readonly lagReplicas: number;
}

function wakeReason(wake: QueueWake): string {
  if (wake.kind === 'cron') return 'cron tick';
  if (wake.kind === 'async') return 'async call';
  return `message on ${wake.subject}`;
}

function round(n: number): string {
  return String(Math.round(n * 10) / 10);
}
