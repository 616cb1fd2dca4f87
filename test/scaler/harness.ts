/**
 * Test harness for the scaler: the real bundle (lib/pod/scaler.js) as a child process, stand-in
 * routers (node:http servers answering the contract's counts and watch endpoints, so the scaler is
 * tested before and independently of the router's activator), and a KEDA-side gRPC client built
 * from src/scaler/externalscaler.proto by @grpc/proto-loader (protobufjs: an independent codec).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  type FunctionDemand,
  type RouterDemandSnapshot,
  SCALING_HEARTBEAT_MS,
  ScalerEnv,
  ScalingPaths,
} from '../../src/contract';
import { LoggedRuntimeProcess, stopRunning } from '../runtime/process';
import { podNode } from '../support/pod-node';

export const SCALER_BUNDLE = resolve(__dirname, '../../lib/pod/scaler.js');
export const PROTO_PATH = resolve(__dirname, '../../src/scaler/externalscaler.proto');

/** The scaler process; `port` (from LoggedRuntimeProcess) is its admin port. */
export class ScalerProcess extends LoggedRuntimeProcess {
  grpcPort = 0;

  static async start(env: Record<string, string>): Promise<ScalerProcess> {
    const child = spawn(podNode(), [SCALER_BUNDLE], {
      env: {
        PATH: process.env.PATH ?? '',
        KUBEFAAS_BIND_HOST: '127.0.0.1',
        [ScalerEnv.GRPC_PORT]: '0',
        [ScalerEnv.ADMIN_PORT]: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const scaler = new ScalerProcess(child, mkdtempSync(join(tmpdir(), 'kubefaas-scaler-test-')));
    const listening = await Promise.race([
      scaler.waitForLog((l) => l.msg === 'listening'),
      scaler.exited.then(({ code }) => {
        throw new Error(`scaler exited with ${code} before listening: ${scaler.stderr} ${JSON.stringify(scaler.logs)}`);
      }),
    ]);
    scaler.grpcPort = listening.grpcPort as number;
    scaler.port = listening.adminPort as number;
    return scaler;
  }

  /** Resolves once the first poll of every router finished. */
  ready(): Promise<unknown> {
    return this.waitForLog((l) => l.msg === 'ready');
  }

  client(): ScalerClient {
    return new ScalerClient(`127.0.0.1:${this.grpcPort}`);
  }
}

export async function stopScalers(): Promise<void> {
  await stopRunning((r) => r instanceof ScalerProcess);
}

// ------------------------------------------------------------------------------------------------
// Stand-in routers
// ------------------------------------------------------------------------------------------------

export type Demand = Partial<FunctionDemand>;

/**
 * A router replica as the scaler sees it: `functions` is what the counts endpoint answers (mutate it
 * freely), `activate()` writes an activate line to every open watch stream. `kill()` is a crash (every
 * socket reset), `start()` again is the same router coming back on the same port.
 */
export class StandInRouter {
  functions: Record<string, Demand> = {};
  /** Answer the counts endpoint with this status (200 = the snapshot). */
  countsStatus = 200;
  /** Replaces the counts body when set (malformed answers). */
  countsBody: string | undefined;
  countsRequests = 0;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly watchers = new Set<http.ServerResponse>();
  private heartbeat: NodeJS.Timeout | undefined;
  private watchWaiters: Array<() => void> = [];
  port = 0;

  constructor(
    public id: string,
    private readonly host = '127.0.0.1',
  ) {}

  get watching(): number {
    return this.watchers.size;
  }

  async start(port = this.port): Promise<this> {
    const server = http.createServer((req, res) => this.answer(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen({ port, host: this.host }, () => done());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.heartbeat = setInterval(
      () => this.writeAll({ type: 'heartbeat', router: this.id, at: Date.now() }),
      SCALING_HEARTBEAT_MS,
    );
    return this;
  }

  set(fn: string, demand: Demand): void {
    this.functions[fn] = demand;
  }

  /** Writes an activate line for `fn` to every watcher; returns when it was written (performance.now()). */
  activate(fn: string): number {
    this.writeAll({ type: 'activate', router: this.id, function: fn, at: Date.now() });
    return performance.now();
  }

  /** Resolves once at least `n` watch streams are open. */
  async waitForWatchers(n = 1, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.watchers.size < n) {
      if (Date.now() > deadline) throw new Error(`router ${this.id}: ${this.watchers.size} watchers, wanted ${n}`);
      await new Promise<void>((wake) => {
        this.watchWaiters.push(wake);
        setTimeout(wake, 50);
      });
    }
  }

  /** A crash: stop listening and reset every connection. */
  async kill(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const socket of this.sockets) socket.destroy();
    this.watchers.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((done) => server.close(() => done()));
  }

  snapshot(): RouterDemandSnapshot {
    const functions: Record<string, FunctionDemand> = {};
    for (const [fn, d] of Object.entries(this.functions)) {
      functions[fn] = { inFlight: 0, waiting: 0, requestsTotal: 0, readyEndpoints: 0, ...d };
    }
    return { router: this.id, at: Date.now(), functions };
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.url === ScalingPaths.counts) {
      this.countsRequests++;
      const body = this.countsBody ?? JSON.stringify(this.snapshot());
      res.writeHead(this.countsStatus, { 'content-type': 'application/json' });
      res.end(body);
      return;
    }
    if (req.url === ScalingPaths.watch) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.flushHeaders();
      this.watchers.add(res);
      res.on('close', () => this.watchers.delete(res));
      for (const wake of this.watchWaiters.splice(0)) wake();
      return;
    }
    res.writeHead(404).end();
  }

  private writeAll(event: object): void {
    const line = JSON.stringify(event) + '\n';
    for (const res of this.watchers) res.write(line);
  }
}

// ------------------------------------------------------------------------------------------------
// KEDA's side: a client from the .proto (protobufjs)
// ------------------------------------------------------------------------------------------------

export function loadProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: Number, defaults: true });
}

