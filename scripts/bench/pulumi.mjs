// Pulumi benchmark: registering a platform of N functions (default 1000, each a NodeFunction with an
// HTTP trigger and an autoscaler) as Pulumi Kubernetes resources under mocks — build the constructs,
// synthesize in memory, register every object and wait until the engine has all of them — against
// `app.synth()` of the same app (what `cdk8s synth` runs: build, synthesize, write YAML). Each
// measurement runs in a fresh child process (so peak RSS is its own; modules are loaded before the
// clock starts, in both phases); phases alternate between rounds. Each phase runs with Node's
// defaults and again with a larger young generation (`--max-semi-space-size`, which users can set
// through NODE_OPTIONS). Prints medians, spreads and the ratios measured in this run: wall time,
// and CPU time of the process (user + system, all threads), which the other work on a shared
// machine disturbs less. The target is Pulumi ≤ 3× the synth time.
//
// Standalone: `npm run build && node scripts/bench/pulumi.mjs` (or `npm run bench -- pulumi`).
// Knobs: BENCH_FUNCTIONS (default 1000), BENCH_ROUNDS (default 3), BENCH_SEMI_SPACE_MB (default 64;
// 0 skips the flagged runs).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const thisFile = fileURLToPath(import.meta.url);
const root = resolve(dirname(thisFile), '..', '..');
const require = createRequire(import.meta.url);
const FUNCTIONS = Number(process.env.BENCH_FUNCTIONS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SEMI_SPACE_MB = Number(process.env.BENCH_SEMI_SPACE_MB ?? 64);
const TARGET_RATIO = 3;

/** The benchmark app: one platform, N small Node functions, each with its own route. */
function buildApp(app) {
  const { Platform, NodeFunction, Code, HttpTrigger } = constructsLibrary();
  const platform = new Platform(app, 'bench', { namespace: 'bench' });
  for (let i = 0; i < FUNCTIONS; i++) {
    new NodeFunction(platform, `fn-${i}`, {
      code: Code.fromInline(`module.exports = async (event) => 'function ${i}: ' + event.path;`),
      scaling: { minReplicas: 1, maxReplicas: 3 },
      triggers: [new HttpTrigger({ path: `/fn-${i}/:id`, methods: ['GET', 'POST'] })],
    });
  }
}

const constructsLibrary = () => require(join(root, 'lib', 'constructs', 'index.js'));

/** Wall and CPU milliseconds since `start()`. */
function stopwatch() {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { ms: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 };
  };
}

async function measureSynth() {
  const { App } = require('cdk8s');
  constructsLibrary();
  const outdir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-'));
  try {
    const stop = stopwatch();
    const app = new App({ outdir });
    buildApp(app);
    app.synth();
    const time = stop();
    const objects = app.charts.reduce((n, chart) => n + chart.toJson().length, 0);
    return { ...time, objects };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

async function measurePulumi() {
  const pulumi = require('@pulumi/pulumi');
  let registered = 0;
  await pulumi.runtime.setMocks(
    {
      // A real engine answers with the object's state; hand the inputs back the same way.
      newResource: (args) => {
        registered++;
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    'kubefaas',
    'bench',
    false,
  );
  const { KubefaasPlatform } = require(join(root, 'lib', 'stacks', 'platform-component.js'));
  constructsLibrary();
  const stop = stopwatch();
  const platform = new KubefaasPlatform('bench', { build: buildApp });
  const urns = [platform.urn, ...platform.resources.map((r) => r.urn)];
  await Promise.all(urns.map((urn) => new Promise((done) => urn.apply(done))));
  const time = stop();
  return { ...time, objects: platform.resources.length, registered: registered - 1 };
}

/** Runs one phase in a fresh Node process; resolves with its result and peak RSS. */
function inChild(phase, nodeFlags) {
  return new Promise((resolveResult, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, thisFile, '--phase', phase], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${phase} phase exited with ${code}: ${out}`));
      resolveResult(JSON.parse(last));
    });
  });
}

const mb = (kb) => (kb / 1024).toFixed(0);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

/** The measured configurations: each phase with Node's defaults, and with a larger young generation. */
function configurations() {
  const configs = [{ label: 'defaults', flags: [] }];
  if (SEMI_SPACE_MB > 0)
    configs.push({
      label: `--max-semi-space-size=${SEMI_SPACE_MB}`,
      flags: [`--max-semi-space-size=${SEMI_SPACE_MB}`],
    });
  return configs;
}

export async function run() {
  const configs = configurations();
  const results = new Map(configs.map((c) => [c.label, { synth: [], pulumi: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const config of round % 2 === 0 ? configs : [...configs].reverse()) {
      for (const phase of round % 2 === 0 ? ['synth', 'pulumi'] : ['pulumi', 'synth']) {
        results.get(config.label)[phase].push(await inChild(phase, config.flags));
      }
    }
  }
  console.log(`functions: ${FUNCTIONS}, rounds: ${ROUNDS} (median, [min–max])`);
  let objects;
  for (const config of configs) {
    const r = results.get(config.label);
    const row = (phase) => {
      const runs = r[phase];
      return {
        ms: median(runs.map((x) => x.ms)),
        cpuMs: median(runs.map((x) => x.cpuMs)),
        rssKb: median(runs.map((x) => x.maxRssKb)),
        text: `wall ${median(runs.map((x) => x.ms)).toFixed(0)} ms [${spread(runs.map((x) => x.ms))}], cpu ${median(runs.map((x) => x.cpuMs)).toFixed(0)} ms [${spread(runs.map((x) => x.cpuMs))}], peak RSS ${mb(median(runs.map((x) => x.maxRssKb)))} MB`,
      };
    };
    const synth = row('synth');
    const pul = row('pulumi');
    console.log(`[${config.label}]`);
    console.log(`  cdk8s synth (build + synth + write YAML): ${synth.text}, ${r.synth[0].objects} objects`);
    console.log(
      `  pulumi (build + synth in memory + register all, mocks): ${pul.text}, ${r.pulumi[0].registered} resources`,
    );
    const ratio = pul.ms / synth.ms;
    const verdict = ratio <= TARGET_RATIO ? 'OK' : 'OVER TARGET';
    console.log(
      `  ratio pulumi/synth: wall ${ratio.toFixed(2)}x (target <= ${TARGET_RATIO}x) ${verdict}, cpu ${(pul.cpuMs / synth.cpuMs).toFixed(2)}x, peak RSS ${(pul.rssKb / synth.rssKb).toFixed(2)}x`,
    );
    for (const p of r.pulumi) {
      if (p.registered !== r.synth[0].objects)
        throw new Error(`registered ${p.registered} resources for ${r.synth[0].objects} objects`);
    }
    objects = r.synth[0].objects;
  }
  return objects;
}

if (process.argv[2] === '--phase') {
  const phase = process.argv[3];
  const result = phase === 'synth' ? await measureSynth() : await measurePulumi();
  console.log(JSON.stringify({ ...result, maxRssKb: process.resourceUsage().maxRSS }));
  process.exit(0);
} else if (process.argv[1] === thisFile) {
  await run();
}
