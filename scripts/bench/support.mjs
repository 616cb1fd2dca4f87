// Pieces every benchmark needs (not a benchmark itself: it has no run()). One copy, so the
// benches measure the same way: free ports, child processes with logs, CPU time from /proc,
// medians and percentiles, and a nats-server for the queue benches.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The baseline every HTTP bench compares against: a bare node:http hello server. */
export const BARE_SERVER = `
require('node:http').createServer((req, res) => {
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end('hello');
}).listen(Number(process.env.PORT));
`;
/** The same work as a kubefaas handler. */
export const TRIVIAL_HANDLER = `module.exports = function handler() { return 'hello'; };`;

/** A numeric knob from the environment. */
export const num = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
/** `sorted` ascending; p in 0..100. */
export const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); undefined elsewhere. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** A node child process whose output goes to `<dir>/<name>.log` (not to the bench's terminal). */
export function spawnLogged(dir, name, args, env) {
  const fd = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return child;
}

/** nats-server with JetStream on free ports and a store under `dir`; resolves once JetStream is up. */
export async function startNats(dir) {
  const port = await freePort();
  const monitor = await freePort();
  const proc = spawn(
    'nats-server',
    ['-js', '-a', '127.0.0.1', '-p', String(port), '-m', String(monitor), '-sd', join(dir, 'store')],
    { stdio: 'ignore' },
  );
  proc.on('error', () => undefined);
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error('nats-server exited (is it installed? apt-get install -y nats-server)');
    try {
      const r = await fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`);
      if (r.ok) return { proc, url: `nats://127.0.0.1:${port}` };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill();
  throw new Error('nats-server did not start within 20 s');
}