export interface Ref {
  name: string;
  namespace: string;
  scalerMetadata: Record<string, string>;
}

type Callback<T> = (err: grpc.ServiceError | null, value: T) => void;

interface RawClient extends grpc.Client {
  IsActive(ref: Ref, cb: Callback<{ result: boolean }>): void;
  GetMetricSpec(ref: Ref, cb: Callback<{ metricSpecs: MetricSpec[] }>): void;
  GetMetrics(req: { scaledObjectRef: Ref; metricName: string }, cb: Callback<{ metricValues: MetricValue[] }>): void;
  StreamIsActive(ref: Ref): grpc.ClientReadableStream<{ result: boolean }>;
}

export interface MetricSpec {
  metricName: string;
  targetSize: number;
  targetSizeFloat: number;
}
export interface MetricValue {
  metricName: string;
  metricValue: number;
  metricValueFloat: number;
}

/** KEDA's view: promise-returning calls, and streams whose messages are recorded with their arrival time. */
export class ScalerClient {
  readonly raw: RawClient;

  constructor(address: string) {
    const pkg = grpc.loadPackageDefinition(loadProto()) as unknown as {
      externalscaler: { ExternalScaler: new (address: string, creds: grpc.ChannelCredentials) => RawClient };
    };
    this.raw = new pkg.externalscaler.ExternalScaler(address, grpc.credentials.createInsecure());
  }

  isActive(ref: Ref): Promise<boolean> {
    return new Promise((ok, fail) => this.raw.IsActive(ref, (err, res) => (err ? fail(err) : ok(res.result))));
  }

  metricSpec(ref: Ref): Promise<MetricSpec[]> {
    return new Promise((ok, fail) =>
      this.raw.GetMetricSpec(ref, (err, res) => (err ? fail(err) : ok(res.metricSpecs))),
    );
  }

  metrics(ref: Ref, metricName: string): Promise<MetricValue[]> {
    return new Promise((ok, fail) =>
      this.raw.GetMetrics({ scaledObjectRef: ref, metricName }, (err, res) => (err ? fail(err) : ok(res.metricValues))),
    );
  }

  stream(ref: Ref): ActivityStream {
    return new ActivityStream(this.raw.StreamIsActive(ref));
  }

  close(): void {
    this.raw.close();
  }
}

/** A StreamIsActive call: every message with its arrival time, and the final status. */
export class ActivityStream {
  readonly messages: Array<{ readonly result: boolean; readonly at: number }> = [];
  status: grpc.StatusObject | undefined;
  error: grpc.ServiceError | undefined;
  private wakers: Array<() => void> = [];

  constructor(readonly call: grpc.ClientReadableStream<{ result: boolean }>) {
    call.on('data', (m: { result: boolean }) => {
      this.messages.push({ result: m.result, at: performance.now() });
      this.wake();
    });
    call.on('status', (s: grpc.StatusObject) => {
      this.status = s;
      this.wake();
    });
    call.on('error', (err: grpc.ServiceError) => {
      this.error = err;
      this.wake();
    });
  }

  /** The first message at index ≥ `from` that matches, waiting for it at most `timeoutMs`. */
  async next(
    from: number,
    match: (result: boolean) => boolean,
    timeoutMs = 10_000,
  ): Promise<{ result: boolean; at: number }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find((m) => match(m.result));
      if (found) return found;
      if (this.status !== undefined) throw new Error(`stream ended (${this.status.code} ${this.status.details})`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms: ${JSON.stringify(this.messages)}`);
      await this.sleep(left);
    }
  }

  /** Resolves when the call has ended (status received). */
  async ended(timeoutMs = 10_000): Promise<grpc.StatusObject> {
    const deadline = performance.now() + timeoutMs;
    while (this.status === undefined) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error('stream did not end');
      await this.sleep(left);
    }
    return this.status;
  }

  cancel(): void {
    this.call.cancel();
  }

  private wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }

  /** Until the next message or status, or `ms` (the timer does not outlive the wait). */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((wake) => {
      const timer = setTimeout(wake, ms);
      this.wakers.push(() => {
        clearTimeout(timer);
        wake();
      });
    });
  }
}

/** Polls `check` until it returns without throwing (bounded), for conditions that follow a poll interval. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((wake) => setTimeout(wake, everyMs));
    }
  }
}

export function ref(fn: string, extra: Record<string, string> = {}): Ref {
  return {
    name: `so-${fn}`,
    namespace: 'faas',
    scalerMetadata: { scalerAddress: 'scaler:9090', function: fn, ...extra },
  };
}
