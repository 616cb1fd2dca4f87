// Scaling benchmarks (issue 10): `npm run bench -- scaling`. Each part lives in a module of its own
// (no run() there, so bench.mjs does not run it twice); results go in docs/benchmarks.md.
import { benchLocalColdStart } from './local-cold-start.mjs';
import { benchScalerGetMetrics } from './scaler-metrics.mjs';

export async function run() {
  await benchScalerGetMetrics();
  await benchLocalColdStart();
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
