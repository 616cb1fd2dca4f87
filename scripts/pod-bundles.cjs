// Shared by `npm run build` and the jest global setup: one definition of the in-pod bundles.
const path = require('node:path');
const fs = require('node:fs');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const CONFIGMAP_LIMIT = 1024 * 1024;

/** name -> entry point (relative to the repo root). Output: lib/pod/<name>.js */
const BUNDLES = {
  runtime: 'src/runtime/main.ts',
  router: 'src/router/main.ts',
};

async function buildPodBundles() {
  const outdir = path.join(root, 'lib', 'pod');
  fs.mkdirSync(outdir, { recursive: true });
  const results = [];
  for (const [name, entry] of Object.entries(BUNDLES)) {
    const entryPath = path.join(root, entry);
    if (!fs.existsSync(entryPath)) continue; // a component not written yet
    const outfile = path.join(outdir, `${name}.js`);
    await esbuild.build({
      entryPoints: [entryPath],
      outfile,
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      legalComments: 'none',
      logLevel: 'error',
    });
    const bytes = fs.statSync(outfile).size;
    if (bytes > CONFIGMAP_LIMIT * 0.9) {
      throw new Error(`${name} bundle is ${bytes} bytes, too close to the 1 MiB ConfigMap limit`);
    }
    results.push({ name, outfile: path.relative(root, outfile), bytes });
  }
  return results;
}

module.exports = { buildPodBundles, BUNDLES };
