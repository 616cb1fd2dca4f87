import type { UpstreamConnectionLimits } from './config';
import type { CallbackUrlPolicy, RouteTable } from '../contract';
import type { AsyncEndpoint } from './async-endpoint';
import { AccessLog, RouterLog } from './log';
import { RouterMetrics, type RequestCounter } from './metrics';
import type { ProxyEnvironment } from './proxy';
import { RouteMatcher } from './route-matcher';
import { RouterPolicies } from './policies/router-policies';
import { ROUTER_SECRETS_DIR } from '../contract';
import { RequestIds, TraceparentSource } from './trace-ids';
import { Upstreams, upstreamPoolOptions } from './upstreams';
import { Activator } from './activator/activator';
import type { EndpointSource } from '../contract';

export interface RouterStateOptions {
  /** Share of successful requests that get an access-log line. @default 1 */
  readonly accessLogSample?: number;
  /** Where log lines go. @default a RouterLog on stdout */
  readonly log?: RouterLog;
  /** Where auth policies' Secrets are mounted. @default ROUTER_SECRETS_DIR */
  readonly secretsDir?: string;
  /** Keep-alive connection recycling towards functions. @default - connections are kept while they work */
  readonly upstreamConnections?: UpstreamConnectionLimits;
  /** This replica's id in scaling snapshots. @default `router` */
  readonly routerId?: string;
  /** Where ready endpoints come from (the activator holds requests only with one). @default none */
  readonly endpointSource?: EndpointSource;
}

/**
 * The router's mutable state: the active route table (matcher + upstreams), whether it is shutting
 * down, and the shared metrics / logging / id sources used by every request.
 */
export class RouterState implements ProxyEnvironment {
  readonly metrics = new RouterMetrics();
  readonly log: RouterLog;
  readonly accessLog: AccessLog;
  readonly requestIds = new RequestIds();
  readonly traceparents = new TraceparentSource();
  /** Demand counters, ready endpoints and hold queues per function (issue 10). */
  readonly activator: Activator;
  private drainingFlag = false;
  private readonly drainListeners: Array<() => void> = [];
  /** The raw-socket fast path serves new connections (see createRouterServer). */
  fastPathActive = false;
  /** Set when the platform has a queue: serves `/async-function/…`. */
  asyncCalls: AsyncEndpoint | undefined = undefined;
  private matcherInstance: RouteMatcher | undefined;
  /** The table's auth / rate-limit policies; undefined when it has none. */
  policies: RouterPolicies | undefined = undefined;
  /** The table's callback URL policy; undefined = async calls with a callback URL are refused. */
  callbacks: CallbackUrlPolicy | undefined = undefined;
  private readonly secretsDir: string;
  private readonly upstreams: Upstreams;
  /** Counts requests that matched nothing (404/405) or hit the router's own errors. */
  readonly unmatched: RequestCounter;

  constructor(options: RouterStateOptions = {}) {
    this.log = options.log ?? new RouterLog();
    this.accessLog = new AccessLog(this.log, options.accessLogSample ?? 1);
    this.activator = new Activator({
      routerId: options.routerId ?? 'router',
      source: options.endpointSource,
      metrics: this.metrics,
      poolOptions: upstreamPoolOptions(options.upstreamConnections),
    });
    this.upstreams = new Upstreams(
      this.metrics,
      (name) => this.activator.activityOf(name),
      options.upstreamConnections,
    );
    this.secretsDir = options.secretsDir ?? ROUTER_SECRETS_DIR;
    this.unmatched = this.metrics.requestCounter('', '');
  }

  /** True once shutdown began: readiness is 503 and responses carry `Connection: close`. */
  get draining(): boolean {
    return this.drainingFlag;
  }

  /** Starts shutting down (once): readiness 503, `Connection: close` on responses; still serving. */
  startDraining(): void {
    this.drainingFlag = true;
  }

  /** The listener closes (after the drain delay): tells whoever registered with `onDrain`, once. */
  stopListening(): void {
    this.startDraining();
    if (this.listenersCalled) return;
    this.listenersCalled = true;
    for (const listener of this.drainListeners) listener();
  }

  private listenersCalled = false;

  /** Called when the listener closes (idle keep-alive connections are closed then). */
  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  get matcher(): RouteMatcher | undefined {
    return this.matcherInstance;
  }

  get ready(): boolean {
    return this.matcherInstance !== undefined && !this.draining;
  }

  /**
   * Switches to a new, already validated table. The matcher is built first, so a table whose routes
   * conflict throws here and the current table stays in effect. Returns the functions that scale
   * to zero but cannot be held for (no endpoint source): the caller warns.
   */
  applyTable(table: RouteTable): string[] {
    const prepared = this.upstreams.prepare(table);
    let matcher: RouteMatcher;
    let policies: RouterPolicies | undefined;
    try {
      matcher = new RouteMatcher(table, prepared.upstreams, this.metrics);
      // Throws on a policy it cannot build (an unparseable public key): the current table stays.
      policies = RouterPolicies.build(table, this.policies, this.secretsDir, this.log);
    } catch (err) {
      prepared.discard();
      throw err;
    }
    prepared.commit();
    this.matcherInstance = matcher;
    this.policies = policies;
    this.callbacks = table.callbacks;
    return this.activator.applyTable(table);
  }

  async closeUpstreams(graceMs: number): Promise<void> {
    await Promise.all([this.upstreams.closeAll(graceMs), this.activator.closeEndpointPools(graceMs)]);
  }
}
