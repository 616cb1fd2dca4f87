import type { FunctionLogger } from '../contract';

import { isoNow, LogSink } from '../shared/log-sink';

export { isoNow, LogSink, type LogWrite } from '../shared/log-sink';

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
