/**
 * A small recursive directory watcher: one `fs.watch` per directory (portable, unlike recursive
 * fs.watch on older Linux Node releases), re-scanned after each change so new directories are watched
 * too, and debounced so an editor's burst of writes triggers one callback.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Directory names never watched: dependencies, VCS data and build outputs. */
export const IGNORED_DIRS: ReadonlySet<string> = new Set([
  'node_modules',
  '.git',
  'dist',
  'lib',
  'cdk8s.out',
  'coverage',
  '.kubefaas',
]);

export interface WatchOptions {
  /** Quiet period after the last change before `onChange` runs. @default 200 */
  readonly debounceMs?: number;
}

export interface Watcher {
  close(): void;
}

export function watchDirs(
  roots: readonly string[],
  onChange: (changed: string[]) => void,
  opts: WatchOptions = {},
): Watcher {
  const debounceMs = opts.debounceMs ?? 200;
  const watchers = new Map<string, fs.FSWatcher>();
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const scan = (dir: string): void => {
    if (closed || watchers.has(dir)) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
      const w = fs.watch(dir, (_event, filename) => {
        pending.add(filename ? path.join(dir, filename.toString()) : dir);
        if (timer) clearTimeout(timer);
        timer = setTimeout(flush, debounceMs);
      });
      w.on('error', () => {
        w.close();
        watchers.delete(dir);
      });
      watchers.set(dir, w);
    } catch {
      return; // vanished or unreadable
    }
    for (const e of entries)
      if (e.isDirectory() && !IGNORED_DIRS.has(e.name) && !e.name.startsWith('.')) scan(path.join(dir, e.name));
  };

  const flush = (): void => {
    timer = undefined;
    if (closed) return;
    for (const [dir, w] of watchers) {
      if (!fs.existsSync(dir)) {
        w.close();
        watchers.delete(dir);
      }
    }
    for (const root of roots) scan(root);
    for (const dir of [...pending]) if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) scan(dir);
    const changed = [...pending];
    pending = new Set();
    onChange(changed);
  };

  for (const root of roots) scan(path.resolve(root));
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
