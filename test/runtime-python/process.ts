import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Env, PythonEnv, PythonPaths } from '../../src/contract';
import { LoggedRuntimeProcess, stopRunning, type LogLine } from '../runtime/process';

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
export class PythonRuntimeProcess extends LoggedRuntimeProcess {
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
    return LoggedRuntimeProcess.untilListening(
      new PythonRuntimeProcess(child, dir),
      'python runtime',
      options.waitForListening !== false,
    );
  }

  /** The `request` log line of request id `id`. */
  requestLog(id: string): Promise<LogLine> {
    return this.waitForLog((l) => l.msg === 'request' && l.requestId === id);
  }
}

/** Call from afterAll/afterEach: stops every Python runtime a test started. */
export async function stopAllPython(): Promise<void> {
  await stopRunning((r) => r instanceof PythonRuntimeProcess);
}
