/**
 * Wheels for the dependency tests, built here (no package index is reachable) by scripts/build_wheel.py
 * (standard library only). Also a tiny "index": an HTTP server listing a wheel directory, which pip reads as a
 * `--find-links` page, the way a private index or a wheel mirror is reached from a pod.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The wheel builder the example's vendored wheel is made with (standard library only). */
export const BUILD_WHEEL = resolve(__dirname, '..', '..', 'scripts', 'build_wheel.py');

/** Writes `<name>-<version>-py3-none-any.whl` with `files` (path in the wheel → content) into `dir`; returns its path. */
export function buildWheel(
  python: string,
  dir: string,
  name: string,
  version: string,
  files: Readonly<Record<string, string | Buffer>>,
): string {
  const src = mkdtempSync(join(tmpdir(), 'kubefaas-wheel-src-'));
  try {
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(dirname(join(src, file)), { recursive: true });
      writeFileSync(join(src, file), content);
    }
    const run = spawnSync(python, ['-I', BUILD_WHEEL, name, version, dir, src], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`building the ${name} wheel failed: ${run.stderr || run.error?.message}`);
    return run.stdout.trim();
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

/** sha256 of a file, hex (what `--hash=sha256:` pins). */
export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Serves `dir` over HTTP on 127.0.0.1: `/` lists its wheels as links, `/<file>` is the file. Counts requests. */
export class WheelServer {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly counter: { requests: number },
  ) {}

  static async start(dir: string): Promise<WheelServer> {
    const counter = { requests: 0 };
    const server = createServer((req, res) => {
      counter.requests++;
      const name = decodeURIComponent((req.url ?? '/').split('?')[0].replace(/^\/+/, ''));
      const wheels = readdirSync(dir).filter((f) => f.endsWith('.whl'));
      if (name === '') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<html><body>${wheels.map((w) => `<a href="${w}">${w}</a><br>`).join('\n')}</body></html>`);
      } else if (wheels.includes(name)) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(readFileSync(join(dir, name)));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new WheelServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, counter);
  }

  /** Requests served so far. */
  get requests(): number {
    return this.counter.requests;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
