/**
 * Test harness for the router: the real bundle (lib/pod/router.js) as a child process, route tables
 * laid out the way kubelet lays out ConfigMap volumes, real node:http upstreams and a small client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ActivatorEnv, type RouteTable, type RouteTarget } from '../../src/contract';
import { podNode } from '../support/pod-node';

export const ROUTER_BUNDLE = resolve(__dirname, '../../lib/pod/router.js');
export const RUNTIME_BUNDLE = resolve(__dirname, '../../lib/pod/runtime.js');

/**
 * A directory shaped like a ConfigMap volume: `routes.json -> ..data/routes.json`,
 * `..data -> ..<version>/`. Updates swap `..data` atomically, as kubelet does.
 */
export class ConfigMapDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'kubefaas-routes-'));
  readonly file = join(this.dir, 'routes.json');
  private version = 0;

  constructor(initial?: RouteTable | string) {
    if (initial !== undefined) this.write(initial);
  }

  write(table: RouteTable | string): void {
    const text = typeof table === 'string' ? table : JSON.stringify(table);
    const versionDir = `..v${++this.version}`;
    mkdirSync(join(this.dir, versionDir));
    writeFileSync(join(this.dir, versionDir, 'routes.json'), text);
    const dataLink = join(this.dir, '..data');
    let previous: string | undefined;
    try {
      previous = readlinkSync(dataLink);
    } catch {
      previous = undefined;
    }
    symlinkSync(versionDir, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), dataLink);
    if (previous === undefined) symlinkSync('..data/routes.json', this.file);
    else rmSync(join(this.dir, previous), { recursive: true, force: true });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface RouterProcess {
  readonly proc: ChildProcess;
  /** The public listener. */
  readonly port: number;
  /** The admin listener: /healthz, /readyz, /metrics, and every function by name and async. */
  readonly adminPort: number;
  /** Every JSON line the router printed so far. */
  readonly logs: Array<Record<string, unknown>>;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  exited(): Promise<number | null>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Starts `node lib/pod/router.js` on free ports and waits for its `listening` and `admin listening` lines. */
export async function startRouter(routesPath: string, env: Record<string, string> = {}): Promise<RouterProcess> {
  const proc = spawn(podNode(), [ROUTER_BUNDLE], {
    env: {
      ...process.env,
      PORT: '0',
      [ActivatorEnv.ADMIN_PORT]: '0',
      KUBEFAAS_ROUTES: routesPath,
      KUBEFAAS_SHUTDOWN_GRACE_MS: '10000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  let buffered = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ unparsed: line });
      }
    }
    for (const wake of waiters.splice(0)) wake();
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let exitCode: number | null | undefined;
  // 'close' (not 'exit'): every line the process printed has been read by then.
  const exit = new Promise<number | null>((resolveExit) => {
    proc.on('close', (code) => {
      running.delete(proc);
      exitCode = code;
      for (const wake of waiters.splice(0)) wake();
      resolveExit(code);
    });
  });

  const waitForLog = async (predicate: (line: Record<string, unknown>) => boolean, what: string) => {
    for (;;) {
      const found = logs.find(predicate);
      if (found) return found;
      if (exitCode !== undefined)
        throw new Error(
          `router exited (${exitCode}) before logging ${what}; stderr: ${stderr}; logs: ${JSON.stringify(logs)}`,
        );
      await new Promise<void>((wake) => waiters.push(wake));
    }
  };
  const listening = await waitForLog((l) => l.msg === 'listening', 'listening');
  const adminListening = await waitForLog((l) => l.msg === 'admin listening', 'admin listening');
  return {
    proc,
    port: listening.port as number,
    adminPort: adminListening.port as number,
    logs,
    waitForLog,
    exited: () => exit,
    stop: async () => {
      if (exitCode === undefined) {
        proc.kill('SIGKILL');
        await exit;
      }
    },
  };
}

/** Kills routers a failing test left behind (call from afterAll). */
export function killAllRouters(): void {
  for (const proc of running) proc.kill('SIGKILL');
}

export interface Upstream {
  readonly server: http.Server;
  readonly port: number;
  readonly url: string;
  /** Requests the upstream received (including ones it reset). */
  readonly received: http.IncomingMessage[];
  close(): Promise<void>;
}

/** A real node:http server on 127.0.0.1 running `handler`. */
export async function startUpstream(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<Upstream> {
  const received: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    received.push(req);
    handler(req, res);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** Upstream that answers with a JSON echo of what it received (method, url, headers, body length). */
export function echoUpstream(): Promise<Upstream> {
  return startUpstream((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bytes }));
    });
  });
}

/** A port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  text(): string;
  json(): any;
}

export interface RequestOptions {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: string | Buffer;
}

/** One request over a fresh connection (no agent), body fully read. */
export function request(port: number, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolveReply, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolveReply({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: () => body.toString('utf8'),
            json: () => JSON.parse(body.toString('utf8')),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Route table helper: functions by name → url, or a target whose timeout defaults to 5 s. */
export function table(
  functions: Record<string, string | (Omit<RouteTarget, 'timeoutMs'> & { timeoutMs?: number })>,
  routes: RouteTable['routes'],
): RouteTable {
  const fns: Record<string, RouteTarget> = {};
  for (const [name, target] of Object.entries(functions)) {
    fns[name] = typeof target === 'string' ? { url: target, timeoutMs: 5000 } : { timeoutMs: 5000, ...target };
  }
  return { version: 1, functions: fns, routes };
}

/** Retries `probe` until it returns true (the jest test timeout bounds the wait). */
export async function eventually(probe: () => Promise<boolean>, pauseMs = 50): Promise<void> {
  while (!(await probe())) await new Promise((r) => setTimeout(r, pauseMs));
}
