// Async invocation benchmark: the router's accept rate for `POST /async-function/<name>` (202 once the
// call is stored in JetStream) against its rate for `POST /function/<name>` (proxied to the function
// and answered synchronously) for the same function, with the same load generator (wrk when
// installed, else autocannon: see http-load.mjs), connections and duration, in alternating order.
// Then the enqueue latency (time to the 202) at a moderate fixed rate with an open-loop client.
//
// The processes are the real ones: nats-server (from PATH, temporary store), lib/pod/runtime.js with a
// trivial handler that also consumes its async calls (so the queue is drained while it is loaded, as in
// a cluster), and lib/pod/router.js. Their queue env is taken from a synthesized app (lib/constructs:
// a Platform with Queue.nats() and one NodeFunction), only the NATS URL pointed at the local server.
//
// Standalone: `npm run build && node scripts/bench/async.mjs` (or `npm run bench -- async`).
// Knobs: BENCH_SECONDS (per throughput measurement, default 4), BENCH_CONNECTIONS (default 32),
// BENCH_ROUNDS (default 3), BENCH_ASYNC_RATE (latency run, req/s, default 300),
// BENCH_LATENCY_SECONDS (default 3), BENCH_LOAD_GENERATOR=autocannon (skip wrk).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLoadGenerator } from './http-load.mjs';
import { cpuMs, freePort, median, num, percentile, root, spawnLogged, startNats } from './support.mjs';

const require = createRequire(join(root, 'package.json'));
const runtimeBundle = join(root, 'lib', 'pod', 'runtime.js');
const routerBundle = join(root, 'lib', 'pod', 'router.js');
const constructsLib = join(root, 'lib', 'constructs', 'index.js');
const contractLib = join(root, 'lib', 'src', 'contract.js');

const FUNCTION = 'hello';
const HANDLER = `module.exports = function handler(event) { return 'hello ' + event.text(); };`;
const BODY = JSON.stringify({ order: 42, item: 'benchmark', qty: 1 });

async function waitUntil(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * The queue env of the function's and the router's containers, as the constructs render it for a
 * platform with `Queue.nats()` and one NodeFunction (so the subscription settings are the real ones).
 */
function renderedQueueEnv(natsUrl) {
  const { Testing } = require('cdk8s');
  const { Code, NodeFunction, Platform, Queue } = require(constructsLib);
  const { QueueEnv } = require(contractLib);
  const platform = new Platform(Testing.app(), 'bench', { namespace: 'faas', queue: Queue.nats() });
  new NodeFunction(platform, FUNCTION, { code: Code.fromInline(HANDLER) });
  const objects = Testing.synth(platform);
  const envOf = (name) => {
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === name);
    if (!deployment) throw new Error(`the synthesized app has no Deployment ${name}`);
    const env = {};
    for (const { name: key, value } of deployment.spec.template.spec.containers[0].env ?? []) {
      if (Object.values(QueueEnv).includes(key)) env[key] = key === QueueEnv.NATS_URL ? natsUrl : value;
    }
    return env;
  };
  const routerName = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name !== FUNCTION)?.metadata.name;
  const fn = envOf(FUNCTION);
  const router = envOf(routerName);
  for (const [what, env, keys] of [
    ['function', fn, [QueueEnv.NATS_URL, QueueEnv.QUEUE_CONFIG, QueueEnv.SUBSCRIPTIONS]],
    ['router', router, [QueueEnv.NATS_URL, QueueEnv.QUEUE_CONFIG]],
  ]) {
    for (const key of keys) if (env[key] === undefined) throw new Error(`the synthesized ${what} has no ${key}`);
  }
  return { fn, router, subscriptions: JSON.parse(fn[QueueEnv.SUBSCRIPTIONS]) };
}

/** One request with hrtime; resolves to { status, ms }. */
function timedPost(agent, port, path) {
  return new Promise((done, fail) => {
    const t0 = process.hrtime.bigint();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) },
      },
      (res) => {
        res.resume();
        res.on('end', () => done({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      },
    );
    req.on('error', fail);
    req.end(BODY);
  });
}

/** Open loop at `rate` req/s for `seconds`: a slow answer does not delay the next send. Sorted latencies (ms). */
async function latencies(port, path, expected, rate, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const total = Math.round(rate * seconds);
  const pending = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(timedPost(agent, port, path));
  }
  const results = await Promise.all(pending);
  agent.destroy();
  const wrong = results.find((r) => r.status !== expected);
  if (wrong) throw new Error(`${path}: status ${wrong.status}, expected ${expected}`);
  return results.map((r) => r.ms).sort((a, b) => a - b);
}

