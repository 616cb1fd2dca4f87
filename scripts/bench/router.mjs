// Router benchmark: a trivial function served by the real runtime bundle (lib/pod/runtime.js with a
// handler returning "hello"; a bare node:http server if the runtime bundle is missing), loaded
// directly and through the router (lib/pod/router.js) by the same load generator (wrk when
// installed, else autocannon: see http-load.mjs) with the same connections and duration, in
// alternating order, recording each process's CPU per request meanwhile. Then latency at a moderate fixed rate, measured per request with hrtime
// (autocannon's latency histogram has 1 ms resolution, too coarse for a sub-millisecond hop).
// Prints ratios and differences measured in this run; absolute numbers swing on a shared machine.
//
// Standalone: `npm run build && node scripts/bench/router.mjs` (or via `npm run bench -- router`).
// Knobs: BENCH_SECONDS (per throughput measurement, default 4), BENCH_CONNECTIONS (default 32),
// BENCH_ROUNDS (default 3), BENCH_RATE (latency run, req/s, default 500), BENCH_LATENCY_SECONDS
// (default 2), BENCH_ACCESS_LOG_SAMPLE (router access-log sampling, default 1 = log every request),
// BENCH_POD_DIR (bundles, default lib/pod), BENCH_LOAD_GENERATOR=autocannon (skip wrk).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLoadGenerator } from './http-load.mjs';
import {
  BARE_SERVER,
  TRIVIAL_HANDLER,
  cpuMs,
  freePort,
  median,
  num,
  percentile,
  root,
  spawnLogged,
} from './support.mjs';

const podDir = resolve(root, process.env.BENCH_POD_DIR ?? join('lib', 'pod'));
const runtimeBundle = join(podDir, 'runtime.js');
const routerBundle = join(podDir, 'router.js');

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

export async function startUpstream(dir) {
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
  return {
    port,
    child,
    kind: useRuntime
      ? `runtime bundle (${relative(root, runtimeBundle)}, trivial handler)`
      : 'bare node:http server (runtime bundle missing)',
  };
}

/** `extra`: more route-table fields (`policies`) and router environment (bench/policies.mjs). */
export async function startRouter(dir, upstreamPort, accessLogSample, extra = {}) {
  const port = await freePort();
  const routesDir = join(dir, extra.name ?? 'routes');
  mkdirSync(routesDir, { recursive: true });
  const routesFile = join(routesDir, 'routes.json');
  writeFileSync(
    routesFile,
    JSON.stringify({
      version: 1,
      functions: { hello: { url: `http://127.0.0.1:${upstreamPort}`, timeoutMs: 10_000 } },
      routes: [{ function: 'hello', methods: ['GET', 'POST'], path: '/hello' }],
      ...(extra.policies ? { policies: extra.policies } : {}),
    }),
  );
  const child = spawnLogged(dir, extra.name ?? 'router', [routerBundle], {
    ...extra.env,
    PORT: String(port),
    // A free admin port (health, metrics): several routers run side by side (bench/policies.mjs).
    KUBEFAAS_ADMIN_PORT: '0',
    KUBEFAAS_ROUTES: routesFile,
    KUBEFAAS_ACCESS_LOG_SAMPLE: String(accessLogSample),
  });
  if (!extra.policies) await waitFor200(port, '/hello');
  return { port, child };
}

/**
 * Loads one path and returns its req/s plus the CPU per request (µs, user + system from /proc) of
 * each process in `pids` and of the load generator. Unlike req/s, CPU per request barely depends on
 * what else runs on the machine, so it says what the router costs relative to a function even when
 * the CPUs are shared.
 */
