// Platform benchmark (issue 19): the data path as the platform really runs it. A default platform with
// one `() => 'hello'` function is synthesized and started by the local runner's own code
// (LocalPlatform.start: the router and the runtime get exactly the env, code and log files the
// manifests give them, beside every other process the runner starts). A bare node:http server runs in
// the same run as the baseline. wrk loads, in alternating order per round:
//   bare  →  runtime (the function's own port)  →  router → runtime (the route)
// at c=32 and at c=1, and the script reads each process's CPU time from /proc. Then cold start: the
// runtime process's exact command line and environment (read from /proc/<pid> of the process the
// runner started) are spawned again on other ports and timed spawn → first 200, alternating with a
// bare node process doing the same.
//
// Standalone: `npm run build && node scripts/bench/platform.mjs` (or `npm run bench -- platform`).
// Knobs: BENCH_SECONDS (per measurement, default 5), BENCH_ROUNDS (default 3), BENCH_COLD_STARTS
// (default 10), BENCH_PLATFORM_CONNECTIONS (comma list, default "32,1").
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLoadGenerator } from './http-load.mjs';
import { throughput } from './router.mjs';
import { BARE_SERVER, TRIVIAL_HANDLER, freePort, median, num, root, spawnLogged } from './support.mjs';

const APP = (libDir, handler) => `
const { App } = require(require.resolve('cdk8s', { paths: [${JSON.stringify(libDir)}] }));
const { Code, HttpTrigger, NodeFunction, Platform } = require(${JSON.stringify(join(libDir, 'constructs'))});
const app = new App();
const platform = new Platform(app, 'bench', {});
new NodeFunction(platform, 'hello', {
  code: Code.fromAsset(${JSON.stringify(handler)}),
  triggers: [new HttpTrigger({ path: '/hello', methods: ['GET'] })],
});
app.synth();
`;

function status(port, path = '/') {
  return new Promise((done) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      done(res.statusCode);
    });
    req.on('error', () => done(0));
  });
}

