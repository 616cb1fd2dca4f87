import { type FSWatcher, type Stats, readFile, stat, watch } from 'node:fs';
import { dirname } from 'node:path';

/** How often the file is checked even when no watch event arrived. */
const POLL_INTERVAL_MS = 1000;
/** Coalesces the burst of events a ConfigMap update (several renames) produces into one reload. */
const DEBOUNCE_MS = 50;

/** What is watched and how it is read, when not the one file at `path`. */
export interface WatchedSource {
  /** Directory whose events trigger a re-read. @default dirname(path) */
  readonly watchDir?: string;
  /** Reads the watched thing as text. @default readFile(path, 'utf8') */
  readonly read?: (path: string, done: (err: NodeJS.ErrnoException | null, text: string) => void) => void;
}

export interface TableWatcherEvents {
  /** Called with the file's text whenever it differs from the text last delivered. */
  readonly onText: (text: string) => void;
  /** Called when the file cannot be read (missing, permissions); the current table stays. */
  readonly onReadError: (err: Error) => void;
}

/**
 * Watches the route table file the way kubelet updates ConfigMap volumes: the file is a symlink
 * into a `..data` directory that is replaced by an atomic rename, so the file itself never changes
 * in place. We therefore watch the *directory* (any event triggers a re-read) and, because inotify
 * events can be missed (overlay filesystems, some volume drivers), also poll `stat()` every second.
 * Reads are compared by content, so spurious events cost one small read and nothing else.
 */
export class TableWatcher {
  private watcher: FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private lastText: string | undefined;
  private lastStat = '';
  private reading = false;
  private rereadRequested = false;
  private lastError = '';

  constructor(
    private readonly path: string,
    private readonly events: TableWatcherEvents,
    private readonly source: WatchedSource = {},
  ) {}

  /** Reads the file now and starts watching; returns after the first read attempt. */
  start(): Promise<void> {
    try {
      this.watcher = watch(this.source.watchDir ?? dirname(this.path), { persistent: false }, () =>
        this.scheduleRead(),
      );
      this.watcher.on('error', () => {
        // The directory vanished or the watch broke: polling still covers us.
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // No directory yet (or no inotify): polling alone.
    }
    this.pollTimer = setInterval(() => this.poll(), POLL_INTERVAL_MS);
    this.pollTimer.unref();
    return new Promise((resolve) => this.read(resolve));
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
  }

  private scheduleRead(): void {
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => this.read(), DEBOUNCE_MS);
    this.debounceTimer.unref();
  }

  private poll(): void {
    stat(this.path, (err, stats) => {
      const signature = err ? `error:${err.code}` : statSignature(stats);
      if (signature !== this.lastStat) {
        this.lastStat = signature;
        this.read();
      }
    });
  }

  private read(done?: () => void): void {
    if (this.reading) {
      this.rereadRequested = true;
      done?.();
      return;
    }
    this.reading = true;
    const read = this.source.read ?? ((path, done) => readFile(path, 'utf8', done));
    read(this.path, (err, text) => {
      this.reading = false;
      if (err) {
        // Report each distinct failure once, not once per poll.
        const key = `${err.code}:${err.message}`;
        if (key !== this.lastError) {
          this.lastError = key;
          this.events.onReadError(err);
        }
      } else {
        this.lastError = '';
        if (text !== this.lastText) {
          this.lastText = text;
          this.events.onText(text);
        }
      }
      done?.();
      if (this.rereadRequested) {
        this.rereadRequested = false;
        this.read();
      }
    });
  }
}

function statSignature(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}
