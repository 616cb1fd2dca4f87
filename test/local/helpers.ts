/** Shared helpers of the local runner's process-level tests. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LogEntry } from '../../src/local/log';

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
