/** Shared helpers of the local runner's process-level tests. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LogEntry } from '../../src/local/log';
import type { LocalPlatform, ReloadResult } from '../../src/local';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `kubefaas-test-${prefix}-`));
}

/** A log sink that records entries and lets a test wait for a line. */
export class LogCapture {
  readonly entries: LogEntry[] = [];
  private waiters: { test: (e: LogEntry) => boolean; resolve: (e: LogEntry) => void }[] = [];

  readonly sink = (entry: LogEntry): void => {
    this.entries.push(entry);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test(entry)) return true;
      w.resolve(entry);
      return false;
    });
  };

  text(source?: string): string {
    return this.entries
      .filter((e) => source === undefined || e.source === source)
      .map((e) => e.text)
      .join('\n');
  }

  /** Resolves with the first entry (past or future) matching; jest's test timeout bounds the wait. */
  waitFor(test: (e: LogEntry) => boolean): Promise<LogEntry> {
    const seen = this.entries.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of the direct children of `pid`. */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

/** Repeats `fn` until it returns a value other than undefined (the test's timeout bounds it). */
export async function eventually<T>(fn: () => Promise<T | undefined>, pauseMs = 100): Promise<T> {
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

export async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text() };
}

/** Decodes a /proc/net/tcp{,6} address (`0100007F:1F90`) to `127.0.0.1:8080` / `[::1]:8080`. */
function procAddress(hex: string): string {
  const [ip, port] = hex.split(':');
  const portNumber = parseInt(port, 16);
  if (ip.length === 8) {
    const bytes = Buffer.from(ip, 'hex').reverse(); // host byte order (little endian) on x86/arm
    return `${[...bytes].join('.')}:${portNumber}`;
  }
  // Four 32-bit words, each in host byte order.
  const words = ip.match(/.{8}/g)!.map((w) => Buffer.from(w, 'hex').reverse());
  const bytes = Buffer.concat(words);
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `[::ffff:${[...bytes.subarray(12)].join('.')}]:${portNumber}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  const text = groups
    .join(':')
    .replace(/(^|:)0(:0)+(:|$)/, '::')
    .replace(/:{3,}/, '::');
  return `[${text}]:${portNumber}`;
}

/**
 * The TCP addresses `pid` listens on, from /proc (Linux): its socket inodes matched against the
 * LISTEN rows of /proc/net/tcp and tcp6. Undefined where /proc is not available.
 */
export function listeningAddresses(pid: number): string[] | undefined {
  if (!fs.existsSync('/proc/net/tcp')) return undefined;
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const out: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue;
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (cols.length < 10 || cols[3] !== '0A' || !inodes.has(cols[9])) continue;
      out.push(procAddress(cols[1]));
    }
  }
  return out.sort();
}

/** The nats-server StatefulSet and Service of a fixture platform (what Queue.nats() synthesizes, reduced). */
export function natsFixtureObjects(namespace = 'kubefaas'): import('../../src/local/manifests').KubeObject[] {
  const labels = { 'app.kubernetes.io/name': 'kubefaas-nats' };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'kubefaas-nats', namespace },
      spec: {
        serviceName: 'kubefaas-nats',
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              { name: 'nats', image: 'nats:2.10.29-alpine', ports: [{ name: 'client', containerPort: 4222 }] },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubefaas-nats', namespace },
      spec: { selector: labels, ports: [{ name: 'client', port: 4222, targetPort: 'client' }] },
    },
  ];
}

/** Resolves on the first reload of `platform` (from now on) matching `test`; editors may cause extra reloads first. */
export function reloadWhere(platform: LocalPlatform, test: (r: ReloadResult) => boolean): Promise<ReloadResult> {
  return new Promise((resolve) => {
    const onReload = (r: ReloadResult): void => {
      if (!test(r)) return;
      platform.off('reload', onReload);
      resolve(r);
    };
    platform.on('reload', onReload);
  });
}
