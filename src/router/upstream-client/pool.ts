import { type ConnectionOwner, PendingRequest, UpstreamConnection, type UpstreamTarget } from './connection';
import { UpstreamError } from './errors';
import type { UpstreamHandler, UpstreamRequest } from './types';

export interface UpstreamPoolOptions {
  /** Most connections open at once for ordinary requests; more requests wait in a FIFO queue. */
  readonly connections: number;
  /**
   * A connection older than this (ms, jittered ±10 % per connection so they do not all reconnect at
   * once) carries no new request. @default Infinity
   */
  readonly maxAgeMs?: number;
  /** A connection is closed after this many requests. @default Infinity */
  readonly maxRequests?: number;
}

/** How often idle connections past their keep-alive limit are closed. */
const SWEEP_INTERVAL_MS = 1_000;

/**
 * Keep-alive connections to one function. Idle connections are reused most-recent first (so the
 * others can age out), a request waits in a queue when `connections` are busy, and a retry can ask
 * for a fresh connection that bypasses both.
 */
export class UpstreamPool implements ConnectionOwner {
  private readonly target: UpstreamTarget;
  private readonly all = new Set<UpstreamConnection>();
  private readonly idle: UpstreamConnection[] = [];
  private queue: PendingRequest[] = [];
  private queueHead = 0;
  private readonly sweeper: NodeJS.Timeout;
  private closing = false;
  private destroyedFlag = false;
  private onDrained: (() => void) | undefined = undefined;

  constructor(
    origin: string,
    private readonly options: UpstreamPoolOptions,
  ) {
    this.target = targetOf(origin);
    this.sweeper = setInterval(this.sweep, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  get destroyed(): boolean {
    return this.destroyedFlag;
  }

  /**
   * Sends `request`; `handler` gets the outcome. With `fresh`, the request goes on a new connection
   * (a retry must not land on another connection as stale as the one that just failed).
   */
  dispatch(request: UpstreamRequest, handler: UpstreamHandler, fresh = false): void {
    const pending = new PendingRequest(request, handler, this.unqueue);
    handler.onConnect(pending.abort);
    if (pending.finished) return; // aborted from onConnect
    if (this.closing || this.destroyedFlag) {
      pending.finished = true;
      handler.onError(new UpstreamError('UPSTREAM_POOL_CLOSED', 'the connection pool is closed'));
      return;
    }
    if (!fresh) {
      const connection = this.takeIdle();
      if (connection !== undefined) {
        connection.send(pending);
        return;
      }
    }
    if (fresh || this.all.size < this.options.connections) {
      this.open().send(pending);
      return;
    }
    this.queue.push(pending);
  }

  released(connection: UpstreamConnection): void {
    const next = this.dequeue();
    if (next !== undefined) {
      connection.send(next);
      return;
    }
    if (this.closing) {
      connection.destroy();
      return;
    }
    this.idle.push(connection);
  }

  removed(connection: UpstreamConnection): void {
    this.all.delete(connection);
    const at = this.idle.lastIndexOf(connection);
    if (at !== -1) this.idle.splice(at, 1);
    // A queued request waits for a connection: a closed one frees a slot for a new connection.
    if (!this.destroyedFlag && this.queueHead < this.queue.length && this.all.size < this.options.connections) {
      const next = this.dequeue();
      if (next !== undefined) this.open().send(next);
    }
    this.checkDrained();
  }

  /** Stops taking requests; resolves when the queued and in-flight ones have finished. */
  close(): Promise<void> {
    this.closing = true;
    for (const connection of this.idle.splice(0)) connection.destroy();
    return new Promise<void>((resolve) => {
      this.onDrained = resolve;
      this.checkDrained();
    });
  }

  /**
   * Retires the pool: in-flight and queued requests get up to `graceMs` to finish, then whatever is
   * left is failed and the connections closed.
   */
  async closeWithin(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      timer.unref();
    });
    await Promise.race([this.close(), deadline]);
    clearTimeout(timer);
    await this.destroy();
  }

  /** Fails every queued and in-flight request and closes every connection. */
  destroy(): Promise<void> {
    this.closing = true;
    this.destroyedFlag = true;
    clearInterval(this.sweeper);
    const err = new UpstreamError('UPSTREAM_POOL_CLOSED', 'the connection pool was destroyed');
    for (let pending = this.dequeue(); pending !== undefined; pending = this.dequeue()) pending.abort(err);
    for (const connection of [...this.all]) connection.destroy(err);
    this.checkDrained();
    return Promise.resolve();
  }

  private open(): UpstreamConnection {
    const maxAge = this.options.maxAgeMs ?? Infinity;
    const connection = new UpstreamConnection(this.target, this, {
      retireAt: performance.now() + maxAge * (0.9 + Math.random() * 0.2),
      maxRequests: this.options.maxRequests ?? Infinity,
    });
    this.all.add(connection);
    return connection;
  }

  private takeIdle(): UpstreamConnection | undefined {
    const now = performance.now();
    while (this.idle.length > 0) {
      const connection = this.idle.pop() as UpstreamConnection;
      if (connection.reusableAt(now)) return connection;
      connection.destroy();
    }
    return undefined;
  }

  private dequeue(): PendingRequest | undefined {
    while (this.queueHead < this.queue.length) {
      const pending = this.queue[this.queueHead];
      this.queue[this.queueHead++] = undefined as unknown as PendingRequest;
      if (this.queueHead === this.queue.length) {
        this.queue = [];
        this.queueHead = 0;
      }
      if (!pending.finished) return pending;
    }
    return undefined;
  }

  /** An aborted queued request is marked finished; `dequeue` skips it, so nothing to splice here. */
  private readonly unqueue = (_pending: PendingRequest): void => {
    this.checkDrained();
  };

  private readonly sweep = (): void => {
    if (this.idle.length === 0) return;
    const now = performance.now();
    for (const connection of this.idle.slice()) {
      if (!connection.reusableAt(now)) connection.destroy();
    }
  };

  private checkDrained(): void {
    if (this.onDrained === undefined || this.all.size > 0) return;
    for (let i = this.queueHead; i < this.queue.length; i++) if (!this.queue[i].finished) return;
    clearInterval(this.sweeper);
    const resolve = this.onDrained;
    this.onDrained = undefined;
    resolve();
  }
}

/** `http://name:port` → where to connect and the Host line every request carries. */
function targetOf(origin: string): UpstreamTarget {
  const url = new URL(origin);
  if (url.protocol !== 'http:') throw new Error(`unsupported upstream protocol in ${origin}: only http is proxied`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? 80 : Number(url.port), hostLine: `host: ${url.host}\r\n` };
}
