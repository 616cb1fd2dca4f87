import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'cdk8s';
import { parseAllDocuments } from 'yaml';

/** Runs `app.synth()` (what `cdk8s synth` runs) into a temporary dist/ and reads back every object it wrote. */
export function synthesizedFiles(build: (app: App) => void): Record<string, any>[] {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubefaas-synth-'));
  try {
    const app = new App({ outdir });
    build(app);
    app.synth();
    return fs
      .readdirSync(outdir)
      .filter((f) => f.endsWith('.k8s.yaml'))
      .sort()
      .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(outdir, f), 'utf8')).map((d) => d.toJSON()))
      .filter((o) => o !== null);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** `kind/namespace/name` of a manifest, for comparing sets of objects. */
export function idOf(o: Record<string, any>): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
