import type { FunctionLogger } from './types';

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

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * A logger whose every line carries the same fields (function, request id, trace id).
 * `baseFields` is a pre-serialized JSON fragment such as `"function":"hello","requestId":"a1"`,
 * so the common fields are encoded once, not once per line.
 */
export class JsonLogger implements FunctionLogger {
  constructor(
    private readonly sink: LogSink,
    private readonly baseFields: string,
  ) {}

  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }

  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }

  write(level: LogLevel, msg: unknown, fields?: Record<string, unknown>): void {
    let line = `{"level":"${level}","time":"${isoNow()}","msg":${JSON.stringify(String(msg))},${this.baseFields}`;
    if (fields) {
      const extra = serializeFields(fields);
      if (extra.length > 2) line += ',' + extra.slice(1, -1);
    }
    this.sink.line(line + '}');
  }
}

/** Builds the `"key":value,...` fragment for fields shared by every line of a logger. */
export function jsonFragment(fields: Record<string, string | number | undefined>): string {
  let out = '';
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value === undefined) continue;
    out += (out ? ',' : '') + JSON.stringify(key) + ':' + JSON.stringify(value);
  }
  return out;
}

function serializeFields(fields: Record<string, unknown>): string {
  try {
    return JSON.stringify(fields, errorsAsObjects);
  } catch (err) {
    // A circular structure or a BigInt must not turn a log call into a failed request.
    return JSON.stringify({ logFieldsError: err instanceof Error ? err.message : String(err) });
  }
}

/** JSON.stringify renders Errors as `{}`; keep what a reader of the log needs. */
function errorsAsObjects(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (typeof value === 'bigint') return value.toString();
  return value;
}
