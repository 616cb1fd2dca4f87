// The local cold-start part of `npm run bench -- scaling` (not a benchmark itself: scaling.mjs runs
// it). Issue 10's target: a request to a function at zero, through the router of `kubefaas dev`,
// gets its first byte no later than the runtime process's own start-to-ready + 30 ms (p50 of 20),
// i.e. the activator path (router holds → watch line → scaler → StreamIsActive → runner spawns →
// readiness → endpoints pushed → router forwards) adds ≤ 30 ms to what starting the process costs.
//
// A default platform with one `() => 'hello'` function is synthesized by the compiled constructs
// (lib/), given what KEDA mode adds (the route table's `scaling.minReplicas: 0`, a ScaledObject
// with a 1 s cooldown) and run by LocalPlatform with the bundled scaler (rate window 100 ms, so
// the function is idle soon after each request). Each round: wait until the function is at zero,
// then time request → first response byte. Alternating with it, the runtime's own start-to-ready:
// the exact command line and environment the runner gave the replica (from /proc), spawned on
// another port and probed every millisecond until /readyz answers 200.
//
// Standalone: `npm run build && node scripts/bench/local-cold-start.mjs`.
// Knobs: BENCH_COLD_STARTS (20).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TRIVIAL_HANDLER, freePort, median, num, root } from './support.mjs';

const COLD_STARTS = num('BENCH_COLD_STARTS', 20);
const TARGET_ADDED_MS = 30;
const require = createRequire(join(root, 'package.json'));

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

/** Synthesizes the app and adds what KEDA mode adds for `hello` (until the constructs synthesize it). */
function manifests(dir, libDir) {
  const handler = join(dir, 'handler.js');
  writeFileSync(handler, TRIVIAL_HANDLER);
  const app = join(dir, 'app.js');
  writeFileSync(app, APP(libDir, handler));
  const out = join(dir, 'manifests');
  require('node:child_process').execFileSync(process.execPath, [app], { env: { ...process.env, CDK8S_OUTDIR: out } });
  const { parseAllDocuments, stringify } = require('yaml');
  const { readdirSync } = require('node:fs');
  const file = join(
    out,
    readdirSync(out).find((f) => f.endsWith('.yaml')),
  );
  const objects = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJSON());
  const routes = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['routes.json']);
  const table = JSON.parse(routes.data['routes.json']);
  table.functions.hello.scaling = { minReplicas: 0, activationTimeoutMs: 30_000, holdQueueLimit: 1000 };
  routes.data['routes.json'] = JSON.stringify(table);
  const namespace = routes.metadata.namespace;
  objects.push({
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: 'hello', namespace },
    spec: {
      scaleTargetRef: { name: 'hello' },
      minReplicaCount: 0,
      maxReplicaCount: 1,
      cooldownPeriod: 1,
      triggers: [{ type: 'external-push', metadata: { function: 'hello' } }],
    },
  });
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  return out;
}

/** Milliseconds from sending GET `path` to the first byte of the response. */
function firstByte(port, path) {
  return new Promise((resolve, reject) => {
    const sentAt = Date.now();
    const sent = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.once('data', () => resolve({ ms: performance.now() - sent, status: res.statusCode, sentAt }));
      res.resume();
    });
    req.on('error', reject);
    req.end();
  });
}

function readyz(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** The runtime's own start-to-ready: its command line and env, spawned on a free port, /readyz every ms. */
async function ownStartToReady({ argv, env, cwd }) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...env, PORT: String(port) }, stdio: 'ignore' });
  try {
    for (;;) {
      if (await readyz(port)) return performance.now() - started;
      if (child.exitCode !== null) throw new Error(`runtime exited (${child.exitCode})`);
      await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    child.kill('SIGKILL');
  }
}

function processSpec(pid) {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const env = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { argv, env, cwd: readlinkSync(`/proc/${pid}/cwd`) };
}

async function atZero(platform) {
  const deadline = Date.now() + 60_000;
  while (platform.replicas('hello').length > 0) {
    if (Date.now() > deadline) throw new Error('hello did not go back to zero within 60 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function benchLocalColdStart() {
  const libDir = join(root, 'lib');
  const dir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-cold-'));
  const { LocalPlatform } = await import(pathToFileURL(join(libDir, 'src', 'local', 'index.js')).href);
  const scalerEnv = (name, value) => ({ workload: 'kubefaas-scaler', name, value });
  const platform = await LocalPlatform.start({
    manifestsDir: manifests(dir, libDir),
    cwd: dir,
    port: 0,
    log: () => undefined,
    scaleIntervalMs: 100,
    envOverrides: [
      scalerEnv('KUBEFAAS_SCALER_RATE_WINDOW_MS', '100'),
      scalerEnv('KUBEFAAS_SCALER_POLL_INTERVAL_MS', '100'),
    ],
  });
  const routerPort = Number(new URL(platform.url).port);
  const viaRouter = [];
  const own = [];
  const activation = [];
  const readyToByte = [];
  const load = [];
  try {
    console.log(
      `local cold start: ${COLD_STARTS} requests to a function at zero through the router, alternating with the runtime's own start-to-ready`,
    );
    for (let i = 0; i < COLD_STARTS; i++) {
      await atZero(platform);
      load.push(loadavg()[0]);
      const r = await firstByte(routerPort, '/hello');
      if (r.status !== 200) throw new Error(`cold request answered ${r.status}`);
      const [replica] = platform.replicas('hello');
      viaRouter.push(r.ms);
      activation.push(replica.startedAt - r.sentAt);
      readyToByte.push(r.sentAt + r.ms - replica.readyAt);
      own.push(await ownStartToReady(processSpec(replica.pid)));
    }
  } finally {
    await platform.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const added = median(viaRouter) - median(own);
  const fmt = (n) => n.toFixed(1);
  console.log(
    `request → first byte p50 ${fmt(median(viaRouter))} ms (min ${fmt(Math.min(...viaRouter))}, max ${fmt(Math.max(...viaRouter))}); ` +
      `runtime start → ready p50 ${fmt(median(own))} ms (min ${fmt(Math.min(...own))}, max ${fmt(Math.max(...own))})`,
  );
  console.log(
    `  where the request's time goes (p50): request → process spawned ${fmt(median(activation))} ms, ` +
      `ready → first byte ${fmt(median(readyToByte))} ms (runner clock, 1 ms resolution)`,
  );
  console.log(
    `  activator adds ${fmt(added)} ms over the runtime's own start (target ≤ ${TARGET_ADDED_MS} ms): ${added <= TARGET_ADDED_MS ? 'ok' : 'OVER'}; load average ${fmt(Math.min(...load))}–${fmt(Math.max(...load))}`,
  );
  return { viaRouterP50: median(viaRouter), ownP50: median(own), added };
}

if (import.meta.url === `file://${process.argv[1]}`) await benchLocalColdStart();