/** Messages of the calls stream not yet acked by the function's async consumer (what is still to run). */
async function backlog(nc, stream, durable) {
  const info = await (await nc.jetstreamManager()).consumers.info(stream, durable);
  return info.num_pending + info.num_ack_pending;
}

export async function run() {
  const seconds = num('BENCH_SECONDS', 4);
  const connections = num('BENCH_CONNECTIONS', 32);
  const rounds = num('BENCH_ROUNDS', 3);
  const rate = num('BENCH_ASYNC_RATE', 300);
  const latencySeconds = num('BENCH_LATENCY_SECONDS', 3);
  for (const file of [runtimeBundle, routerBundle, constructsLib]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  }
  const nats = require('nats');
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-async-'));
  const generator = createLoadGenerator();
  const children = [];
  let nc;
  try {
    const server = await startNats(dir);
    children.push(server.proc);
    const env = renderedQueueEnv(server.url);
    const asyncSub = env.subscriptions.find((s) => s.kind === 'async');
    const config = JSON.parse(env.fn.KUBEFAAS_QUEUE_CONFIG);
    writeFileSync(join(dir, 'handler.js'), HANDLER);

    const fnPort = await freePort();
    const runtime = spawnLogged(dir, 'runtime', [runtimeBundle], {
      PORT: String(fnPort),
      KUBEFAAS_FUNCTION_NAME: FUNCTION,
      KUBEFAAS_HANDLER: join(dir, 'handler.js'),
      ...env.fn,
    });
    children.push(runtime);
    await waitUntil(
      'the runtime to be ready (connected to NATS)',
      async () => (await fetch(`http://127.0.0.1:${fnPort}/readyz`)).ok,
    );

    const routerPort = await freePort();
    const routes = join(dir, 'routes.json');
    writeFileSync(
      routes,
      JSON.stringify({
        version: 1,
        // Public by name and async: the benchmark loads both on the router's public listener.
        functions: {
          [FUNCTION]: {
            url: `http://127.0.0.1:${fnPort}`,
            timeoutMs: 10_000,
            invocation: { byName: ['POST'], async: true },
          },
        },
        routes: [],
      }),
    );
    const router = spawnLogged(dir, 'router', [routerBundle], {
      PORT: String(routerPort),
      KUBEFAAS_ADMIN_PORT: '0',
      KUBEFAAS_ROUTES: routes,
      ...env.router,
    });
    children.push(router);
    const syncPath = `/function/${FUNCTION}`;
    const asyncPath = `/async-function/${FUNCTION}`;
    const agent = new Agent({ keepAlive: true });
    await waitUntil(
      'the router to accept async calls',
      async () => (await timedPost(agent, routerPort, asyncPath)).status === 202,
    );
    agent.destroy();

    nc = await nats.connect({ servers: server.url });
    console.log(
      `function: ${FUNCTION} on lib/pod/runtime.js (trivial handler), consuming ${asyncSub.subject} (durable ${asyncSub.durable}, ${asyncSub.maxInFlight} in flight)`,
    );
    console.log(
      `throughput: ${generator.describe}, POST ${Buffer.byteLength(BODY)}-byte JSON body, ${connections} connections, ${seconds} s per measurement, ${rounds} rounds (alternating order)`,
    );
    // CPU per request of each process (µs): unlike req/s it barely depends on what else runs on the
    // machine, so it shows where an async call costs more than a sync one.
    const pids = { router: router.pid, runtime: runtime.pid, nats: server.proc.pid };
    const load = async (path) => {
      const before = Object.values(pids).map(cpuMs);
      const result = await generator.run(`http://127.0.0.1:${routerPort}${path}`, {
        seconds,
        connections,
        method: 'POST',
        body: BODY,
        headers: { 'content-type': 'application/json' },
      });
      const after = Object.values(pids).map(cpuMs);
      const known = before.concat(after).every((v) => v !== undefined);
      const perRequest = known
        ? Object.fromEntries(
            Object.keys(pids).map((name, i) => [name, ((after[i] - before[i]) * 1000) / result.requests]),
          )
        : undefined;
      const cpu = perRequest
        ? Object.entries(perRequest)
            .map(([name, us]) => `${name} ${us.toFixed(0)}`)
            .join(', ')
        : 'unknown';
      return { ...result, cpu, perRequest };
    };
    // Warm both paths (JIT, keep-alive pools, the KV bucket binding).
    await generator.run(`http://127.0.0.1:${routerPort}${syncPath}`, {
      seconds: 1,
      connections,
      method: 'POST',
      body: BODY,
    });
    await generator.run(`http://127.0.0.1:${routerPort}${asyncPath}`, {
      seconds: 1,
      connections,
      method: 'POST',
      body: BODY,
    });

    // Every measurement starts from an idle queue: calls accepted in an async measurement are still
    // being run by the function afterwards, and would otherwise slow the next sync measurement.
    const idle = () =>
      waitUntil(
        'the function to run the accepted calls',
        async () => (await backlog(nc, config.callsStream, asyncSub.durable)) === 0,
        300_000,
      );
    const measure = async (path) => {
      await idle();
      return load(path);
    };
    const ratios = [];
    const routerCpuRatios = [];
    let accepted = 0;
    for (let round = 1; round <= rounds; round++) {
      const syncFirst = round % 2 === 1;
      const first = syncFirst ? await measure(syncPath) : undefined;
      const asyncRun = await measure(asyncPath);
      const syncRun = first ?? (await measure(syncPath));
      accepted += asyncRun.requests;
      ratios.push(asyncRun.rps / syncRun.rps);
      if (syncRun.perRequest && asyncRun.perRequest)
        routerCpuRatios.push(syncRun.perRequest.router / asyncRun.perRequest.router);
      console.log(
        `  round ${round}: sync ${syncRun.rps.toFixed(0)} req/s, async ${asyncRun.rps.toFixed(0)} 202/s, ratio ${(asyncRun.rps / syncRun.rps).toFixed(2)}; ` +
          `CPU us/req sync: ${syncRun.cpu}; async (the function consuming meanwhile): ${asyncRun.cpu}`,
      );
    }
    const ratio = median(ratios);
    console.log(
      `async accept / sync rate (median of rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}): ${ratio.toFixed(2)} (target >= 0.5) ${ratio >= 0.5 ? 'OK' : 'BELOW TARGET'}`,
    );
    // Here router, function and NATS share two cores; in a cluster they run in separate pods, and the
    // router's accept rate is bound by the router's own CPU per request.
    const routerCpuRatio = routerCpuRatios.length === rounds ? median(routerCpuRatios) : undefined;
    if (routerCpuRatio !== undefined)
      console.log(
        `router CPU per request, sync / async (median): ${routerCpuRatio.toFixed(2)} (the ratio if the router's CPU were the only limit)`,
      );

    // The function works off the backlog of accepted calls before the latency run (which should see an idle queue).
    const drainStarted = Date.now();
    await waitUntil(
      'the function to run the accepted calls',
      async () => (await backlog(nc, config.callsStream, asyncSub.durable)) === 0,
      300_000,
    );
    console.log(
      `backlog: ${accepted} calls accepted under load were run by the function within ${((Date.now() - drainStarted) / 1000).toFixed(1)} s after the last round`,
    );

    console.log(
      `latency: ${rate} req/s fixed rate, ${latencySeconds} s per path, ${rounds} rounds, keep-alive open-loop client, per-request hrtime`,
    );
    const p50s = [];
    const p99s = [];
    for (let round = 1; round <= rounds; round++) {
      const sync = await latencies(routerPort, syncPath, 200, rate, latencySeconds);
      const enqueue = await latencies(routerPort, asyncPath, 202, rate, latencySeconds);
      p50s.push(percentile(enqueue, 50));
      p99s.push(percentile(enqueue, 99));
      console.log(
        `  round ${round}: enqueue (time to 202) p50 ${percentile(enqueue, 50).toFixed(3)} / p99 ${percentile(enqueue, 99).toFixed(3)} ms; ` +
          `sync p50 ${percentile(sync, 50).toFixed(3)} / p99 ${percentile(sync, 99).toFixed(3)} ms`,
      );
    }
    const p50 = median(p50s);
    const p99 = median(p99s);
    console.log(`enqueue latency (median of rounds): p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`);
    const errors = readFileSync(join(dir, 'router.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"level":"error"'));
    if (errors.length > 0) console.log(`router logged ${errors.length} errors, first: ${errors[0]}`);
    return { ratio, ratios, routerCpuRatio, enqueueP50: p50, enqueueP99: p99 };
  } finally {
    await nc?.close().catch(() => undefined);
    generator.close();
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
