// Pulumi benchmark: registering a platform of N functions (default 1000, each a NodeFunction with an
// HTTP trigger and an autoscaler) as Pulumi Kubernetes resources under mocks — build the constructs,
// synthesize in memory, register every object and wait until the engine has all of them — against
// `app.synth()` of the same app (what `cdk8s synth` runs: build, synthesize, write YAML). Each
// measurement runs in a fresh child process (so peak RSS is its own); phases alternate. Prints the
// ratios measured in this run; the target is Pulumi ≤ 3× the synth time.
//
// Standalone: `npm run build && node scripts/bench/pulumi.mjs` (or `npm run bench -- pulumi`).
// Knobs: BENCH_FUNCTIONS (default 1000), BENCH_ROUNDS (default 2).
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
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const TARGET_RATIO = 3;

/** The benchmark app: one platform, N small Node functions, each with its own route. */
function buildApp(app) {
  const { Platform, NodeFunction, Code, HttpTrigger } = require(join(root, 'lib', 'constructs', 'index.js'));
  const platform = new Platform(app, 'bench', { namespace: 'bench' });
  for (let i = 0; i < FUNCTIONS; i++) {
    new NodeFunction(platform, `fn-${i}`, {
      code: Code.fromInline(`module.exports = async (event) => 'function ${i}: ' + event.path;`),
      scaling: { minReplicas: 1, maxReplicas: 3 },
      triggers: [new HttpTrigger({ path: `/fn-${i}/:id`, methods: ['GET', 'POST'] })],
    });
  }
}

async function measureSynth() {
  const { App } = require('cdk8s');
  const outdir = mkdtempSync(join(tmpdir(), 'kubefaas-bench-'));
  try {
    const started = performance.now();
    const app = new App({ outdir });
    buildApp(app);
    app.synth();
    const ms = performance.now() - started;
    const objects = app.charts.reduce((n, chart) => n + chart.toJson().length, 0);
    return { ms, objects };
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
  const started = performance.now();
  const platform = new KubefaasPlatform('bench', { build: buildApp });
  const urns = [platform.urn, ...platform.resources.map((r) => r.urn)];
  await Promise.all(urns.map((urn) => new Promise((done) => urn.apply(done))));
  const ms = performance.now() - started;
  return { ms, objects: platform.resources.length, registered: registered - 1 };
}

/** Runs one phase in a fresh Node process; resolves with its result and peak RSS. */
function inChild(phase) {
  return new Promise((resolveResult, reject) => {
    const child = spawn(process.execPath, [thisFile, '--phase', phase], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
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

export async function run() {
  const results = { synth: [], pulumi: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const phase of round % 2 === 0 ? ['synth', 'pulumi'] : ['pulumi', 'synth']) {
      results[phase].push(await inChild(phase));
    }
  }
  const best = (phase) => results[phase].reduce((a, b) => (b.ms < a.ms ? b : a));
  const synth = best('synth');
  const pul = best('pulumi');
  console.log(`functions: ${FUNCTIONS}, rounds: ${ROUNDS} (best of each shown)`);
  console.log(`cdk8s synth (build + synth + write YAML): ${synth.ms.toFixed(0)} ms, peak RSS ${mb(synth.maxRssKb)} MB, ${synth.objects} objects`);
  console.log(`pulumi (build + synth in memory + register all, mocks): ${pul.ms.toFixed(0)} ms, peak RSS ${mb(pul.maxRssKb)} MB, ${pul.registered} resources`);
  const ratio = pul.ms / synth.ms;
  console.log(`time ratio pulumi/synth: ${ratio.toFixed(2)}x (target <= ${TARGET_RATIO}x) ${ratio <= TARGET_RATIO ? 'OK' : 'OVER TARGET'}`);
  console.log(`peak RSS ratio pulumi/synth: ${(pul.maxRssKb / synth.maxRssKb).toFixed(2)}x`);
  if (pul.registered !== synth.objects) throw new Error(`registered ${pul.registered} resources for ${synth.objects} objects`);
}

if (process.argv[2] === '--phase') {
  const phase = process.argv[3];
  const result = phase === 'synth' ? await measureSynth() : await measurePulumi();
  console.log(JSON.stringify({ ...result, maxRssKb: process.resourceUsage().maxRSS }));
  process.exit(0);
} else if (process.argv[1] === thisFile) {
  await run();
}
