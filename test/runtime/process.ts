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

/** A runtime process started from lib/pod/runtime.js with a handler written to a temp dir. */
export class RuntimeProcess {
  readonly logs: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  port = 0;
  private stdoutRest = '';
  private readonly waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  private constructor(
    readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
  }

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
    const runtime = new RuntimeProcess(child, dir);
    running.add(runtime);
    if (options.waitForListening === false) return Promise.resolve(runtime);
    return Promise.race([
      runtime
        .waitForLog((l) => l.msg === 'listening')
        .then((line) => {
          runtime.port = line.port as number;
          return runtime;
        }),
      runtime.exited.then(({ code }) => {
        throw new Error(`runtime exited with ${code} before listening: ${runtime.stderr}`);
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

const running = new Set<RuntimeProcess>();
/** Call from afterAll/afterEach so no child outlives its test file. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop()));
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
