// `npm run bench`: runs every benchmark under scripts/bench/ (or only those named on the command line,
// e.g. `npm run bench -- runtime router`) one after another, so they don't compete for the CPUs.
// Each prints ratios against a baseline measured in the same run; results go in docs/benchmarks.md.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'bench');
const wanted = process.argv.slice(2);
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.mjs'))
  .map((f) => f.replace(/\.mjs$/, ''))
  .filter((n) => wanted.length === 0 || wanted.includes(n))
  .sort();

let failed = 0;
for (const name of names) {
  const mod = await import(pathToFileURL(join(dir, `${name}.mjs`)).href);
  if (typeof mod.run !== 'function') continue; // a shared helper module, not a benchmark
  console.log(`\n=== ${name} ===`);
  try {
    await mod.run();
  } catch (err) {
    failed++;
    console.error(`${name} benchmark failed:`, err);
  }
}
process.exitCode = failed ? 1 : 0;
