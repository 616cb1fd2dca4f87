import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Env } from '../../src/contract';
import { podNode } from '../support/pod-node';

/** The bundle the tests exercise: the bytes that ship (rebuilt by jest's globalSetup). */
export const RUNTIME_BUNDLE = resolve(__dirname, '..', '..', 'lib', 'pod', 'runtime.js');

export type LogLine = Record<string, unknown> & { level: string; msg: string };

/**
 * A runtime process (Node or Python) that logs one JSON line per stdout line: its log lines, its
 * exit, and the port it reported in its `listening` line. Subclasses say how to start one.
 */
export class LoggedRuntimeProcess {
  readonly logs: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  port = 0;
  private stdoutRest = '';
  private readonly waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  protected constructor(
    readonly child: ChildProcess,
    readonly dir: string,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
    running.add(this);
  }

  /** Resolves with `runtime` once it logged `listening` (its port recorded), or fails if it exits first. */
  protected static untilListening<T extends LoggedRuntimeProcess>(runtime: T, what: string, wait = true): Promise<T> {
    if (!wait) return Promise.resolve(runtime);
    return Promise.race([
      runtime
        .waitForLog((l) => l.msg === 'listening')
        .then((line) => {
          runtime.port = line.port as number;
          return runtime;
        }),
      runtime.exited.then(({ code }) => {
        throw new Error(`${what} exited with ${code} before listening: ${runtime.stderr}`);
      }),
    ]);
  }

  /** Resolves with the first log line (already seen or future) that matches. */
  waitForLog(match: (line: LogLine) => boolean): Promise<LogLine> {
    const seen = this.logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolveLine) => this.waiters.push({ match, resolve: resolveLine }));
  }

  request(path: string, options: RequestOptions = {}): Promise<TestResponse> {
    return request(this.port, path, options);
  }

  /** Kills the process (if still running) and removes its temp dir. */
  async stop(): Promise<void> {
    running.delete(this);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }

  private onStdout(chunk: string): void {
    const lines = (this.stdoutRest + chunk).split('\n');
    this.stdoutRest = lines.pop() ?? '';
    for (const text of lines) {
      if (!text) continue;
      const line = JSON.parse(text) as LogLine; // every stdout line must be one JSON document
      this.logs.push(line);
      for (const waiter of [...this.waiters]) {
        if (waiter.match(line)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  }
}

/** A runtime process started from lib/pod/runtime.js with a handler written to a temp dir. */
export class RuntimeProcess extends LoggedRuntimeProcess {
  /** Writes `handlerSource` as index.js and starts the runtime on an ephemeral port. */
  static start(
    handlerSource: string,
    env: Record<string, string> = {},
    options: { waitForListening?: boolean } = {},
  ): Promise<RuntimeProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'kubefaas-runtime-test-'));
    const handlerPath = join(dir, 'index.js');
    writeFileSync(handlerPath, handlerSource);
    const child = spawn(podNode(), [RUNTIME_BUNDLE], {
      env: {
        PATH: process.env.PATH ?? '',
        [Env.PORT]: '0',
        [Env.FUNCTION_NAME]: 'test-fn',
        [Env.HANDLER_PATH]: handlerPath,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return LoggedRuntimeProcess.untilListening(
      new RuntimeProcess(child, dir),
      'runtime',
      options.waitForListening !== false,
    );
  }
}

const running = new Set<LoggedRuntimeProcess>();
/** Stops the running processes that `which` selects (all by default). */
export async function stopRunning(which: (r: LoggedRuntimeProcess) => boolean = () => true): Promise<void> {
  await Promise.all([...running].filter(which).map((r) => r.stop()));
}

/** Call from afterAll/afterEach so no Node runtime outlives its test file. */
export async function stopAll(): Promise<void> {
  await stopRunning((r) => r instanceof RuntimeProcess);
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

export interface TestResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
  json(): any;
}

/** One request on a fresh connection (agent: false), so tests never share keep-alive sockets. */
export function request(port: number, path: string, options: RequestOptions = {}): Promise<TestResponse> {
  return new Promise((resolveResponse, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolveResponse({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text,
            json: () => JSON.parse(text),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
