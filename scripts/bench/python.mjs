// Python runtime benchmark: the kubefaas Python runtime (src/runtime-python, async and sync handler)
// against a bare stdlib asyncio server answering the same body ("hello", text/plain), and — when
// Flask and waitress are importable (Debian: python3-flask, python3-waitress) — the OpenFaaS
// `python3-http` style stack (a Flask app served by waitress). All are child processes on the same
// python3, loaded by the same generator (wrk when installed: see http-load.mjs) with the same
// connections and duration, in alternating order, at c=1 and c=32. Prints per-round ratios and
// their medians, the p50 the runtime adds over the bare server at c=1, and the runtime's idle RSS.
//
// Standalone: `node scripts/bench/python.mjs` (or `npm run bench -- python`).
// Knobs: BENCH_SECONDS (per measurement, default 5), BENCH_ROUNDS (default 3),
// BENCH_PYTHON (interpreter, default python3), BENCH_FLASK_PYTHON (interpreter with Flask and
// waitress, default /usr/bin/python3), BENCH_LOAD_GENERATOR=autocannon (skip wrk).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLoadGenerator } from './http-load.mjs';
import { cpuMs, freePort, median, root } from './support.mjs';

const RUNTIME_MAIN = join(root, 'src', 'runtime-python', 'kubefaas_main.py');

const BARE_SERVER = `
import asyncio, os
RESPONSE = b"HTTP/1.1 200 OK\\r\\ncontent-type: text/plain; charset=utf-8\\r\\ncontent-length: 5\\r\\n\\r\\nhello"
class Bare(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""
    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\\r\\n\\r\\n")
            if end < 0:
                return
            self.buf = self.buf[end + 4:]
            self.transport.write(RESPONSE)
async def main():
    server = await asyncio.get_running_loop().create_server(Bare, "127.0.0.1", int(os.environ["PORT"]))
    await server.serve_forever()
asyncio.run(main())
`;

const HANDLER = `
def main(event, context):
    return "hello"

async def amain(event, context):
    return "hello"
`;

// What the OpenFaaS python3-http template runs: a Flask app behind waitress (its index.py, trimmed).
const FLASK_SERVER = `
import os
from flask import Flask
from waitress import serve
app = Flask(__name__)
@app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/<path:path>", methods=["GET", "POST"])
def call_handler(path):
    return "hello", 200, {"content-type": "text/plain; charset=utf-8"}
serve(app, host="127.0.0.1", port=int(os.environ["PORT"]), threads=8, _quiet=True)
`;

function getStatus(port) {
  return new Promise((done) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      done(res.statusCode);
    });
    req.on('error', () => done(0));
  });
}

