/**
 * Wheels for the dependency tests, built here (no package index is reachable): a pure-Python wheel is
 * a zip with the package's files, `<dist-info>/METADATA`, `WHEEL` and `RECORD`, which Python's own
 * zipfile writes. Also a tiny "index": an HTTP server listing a wheel directory, which pip reads as a
 * `--find-links` page, the way a private index or a wheel mirror is reached from a pod.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const BUILD = String.raw`
import base64, hashlib, json, sys, zipfile
spec = json.load(sys.stdin)
name, version = spec["name"], spec["version"]
dist = f"{name}-{version}.dist-info"
files = {path: base64.b64decode(data) for path, data in spec["files"].items()}
files[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: kubefaas-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
def record(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"
lines = [record(p, d) for p, d in files.items()] + [f"{dist}/RECORD,,"]
out = f"{spec['dir']}/{name}-{version}-py3-none-any.whl"
# ZIP_STORED: the wheel is as large as its files (a test that needs a big wheel gets one).
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
    for p, d in files.items():
        zf.writestr(p, d)
    zf.writestr(f"{dist}/RECORD", "\n".join(lines) + "\n")
print(out)
`;

/** Writes `<name>-<version>-py3-none-any.whl` with `files` (path in the wheel → content) into `dir`; returns its path. */
export function buildWheel(
  python: string,
  dir: string,
  name: string,
  version: string,
  files: Readonly<Record<string, string | Buffer>>,
): string {
  mkdirSync(dir, { recursive: true });
  const spec = {
    name,
    version,
    dir,
    files: Object.fromEntries(Object.entries(files).map(([p, c]) => [p, Buffer.from(c).toString('base64')])),
  };
  const run = spawnSync(python, ['-I', '-c', BUILD], { input: JSON.stringify(spec), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`building the ${name} wheel failed: ${run.stderr || run.error?.message}`);
  return run.stdout.trim();
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
