import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Env, PythonEnv, PythonPaths } from '../../src/contract';
import { request, type LogLine, type RequestOptions, type TestResponse } from '../runtime/process';

/** The runtime the tests exercise: the files that ship in the kubefaas-python-runtime ConfigMap. */
export const PYTHON_RUNTIME_MAIN = resolve(__dirname, '..', '..', 'src', 'runtime-python', PythonPaths.runtimeMain);

/** The interpreter the tests run (`KUBEFAAS_TEST_PYTHON` to try another one, e.g. python3.13). */
export function testPython(): string {
  const python = process.env.KUBEFAAS_TEST_PYTHON || 'python3';
  const probe = spawnSync(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `the Python runtime tests need ${python} (>= 3.11) on the PATH: install the Debian package \`python3\` ` +
        `(apt-get install python3), or point KUBEFAAS_TEST_PYTHON at an interpreter (${probe.error?.message ?? probe.stderr})`,
    );
  }
  return python;
}

/** A Python runtime process running `handler.py` (written to a temp dir) on an ephemeral port. */
export class PythonRuntimeProcess {
  readonly logs: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  port = 0;
  private stdoutRest = '';
  private readonly waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  }

  /** Writes `files` (at least handler.py) and starts the runtime with KUBEFAAS_HANDLER=`handler`. */
  static start(
    files: Record<string, string> | string,
    env: Record<string, string> = {},
    options: { handler?: string; waitForListening?: boolean; command?: readonly string[] } = {},
  ): Promise<PythonRuntimeProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'kubefaas-pyruntime-test-'));
    chmodSync(dir, 0o755); // readable by another uid (the read-only test), writable by none but its owner
    const all = typeof files === 'string' ? { 'handler.py': files } : files;
    for (const [name, content] of Object.entries(all)) writeFileSync(join(dir, name), content);
    // `command`: what runs the runtime file (e.g. a setpriv wrapper around an interpreter).
    const [file, ...args] = options.command ?? [testPython()];
    const child = spawn(file, [...args, PYTHON_RUNTIME_MAIN], {
      cwd: options.command ? '/' : dir,
      env: {
        PATH: process.env.PATH ?? '',
        PYTHONDONTWRITEBYTECODE: '1',
        [Env.PORT]: '0',
        [Env.FUNCTION_NAME]: 'test-fn',
        [Env.HANDLER_PATH]: options.handler ?? 'handler.main',
        [PythonEnv.CODE_DIR]: dir,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const runtime = new PythonRuntimeProcess(child, dir);
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
        throw new Error(`python runtime exited with ${code} before listening: ${runtime.stderr}`);
      }),
    ]);
  }

  waitForLog(match: (line: LogLine) => boolean): Promise<LogLine> {
    const seen = this.logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((done) => this.waiters.push({ match, resolve: done }));
  }

  /** The `request` log line of request id `id`. */
  requestLog(id: string): Promise<LogLine> {
    return this.waitForLog((l) => l.msg === 'request' && l.requestId === id);
  }

  request(path: string, options: RequestOptions = {}): Promise<TestResponse> {
    return request(this.port, path, options);
  }

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

const running = new Set<PythonRuntimeProcess>();
export async function stopAllPython(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop()));
}
