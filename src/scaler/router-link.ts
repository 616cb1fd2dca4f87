/**
 * The scaler's connection to one router replica (one address): polls its counts every interval and
 * keeps its watch stream open, reconnecting with a short backoff, so an activate event reaches KEDA
 * the moment the router writes it. Both use the router's admin port (contract: scaling.ts).
 */
import * as http from 'node:http';
import { SCALING_HEARTBEAT_MS, ScalingPaths, isFunctionName } from '../contract';
import { type RouterAddress, formatAddress } from './config';
import { type RouterCounts, parseSnapshot } from './demand';
import type { ScalerLog } from './log';
import type { ScalerMetrics } from './metrics';

/** A counts body larger than this is not a router's (1,000 functions take ~100 KB). */
const MAX_COUNTS_BYTES = 16 * 1024 * 1024;
/** A watch line longer than this is not a router's. */
const MAX_WATCH_LINE = 64 * 1024;
/** No line (not even a heartbeat) for this long: the stream is dead even if the socket is not. */
const WATCH_IDLE_MS = 3 * SCALING_HEARTBEAT_MS;
/** Reconnect delays of the watch stream: a restarted router is watched again within ~100 ms. */
const WATCH_RETRY_MIN_MS = 100;
const WATCH_RETRY_MAX_MS = 2_000;

export interface RouterLinkOptions {
  readonly address: RouterAddress;
  /** Where this router's counts go (owned by the DemandBook). */
  readonly counts: RouterCounts;
  readonly pollIntervalMs: number;
  /** Keep-alive agent for the polls. */
  readonly agent: http.Agent;
  readonly log: ScalerLog;
  readonly metrics: ScalerMetrics;
  /** A request started waiting for `fn` on this router. */
  readonly onActivate: (fn: string) => void;
}

export class RouterLink {
  /** Resolves once the first poll finished, answered or not. */
  readonly firstPoll: Promise<void>;
  private stopped = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private watchRequest: http.ClientRequest | undefined;
  private watchRetryMs = WATCH_RETRY_MIN_MS;
  /** For logging transitions only: undefined before the first poll. */
  private answering: boolean | undefined;
  private watching: boolean | undefined;
  private readonly name: string;

  constructor(private readonly options: RouterLinkOptions) {
    this.name = formatAddress(options.address);
    this.firstPoll = this.poll();
    this.watch();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.watchTimer);
    this.watchRequest?.destroy();
  }

  private async poll(): Promise<void> {
    const started = performance.now();
    try {
      const body = await this.getCounts();
      if (this.stopped) return;
      const snapshot = parseSnapshot(body);
      this.options.counts.record(snapshot, performance.now());
      this.options.metrics.polls.inc({ outcome: 'ok' });
      if (this.answering !== true) {
        this.options.log.log('info', 'router answering', {
          router: this.name,
          id: snapshot.router,
          functions: Object.keys(snapshot.functions).length,
        });
      }
      this.answering = true;
    } catch (err) {
      if (this.stopped) return;
      this.options.metrics.polls.inc({ outcome: 'error' });
      if (this.answering !== false) {
        this.options.log.log('warn', 'router not answering', { router: this.name, reason: (err as Error).message });
      }
      this.answering = false;
    } finally {
      if (!this.stopped) {
        const wait = Math.max(0, this.options.pollIntervalMs - (performance.now() - started));
        this.pollTimer = setTimeout(() => void this.poll(), wait);
      }
    }
  }

  private getCounts(): Promise<string> {
    const { address, agent, pollIntervalMs } = this.options;
    return new Promise((resolve, reject) => {
      const req = http.get(
        {
          host: address.host,
          port: address.port,
          path: ScalingPaths.counts,
          agent,
          headers: { accept: 'application/json' },
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`counts answered ${res.statusCode}`));
            return;
          }
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > MAX_COUNTS_BYTES) req.destroy(new Error(`counts larger than ${MAX_COUNTS_BYTES} bytes`));
            else chunks.push(chunk);
          });
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      // The whole exchange, not just socket idleness: a router that trickles its answer is not answering.
      const timer = setTimeout(
        () => req.destroy(new Error('counts timed out')),
        Math.min(Math.max(pollIntervalMs, 1_000), 10_000),
      );
      req.on('close', () => clearTimeout(timer));
    });
  }

  private watch(): void {
    if (this.stopped) return;
    const { address } = this.options;
    // A connection of its own (no agent): it stays open for as long as the router runs.
    const req = http.get({
      host: address.host,
      port: address.port,
      path: ScalingPaths.watch,
      agent: false,
      headers: { accept: 'application/x-ndjson' },
    });
    this.watchRequest = req;
    let idle: NodeJS.Timeout | undefined;
    const alive = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => req.destroy(new Error(`no line for ${WATCH_IDLE_MS} ms`)), WATCH_IDLE_MS);
    };
    let failure = 'stream ended';
    alive();
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        failure = `watch answered ${res.statusCode}`;
        res.resume();
        return;
      }
      this.watchRetryMs = WATCH_RETRY_MIN_MS;
      if (this.watching !== true) this.options.log.log('info', 'watching router', { router: this.name });
      this.watching = true;
      let pending = '';
      res.on('error', (err) => (failure = err.message));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        alive();
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf('\n')) !== -1) {
          this.onLine(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
        if (pending.length > MAX_WATCH_LINE) req.destroy(new Error(`watch line longer than ${MAX_WATCH_LINE} bytes`));
      });
    });
    req.on('error', (err) => (failure = err.message));
    req.on('close', () => {
      clearTimeout(idle);
      if (this.watchRequest === req) this.watchRequest = undefined;
      if (this.stopped) return;
      if (this.watching !== false) {
        this.options.log.log('warn', 'router watch lost', { router: this.name, reason: failure });
      }
      this.watching = false;
      this.watchTimer = setTimeout(() => this.watch(), this.watchRetryMs);
      this.watchRetryMs = Math.min(this.watchRetryMs * 2, WATCH_RETRY_MAX_MS);
    });
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      return; // not a line of the contract; the next one may be
    }
    if (typeof event !== 'object' || event === null) return;
    const { type, function: fn } = event as Record<string, unknown>;
    if (type === 'activate' && isFunctionName(fn)) this.options.onActivate(fn);
  }
}
