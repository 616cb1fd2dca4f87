import { parse as parseQueryString } from 'node:querystring';
import { Match, type MsgHdrs } from 'nats';
import type { QueueSubscription } from '../contract';
import type { FunctionEvent } from '../runtime/types';
import type { QueueMessage } from './pulled-message';
import { CLOUDEVENTS_SPEC_VERSION, MessageHeaders, QueueEventTypes } from './subjects';

type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * The event a handler receives for a queue delivery: the same FunctionEvent shape as an HTTP request
 * (CloudEvents attributes + method/path/headers/body), so one handler serves both. Async calls carry
 * the HTTP request the router accepted; topic messages and cron ticks look like a `POST /`.
 * Everything is computed on first access: most handlers read the body and little else, and this
 * object is made for every message.
 */
export class QueueEvent implements FunctionEvent {
  readonly params: Readonly<Record<string, string>> = {};
  readonly #msg: QueueMessage;
  readonly #sub: QueueSubscription;
  readonly #functionName: string;
  #body?: Buffer;
  #headers?: HeaderMap;
  #time?: string;
  #id?: string;
  #query?: Record<string, string | string[]>;

  constructor(msg: QueueMessage, sub: QueueSubscription, functionName: string) {
    this.#msg = msg;
    this.#sub = sub;
    this.#functionName = functionName;
  }

  /** The subject the message was published on. */
  get subject(): string {
    return this.#msg.subject;
  }

  /** Stream sequence: unique per stream, stable across redeliveries. */
  get sequence(): number {
    return this.#msg.seq;
  }

  /** 1 for the first delivery. */
  get attempt(): number {
    return this.#msg.info.deliveryCount;
  }

  /** Async calls: the call id (also `x-call-id` in `headers`). */
  get callId(): string | undefined {
    return this.#sub.kind === 'async' ? header(this.#msg.headers, MessageHeaders.callId) : undefined;
  }

  /** Async calls: where the result is POSTed. */
  get callbackUrl(): string | undefined {
    return this.#sub.kind === 'async' ? header(this.#msg.headers, MessageHeaders.callbackUrl) : undefined;
  }

  get body(): Buffer {
    if (!this.#body) {
      const data = this.#msg.data;
      this.#body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    }
    return this.#body;
  }

  get id(): string {
    if (this.#id === undefined) {
      const h = this.#msg.headers;
      this.#id = header(h, MessageHeaders.ceId) ?? this.callId ?? header(h, MessageHeaders.msgId) ?? `${this.#msg.info.stream}:${this.#msg.seq}`;
    }
    return this.#id;
  }

  get type(): string {
    const kind = this.#sub.kind;
    return header(this.#msg.headers, MessageHeaders.ceType) ??
      (kind === 'async' ? QueueEventTypes.asyncCall : kind === 'cron' ? QueueEventTypes.cronTick : QueueEventTypes.message);
  }

  get source(): string {
    const explicit = header(this.#msg.headers, MessageHeaders.ceSource);
    if (explicit) return explicit;
    const sub = this.#sub;
    if (sub.kind === 'async') return `/kubefaas/async/${this.#functionName}`;
    if (sub.kind === 'cron') return `/kubefaas/cron/${this.#functionName}/${sub.trigger}`;
    return `/kubefaas/queue/${sub.trigger}`;
  }

  /** CloudEvents `time`: the publisher's, else when the stream stored the message. */
  get time(): string {
    if (this.#time === undefined) {
      this.#time = header(this.#msg.headers, MessageHeaders.ceTime) ?? new Date(Math.floor(this.#msg.info.timestampNanos / 1e6)).toISOString();
    }
    return this.#time;
  }

  get method(): string {
    return (this.#sub.kind === 'async' && header(this.#msg.headers, MessageHeaders.method)) || 'POST';
  }

  get path(): string {
    const raw = this.rawPath();
    const q = raw.indexOf('?');
    return q === -1 ? raw : raw.slice(0, q);
  }

  get query(): Readonly<Record<string, string | string[]>> {
    if (!this.#query) {
      const raw = this.rawPath();
      const q = raw.indexOf('?');
      this.#query = q === -1 ? {} : (parseQueryString(raw.slice(q + 1)) as Record<string, string | string[]>);
    }
    return this.#query;
  }

  get headers(): Readonly<HeaderMap> {
    if (!this.#headers) {
      const h = this.#msg.headers;
      const headers = this.#sub.kind === 'async' ? httpHeadersOf(h) : messageHeadersOf(h);
      const callId = this.callId;
      if (callId) headers['x-call-id'] = callId;
      const traceparent = header(h, MessageHeaders.traceparent);
      if (traceparent && headers.traceparent === undefined) headers.traceparent = traceparent;
      this.#headers = headers;
    }
    return this.#headers;
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

  private rawPath(): string {
    return (this.#sub.kind === 'async' && header(this.#msg.headers, MessageHeaders.path)) || '/';
  }
}

function header(h: MsgHdrs | undefined, name: string): string | undefined {
  // Other publishers may spell header names differently (`Traceparent`, `Ce-Id`).
  if (!h || !h.has(name, Match.IgnoreCase)) return undefined;
  const v = h.get(name, Match.IgnoreCase);
  return v === '' ? undefined : v;
}

/** Message headers, lower-cased, without JetStream's own `Nats-*` bookkeeping. */
function messageHeadersOf(h: MsgHdrs | undefined): HeaderMap {
  const out: HeaderMap = {};
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
function httpHeadersOf(h: MsgHdrs | undefined): HeaderMap {
  const raw = header(h, MessageHeaders.httpHeaders);
  if (!raw) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return { ...(parsed as HeaderMap) };
  } catch {
    // A malformed header leaves the event without request headers rather than failing the call.
  }
  return {};
}
