/**
 * Batched one-line JSON logging shared by the function runtime and the router: both log a line
 * per request, and one stdout write per batch keeps that from dominating the request cost.
 */

/** Receives batches of complete JSON lines (each ending in `\n`). */
export type LogWrite = (chunk: string) => void;

/** Flush early when a batch grows beyond this many characters. */
const MAX_BATCH_CHARS = 64 * 1024;
/** Longest a line waits in the batch; short enough that `kubectl logs -f` feels live. */
const FLUSH_DELAY_MS = 10;

let cachedMs = -1;
let cachedIso = '';
/**
 * `new Date().toISOString()` for the current millisecond, cached: under load many lines share a
 * millisecond, and formatting a date is a large part of the cost of a short log line.
 */
export function isoNow(): string {
  const now = Date.now();
  if (now !== cachedMs) {
    cachedMs = now;
    cachedIso = new Date(now).toISOString();
  }
  return cachedIso;
}

/**
 * Collects JSON log lines and writes them in batches, at most FLUSH_DELAY_MS after the first line
 * of a batch (or at once past MAX_BATCH_CHARS). Writing stdout is a synchronous syscall per call
 * for pipes and files; under load hundreds of requests finish within a batch window, so batching
 * turns them into one write without reordering lines. `flush()` must run before the process exits
 * (main.ts does it on exit and after shutdown); a SIGKILL loses at most one window of lines.
 */
export class LogSink {
  private pending = '';
  private scheduled = false;
  private readonly flushSoon = (): void => this.flush();

  /** @param write destination of the batches; @default process.stdout */
  constructor(private readonly write: LogWrite = (chunk) => void process.stdout.write(chunk)) {}

  /** Queues one JSON document (without the trailing newline). */
  line(json: string): void {
    this.pending += json + '\n';
    if (this.pending.length > MAX_BATCH_CHARS) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      // A short timer rather than setImmediate: an immediate pending on every loop turn makes libuv
      // poll without waiting, so fewer connections are served per turn (it measured slower).
      const timer = setTimeout(this.flushSoon, FLUSH_DELAY_MS);
      timer.unref();
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.write(chunk);
  }
}
