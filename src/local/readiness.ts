/**
 * Waiting for a local process to become ready, using the container's own readiness probe: an HTTP GET
 * of the probe path (2xx/3xx = ready; on the probe's own local port when it has one, e.g. the
 * router's admin port) or a TCP connect on the process's local port.
 */
import * as http from 'node:http';
import type { Readiness } from './plan';
import { isListening } from './ports';

const POLL_MS = 100;

function httpReady(host: string, port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    // agent: false → no pooled socket outlives the probe.
    const req = http.get({ host, port, path, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 400);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export function probeOnce(port: number, readiness: Readiness, host = '127.0.0.1'): Promise<boolean> {
  if (readiness.kind === 'http') return httpReady(readiness.host ?? host, readiness.port ?? port, readiness.path);
  if (readiness.kind === 'tcp') return isListening(port, 1000, host);
  return Promise.resolve(true);
}

export interface ReadyWaitOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly host?: string;
  /**
   * Probe every `fastPollMs` for the first `fastForMs` (a replica started for a waiting request:
   * the request should not wait for a probe interval), then every 100 ms. @default no fast phase
   */
  readonly fastPollMs?: number;
  readonly fastForMs?: number;
}

/** Resolves true once ready, false when `timeoutMs` passes or `signal` aborts first. */
export async function waitUntilReady(port: number, readiness: Readiness, opts: ReadyWaitOptions): Promise<boolean> {
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  const fastUntil = start + (opts.fastPollMs === undefined ? 0 : (opts.fastForMs ?? 0));
  while (!opts.signal?.aborted) {
    if (await probeOnce(port, readiness, opts.host)) return true;
    const now = Date.now();
    if (now >= deadline) return false;
    await new Promise((r) => setTimeout(r, now < fastUntil ? opts.fastPollMs : POLL_MS));
  }
  return false;
}
