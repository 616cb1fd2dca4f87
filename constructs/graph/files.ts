import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IConstruct } from 'constructs';
import {
  GRAPH_FILES,
  GRAPH_VERSION,
  renderGraphMarkdown,
  type GraphFile,
  type PlatformGraph,
} from '../../src/contract';

/** The app's output directory (cdk8s `App.outdir`), when the root of the tree is an App. */
export function appOutdir(scope: IConstruct): string | undefined {
  const outdir = (scope.node.root as { readonly outdir?: unknown }).outdir;
  return typeof outdir === 'string' ? outdir : undefined;
}

/** The file for some graphs. */
export function graphFile(graphs: readonly PlatformGraph[]): GraphFile {
  return { version: GRAPH_VERSION, platforms: [...graphs] };
}

/**
 * Writes GRAPH_FILES (JSON and the Mermaid page) into `outdir`, only when the directory exists:
 * `app.synth()` (so `cdk8s synth`, `kubefaas dev`) creates it before it validates, which is when the
 * platform calls this; a `chart.toJson()` alone (the Pulumi component, tests) writes nothing where
 * there is no output directory. Unchanged files are left alone, so watchers see no change.
 */
export function writeGraphFiles(outdir: string, file: GraphFile): boolean {
  if (!fs.existsSync(outdir) || !fs.statSync(outdir).isDirectory()) return false;
  writeIfChanged(path.join(outdir, GRAPH_FILES.json), JSON.stringify(file, null, 2) + '\n');
  writeIfChanged(path.join(outdir, GRAPH_FILES.markdown), renderGraphMarkdown(file));
  return true;
}

function writeIfChanged(file: string, text: string): void {
  try {
    if (fs.readFileSync(file, 'utf8') === text) return;
  } catch {
    // not there yet
  }
  fs.writeFileSync(file, text);
}