export async function throughput(generator, port, path, seconds, connections, pids = [], headers = undefined) {
  const before = pids.map(cpuMs);
  const result = await generator.run(`http://127.0.0.1:${port}${path}`, { seconds, connections, headers });
  const after = pids.map(cpuMs);
  const known =
    before.every((v) => v !== undefined) && after.every((v) => v !== undefined) && result.generatorCpuMs !== undefined;
  return {
    rps: result.rps,
    p50: result.p50,
    p99: result.p99,
    cpu: known ? pids.map((_, i) => ((after[i] - before[i]) * 1000) / result.requests) : undefined,
    generatorCpu: known ? (result.generatorCpuMs * 1000) / result.requests : undefined,
  };
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

export async function run() {
  const seconds = num('BENCH_SECONDS', 4);
  const connections = num('BENCH_CONNECTIONS', 32);
  const rounds = num('BENCH_ROUNDS', 3);
  const rate = num('BENCH_RATE', 500);
  const latencySeconds = num('BENCH_LATENCY_SECONDS', 2);
  const accessLogSample = num('BENCH_ACCESS_LOG_SAMPLE', 1);
  if (!existsSync(routerBundle)) throw new Error('lib/pod/router.js is missing: run `npm run build` first');

  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-router-'));
  const generator = createLoadGenerator();
  writeFileSync(join(dir, 'bare.js'), BARE_SERVER);
  writeFileSync(join(dir, 'handler.js'), TRIVIAL_HANDLER);
  const children = [];
  try {
    const upstream = await startUpstream(dir);
    children.push(upstream.child);
    const router = await startRouter(dir, upstream.port, accessLogSample);
    children.push(router.child);
    console.log(`upstream: ${upstream.kind}`);
    console.log(`router: ${relative(root, routerBundle)}, access log sample ${accessLogSample} (lines to a file)`);
    console.log(
      `throughput: ${generator.describe}, ${connections} connections, ${seconds} s per measurement, ${rounds} rounds (alternating order)`,
    );

    // Warm both paths (JIT, keep-alive pools) before measuring.
    await throughput(generator, upstream.port, '/', 1, connections);
    await throughput(generator, router.port, '/hello', 1, connections);

    const ratios = [];
    const cpuRounds = [];
    const pids = [upstream.child.pid, router.child.pid];
    for (let round = 1; round <= rounds; round++) {
      // Alternate which path goes first, so a slow start or end of a neighbour's burst hits both.
      const directFirst = round % 2 === 1;
      const first = directFirst
        ? await throughput(generator, upstream.port, '/', seconds, connections, pids)
        : undefined;
      const routed = await throughput(generator, router.port, '/hello', seconds, connections, pids);
      const direct = first ?? (await throughput(generator, upstream.port, '/', seconds, connections, pids));
      ratios.push(routed.rps / direct.rps);
      let cpuNote = '';
      if (direct.cpu && routed.cpu) {
        const [fnDirect] = direct.cpu;
        const [fnRouted, routerCost] = routed.cpu;
        // Every process on these paths shares the same CPUs, so when CPU-bound, req/s is inversely
        // proportional to the CPU all of them spend per request (the load generator included).
        const implied = (direct.generatorCpu + fnDirect) / (routed.generatorCpu + fnRouted + routerCost);
        cpuRounds.push({
          fnDirect,
          fnRouted,
          router: routerCost,
          generatorDirect: direct.generatorCpu,
          generatorRouted: routed.generatorCpu,
          implied,
        });
        cpuNote =
          `; CPU us/req direct: fn ${fnDirect.toFixed(1)} + gen ${direct.generatorCpu.toFixed(1)}, ` +
          `routed: fn ${fnRouted.toFixed(1)} + router ${routerCost.toFixed(1)} + gen ${routed.generatorCpu.toFixed(1)} (implied ratio ${implied.toFixed(2)})`;
      }
      console.log(
        `  round ${round}: direct ${direct.rps.toFixed(0)} req/s, via router ${routed.rps.toFixed(0)} req/s, ratio ${(routed.rps / direct.rps).toFixed(2)}${cpuNote}`,
      );
    }
    // Median, not mean: on a shared machine one round is often wrecked by a neighbour's burst.
    const ratio = median(ratios);
    console.log(
      `router/direct req/s ratio (median of rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}): ${ratio.toFixed(2)} (target >= 0.5)`,
    );
    let cpu;
    if (cpuRounds.length === rounds) {
      const pick = (key) => median(cpuRounds.map((c) => c[key]));
      cpu = {
        fnDirect: pick('fnDirect'),
        fnRouted: pick('fnRouted'),
        router: pick('router'),
        implied: pick('implied'),
      };
      console.log(
        `CPU per request (medians, /proc): function ${cpu.fnDirect.toFixed(1)} us direct, ${cpu.fnRouted.toFixed(1)} us routed; router ${cpu.router.toFixed(1)} us ` +
          `(router / function ${(cpu.router / cpu.fnRouted).toFixed(2)}); CPU-bound req/s ratio implied by these costs: ${cpu.implied.toFixed(2)}`,
      );
    }

    console.log(
      `latency: ${rate} req/s fixed rate, ${latencySeconds} s per path, ${rounds} rounds (alternating), keep-alive client, per-request hrtime`,
    );
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
      console.log(
        `  round ${round}: direct p50 ${d50.toFixed(3)} / p99 ${d99.toFixed(3)} ms, via router p50 ${r50.toFixed(3)} / p99 ${r99.toFixed(3)} ms`,
      );
    }
    const addedP50 = median(added50);
    const addedP99 = median(added99);
    console.log(
      `added latency (median of rounds): p50 ${addedP50.toFixed(3)} ms (target <= 1), p99 ${addedP99.toFixed(3)} ms (target <= 3)`,
    );
    return { ratio, ratios, addedP50, addedP99, cpu, upstream: upstream.kind };
  } finally {
    generator.close();
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
