import { parse as parseQueryString } from 'node:querystring';
import { Match, type JsMsg, type MsgHdrs } from 'nats';
import type { QueueSubscription } from '../contract';
import type { FunctionEvent } from '../runtime/types';
import { CLOUDEVENTS_SPEC_VERSION, MessageHeaders, QueueEventTypes } from './subjects';

/**
 * The event a handler receives for a queue delivery: the same FunctionEvent shape as an HTTP request
 * (CloudEvents attributes + method/path/headers/body), so one handler serves both. Async calls carry
 * the HTTP request the router accepted; topic messages and cron ticks look like a `POST /`.
 */
export class QueueEvent implements FunctionEvent {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly params: Readonly<Record<string, string>> = {};
  readonly body: Buffer;
  /** The subject the message was published on. */
  readonly subject: string;
  /** Stream sequence: unique per stream, stable across redeliveries. */
  readonly sequence: number;
  /** 1 for the first delivery. */
  readonly attempt: number;
  /** Async calls: the call id (also `X-Call-Id` in `headers`). */
  readonly callId?: string;
  /** Async calls: where the result is POSTed. */
  readonly callbackUrl?: string;
  readonly #timeHeader: string | undefined;
  readonly #timestampNanos: number;
  #time?: string;

  constructor(msg: JsMsg, sub: QueueSubscription, functionName: string) {
    const h = msg.headers;
    const kind = sub.kind;
    this.subject = msg.subject;
    this.sequence = msg.seq;
    this.attempt = msg.info.deliveryCount;
    this.body = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    const headers = kind === 'async' ? httpHeadersOf(h) : messageHeadersOf(h);
    const rawPath = (kind === 'async' && header(h, MessageHeaders.path)) || '/';
    const q = rawPath.indexOf('?');
    this.path = q === -1 ? rawPath : rawPath.slice(0, q);
    this.query = q === -1 ? {} : (parseQueryString(rawPath.slice(q + 1)) as Record<string, string | string[]>);
    this.method = (kind === 'async' && header(h, MessageHeaders.method)) || 'POST';
    if (kind === 'async') {
      this.callId = header(h, MessageHeaders.callId);
      this.callbackUrl = header(h, MessageHeaders.callbackUrl);
      if (this.callId) headers['x-call-id'] = this.callId;
    }
    const traceparent = header(h, MessageHeaders.traceparent);
    if (traceparent && headers.traceparent === undefined) headers.traceparent = traceparent;
    this.headers = headers;
    this.id = header(h, MessageHeaders.ceId) ?? this.callId ?? header(h, MessageHeaders.msgId) ?? `${msg.info.stream}:${msg.seq}`;
    this.type = header(h, MessageHeaders.ceType) ?? defaultType(kind);
    this.source = header(h, MessageHeaders.ceSource) ?? defaultSource(sub, functionName);
    this.#timeHeader = header(h, MessageHeaders.ceTime);
    this.#timestampNanos = msg.info.timestampNanos;
  }

  /** CloudEvents `time`: the publisher's, else when the stream stored the message (formatted on first use). */
  get time(): string {
    if (this.#time === undefined) {
      this.#time = this.#timeHeader ?? new Date(Math.floor(this.#timestampNanos / 1e6)).toISOString();
    }
    return this.#time;
  }

  text(): string {
    return this.body.toString('utf8');
  }

  json<T = unknown>(): T {
    try {
      return JSON.parse(this.text()) as T;
    } catch {
      throw new Error(`message ${this.id} body is not valid JSON`);
    }
  }

  toJSON(): Record<string, unknown> {
    return {
      specversion: CLOUDEVENTS_SPEC_VERSION,
      id: this.id,
      source: this.source,
      type: this.type,
      time: this.time,
      subject: this.subject,
      method: this.method,
      path: this.path,
      headers: this.headers,
      body: this.text(),
    };
  }
}

function defaultType(kind: QueueSubscription['kind']): string {
  if (kind === 'async') return QueueEventTypes.asyncCall;
  if (kind === 'cron') return QueueEventTypes.cronTick;
  return QueueEventTypes.message;
}

function defaultSource(sub: QueueSubscription, functionName: string): string {
  if (sub.kind === 'async') return `/kubefaas/async/${functionName}`;
  if (sub.kind === 'cron') return `/kubefaas/cron/${functionName}/${sub.trigger}`;
  return `/kubefaas/queue/${sub.trigger}`;
}

function header(h: MsgHdrs | undefined, name: string): string | undefined {
  // Other publishers may spell header names differently (`Traceparent`, `Ce-Id`).
  if (!h || !h.has(name, Match.IgnoreCase)) return undefined;
  const v = h.get(name, Match.IgnoreCase);
  return v === '' ? undefined : v;
}

/** Message headers, lower-cased, without JetStream's own `Nats-*` bookkeeping. */
function messageHeadersOf(h: MsgHdrs | undefined): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  if (!h) return out;
  for (const key of h.keys()) {
    const lower = key.toLowerCase();
    if (lower.startsWith('nats-')) continue;
    const values = h.values(key);
    out[lower] = values.length === 1 ? values[0] : values;
  }
  return out;
}

/** Async calls carry the original HTTP request headers as JSON. */
function httpHeadersOf(h: MsgHdrs | undefined): Record<string, string | string[] | undefined> {
  const raw = header(h, MessageHeaders.httpHeaders);
  if (!raw) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return { ...(parsed as Record<string, string | string[]>) };
    }
  } catch {
    // A malformed header leaves the event without request headers rather than failing the call.
  }
  return {};
}