function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function pythonHas(python, modules) {
  const probe = spawnSync(python, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

async function startServer(kind, dir, pythons) {
  const port = await freePort();
  const logFd = openSync(join(dir, `${kind}.log`), 'a');
  const env = { ...process.env, PORT: String(port), PYTHONDONTWRITEBYTECODE: '1' };
  let python = pythons.runtime;
  let args;
  if (kind === 'bare') args = [join(dir, 'bare.py')];
  else if (kind === 'flask') {
    python = pythons.flask;
    args = [join(dir, 'flask_server.py')];
  } else {
    args = [RUNTIME_MAIN];
    Object.assign(env, {
      KUBEFAAS_FUNCTION_NAME: 'bench',
      KUBEFAAS_HANDLER: kind === 'runtime-sync' ? 'handler.main' : 'handler.amain',
      KUBEFAAS_CODE_DIR: dir,
    });
  }
  // waitress warns about its task queue on stderr under load: that goes to the log too.
  const child = spawn(python, args, { env, stdio: ['ignore', logFd, kind === 'flask' ? logFd : 'inherit'], cwd: dir });
  closeSync(logFd);
  let exited = false;
  child.once('exit', () => (exited = true));
  while ((await getStatus(port)) !== 200) {
    if (exited) throw new Error(`${kind} server exited before answering`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const stop = () =>
    new Promise((r) => {
      if (exited) return r();
      child.once('exit', r);
      child.kill('SIGKILL');
    });
  return { port, stop, pid: child.pid };
}

async function measure(dir, generator, kinds, { seconds, rounds, connections }, pythons) {
  const samples = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) {
      const server = await startServer(kind, dir, pythons);
      try {
        await generator.run(`http://127.0.0.1:${server.port}/`, { seconds: 1, connections });
        const before = cpuMs(server.pid);
        const sample = await generator.run(`http://127.0.0.1:${server.port}/`, { seconds, connections });
        const after = cpuMs(server.pid);
        sample.cpuUsPerRequest =
          before === undefined || after === undefined ? undefined : ((after - before) * 1000) / sample.requests;
        samples[kind].push(sample);
      } finally {
        await server.stop();
      }
    }
  }
  return samples;
}

export async function run(options = {}) {
  const settings = {
    seconds: Number(options.seconds ?? process.env.BENCH_SECONDS ?? 5),
    rounds: Number(options.rounds ?? process.env.BENCH_ROUNDS ?? 3),
  };
  const pythons = {
    runtime: process.env.BENCH_PYTHON || 'python3',
    flask: process.env.BENCH_FLASK_PYTHON || '/usr/bin/python3',
  };
  if (!pythonHas(pythons.runtime, ['asyncio']))
    throw new Error(`${pythons.runtime} cannot be run: install the Debian package python3 (or set BENCH_PYTHON)`);
  const withFlask = pythonHas(pythons.flask, ['flask', 'waitress']);
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-python-'));
  const generator = createLoadGenerator();
  const f = (n, d = 2) => (n === undefined ? 'n/a' : n.toFixed(d));
  try {
    writeFileSync(join(dir, 'bare.py'), BARE_SERVER);
    writeFileSync(join(dir, 'handler.py'), HANDLER);
    writeFileSync(join(dir, 'flask_server.py'), FLASK_SERVER);
    const version = spawnSync(pythons.runtime, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const kinds = ['bare', 'runtime-async', 'runtime-sync', ...(withFlask ? ['flask'] : [])];
    console.log(
      `python runtime throughput (${version}; ${generator.describe}; ${settings.seconds} s x ${settings.rounds} rounds, alternating; medians):`,
    );
    if (!withFlask)
      console.log(
        `  (Flask + waitress not importable by ${pythons.flask}: apt-get install python3-flask python3-waitress for that comparison)`,
      );
    const results = {};
    for (const connections of [1, 32]) {
      const samples = await measure(dir, generator, kinds, { ...settings, connections }, pythons);
      const summary = {};
      for (const kind of kinds) {
        const list = samples[kind];
        summary[kind] = {
          rps: median(list.map((s) => s.rps)),
          p50: median(list.map((s) => s.p50)),
          p99: median(list.map((s) => s.p99)),
          cpuUsPerRequest: list.every((s) => s.cpuUsPerRequest !== undefined)
            ? median(list.map((s) => s.cpuUsPerRequest))
            : undefined,
        };
      }
      console.log(`  c=${connections}:`);
      for (const kind of kinds) {
        const s = summary[kind];
        console.log(
          `    ${kind.padEnd(14)} ${f(s.rps, 0).padStart(7)} req/s  p50 ${f(s.p50, 3)} ms  p99 ${f(s.p99, 3)} ms  cpu ${f(s.cpuUsPerRequest, 1)} us/req`,
        );
      }
      const ratios = (a, b) => samples[a].map((s, i) => s.rps / samples[b][i].rps);
      for (const kind of ['runtime-async', 'runtime-sync']) {
        const vsBare = ratios(kind, 'bare');
        console.log(
          `    ${kind}/bare req/s: rounds ${vsBare.map((r) => f(r)).join(', ')}, median ${f(median(vsBare))} (target >= 0.70)`,
        );
        if (withFlask) {
          const vsFlask = ratios(kind, 'flask');
          console.log(
            `    ${kind}/flask+waitress req/s: rounds ${vsFlask.map((r) => f(r)).join(', ')}, median ${f(median(vsFlask))} (target >= 1.50)`,
          );
        }
      }
      if (connections === 1) {
        console.log(
          `    p50 added over bare: async ${f(summary['runtime-async'].p50 - summary.bare.p50, 3)} ms, sync ${f(summary['runtime-sync'].p50 - summary.bare.p50, 3)} ms (target <= 0.3)`,
        );
      }
      results[connections] = { summary, samples };
    }
    const idle = await startServer('runtime-async', dir, pythons);
    await new Promise((r) => setTimeout(r, 500));
    const rss = rssKiB(idle.pid);
    await idle.stop();
    console.log(
      `  runtime RSS at idle (after one request): ${rss === undefined ? 'n/a' : `${f(rss / 1024, 1)} MiB`} (target <= 30)`,
    );
    return { settings, results, idleRssKiB: rss };
  } finally {
    generator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await run();
}
