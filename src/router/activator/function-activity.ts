import type { RouteScaling } from '../../contract';
import type { ActivationSeries, HoldOutcome } from '../metrics';
import type { EndpointPools } from './endpoint-pools';
import { type HeldRequest, HoldQueue } from './hold-queue';

/** A request the activator can hold: it is forwarded, or answered, when it leaves the queue. */
export interface Holdable extends HeldRequest {
  /** A ready endpoint appeared: forward now. */
  released(): void;
  /** Not forwarded: answer `status` (504 after the activation timeout, 503 when the function left the table). */
  holdFailed(status: number, message: string, extra?: readonly string[]): void;
}

/** Told when the function needs waking (the scaler's watch stream). */
export interface ActivationListener {
  activate(fn: string): void;
}

/**
 * A fired hold timer expires what is due and re-arms for the next deadline, no sooner than this:
 * requests arriving in a burst share one wake-up instead of one each.
 */
const TIMER_SLACK_MS = 5;

/**
 * What one router replica knows and does for one function, kept across route-table reloads (so
 * `requestsTotal` never goes backwards): the demand counters the scaler reads, the ready-endpoint
 * count an endpoint source reports, and — for a function that may be at zero — the FIFO of
 * requests held while it has no ready endpoint.
 *
 * The warm path touches only `requestsTotal`, `cold`, `inFlight` and `endpoints` (plain fields);
 * everything else runs when a function is cold.
 */
export class FunctionActivity {
  /** Requests sent to (or queued in the pool for) the function and not yet answered. */
  inFlight = 0;
  /** Requests routed to the function since the router started. */
  requestsTotal = 0;
  /** True while new requests must be held: the function may be at zero and has no known ready endpoint. */
  cold = false;
  /**
   * Pools to the endpoints pushed for the function (the `push` source), which requests go to in turn;
   * undefined while none was ever pushed (then requests go to the route table's URL).
   */
  endpoints: EndpointPools | undefined = undefined;
  /** Ready endpoints reported by the endpoint source; -1 = nothing heard. */
  private ready = -1;
  private scaling: RouteScaling | undefined = undefined;
  /** An endpoint source is configured (without one, nothing is ever held). */
  private sourced = false;
  private readonly queue = new HoldQueue<Holdable>();
  private timer: NodeJS.Timeout | undefined = undefined;
  private timerAt = Infinity;
  /** `performance.now()` of the last activation asked for while cold; undefined = none pending. */
  private activationAskedAt: number | undefined = undefined;

  private seriesInstance: ActivationSeries | undefined = undefined;

  constructor(
    readonly name: string,
    /** Creates the activator's metric series, on first need: functions that never scale to zero get none. */
    private readonly createSeries: () => ActivationSeries,
    private readonly listener: ActivationListener,
  ) {}

  private get series(): ActivationSeries {
    this.seriesInstance ??= this.createSeries();
    return this.seriesInstance;
  }

  /** The function may be held for: it scales to zero here (the held-requests gauge lists these). */
  get holds(): boolean {
    return this.sourced && this.scaling !== undefined && this.scaling.minReplicas === 0;
  }

  /** Requests held right now. */
  get waiting(): number {
    return this.queue.size;
  }

  /** Ready endpoints as last reported; -1 when nothing was heard. */
  get readyEndpoints(): number {
    return this.ready;
  }

  /** An activation was asked for and the function has not become ready since. */
  get activationPending(): boolean {
    return this.activationAskedAt !== undefined && this.cold;
  }

  /** The function's scaling from the current route table (undefined: always has a replica). */
  configure(scaling: RouteScaling | undefined, sourced: boolean): void {
    this.scaling = scaling;
    this.sourced = sourced;
    this.update();
  }

  /** The endpoint source's news: how many ready endpoints the function has (-1: unknown again). */
  setReadyEndpoints(count: number): void {
    this.ready = count;
    this.update();
  }

