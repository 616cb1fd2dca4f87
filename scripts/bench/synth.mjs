// Synth benchmark: how long `app.synth()` takes, and how much memory it needs, for a platform of
// 1000 and of 5000 NodeFunctions (Code.fromInline, one HttpTrigger each), written as YAML to a
// temporary directory exactly as `cdk8s synth` does. Each size runs in its own Node process so its
// RSS is its own; times exclude Node start and module loading. Targets (issue 2): 1000 functions
// ≤ 4 s and ≤ 600 MB RSS; 5000 functions ≤ 5.5× the time of 1000.
//
//   npm run build && node scripts/bench/synth.mjs        (or: npm run bench -- synth)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const root = join(dirname(here), '..', '..');
const SIZES = [1000, 5000];

/** In the child: build and synthesize one app, print one JSON line. */
function measure(count) {
  const entry = join(root, 'lib', 'constructs', 'index.js');
  if (!existsSync(entry)) throw new Error('lib/constructs/index.js is missing: run `npm run build` first');
  const require = createRequire(here);
  const { App } = require('cdk8s');
  const { Platform, NodeFunction, Code, HttpTrigger } = require(entry);
  const outdir = mkdtempSync(join(tmpdir(), 'kubefaas-synth-bench-'));
  try {
    const code = Code.fromInline('module.exports = async (event) => `hello ${event.path}`;');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const app = new App({ outdir });
    const platform = new Platform(app, 'platform', { namespace: 'bench' });
    for (let i = 0; i < count; i++) {
      new NodeFunction(platform, `fn-${i}`, {
        code,
        triggers: [new HttpTrigger({ path: `/fn-${i}/:id`, methods: ['GET', 'POST'] })],
      });
    }
    const t1 = performance.now();
    app.synth();
    const t2 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const rssMb = process.resourceUsage().maxRSS / 1024; // KiB -> MiB
    // CPU time too: on a shared, loaded machine wall time mostly measures the neighbours.
    return {
      count,
      constructMs: t1 - t0,
      synthMs: t2 - t1,
      totalMs: t2 - t0,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssMb,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function runChild(count) {
  const out = execFileSync(process.execPath, [here, '--child', String(count)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

export async function run() {
  const results = SIZES.map(runChild);
  const [small, large] = results;
  for (const r of results) {
    console.log(
      `${String(r.count).padStart(5)} functions: total ${(r.totalMs / 1000).toFixed(2)} s ` +
        `(constructs ${(r.constructMs / 1000).toFixed(2)} s + synth ${(r.synthMs / 1000).toFixed(2)} s), ` +
        `CPU ${(r.cpuMs / 1000).toFixed(2)} s, peak RSS ${r.rssMb.toFixed(0)} MB`,
    );
  }
  const ratio = large.totalMs / small.totalMs;
  const cpuRatio = large.cpuMs / small.cpuMs;
  console.log(
    `time ratio ${large.count}/${small.count}: ${ratio.toFixed(2)}× wall, ${cpuRatio.toFixed(2)}× CPU (target ≤ 5.5×)`,
  );
  console.log(
    `load average during the run: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${availableParallelism()} CPUs`,
  );
  const ok = small.totalMs <= 4000 && small.rssMb <= 600 && ratio <= 5.5;
  console.log(ok ? 'synth targets met' : 'synth targets NOT met (1000: ≤ 4 s, ≤ 600 MB; 5000/1000 ≤ 5.5×)');
  return { results, ratio, cpuRatio, ok };
}

if (process.argv[2] === '--child') {
  process.stdout.write(`${JSON.stringify(measure(Number(process.argv[3])))}\n`);
} else if (process.argv[1] === here) {
  const { ok } = await run();
  process.exitCode = ok ? 0 : 1;
}
