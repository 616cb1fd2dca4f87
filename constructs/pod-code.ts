import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The in-pod code shipped inside the library: lib/pod/runtime.js, router.js, cron.js and scaler.js.
 *
 * Found by walking up from this file to the package root, so it works from the TypeScript sources
 * (tsx, jest), from the compiled lib/constructs/*.js and from an npm-installed copy. In a fresh
 * checkout where nothing is built yet, the bundles are built synchronously with the same esbuild
 * options as `npm run build` (scripts/pod-bundles.cjs is the one definition of those options).
 */
export type PodBundleName = 'runtime' | 'router' | 'cron' | 'scaler';

export interface PodBundle {
  readonly source: string;
  /** sha256 of the source, hex. */
  readonly sha256: string;
}

const cache = new Map<PodBundleName, PodBundle>();

/** The nearest directory above `start` holding the kubefaas package.json. */
export function packageRoot(start: string): string {
  let dir = start;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if (JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'kubefaas') return dir;
      } catch {
        // an unreadable package.json above us is not ours; keep walking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`kubefaas: cannot find the kubefaas package root above ${start}`);
    dir = parent;
  }
}

function buildInPlace(root: string, name: PodBundleName, file: string): void {
  // Shipped in the package (package.json `files`), so this require resolves in an installed copy too.
  const script = path.join(root, 'scripts', 'pod-bundles.cjs');
  if (!fs.existsSync(script)) {
    throw new Error(`kubefaas: ${file} is missing from the installed package; reinstall kubefaas`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bundles = require(script) as { entryExists(n: string): boolean; buildPodBundleSync(n: string): unknown };
  if (!bundles.entryExists(name)) {
    // An installed package ships lib/pod/ but not the sources the bundles are built from.
    throw new Error(
      `kubefaas: ${file} is missing and its sources are not here; reinstall kubefaas (in a checkout: run \`npm run build\`)`,
    );
  }
  bundles.buildPodBundleSync(name);
}

/** The bundled in-pod program `name`, read once per process. */
export function podBundle(name: PodBundleName): PodBundle {
  const cached = cache.get(name);
  if (cached) return cached;
  const root = packageRoot(__dirname);
  const file = path.join(root, 'lib', 'pod', `${name}.js`);
  if (!fs.existsSync(file)) buildInPlace(root, name, file);
  const source = fs.readFileSync(file, 'utf8');
  const bundle = { source, sha256: createHash('sha256').update(source).digest('hex') };
  cache.set(name, bundle);
  return bundle;
}