  /**
   * Holds `request` until a ready endpoint appears or its deadline passes. Returns false (and
   * counts a rejection) when the queue is full: the caller answers 503.
   */
  hold(request: Holdable): boolean {
    const limit = this.scaling?.holdQueueLimit ?? 0;
    if (this.queue.size >= limit) {
      this.series.rejections.value++;
      return false;
    }
    const now = performance.now();
    if (request.heldAt === 0) {
      request.heldAt = now;
      request.holdDeadline = now + (this.scaling?.activationTimeoutMs ?? 0);
    }
    const first = this.queue.size === 0;
    this.queue.push(request);
    if (first) this.askForActivation(now);
    this.armTimer(request.holdDeadline);
    return true;
  }

  /** The client of a held request went away: it leaves the queue without an answer. */
  cancel(request: Holdable): void {
    if (!request.holding) return;
    this.queue.remove(request);
    this.observe(request, 'client_closed', performance.now());
    if (this.queue.size === 0) this.queueEmptied();
  }

  /**
   * An async call was queued for the function: nothing waits in the router, but the function
   * should wake to run it. Asks for an activation when it is cold and none is pending (again once
   * an activation timeout passed without it becoming ready).
   */
  asyncCallQueued(): void {
    if (!this.cold) return;
    const now = performance.now();
    const asked = this.activationAskedAt;
    if (asked !== undefined && now - asked < (this.scaling?.activationTimeoutMs ?? 0)) return;
    this.askForActivation(now);
  }

  /** The function left the route table: its held requests are answered 503 at once. */
  retire(): void {
    this.configure(undefined, this.sourced);
  }

  private askForActivation(now: number): void {
    this.activationAskedAt = now;
    this.series.coldStarts.value++;
    this.listener.activate(this.name);
  }

  private update(): void {
    const holds = this.holds;
    // Series at 0 from the start for what can be held, so `increase()` in alerts sees the first one.
    if (holds) void this.series;
    const cold = holds && this.ready <= 0;
    this.cold = cold;
    if (cold) return;
    this.activationAskedAt = undefined;
    if (this.queue.size === 0) return;
    this.stopTimer();
    const now = performance.now();
    if (holds) {
      // Ready: forward in arrival order. `released` dispatches synchronously into the function's
      // pool, whose own FIFO keeps that order when its connections are busy.
      for (let request = this.queue.shift(); request !== undefined; request = this.queue.shift()) {
        this.observe(request, 'forwarded', now);
        request.released();
      }
      return;
    }
    // The function no longer scales to zero here (removed from the table, or its scaling changed).
    const removed = this.scaling === undefined;
    for (let request = this.queue.shift(); request !== undefined; request = this.queue.shift()) {
      if (removed) {
        this.observe(request, 'removed', now);
        request.holdFailed(503, `function "${this.name}" is being removed`);
      } else {
        this.observe(request, 'forwarded', now);
        request.released();
      }
    }
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    const timeoutMs = this.scaling?.activationTimeoutMs ?? 0;
    for (const request of this.queue.takeExpired(now)) {
      this.observe(request, 'timeout', now);
      request.holdFailed(
        504,
        `function "${this.name}" did not become ready within ${timeoutMs} ms: no ready endpoint to send the request to`,
        ['retry-after', '1'],
      );
    }
    if (this.queue.size === 0) this.queueEmptied();
    else this.armTimer(this.queue.earliestDeadline());
  };

  /** Nobody waits any more while still cold: the next request asks for a new activation. */
  private queueEmptied(): void {
    this.stopTimer();
    this.activationAskedAt = undefined;
  }

  private armTimer(deadline: number): void {
    if (deadline >= this.timerAt) return;
    this.stopTimer();
    const delay = Math.max(deadline - performance.now(), 0) + TIMER_SLACK_MS;
    this.timerAt = deadline;
    this.timer = setTimeout(this.expire, delay);
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private observe(request: Holdable, outcome: HoldOutcome, now: number): void {
    this.series.held[outcome].observe((now - request.heldAt) / 1000);
  }
}
