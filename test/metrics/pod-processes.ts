/** Starts the shipped runtime and router bundles as real processes on ephemeral ports. */
import { ChildProcess, spawn } from 'child_process';
import { join } from 'path';
import { Env } from '../../src/contract';

const ROOT = join(__dirname, '..', '..');

export interface PodProcess {
  readonly port: number;
  readonly url: string;
  /** Every JSON log line printed so far. */
  readonly logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export function startPod(bundle: 'runtime' | 'router', env: Record<string, string>): Promise<PodProcess> {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'lib', 'pod', `${bundle}.js`)], {
    env: { PATH: process.env.PATH ?? '', [Env.PORT]: '0', [Env.SHUTDOWN_GRACE_MS]: '1000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  return new Promise((resolve, reject) => {
    let buffered = '';
    const stop = (): Promise<void> =>
      new Promise((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'listening' && typeof entry.port === 'number') {
            resolve({ port: entry.port, url: `http://127.0.0.1:${entry.port}`, logs, stop });
          }
        } catch {
          // not a JSON line: keep going
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`${bundle} exited with ${code} before listening: ${stderr}`)));
  });
}
