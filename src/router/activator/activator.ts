import type {
  EndpointSource,
  FunctionDemand,
  RouteTable,
  RouterDemandSnapshot,
  RouterScalingEvent,
} from '../../contract';
import type { RouterMetrics } from '../metrics';
import type { UpstreamPoolOptions } from '../upstream-client/pool';
import { EndpointPools } from './endpoint-pools';
import { type ActivationListener, FunctionActivity } from './function-activity';

export interface ActivatorOptions {
  /** This replica's id in snapshots and events. */
  readonly routerId: string;
  /** Where ready endpoints come from; undefined = nowhere (nothing is held). */
  readonly source: EndpointSource | undefined;
  readonly metrics: RouterMetrics;
  /** Options of the pools to pushed endpoints (the same as a function's Service pool). */
  readonly poolOptions: UpstreamPoolOptions;
}

export type ScalingEventListener = (event: RouterScalingEvent) => void;

/**
 * The router as activator (issue 10): one `FunctionActivity` per function name, what the endpoint
 * source reported, and the listeners of the scaler's watch stream. The snapshot and the events are
 * what `ScalingPaths.counts` and `ScalingPaths.watch` serve.
 */
export class Activator implements ActivationListener {
  readonly routerId: string;
  readonly source: EndpointSource | undefined;
  private readonly metrics: RouterMetrics;
  private readonly poolOptions: UpstreamPoolOptions;
  private readonly byName = new Map<string, FunctionActivity>();
  /** Functions of the current table (the snapshot lists these). */
  private current: readonly FunctionActivity[] = [];
  /** Ready endpoints per Service, as the source reported them (also for Services not in the table yet). */
  private readonly ready = new Map<string, number>();
  private readonly listeners = new Set<ScalingEventListener>();
  /** The source has told everything it knows once: a Service it did not mention has no endpoint. */
  private synced = false;

  constructor(options: ActivatorOptions) {
    this.routerId = options.routerId;
    this.source = options.source;
    this.metrics = options.metrics;
    this.poolOptions = options.poolOptions;
    options.metrics.readHeldRequestsFrom(() => {
      const held = new Map<string, number>();
      for (const activity of this.current) if (activity.holds) held.set(activity.name, activity.waiting);
      return held;
    });
  }

  /** The activity of function `name` (created on first use, kept for the life of the process). */
  activityOf(name: string): FunctionActivity {
    let activity = this.byName.get(name);
    if (activity === undefined) {
      activity = new FunctionActivity(name, () => this.metrics.activation(name), this);
      activity.setReadyEndpoints(this.readyOf(name));
      this.byName.set(name, activity);
    }
    return activity;
  }

  /**
   * Applies a new (already committed) route table: each function's scaling, and functions that left
   * the table answer their held requests. Returns the functions that scale to zero but can never be
   * woken by this router because it has no endpoint source (main.ts warns about them).
   */
  applyTable(table: RouteTable): string[] {
    const next: FunctionActivity[] = [];
    const unsourced: string[] = [];
    for (const [name, target] of Object.entries(table.functions)) {
      const activity = this.activityOf(name);
      activity.configure(target.scaling, this.source !== undefined);
      if (target.scaling?.minReplicas === 0 && this.source === undefined) unsourced.push(name);
      next.push(activity);
    }
    const kept = new Set(next);
    for (const activity of this.current) if (!kept.has(activity)) activity.retire();
    this.current = next;
    return unsourced;
  }

  /** The endpoint source's news about Service `service` (-1: it knows nothing about it any more). */
  setReadyEndpoints(service: string, count: number): void {
    if (count < 0) this.ready.delete(service);
    else this.ready.set(service, count);
    this.byName.get(service)?.setReadyEndpoints(this.readyOf(service));
  }

  /**
   * The `push` source: `addresses` are the function's ready endpoints now. Requests go to them in
   * turn (pools are updated before the count, so requests released by it already use them).
   */
  setPushedEndpoints(fn: string, addresses: readonly string[]): void {
    const activity = this.activityOf(fn);
    activity.endpoints ??= new EndpointPools(this.poolOptions);
    activity.endpoints.set(addresses);
    this.setReadyEndpoints(fn, addresses.length);
  }

  /** Closes the pools to pushed endpoints (shutdown), giving in-flight requests up to `graceMs`. */
  async closeEndpointPools(graceMs: number): Promise<void> {
    await Promise.all([...this.byName.values()].map((a) => a.endpoints?.closeAll(graceMs)));
  }

  /**
   * The source has reported every Service it knows (its first complete list): from now on a
   * function it never mentioned has 0 ready endpoints rather than unknown.
   */
  markSynced(): void {
    this.synced = true;
    for (const [name, activity] of this.byName) if (!this.ready.has(name)) activity.setReadyEndpoints(0);
  }

  private readyOf(name: string): number {
    return this.ready.get(name) ?? (this.synced ? 0 : -1);
  }

  snapshot(): RouterDemandSnapshot {
    const functions: Record<string, FunctionDemand> = {};
    for (const a of this.current) {
      functions[a.name] = {
        inFlight: a.inFlight,
        waiting: a.waiting,
        requestsTotal: a.requestsTotal,
        readyEndpoints: a.readyEndpoints,
      };
    }
    return { router: this.routerId, at: Date.now(), functions };
  }

  /**
   * Subscribes to scaling events. A new subscriber first gets an `activate` event for every
   * function still waiting to be woken, so a scaler that (re)connects mid-activation misses none.
   */
  subscribe(listener: ScalingEventListener): () => void {
    for (const a of this.current) if (a.activationPending) listener(this.activateEvent(a.name));
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** ActivationListener: a function at zero needs waking. */
  activate(fn: string): void {
    if (this.listeners.size === 0) return;
    const event = this.activateEvent(fn);
    for (const listener of this.listeners) listener(event);
  }

  private activateEvent(fn: string): RouterScalingEvent {
    return { type: 'activate', router: this.routerId, function: fn, at: Date.now() };
  }
}
