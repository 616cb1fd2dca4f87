import { readFile, readdir } from 'node:fs';
import { join } from 'node:path';
import { TableWatcher } from '../table-watcher';

/** The files of a mounted Secret: key → value (UTF-8). */
export type SecretFiles = ReadonlyMap<string, string>;

/**
 * Watches a Secret volume directory (`<secrets dir>/<secret>/`). kubelet updates Secret volumes like
 * ConfigMap volumes (a `..data` symlink swapped atomically), so the route table's watcher does the
 * work: watch the directory, poll it every second, deliver when the content changed.
 */
export class SecretDir {
  private readonly watcher: TableWatcher;

  constructor(dir: string, onFiles: (files: SecretFiles) => void, onError: (err: Error) => void) {
    this.watcher = new TableWatcher(
      dir,
      { onText: (text) => onFiles(new Map(JSON.parse(text) as Array<[string, string]>)), onReadError: onError },
      { watchDir: dir, read: readSecretDir },
    );
  }

  start(): Promise<void> {
    return this.watcher.start();
  }

  stop(): void {
    this.watcher.stop();
  }
}

/** Reads every key of a Secret volume (skipping kubelet's `..data`-style entries) as JSON text. */
function readSecretDir(dir: string, done: (err: NodeJS.ErrnoException | null, text: string) => void): void {
  readdir(dir, (err, names) => {
    if (err) return done(err, '');
    const keys = names.filter((n) => !n.startsWith('.')).sort();
    const entries: Array<[string, string]> = [];
    let pending = keys.length;
    let failed = false;
    if (pending === 0) return done(null, '[]');
    keys.forEach((key, i) => {
      readFile(join(dir, key), 'utf8', (readErr, value) => {
        if (failed) return;
        if (readErr) {
          // A directory entry that is not a readable file (e.g. a subdirectory): skipped.
          if (readErr.code !== 'EISDIR') {
            failed = true;
            return done(readErr, '');
          }
        } else {
          entries[i] = [key, value];
        }
        if (--pending === 0) done(null, JSON.stringify(entries.filter((e) => e !== undefined)));
      });
    });
  });
}
