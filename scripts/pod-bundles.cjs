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
  scaler: 'src/scaler/main.ts',
};

/**
 * nats.js is CommonJS behind one barrel module, so esbuild cannot tree-shake it: every bundle that
 * touches the queue would carry the benchmark tool, the service framework and the object store
 * (with its sha256), ~40 KiB that no kubefaas component calls. They are replaced by a module whose
 * every export throws when used, so a future use fails loudly instead of silently. nats.js only
 * reaches them lazily (inside methods such as `nc.services` or `js.views.os`), which is what makes
 * leaving them out safe; the queue and cron tests run these bundles against a real nats-server.
 */
const UNUSED_NATS_MODULES = [
  'nats-base-client/bench',
  'nats-base-client/service',
  'jetstream/objectstore',
  'nats-base-client/js-sha256',
];

const leaveOutUnusedNatsModules = {
  name: 'kubefaas-unused-nats-modules',
  setup(build) {
    const basenames = UNUSED_NATS_MODULES.map((m) => m.split('/').pop()).join('|');
    build.onResolve({ filter: new RegExp(`^\\.{1,2}/(?:.*/)?(?:${basenames})$`) }, (args) => {
      const resolved = path.join(args.resolveDir, args.path).split(path.sep).join('/');
      const hit = UNUSED_NATS_MODULES.find((m) => resolved.endsWith(`/nats/lib/${m}`));
      return hit ? { path: hit, namespace: 'kubefaas-left-out' } : undefined;
    });
    build.onLoad({ filter: /.*/, namespace: 'kubefaas-left-out' }, (args) => ({
      loader: 'js',
      contents: `module.exports = new Proxy({}, { get(_, key) {
        if (typeof key !== 'string' || key === '__esModule') return undefined;
        throw new Error('kubefaas: nats ${args.path} (' + key + ') is left out of the pod bundles; see scripts/pod-bundles.cjs');
      } });`,
    }));
  },
};

/**
 * Packages a dependency requires only on paths kubefaas never takes, replaced like the nats modules
 * above. @grpc/proto-loader (with protobufjs, ~145 KiB minified) is loaded by grpc-js only for its
 * channelz and ORCA admin services, which the scaler does not register; the scaler encodes KEDA's
 * messages itself (src/scaler/protocol.ts).
 */
const UNUSED_PACKAGES = ['@grpc/proto-loader'];

const leaveOutUnusedPackages = {
  name: 'kubefaas-unused-packages',
  setup(build) {
    const names = UNUSED_PACKAGES.map((p) => p.replace(/[/.]/g, '\\$&')).join('|');
    build.onResolve({ filter: new RegExp(`^(?:${names})$`) }, (args) => ({
      path: args.path,
      namespace: 'kubefaas-left-out-package',
    }));
    build.onLoad({ filter: /.*/, namespace: 'kubefaas-left-out-package' }, (args) => ({
      loader: 'js',
      contents: `module.exports = new Proxy({}, { get(_, key) {
        if (typeof key !== 'string' || key === '__esModule') return undefined;
        throw new Error('kubefaas: ${args.path} (' + key + ') is left out of the pod bundles; see scripts/pod-bundles.cjs');
      } });`,
    }));
  },
};

/** The esbuild options of one in-pod bundle. */
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
    // Nothing in pod code is debugged with a `debugger` statement; drop any a dependency ships.
    drop: ['debugger'],
    plugins: [leaveOutUnusedNatsModules, leaveOutUnusedPackages],
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
  if (bytes > CONFIGMAP_LIMIT * 0.9)
    throw new Error(`the Python runtime is ${bytes} bytes, too close to the 1 MiB ConfigMap limit`);
  return { name: 'python-runtime', outfile: path.relative(root, PYTHON_RUNTIME_OUT), bytes };
}

async function buildPodBundles() {
  fs.mkdirSync(path.join(root, 'lib', 'pod'), { recursive: true });
  const results = [];
  const python = copyPythonRuntime();
  if (python) results.push(python);
  for (const name of Object.keys(BUNDLES)) {
    if (!entryExists(name)) continue; // a component not written yet
    results.push(await buildPodBundle(name));
  }
  return results;
}

/**
 * Builds one bundle synchronously (used at synth time when lib/pod/<name>.js is missing). esbuild's
 * buildSync takes no plugins, so the async build runs in a child node process and we wait for it.
 */
function buildPodBundleSync(name) {
  if (!(name in BUNDLES)) throw new Error(`unknown pod bundle '${name}'`);
  const script = `require(${JSON.stringify(__filename)}).buildPodBundle(${JSON.stringify(name)}).catch((e) => { console.error(e); process.exit(1); })`;
  require('node:child_process').execFileSync(process.execPath, ['-e', script], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return checkSize(name, bundleOptions(name).outfile);
}

/** Builds one bundle. */
async function buildPodBundle(name) {
  fs.mkdirSync(path.join(root, 'lib', 'pod'), { recursive: true });
  const options = bundleOptions(name);
  await esbuild.build(options);
  return checkSize(name, options.outfile);
}

module.exports = {
  buildPodBundles,
  buildPodBundle,
  buildPodBundleSync,
  bundleOptions,
  entryExists,
  BUNDLES,
  copyPythonRuntime,
};
