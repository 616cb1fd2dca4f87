/**
 * The local runner's side of the `push` endpoint source: it tells the router which replicas of a
 * function are ready (`PUT ScalingPaths.endpoints/<fn>`, `PushedEndpoints`) the moment that changes,
 * so a request held for a function at zero is sent as soon as its process is ready. The latest list
 * per function is kept and sent again after the router (re)starts, which forgets what it was told.
 */
import * as http from 'node:http';
import { ScalingPaths, type PushedEndpoints } from '../contract';
import { runnerLog, type LogSink } from './log';

/** A PUT the router does not answer within this is given up (the next change or router start resends). */
const PUSH_TIMEOUT_MS = 5_000;

export class EndpointPusher {
  private readonly latest = new Map<string, readonly string[]>();
  /** Per function: a PUT is on its way; `dirty` = the list changed meanwhile and is sent after it. */
  private readonly sending = new Map<string, { dirty: boolean; done: Promise<void> }>();
  // Keep-alive: a cold start's push should not pay for a TCP handshake.
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly log: LogSink,
  ) {}

  /** Records `ready` (`host:port` list) as the function's ready endpoints and sends it; resolves once the router has it (or could not be reached). */
  set(fn: string, ready: readonly string[]): Promise<void> {
    this.latest.set(fn, [...ready]);
    return this.send(fn);
  }

  /** Sends every function's list again (the router just became ready after a start or restart). */
  async resendAll(): Promise<void> {
    await Promise.all([...this.latest.keys()].map((fn) => this.send(fn)));
  }

  close(): void {
    this.closed = true;
    this.agent.destroy();
  }

  private send(fn: string): Promise<void> {
    const current = this.sending.get(fn);
    if (current !== undefined) {
      current.dirty = true;
      return current.done;
    }
    const state = { dirty: false, done: Promise.resolve() };
    state.done = (async () => {
      do {
        state.dirty = false;
        await this.put(fn, this.latest.get(fn) ?? []);
      } while (state.dirty && !this.closed);
      this.sending.delete(fn);
    })();
    this.sending.set(fn, state);
    return state.done;
  }

  private put(fn: string, ready: readonly string[]): Promise<void> {
    if (this.closed) return Promise.resolve();
    const body = JSON.stringify({ ready } satisfies PushedEndpoints);
    return new Promise((resolve) => {
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          method: 'PUT',
          path: `${ScalingPaths.endpoints}/${fn}`,
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: PUSH_TIMEOUT_MS,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 204)
              runnerLog(this.log, 'warn', `the router refused ${fn}'s ready endpoints (${res.statusCode})`);
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${PUSH_TIMEOUT_MS} ms`)));
      // The router is down or restarting: it gets every list again once it is ready.
      req.on('error', () => resolve());
      req.end(body);
    });
  }
}
