/**
 * Handlers for process-level tests written in TypeScript against `kubefaas/refs`, bundled the way
 * Code.fromAsset bundles a user's handler (esbuild, CommonJS, node20): the refs travel inside the
 * handler's bundle, as they do in a function's code ConfigMap.
 */
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const root = path.resolve(__dirname, '..', '..');

export function bundleHandler(source: string): string {
  const result = esbuild.buildSync({
    stdin: { contents: source, loader: 'ts', resolveDir: __dirname, sourcefile: 'handler.ts' },
    bundle: true,
    write: false,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    alias: { 'kubefaas/refs': path.join(root, 'src', 'refs', 'index.ts') },
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}
