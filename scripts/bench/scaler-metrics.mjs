// The scaler part of `npm run bench -- scaling` (not a benchmark itself: scaling.mjs runs it).
//
// The scaler bundle (lib/pod/scaler.js) follows 3 stand-in router replicas (one child process,
// three node:http servers answering the contract's counts for 1,000 functions, values changing
// on every poll, and the watch stream). A KEDA-like client (grpc-js + proto-loader from
// src/scaler/externalscaler.proto) calls GetMetrics for random functions, one call at a time and
// with 5 in flight (the HPA controller's default number of concurrent syncs), while the scaler keeps
// polling the routers every second. Target (issue 10): p99 <= 5 ms.
//
// Baseline, in the same run and alternating with the scaler: a bare grpc-js server (proto-loader
// codec) answering GetMetrics with a constant, so what the machine's scheduling costs (this is a
// shared 2-core box) is visible next to what the scaler adds. Also the scaler's own time per call
// (its kubefaas_scaler_grpc_duration_seconds histogram) and the StreamIsActive push latency, from
// a router writing an activate line to KEDA's receipt of `true`.
//
// Knobs: BENCH_SCALER_FUNCTIONS (1000), BENCH_SCALER_ROUTERS (3), BENCH_SCALER_CALLS (5000 per
// measurement), BENCH_ROUNDS (3), BENCH_SCALER_ACTIVATIONS (20), BENCH_SCALER_NODE_ARGS (node flags
// for the scaler, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMs, freePort, median, num, percentile, root, spawnLogged } from './support.mjs';

const require = createRequire(join(root, 'package.json'));
const FUNCTIONS = num('BENCH_SCALER_FUNCTIONS', 1000);
const ROUTERS = num('BENCH_SCALER_ROUTERS', 3);
const CALLS = num('BENCH_SCALER_CALLS', 5000);
const ROUNDS = num('BENCH_ROUNDS', 3);
const CONCURRENCY = [1, 5];
const ACTIVATIONS = num('BENCH_SCALER_ACTIVATIONS', 20);
const TARGET_P99_MS = 5;

/** The stand-in routers: a child process; activations are requested over IPC and timed there. */
const ROUTERS_PROGRAM = `
const http = require('node:http');
const ports = JSON.parse(process.env.PORTS);
const functions = Number(process.env.FUNCTIONS);
const names = Array.from({ length: functions }, (_, i) => 'fn-' + i);
const watchers = new Set();
const totals = ports.map(() => new Array(functions).fill(0));
ports.forEach((port, r) => {
  http.createServer((req, res) => {
    if (req.url === '/scaling/v1/counts') {
      const fns = {};
      for (let i = 0; i < functions; i++) {
        totals[r][i] += i % 7;
        fns[names[i]] = { inFlight: (i * 31 + Date.now()) % 9, waiting: i % 3 === 0 ? 1 : 0, requestsTotal: totals[r][i], readyEndpoints: 1 };
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ router: 'bench-router-' + r, at: Date.now(), functions: fns }));
    } else if (req.url === '/scaling/v1/watch') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.flushHeaders();
      const w = { res, r };
      watchers.add(w);
      res.on('close', () => watchers.delete(w));
    } else res.writeHead(404).end();
  }).listen(port, '127.0.0.1');
});
setInterval(() => { for (const w of watchers) w.res.write(JSON.stringify({ type: 'heartbeat', router: 'bench-router-' + w.r, at: Date.now() }) + '\\n'); }, 5000);
process.on('message', (m) => {
  if (m.watchers) return process.send({ watchers: watchers.size });
  for (const w of watchers) if (w.r === m.router) w.res.write(JSON.stringify({ type: 'activate', router: 'bench-router-' + w.r, function: m.fn, at: Date.now() }) + '\\n');
  process.send({ fn: m.fn, at: performance.timeOrigin + performance.now() });
});
process.send({ listening: true });
`;

/** The baseline: grpc-js with proto-loader's codec and a constant answer. */
const BARE_PROGRAM = `
const { createRequire } = require('node:module');
const require2 = createRequire(process.env.ROOT + '/package.json');
const grpc = require2('@grpc/grpc-js');
const loader = require2('@grpc/proto-loader');
const def = loader.loadSync(process.env.ROOT + '/src/scaler/externalscaler.proto', { keepCase: true, longs: Number, defaults: true });
const { ExternalScaler } = grpc.loadPackageDefinition(def).externalscaler;
const server = new grpc.Server();
server.addService(ExternalScaler.service, {
  GetMetrics: (call, cb) => cb(null, { metricValues: [{ metricName: call.request.metricName, metricValue: 4, metricValueFloat: 4 }] }),
});
server.bindAsync('127.0.0.1:' + process.env.PORT, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  process.send({ listening: true });
});
`;

