import { isoNow, LogSink } from '../shared/log-sink';

export type LogLevel = 'info' | 'warn' | 'error';

/** One-line JSON logs on stdout, batched (see LogSink): router events and access lines. */
export class RouterLog extends LogSink {
  log(level: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>): void {
    this.line(JSON.stringify({ time: isoNow(), level, component: 'router', msg, ...fields }));
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
      `{"time":"${isoNow()}","level":"${entry.status >= 500 ? 'warn' : 'info'}","component":"router","msg":"request",` +
        `"requestId":${jsonString(entry.requestId)},"method":"${entry.method}","url":${jsonString(entry.url)},` +
        `"status":${entry.status},"function":"${entry.fn}","durationMs":${entry.durationMs.toFixed(3)}${error}}`,
    );
  }
}

/** Characters a JSON string must escape (and the line separators some parsers choke on). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const NEEDS_ESCAPING = /["\\\u0000-\u001f\u2028\u2029]/;

/** `JSON.stringify(value)` for a string, without the call when nothing needs escaping (the usual case). */
function jsonString(value: string): string {
  return NEEDS_ESCAPING.test(value) ? JSON.stringify(value) : `"${value}"`;
}
