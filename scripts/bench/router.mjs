// Router benchmark: a trivial function served by the real runtime bundle (lib/pod/runtime.js with a
// handler returning "hello"; a bare node:http server if the runtime bundle is missing), loaded
// directly and through the router (lib/pod/router.js) with the same connections and duration, in
// alternating order. Then latency at a moderate fixed rate, measured per request with hrtime
// (autocannon's latency histogram has 1 ms resolution, too coarse for a sub-millisecond hop).
// Prints ratios and differences measured in this run; absolute numbers swing on a shared machine.
//
// Standalone: `npm run build && node scripts/bench/router.mjs` (or via `npm run bench -- router`).
// Knobs: BENCH_SECONDS (per throughput measurement, default 4), BENCH_CONNECTIONS (default 32),
// BENCH_ROUNDS (default 3), BENCH_RATE (latency run, req/s, default 500), BENCH_LATENCY_SECONDS
// (default 2), BENCH_ACCESS_LOG_SAMPLE (router access-log sampling, default 1 = log every request),
// BENCH_CPU_REQUESTS (requests for the CPU-per-request measurement, default 20000).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, get } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runtimeBundle = join(root, 'lib', 'pod', 'runtime.js');
const routerBundle = join(root, 'lib', 'pod', 'router.js');

const BARE_SERVER = `
require('node:http').createServer((req, res) => {
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end('hello');
}).listen(Number(process.env.PORT));
`;
const TRIVIAL_HANDLER = `module.exports = function handler() { return 'hello'; };`;

const num = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);

function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

function getStatus(port, path) {
  return new Promise((resolveStatus) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      resolveStatus(res.statusCode);
    });
    req.on('error', () => resolveStatus(0));
  });
}

async function waitFor200(port, path) {
  for (let i = 0; i < 300; i++) {
    if ((await getStatus(port, path)) === 200) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing answered 200 on port ${port}${path}`);
}

/** Spawns a child with stdout/stderr going to a log file (as container logs do). */
function spawnLogged(dir, name, args, env) {
  const fd = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return child;
}

async function startUpstream(dir) {
  const port = await freePort();
  const useRuntime = existsSync(runtimeBundle);
  const child = useRuntime
    ? spawnLogged(dir, 'runtime', [runtimeBundle], {
        PORT: String(port),
        KUBEFAAS_FUNCTION_NAME: 'hello',
        KUBEFAAS_HANDLER: join(dir, 'handler.js'),
      })
    : spawnLogged(dir, 'bare', [join(dir, 'bare.js')], { PORT: String(port) });
  await waitFor200(port, '/');
  return { port, child, kind: useRuntime ? 'runtime bundle (lib/pod/runtime.js, trivial handler)' : 'bare node:http server (runtime bundle missing)' };
}

async function startRouter(dir, upstreamPort, accessLogSample) {
  const port = await freePort();
  const routesDir = join(dir, 'routes');
  mkdirSync(routesDir, { recursive: true });
  const routesFile = join(routesDir, 'routes.json');
  writeFileSync(
    routesFile,
    JSON.stringify({
      version: 1,
      functions: { hello: { url: `http://127.0.0.1:${upstreamPort}`, timeoutMs: 10_000 } },
      routes: [{ function: 'hello', methods: ['GET', 'POST'], path: '/hello' }],
    }),
  );
  const child = spawnLogged(dir, 'router', [routerBundle], {
    PORT: String(port),
    KUBEFAAS_ROUTES: routesFile,
    KUBEFAAS_ACCESS_LOG_SAMPLE: String(accessLogSample),
  });
  await waitFor200(port, '/hello');
  return { port, child };
}

async function throughput(port, path, seconds, connections) {
  const result = await autocannon({ url: `http://127.0.0.1:${port}${path}`, connections, duration: seconds });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${path}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  }
  return result.requests.average;
}

/**
 * Sends `rate` requests per second for `seconds` over a keep-alive agent (open loop: a slow answer
 * does not delay the next send) and returns per-request latencies in milliseconds.
 */
async function latencies(port, path, rate, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const total = Math.round(rate * seconds);
  const samples = [];
  const pending = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      new Promise((done, fail) => {
        const t0 = process.hrtime.bigint();
        get({ host: '127.0.0.1', port, path, agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) fail(new Error(`${path}: status ${res.statusCode}`));
            samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
            done();
          });
        }).on('error', fail);
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return samples.sort((a, b) => a - b);
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); undefined elsewhere. */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * CPU cost per request of each process on a path, for a fixed number of requests. Unlike req/s this
 * barely depends on what else runs on the machine, so it says what the router costs relative to a
 * function even when the CPUs are shared.
 */
