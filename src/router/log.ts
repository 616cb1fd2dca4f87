/** Flush early when a batch grows beyond this many characters. */
const MAX_BATCH_CHARS = 64 * 1024;

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * One-line JSON logs on stdout, batched per event-loop turn.
 * Writing to a pipe or file is a synchronous syscall per call; under load many requests finish in
 * the same turn, so one write per turn keeps access logging from dominating the request cost.
 */
export class RouterLog {
  private pending = '';
  private scheduled = false;
  private readonly flushSoon = (): void => this.flush();

  /** @param write destination of complete batches of lines; @default process.stdout */
  constructor(private readonly write: (chunk: string) => void = (chunk) => void process.stdout.write(chunk)) {}

  log(level: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>): void {
    this.line(JSON.stringify({ time: new Date().toISOString(), level, component: 'router', msg, ...fields }));
  }

  /** Queues one JSON document (without the trailing newline). */
  line(json: string): void {
    this.pending += json + '\n';
    if (this.pending.length > MAX_BATCH_CHARS) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  /** Writes what is queued; main.ts calls it before the process exits. */
  flush(): void {
    this.scheduled = false;
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.write(chunk);
  }
}

/** What one access-log line records. */
export interface AccessRecord {
  readonly requestId: string;
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly status: number;
  /** Function the request was routed to; empty when nothing matched. */
  readonly fn: string;
  readonly durationMs: number;
  /** Why the router answered with an error itself (unreachable, timeout, …), if it did. */
  readonly error?: string;
}

/**
 * Access logging with sampling: every response with status >= 500 is logged; other requests with
 * probability `sample` (1 = all, 0 = none).
 */
export class AccessLog {
  private readonly clock = new MillisecondClock();

  constructor(
    private readonly log: RouterLog,
    private readonly sample: number,
  ) {}

  record(entry: AccessRecord): void {
    if (entry.status < 500 && (this.sample === 0 || (this.sample < 1 && Math.random() >= this.sample))) {
      return;
    }
    // Built as a template rather than JSON.stringify of an object: this runs for every request by
    // default. Method (an HTTP token) and function (a DNS label) cannot need escaping; the rest can.
    const error = entry.error === undefined ? '' : `,"error":${JSON.stringify(entry.error)}`;
    this.log.line(
      `{"time":"${this.clock.iso()}","level":"${entry.status >= 500 ? 'warn' : 'info'}","component":"router","msg":"request",` +
        `"requestId":${JSON.stringify(entry.requestId)},"method":"${entry.method}","url":${JSON.stringify(entry.url)},` +
        `"status":${entry.status},"function":"${entry.fn}","durationMs":${entry.durationMs.toFixed(3)}${error}}`,
    );
  }
}

/** `new Date().toISOString()`, computed once per millisecond however many lines share it. */
class MillisecondClock {
  private lastMs = 0;
  private lastIso = '';

  iso(): string {
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.lastIso = new Date(now).toISOString();
    }
    return this.lastIso;
  }
}
