/**
 * The reaper: a tiny process `kubefaas dev` starts first, in a session of its own, that outlives the
 * runner just long enough to clean up after it. The runner tells it, one line per event on its
 * stdin, which process groups it started and which paths it created; when stdin reaches EOF without
 * a `done` line — the runner died, even by SIGKILL, which no handler in the runner can catch — the
 * reaper sends SIGTERM to every group still registered, SIGKILL after the grace period, removes the
 * paths and exits.
 *
 * It is a separate process rather than a parent-death check inside each child because a child can
 * be stuck where it cannot check anything (a handler in a busy loop never returns to its event
 * loop), and because foreign programs (nats-server, a ContainerFunction's local command) cannot be
 * taught to check. Dependency-free on purpose: it must start fast and never fail to load.
 *
 * Protocol (text lines on stdin): `group <pgid>`, `ungroup <pgid>`, `path <absolute path>`,
 * `unpath <absolute path>`, `grace <ms>`, `done` (the runner cleaned up itself; exit quietly).
 */
import * as fs from 'node:fs';

const groups = new Set<number>();
const paths = new Set<string>();
let graceMs = 5000;
let finished = false;

const POLL_MS = 50;

function alive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    // EPERM: the group exists but is not ours to signal (a reused id); treat it as gone.
    return false;
  }
}

function signalAll(signal: NodeJS.Signals): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      groups.delete(pgid);
    }
  }
}

function removePaths(): void {
  for (const p of paths) {
    try {
      fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // nothing more we can do; the next boot uses a fresh run directory anyway
    }
  }
}

/** The runner is gone: stop what it left, then remove its files. */
function reap(): void {
  if (finished) return;
  finished = true;
  signalAll('SIGTERM');
  const deadline = Date.now() + graceMs;
  const poll = (): void => {
    for (const pgid of groups) if (!alive(pgid)) groups.delete(pgid);
    if (groups.size > 0 && Date.now() < deadline) {
      setTimeout(poll, POLL_MS);
      return;
    }
    signalAll('SIGKILL');
    removePaths();
    process.exit(0);
  };
  poll();
}

function onLine(line: string): void {
  const space = line.indexOf(' ');
  const verb = space < 0 ? line : line.slice(0, space);
  const arg = space < 0 ? '' : line.slice(space + 1);
  switch (verb) {
    case 'group':
    case 'ungroup': {
      const pgid = Number(arg);
      if (!Number.isSafeInteger(pgid) || pgid <= 1) return; // never -1 (everything) or 0/1
      if (verb === 'group') groups.add(pgid);
      else groups.delete(pgid);
      return;
    }
    case 'path':
      if (arg.startsWith('/') && arg.length > 1) paths.add(arg);
      return;
    case 'unpath':
      paths.delete(arg);
      return;
    case 'grace':
      if (Number.isSafeInteger(Number(arg)) && Number(arg) >= 0) graceMs = Number(arg);
      return;
    case 'done':
      finished = true;
      process.exit(0);
  }
}

// Terminal signals are the runner's to handle; the reaper must survive them to do its job.
for (const signal of ['SIGINT', 'SIGHUP', 'SIGQUIT'] as const) process.on(signal, () => undefined);

let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  pending += chunk;
  for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
    onLine(pending.slice(0, nl));
    pending = pending.slice(nl + 1);
  }
});
process.stdin.on('end', reap);
process.stdin.on('error', reap);
