/**
 * Output of the local runner: every line is an entry with a source (a process name, or `kubefaas` for
 * the runner itself). The console sink prints `name  | line`, names padded to a common width and, on a
 * terminal, each name in its own colour.
 */
export type LogStream = 'stdout' | 'stderr' | 'system';
export type LogLevel = 'info' | 'warn' | 'error';

export interface LogEntry {
  /** Process name, or `kubefaas` for the runner's own messages. */
  readonly source: string;
  readonly stream: LogStream;
  readonly level: LogLevel;
  readonly text: string;
}

export type LogSink = (entry: LogEntry) => void;

/** Source name of the runner's own messages. */
export const RUNNER_SOURCE = 'kubefaas';

const COLORS = [36, 32, 35, 34, 33, 96, 92, 95, 94];
const LEVEL_COLORS: Record<LogLevel, number | undefined> = { info: undefined, warn: 33, error: 31 };

export interface ConsoleSinkOptions {
  /** Where to write. @default process.stdout */
  readonly out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Colour names and warnings. @default out.isTTY and NO_COLOR unset */
  readonly color?: boolean;
}

/** A sink that writes formatted lines; call `pad(names)` once names are known to align them. */
export interface ConsoleSink extends LogSink {
  pad(names: readonly string[]): void;
}

export function formatLogLine(entry: LogEntry, width: number, color: boolean): string {
  const name = entry.source.padEnd(width);
  if (!color) return `${name} | ${entry.text}`;
  const nameColor = entry.source === RUNNER_SOURCE ? 1 : COLORS[hash(entry.source) % COLORS.length];
  const levelColor = LEVEL_COLORS[entry.level];
  const text = levelColor ? `\x1b[${levelColor}m${entry.text}\x1b[0m` : entry.text;
  return `\x1b[${nameColor}m${name}\x1b[0m | ${text}`;
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h;
}

export function consoleSink(opts: ConsoleSinkOptions = {}): ConsoleSink {
  const out = opts.out ?? process.stdout;
  const color = opts.color ?? (Boolean(out.isTTY) && process.env.NO_COLOR === undefined);
  let width = RUNNER_SOURCE.length;
  const sink = ((entry: LogEntry) => {
    out.write(`${formatLogLine(entry, width, color)}\n`);
  }) as ConsoleSink;
  sink.pad = (names) => {
    width = Math.max(RUNNER_SOURCE.length, ...names.map((n) => n.length));
  };
  return sink;
}

/** Convenience for the runner's own messages. */
export function runnerLog(sink: LogSink, level: LogLevel, text: string): void {
  for (const line of text.split('\n')) sink({ source: RUNNER_SOURCE, stream: 'system', level, text: line });
}