async function until200(port, path, child) {
  const deadline = Date.now() + 30_000;
  while ((await status(port, path)) !== 200) {
    if (child && child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before answering`);
    if (Date.now() > deadline) throw new Error(`no 200 from :${port}${path} within 30 s`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** The command line and environment of a running process, as the local runner started it. */
function processSpec(pid) {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const env = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { argv, env, cwd: readlinkSync(`/proc/${pid}/cwd`) };
}

/** Spawn → first 200 of one process, in ms; the process is killed afterwards. */
async function coldStart({ argv, env, cwd }, path) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...env, PORT: String(port) }, stdio: 'ignore' });
  try {
    await until200(port, path, child);
    return performance.now() - started;
  } finally {
    child.kill('SIGKILL');
  }
}

const fmt = (n, digits = 2) => (n === undefined ? 'n/a' : n.toFixed(digits));
const range = (values) => `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;

export async function run() {
  const seconds = num('BENCH_SECONDS', 5);
  const rounds = num('BENCH_ROUNDS', 3);
  const coldStarts = num('BENCH_COLD_STARTS', 10);
  const connectionsList = (process.env.BENCH_PLATFORM_CONNECTIONS ?? '32,1').split(',').map(Number);
  const libDir = join(root, 'lib');
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-platform-'));
  writeFileSync(join(dir, 'handler.js'), TRIVIAL_HANDLER);
  writeFileSync(join(dir, 'app.js'), APP(libDir, join(dir, 'handler.js')));
  writeFileSync(join(dir, 'bare.js'), BARE_SERVER);
  const { LocalPlatform } = await import(pathToFileURL(join(libDir, 'src', 'local', 'index.js')).href);

  const generator = createLoadGenerator();
  const runnerLog = [];
  const platform = await LocalPlatform.start({
    app: join(dir, 'app.js'),
    cwd: dir,
    port: 0,
    log: (entry) => runnerLog.length < 200 && runnerLog.push(entry),
  });
  const barePort = await freePort();
  const bare = spawnLogged(dir, 'bare', [join(dir, 'bare.js')], { PORT: String(barePort) });
  try {
    await until200(barePort, '/', bare);
    const fn = platform.functions.get('hello');
    const runtimePid = fn.pid;
    const routerPid = platform.routerPid;
    const routerPort = Number(new URL(platform.url).port);
    await until200(routerPort, '/hello');
    console.log(`load generator: ${generator.describe ?? generator.name}`);
    console.log(
      `platform from ${join(dir, 'app.js')}: router pid ${routerPid} :${routerPort}, runtime pid ${runtimePid} :${fn.port}; ${rounds} rounds × ${seconds} s`,
    );

    for (const connections of connectionsList) {
      const rows = { runtime: [], router: [], runtimeCpu: [], routerCpu: [], p50Added: [], p99Added: [] };
      for (let round = 0; round < rounds; round++) {
        // Warm-up, then bare → runtime → router (the order is the same each round: each server
        // gets a warm JIT before it is measured, and the neighbours run throughout).
        await generator.run(`http://127.0.0.1:${barePort}/`, { seconds: 1, connections });
        await generator.run(`http://127.0.0.1:${fn.port}/`, { seconds: 1, connections });
        await generator.run(`${platform.url}/hello`, { seconds: 1, connections });
        const b = await throughput(generator, barePort, '/', seconds, connections, [bare.pid]);
        const r = await throughput(generator, fn.port, '/', seconds, connections, [runtimePid]);
        const p = await throughput(generator, routerPort, '/hello', seconds, connections, [routerPid, runtimePid]);
        rows.runtime.push(r.rps / b.rps);
        rows.router.push(p.rps / b.rps);
        if (b.cpu && r.cpu && p.cpu) {
          rows.runtimeCpu.push(r.cpu[0] / b.cpu[0]);
          rows.routerCpu.push(p.cpu[0] / b.cpu[0]);
        }
        rows.p50Added.push(p.p50 - r.p50);
        rows.p99Added.push(p.p99 - r.p99);
        console.log(
          `c=${connections} round ${round + 1}: bare ${Math.round(b.rps)} req/s (${fmt(b.cpu?.[0], 1)} µs CPU/req), ` +
            `runtime ${Math.round(r.rps)} (${fmt(r.cpu?.[0], 1)} µs), router→runtime ${Math.round(p.rps)} ` +
            `(router ${fmt(p.cpu?.[0], 1)} µs + runtime ${fmt(p.cpu?.[1], 1)} µs); p50 ${fmt(b.p50, 3)} / ${fmt(r.p50, 3)} / ${fmt(p.p50, 3)} ms, ` +
            `p99 ${fmt(b.p99, 3)} / ${fmt(r.p99, 3)} / ${fmt(p.p99, 3)} ms`,
        );
      }
      console.log(
        `c=${connections} summary (median, range over ${rounds} rounds):\n` +
          `  runtime req/s ÷ bare        ${fmt(median(rows.runtime))} (${range(rows.runtime)})   target ≥ 0.90\n` +
          `  runtime CPU/req ÷ bare      ${fmt(median(rows.runtimeCpu))} (${range(rows.runtimeCpu)})   target ≤ 1.20\n` +
          `  router→runtime req/s ÷ bare ${fmt(median(rows.router))} (${range(rows.router)})   target ≥ 0.45 at c=32\n` +
          `  router CPU/req ÷ bare       ${fmt(median(rows.routerCpu))} (${range(rows.routerCpu)})   target ≤ 1.50\n` +
          `  router p50 added            ${fmt(median(rows.p50Added), 3)} ms (${range(rows.p50Added)})   target ≤ 0.15 at c=1\n` +
          `  router p99 added            ${fmt(median(rows.p99Added), 3)} ms (${range(rows.p99Added)})   target ≤ 1 at c=32`,
      );
    }

    // Cold start: the runtime exactly as the runner started it, against a bare node process.
    const spec = processSpec(runtimePid);
    const bareSpec = { argv: [process.execPath, join(dir, 'bare.js')], env: process.env, cwd: dir };
    const runtimeTimes = [];
    const bareTimes = [];
    for (let i = 0; i < coldStarts; i++) {
      bareTimes.push(await coldStart(bareSpec, '/'));
      runtimeTimes.push(await coldStart(spec, '/'));
    }
    const ratios = runtimeTimes.map((t, i) => t / bareTimes[i]);
    console.log(
      `cold start (${coldStarts} pairs, spawn → first 200): bare median ${fmt(median(bareTimes), 0)} ms, ` +
        `runtime median ${fmt(median(runtimeTimes), 0)} ms; ratio per pair min ${fmt(Math.min(...ratios))} ` +
        `median ${fmt(median(ratios))} max ${fmt(Math.max(...ratios))}   target ≤ 1.30 in every run`,
    );
  } finally {
    bare.kill('SIGKILL');
    await platform.stop();
    generator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
