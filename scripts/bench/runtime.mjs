// Runtime benchmark: the function runtime (lib/pod/runtime.js) against a bare node:http server doing
// the same work (answer "hello" as text/plain), both in child processes, loaded by the same load
// generator (wrk when installed, else autocannon: see http-load.mjs) with the same connections and
// duration, in alternating order. Then cold start: spawn each server repeatedly and time
// spawn → first 200. Prints ratios measured in this run (medians of the per-round ratios).
//
// Standalone: `npm run build && node scripts/bench/runtime.mjs` (or via `npm run bench -- runtime`).
// Knobs: BENCH_SECONDS (per measurement, default 5), BENCH_CONNECTIONS (default 32),
// BENCH_ROUNDS (default 3), BENCH_COLD_STARTS (default 10), BENCH_POD_DIR (bundles, default lib/pod),
// BENCH_LOAD_GENERATOR=autocannon (skip wrk).
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLoadGenerator } from './http-load.mjs';
import { BARE_SERVER, TRIVIAL_HANDLER, cpuMs, freePort, median, root } from './support.mjs';

const runtimeBundle = join(resolve(root, process.env.BENCH_POD_DIR ?? join('lib', 'pod')), 'runtime.js');

function getStatus(port) {
  return new Promise((resolveStatus) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      resolveStatus(res.statusCode);
    });
    req.on('error', () => resolveStatus(0));
  });
}

/** Starts a server child; resolves once it answered 200, with the time that took from spawn. */
async function startServer(kind, dir) {
  const port = await freePort();
  // Runtime logs go to a file, as container logs do; the bare server logs nothing.
  const logFd = openSync(join(dir, `${kind}.log`), 'a');
  const args = kind === 'bare' ? [join(dir, 'bare.js')] : [runtimeBundle];
  const env = {
    ...process.env,
    PORT: String(port),
    KUBEFAAS_FUNCTION_NAME: 'bench',
    KUBEFAAS_HANDLER: join(dir, 'handler.js'),
  };
  const started = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', logFd, 'inherit'] });
  closeSync(logFd);
  let exited = false;
  child.once('exit', () => (exited = true));
  while ((await getStatus(port)) !== 200) {
    if (exited) throw new Error(`${kind} server exited before answering`);
    await new Promise((r) => setTimeout(r, 1));
  }
  const readyMs = performance.now() - started;
  const stop = () =>
    new Promise((r) => {
      if (exited) return r();
      child.once('exit', r);
      child.kill('SIGKILL');
    });
  return { port, readyMs, stop, pid: child.pid };
}

// CPU per request (cpuMs) is steadier than req/s on a shared machine: other load slows both
// servers' wall clock but not the work each request costs.
function load(generator, port, seconds, connections) {
  return generator.run(`http://127.0.0.1:${port}/`, { seconds, connections });
}

async function measureThroughput(dir, generator, { seconds, connections, rounds }) {
  const samples = { bare: [], runtime: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['bare', 'runtime'] : ['runtime', 'bare'];
    for (const kind of order) {
      const server = await startServer(kind, dir);
      try {
        await load(generator, server.port, 1, connections); // warm-up: JIT and connection setup
        const cpuBefore = cpuMs(server.pid);
        const sample = await load(generator, server.port, seconds, connections);
        const cpuAfter = cpuMs(server.pid);
        sample.cpuUsPerRequest =
          cpuBefore === undefined || cpuAfter === undefined
            ? undefined
            : ((cpuAfter - cpuBefore) * 1000) / sample.requests;
        samples[kind].push(sample);
      } finally {
        await server.stop();
      }
    }
  }
  const summarize = (list) => ({
    rps: median(list.map((s) => s.rps)),
    p50: median(list.map((s) => s.p50)),
    p99: median(list.map((s) => s.p99)),
    cpuUsPerRequest: list.every((s) => s.cpuUsPerRequest !== undefined)
      ? median(list.map((s) => s.cpuUsPerRequest))
      : undefined,
  });
  const bare = summarize(samples.bare);
  const runtime = summarize(samples.runtime);
  // Median of the per-round ratios: each round's pair ran back to back, so they saw similar
  // neighbours; one round wrecked by a burst elsewhere on the machine does not move the median.
  const ratios = samples.runtime.map((s, i) => s.rps / samples.bare[i].rps);
  const cpuRatios = samples.runtime.every((s, i) => s.cpuUsPerRequest && samples.bare[i].cpuUsPerRequest)
    ? samples.runtime.map((s, i) => samples.bare[i].cpuUsPerRequest / s.cpuUsPerRequest)
    : undefined;
  return { bare, runtime, ratio: median(ratios), ratios, cpuRatio: cpuRatios && median(cpuRatios), cpuRatios, samples };
}

