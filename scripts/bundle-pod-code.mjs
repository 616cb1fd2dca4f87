// Bundles the code that runs inside pods (function runtime, router) into single minified files
// under lib/pod/. Constructs put these files into ConfigMaps, so each must stay well under 1 MiB.
import { buildPodBundles } from './pod-bundles.cjs';

const results = await buildPodBundles();
for (const r of results) console.log(`bundled ${r.name}: ${(r.bytes / 1024).toFixed(1)} KiB -> ${r.outfile}`);