export async function benchScalerGetMetrics() {
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-scaler-'));
  const children = [];
  try {
    const routerPorts = await Promise.all(Array.from({ length: ROUTERS }, () => freePort()));
    const routers = forkProgram(dir, 'routers', ROUTERS_PROGRAM, {
      PORTS: JSON.stringify(routerPorts),
      FUNCTIONS: String(FUNCTIONS),
    });
    children.push(routers);
    await routers.reply((m) => m.listening);

    const barePort = await freePort();
    const bare = forkProgram(dir, 'bare', BARE_PROGRAM, { ROOT: root, PORT: String(barePort) });
    children.push(bare);
    await bare.reply((m) => m.listening);

    const grpcPort = await freePort();
    const adminPort = await freePort();
    const nodeArgs = (process.env.BENCH_SCALER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const scaler = spawnLogged(dir, 'scaler', [...nodeArgs, join(root, 'lib', 'pod', 'scaler.js')], {
      KUBEFAAS_BIND_HOST: '127.0.0.1',
      KUBEFAAS_SCALER_GRPC_PORT: String(grpcPort),
      KUBEFAAS_SCALER_ADMIN_PORT: String(adminPort),
      KUBEFAAS_SCALER_ROUTERS: routerPorts.map((p) => `127.0.0.1:${p}`).join(','),
    });
    children.push(scaler);
    await waitReady(adminPort, ROUTERS);

    const grpc = require('@grpc/grpc-js');
    const protoLoader = require('@grpc/proto-loader');
    const definition = protoLoader.loadSync(join(root, 'src', 'scaler', 'externalscaler.proto'), {
      keepCase: true,
      longs: Number,
      defaults: true,
    });
    const { ExternalScaler } = grpc.loadPackageDefinition(definition).externalscaler;
    const refs = Array.from({ length: FUNCTIONS }, (_, i) => ({
      name: `fn-${i}`,
      namespace: 'bench',
      scalerMetadata: { scalerAddress: `scaler:${grpcPort}`, function: `fn-${i}`, targetConcurrency: '10' },
    }));
    const targets = [
      {
        name: 'scaler',
        pid: scaler.pid,
        client: new ExternalScaler(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()),
      },
      {
        name: 'bare grpc-js',
        pid: bare.pid,
        client: new ExternalScaler(`127.0.0.1:${barePort}`, grpc.credentials.createInsecure()),
      },
    ];
    const call = (client, i) =>
      new Promise((resolveCall, reject) => {
        const started = performance.now();
        client.GetMetrics({ scaledObjectRef: refs[i], metricName: `kubefaas-fn-${i}-concurrency` }, (err, res) => {
          if (err) return reject(err);
          if (res.metricValues.length !== 1) return reject(new Error('no metric value'));
          resolveCall(performance.now() - started);
        });
      });
    const random = () => Math.floor(Math.random() * FUNCTIONS);
    const measure = async (target, concurrency) => {
      const latencies = [];
      const cpuBefore = cpuMs(target.pid);
      let issued = 0;
      const worker = async () => {
        while (issued < CALLS) {
          issued++;
          latencies.push(await call(target.client, random()));
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      const cpu = cpuMs(target.pid);
      latencies.sort((a, b) => a - b);
      return {
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        cpuUs: cpuBefore !== undefined && cpu !== undefined ? ((cpu - cpuBefore) * 1000) / latencies.length : NaN,
      };
    };

    // Warm-up: connections, JIT, the first polls.
    for (const target of targets) for (let i = 0; i < 500; i++) await call(target.client, random());

    const rounds = new Map(); // `${target} c=${c}` -> [{p50, p99, cpuUs}]
    for (let round = 0; round < ROUNDS; round++) {
      for (const concurrency of CONCURRENCY) {
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        for (const target of order) {
          const key = `${target.name} c=${concurrency}`;
          rounds.set(key, [...(rounds.get(key) ?? []), await measure(target, concurrency)]);
        }
      }
    }
    const handlerP99 = await histogramP99(adminPort, 'GetMetrics');
    const pushLatencies = await pushLatency(routers, targets[0].client);
    for (const target of targets) target.client.close();
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${scaler.pid}/status`, 'utf8'))?.[1]);

    const ms = (v) => v.toFixed(2);
    const med = (key, field) => median(rounds.get(key).map((r) => r[field]));
    console.log(
      `scaler: ${FUNCTIONS} functions, ${ROUTERS} router replicas polled every 1 s; ${CALLS} GetMetrics calls per measurement, ${ROUNDS} rounds, medians of rounds`,
    );
    for (const concurrency of CONCURRENCY) {
      for (const target of targets) {
        const key = `${target.name} c=${concurrency}`;
        const each = rounds
          .get(key)
          .map((r) => ms(r.p99))
          .join(', ');
        console.log(
          `  ${key.padEnd(18)} p50 ${ms(med(key, 'p50'))} ms, p99 ${ms(med(key, 'p99'))} ms (rounds ${each}), CPU ${med(key, 'cpuUs').toFixed(0)} µs/call`,
        );
      }
    }
    console.log(`  scaler's own time per GetMetrics (histogram): p99 <= ${handlerP99} s`);
    console.log(
      `  StreamIsActive push after an activate line (${pushLatencies.length}): p50 ${ms(median(pushLatencies))} ms, max ${ms(pushLatencies[pushLatencies.length - 1])} ms`,
    );
    console.log(`  scaler RSS ${(rssKiB / 1024).toFixed(1)} MiB`);
    const p99 = med('scaler c=1', 'p99');
    console.log(
      `  target GetMetrics p99 <= ${TARGET_P99_MS} ms (c=1): ${p99 <= TARGET_P99_MS ? 'met' : 'NOT met'} (${ms(p99)} ms)`,
    );
  } finally {
    // SIGTERM, waited for: the scaler's own shutdown (and a --cpu-prof profile) completes.
    await Promise.all(children.map(stopChild));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A node program in a child process with an IPC channel; `reply(match)` waits for a message. */
function forkProgram(dir, name, source, env) {
  const file = join(dir, `${name}.cjs`);
  writeFileSync(file, source);
  const child = fork(file, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const replies = [];
  let wake = () => undefined;
  child.on('message', (m) => {
    replies.push(m);
    wake();
  });
  child.reply = async (match) => {
    for (;;) {
      const i = replies.findIndex(match);
      if (i !== -1) return replies.splice(i, 1)[0];
      if (child.exitCode !== null) throw new Error(`${name} exited`);
      await new Promise((w) => (wake = w));
    }
  };
  return child;
}

function stopChild(child) {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', done);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/** Milliseconds from a router writing an activate line to the KEDA side receiving `true`. */
async function pushLatency(routers, client) {
  for (;;) {
    routers.send({ watchers: true });
    if ((await routers.reply((m) => m.watchers !== undefined)).watchers >= ROUTERS) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const latencies = [];
  for (let i = 0; i < ACTIVATIONS; i++) {
    const fn = `cold-${i}`;
    const stream = client.StreamIsActive({ name: fn, namespace: 'bench', scalerMetadata: { function: fn } });
    const messages = [];
    let wake = () => undefined;
    stream.on('data', (m) => {
      messages.push({ result: m.result, at: performance.timeOrigin + performance.now() });
      wake();
    });
    stream.on('error', () => undefined);
    while (messages.length === 0) await new Promise((w) => (wake = w));
    routers.send({ router: i % ROUTERS, fn });
    const written = await routers.reply((m) => m.fn === fn);
    while (!messages.some((m) => m.result)) await new Promise((w) => (wake = w));
    latencies.push(messages.find((m) => m.result).at - written.at);
    stream.cancel();
  }
  return latencies.sort((a, b) => a - b);
}

/** The upper bound of the bucket holding the 99th percentile of the scaler's own call durations. */
async function histogramP99(adminPort, method) {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const buckets = [
    ...text.matchAll(/^kubefaas_scaler_grpc_duration_seconds_bucket\{le="([^"]+)",method="(\w+)"\} (\d+)$/gm),
  ]
    .filter((m) => m[2] === method)
    .map((m) => ({ le: m[1], count: Number(m[3]) }));
  const total = buckets.find((b) => b.le === '+Inf')?.count ?? 0;
  return buckets.find((b) => b.count >= 0.99 * total)?.le ?? '?';
}

async function waitReady(adminPort, routers) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
      if (res.ok && (await res.json()).routers === routers) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the scaler did not become ready within 20 s');
}