async function measureColdStart(dir, { coldStarts }) {
  const times = { bare: [], runtime: [] };
  for (let i = 0; i < coldStarts; i++) {
    for (const kind of i % 2 === 0 ? ['bare', 'runtime'] : ['runtime', 'bare']) {
      const server = await startServer(kind, dir);
      times[kind].push(server.readyMs);
      await server.stop();
    }
  }
  const bareMs = median(times.bare);
  const runtimeMs = median(times.runtime);
  return { bareMedianMs: bareMs, runtimeMedianMs: runtimeMs, ratio: runtimeMs / bareMs, times };
}

export async function run(options = {}) {
  if (!existsSync(runtimeBundle)) throw new Error(`${runtimeBundle} is missing: run \`npm run build\` first`);
  const settings = {
    seconds: Number(options.seconds ?? process.env.BENCH_SECONDS ?? 5),
    connections: Number(options.connections ?? process.env.BENCH_CONNECTIONS ?? 32),
    rounds: Number(options.rounds ?? process.env.BENCH_ROUNDS ?? 3),
    coldStarts: Number(options.coldStarts ?? process.env.BENCH_COLD_STARTS ?? 10),
  };
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-runtime-'));
  const generator = createLoadGenerator();
  try {
    writeFileSync(join(dir, 'bare.js'), BARE_SERVER);
    writeFileSync(join(dir, 'handler.js'), TRIVIAL_HANDLER);
    const throughput = await measureThroughput(dir, generator, settings);
    const coldStart = await measureColdStart(dir, settings);
    const f = (n, d = 2) => n.toFixed(d);
    console.log(
      `runtime throughput (${generator.describe}, ${settings.connections} connections, ${settings.seconds} s x ${settings.rounds} rounds, alternating; medians):`,
    );
    const cpu = (s) => (s.cpuUsPerRequest === undefined ? '' : `  cpu ${f(s.cpuUsPerRequest, 1)} us/req`);
    console.log(
      `  bare node:http   ${f(throughput.bare.rps, 0)} req/s  p50 ${f(throughput.bare.p50)} ms  p99 ${f(throughput.bare.p99)} ms${cpu(throughput.bare)}`,
    );
    console.log(
      `  kubefaas runtime ${f(throughput.runtime.rps, 0)} req/s  p50 ${f(throughput.runtime.p50)} ms  p99 ${f(throughput.runtime.p99)} ms${cpu(throughput.runtime)}`,
    );
    console.log(`  per round runtime/bare req/s: ${throughput.ratios.map((r) => f(r)).join(', ')}`);
    console.log(`  ratio runtime/bare req/s (median of rounds): ${f(throughput.ratio)} (target >= 0.80)`);
    if (throughput.cpuRatio !== undefined) {
      console.log(
        `  ratio bare/runtime CPU per request (median of rounds ${throughput.cpuRatios.map((r) => f(r)).join(', ')}): ${f(throughput.cpuRatio)} (the req/s ratio the runtime would reach if CPU-bound)`,
      );
    }
    console.log(`runtime cold start (spawn -> first 200, median of ${settings.coldStarts}):`);
    console.log(
      `  bare ${f(coldStart.bareMedianMs, 1)} ms, runtime ${f(coldStart.runtimeMedianMs, 1)} ms, ratio ${f(coldStart.ratio)} (target <= 1.50)`,
    );
    return { settings, throughput, coldStart };
  } finally {
    generator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await run();
}
