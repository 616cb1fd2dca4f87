/**
 * Writes a process's planned volumes to disk. Files are replaced atomically (write to a temporary file,
 * then rename) so a process that watches a file, like the router watching routes.json, never reads a
 * half-written one — the same guarantee the kubelet gives with its symlink swap.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PlannedVolume } from './volume';

/** Writes every volume of `plan` (a process's, or an install's); returns the files whose content changed. */
export function materializeVolumes(plan: { readonly volumes: readonly PlannedVolume[] }): string[] {
  const changed: string[] = [];
  for (const v of plan.volumes) {
    fs.mkdirSync(v.dir, { recursive: true });
    if (!v.files) continue;
    for (const [rel, content] of v.files) {
      const file = path.join(v.dir, rel);
      if (writeIfChanged(file, content)) changed.push(file);
    }
    for (const stale of listFiles(v.dir)) {
      if (!v.files.has(path.relative(v.dir, stale).split(path.sep).join('/'))) {
        fs.rmSync(stale, { force: true });
        changed.push(stale);
      }
    }
  }
  return changed;
}

function writeIfChanged(file: string, content: Buffer): boolean {
  try {
    if (fs.readFileSync(file).equals(content)) return false;
  } catch {
    // missing: write it
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
  return true;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}