async function cpuPerRequest(port, path, pids, amount, connections) {
  const before = pids.map(cpuMs);
  if (before.some((v) => v === undefined)) return undefined;
  const loadGenerator = process.cpuUsage();
  await autocannon({ url: `http://127.0.0.1:${port}${path}`, connections, amount });
  const used = process.cpuUsage(loadGenerator);
  return {
    processes: pids.map((pid, i) => ((cpuMs(pid) - before[i]) * 1000) / amount),
    loadGenerator: (used.user + used.system) / amount,
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export async function run() {
  const seconds = num('BENCH_SECONDS', 4);
  const connections = num('BENCH_CONNECTIONS', 32);
  const rounds = num('BENCH_ROUNDS', 3);
  const rate = num('BENCH_RATE', 500);
  const latencySeconds = num('BENCH_LATENCY_SECONDS', 2);
  const accessLogSample = num('BENCH_ACCESS_LOG_SAMPLE', 1);
  if (!existsSync(routerBundle)) throw new Error('lib/pod/router.js is missing: run `npm run build` first');

  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-router-'));
  writeFileSync(join(dir, 'bare.js'), BARE_SERVER);
  writeFileSync(join(dir, 'handler.js'), TRIVIAL_HANDLER);
  const children = [];
  try {
    const upstream = await startUpstream(dir);
    children.push(upstream.child);
    const router = await startRouter(dir, upstream.port, accessLogSample);
    children.push(router.child);
    console.log(`upstream: ${upstream.kind}`);
    console.log(`router: lib/pod/router.js, access log sample ${accessLogSample} (lines to a file)`);
    console.log(`throughput: autocannon, ${connections} connections, ${seconds} s per measurement, ${rounds} rounds (alternating)`);

    // Warm both paths (JIT, keep-alive pools) before measuring.
    await throughput(upstream.port, '/', 1, connections);
    await throughput(router.port, '/hello', 1, connections);

    const ratios = [];
    for (let round = 1; round <= rounds; round++) {
      const direct = await throughput(upstream.port, '/', seconds, connections);
      const routed = await throughput(router.port, '/hello', seconds, connections);
      ratios.push(routed / direct);
      console.log(`  round ${round}: direct ${direct.toFixed(0)} req/s, via router ${routed.toFixed(0)} req/s, ratio ${(routed / direct).toFixed(2)}`);
    }
    // Median, not mean: on a shared machine one round is often wrecked by a neighbour's burst.
    const ratio = median(ratios);
    console.log(`router/direct req/s ratio (median of rounds): ${ratio.toFixed(2)} (target >= 0.5)`);

    const amount = num('BENCH_CPU_REQUESTS', 20_000);
    const directCpu = await cpuPerRequest(upstream.port, '/', [upstream.child.pid], amount, connections);
    const routedCpu = await cpuPerRequest(router.port, '/hello', [upstream.child.pid, router.child.pid], amount, connections);
    let cpu;
    if (directCpu && routedCpu) {
      const [fnDirect] = directCpu.processes;
      const [fnRouted, routerCost] = routedCpu.processes;
      // Every process on these paths shares the same CPUs, so when CPU-bound, req/s is inversely
      // proportional to the CPU all of them spend per request (the load generator included).
      const cpuRatio = (directCpu.loadGenerator + fnDirect) / (routedCpu.loadGenerator + fnRouted + routerCost);
      cpu = { fnDirect, fnRouted, router: routerCost, loadGenerator: routedCpu.loadGenerator, cpuRatio };
      console.log(
        `CPU per request (${amount} requests, /proc): direct: function ${fnDirect.toFixed(0)} us + load generator ${directCpu.loadGenerator.toFixed(0)} us; ` +
          `via router: function ${fnRouted.toFixed(0)} us + router ${routerCost.toFixed(0)} us + load generator ${routedCpu.loadGenerator.toFixed(0)} us`,
      );
      console.log(`router CPU / function CPU per request: ${(routerCost / fnRouted).toFixed(2)}; CPU-bound req/s ratio implied by these costs: ${cpuRatio.toFixed(2)}`);
    }

    console.log(`latency: ${rate} req/s fixed rate, ${latencySeconds} s per path, ${rounds} rounds (alternating), keep-alive client, per-request hrtime`);
    const added50 = [];
    const added99 = [];
    for (let round = 1; round <= rounds; round++) {
      const direct = await latencies(upstream.port, '/', rate, latencySeconds);
      const routed = await latencies(router.port, '/hello', rate, latencySeconds);
      const d50 = percentile(direct, 50);
      const d99 = percentile(direct, 99);
      const r50 = percentile(routed, 50);
      const r99 = percentile(routed, 99);
      added50.push(r50 - d50);
      added99.push(r99 - d99);
      console.log(`  round ${round}: direct p50 ${d50.toFixed(3)} / p99 ${d99.toFixed(3)} ms, via router p50 ${r50.toFixed(3)} / p99 ${r99.toFixed(3)} ms`);
    }
    const addedP50 = median(added50);
    const addedP99 = median(added99);
    console.log(`added latency (median of rounds): p50 ${addedP50.toFixed(3)} ms (target <= 1), p99 ${addedP99.toFixed(3)} ms (target <= 3)`);
    return { ratio, addedP50, addedP99, cpu, upstream: upstream.kind };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
