import { isoNow, LogSink } from '../shared/log-sink';

export type LogLevel = 'info' | 'warn' | 'error';

/** One-line JSON logs on stdout, batched (see LogSink), like the router's. */
export class ScalerLog extends LogSink {
  log(level: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>): void {
    this.line(JSON.stringify({ time: isoNow(), level, component: 'scaler', msg, ...fields }));
  }
}
