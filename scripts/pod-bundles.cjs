// Shared by `npm run build`, the jest global setup and constructs/pod-code.ts (which builds on demand
// in a fresh checkout): one definition of the in-pod bundles and of the esbuild options that make them.
const path = require('node:path');
const fs = require('node:fs');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const CONFIGMAP_LIMIT = 1024 * 1024;

/** name -> entry point (relative to the repo root). Output: lib/pod/<name>.js */
const BUNDLES = {
  runtime: 'src/runtime/main.ts',
  router: 'src/router/main.ts',
  cron: 'src/cron/main.ts',
};

/** The esbuild options of one in-pod bundle (same for the async and the sync build). */
function bundleOptions(name) {
  return {
    entryPoints: [path.join(root, BUNDLES[name])],
    outfile: path.join(root, 'lib', 'pod', `${name}.js`),
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    legalComments: 'none',
    logLevel: 'error',
  };
}

function checkSize(name, outfile) {
  const bytes = fs.statSync(outfile).size;
  if (bytes > CONFIGMAP_LIMIT * 0.9) {
    throw new Error(`${name} bundle is ${bytes} bytes, too close to the 1 MiB ConfigMap limit`);
  }
  return { name, outfile: path.relative(root, outfile), bytes };
}

function entryExists(name) {
  return fs.existsSync(path.join(root, BUNDLES[name]));
}

/** The Python runtime ships as it is (no bundling): src/runtime-python/*.py -> lib/pod/python-runtime/. */
const PYTHON_RUNTIME_SOURCE = path.join(root, 'src', 'runtime-python');
const PYTHON_RUNTIME_OUT = path.join(root, 'lib', 'pod', 'python-runtime');

function copyPythonRuntime() {
  if (!fs.existsSync(PYTHON_RUNTIME_SOURCE)) return undefined;
  fs.rmSync(PYTHON_RUNTIME_OUT, { recursive: true, force: true });
  fs.mkdirSync(PYTHON_RUNTIME_OUT, { recursive: true });
  let bytes = 0;
  for (const name of fs.readdirSync(PYTHON_RUNTIME_SOURCE).filter((f) => f.endsWith('.py'))) {
    fs.copyFileSync(path.join(PYTHON_RUNTIME_SOURCE, name), path.join(PYTHON_RUNTIME_OUT, name));
    bytes += fs.statSync(path.join(PYTHON_RUNTIME_OUT, name)).size;
  }
  if (bytes > CONFIGMAP_LIMIT * 0.9) throw new Error(`the Python runtime is ${bytes} bytes, too close to the 1 MiB ConfigMap limit`);
  return { name: 'python-runtime', outfile: path.relative(root, PYTHON_RUNTIME_OUT), bytes };
}

async function buildPodBundles() {
  fs.mkdirSync(path.join(root, 'lib', 'pod'), { recursive: true });
  const results = [];
  const python = copyPythonRuntime();
  if (python) results.push(python);
  for (const name of Object.keys(BUNDLES)) {
    if (!entryExists(name)) continue; // a component not written yet
    const options = bundleOptions(name);
    await esbuild.build(options);
    results.push(checkSize(name, options.outfile));
  }
  return results;
}

/** Builds one bundle synchronously (used at synth time when lib/pod/<name>.js is missing). */
function buildPodBundleSync(name) {
  if (!(name in BUNDLES)) throw new Error(`unknown pod bundle '${name}'`);
  fs.mkdirSync(path.join(root, 'lib', 'pod'), { recursive: true });
  const options = bundleOptions(name);
  esbuild.buildSync(options);
  return checkSize(name, options.outfile);
}

module.exports = { buildPodBundles, buildPodBundleSync, bundleOptions, entryExists, BUNDLES, copyPythonRuntime };
