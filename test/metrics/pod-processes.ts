/** Starts the shipped runtime and router bundles as real processes on ephemeral ports. */
import { ChildProcess, spawn } from 'child_process';
import { join } from 'path';
import { ActivatorEnv, Env } from '../../src/contract';

const ROOT = join(__dirname, '..', '..');

export interface PodProcess {
  readonly port: number;
  readonly url: string;
  /** Where its /metrics is: the runtime's own port, the router's admin listener. */
  readonly metricsUrl: string;
  /** The router's admin listener (health, metrics, every function by name); the runtime's url. */
  readonly adminUrl: string;
  /** Every JSON log line printed so far. */
  readonly logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export function startPod(bundle: 'runtime' | 'router', env: Record<string, string>): Promise<PodProcess> {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'lib', 'pod', `${bundle}.js`)], {
    env: {
      PATH: process.env.PATH ?? '',
      [Env.PORT]: '0',
      [ActivatorEnv.ADMIN_PORT]: '0',
      [Env.SHUTDOWN_GRACE_MS]: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  return new Promise((resolve, reject) => {
    let buffered = '';
    let port: number | undefined;
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
          if (entry.msg === 'listening' && typeof entry.port === 'number') port = entry.port;
          // The router also opens its admin listener (after the public one); the runtime has none.
          const adminPort = bundle === 'router' ? (entry.msg === 'admin listening' ? entry.port : undefined) : port;
          if (port !== undefined && typeof adminPort === 'number') {
            const url = `http://127.0.0.1:${port}`;
            const adminUrl = `http://127.0.0.1:${adminPort}`;
            resolve({ port, url, adminUrl, metricsUrl: adminUrl, logs, stop });
          }
        } catch {
          // not a JSON line: keep going
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`${bundle} exited with ${code} before listening: ${stderr}`)));
  });
}
