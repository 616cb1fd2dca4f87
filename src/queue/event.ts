import { parse as parseQueryString } from 'node:querystring';
import type { MsgHdrs } from 'nats';
import type { QueueSubscription } from '../contract';
import type { AuthInfo, FunctionEvent } from '../contract';
import type { QueueMessage } from './pulled-message';
import { CLOUDEVENTS_SPEC_VERSION, Headers, MessageHeaders, QueueEventTypes, readAuthInfo } from '../contract';

type HeaderMap = Record<string, string | string[] | undefined>;

/** Lower-cased names of the headers read here (other publishers may spell them `Traceparent`, `Ce-Id`). */
const H = {
  callId: MessageHeaders.callId.toLowerCase(),
  callbackUrl: MessageHeaders.callbackUrl.toLowerCase(),
  method: MessageHeaders.method.toLowerCase(),
  path: MessageHeaders.path.toLowerCase(),
  httpHeaders: MessageHeaders.httpHeaders.toLowerCase(),
  msgId: MessageHeaders.msgId.toLowerCase(),
  traceparent: MessageHeaders.traceparent.toLowerCase(),
  ceId: MessageHeaders.ceId.toLowerCase(),
  ceSource: MessageHeaders.ceSource.toLowerCase(),
  ceType: MessageHeaders.ceType.toLowerCase(),
  ceTime: MessageHeaders.ceTime.toLowerCase(),
} as const;

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
    return this.#sub.kind === 'async' ? this.header(H.callId) : undefined;
  }

  /** Async calls: where the result is POSTed. */
  get callbackUrl(): string | undefined {
    return this.#sub.kind === 'async' ? this.header(H.callbackUrl) : undefined;
  }

  /**
   * Async calls: the caller the router's auth policy verified when it accepted the call (stored with
   * the call's request headers, which only the router publishes; a client's own header is dropped).
   * Undefined for topic messages and cron ticks, whatever their headers say.
   */
  get auth(): AuthInfo | undefined {
    return this.#sub.kind === 'async' ? readAuthInfo(this.headers[Headers.auth]) : undefined;
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
      this.#id =
        this.header(H.ceId) ?? this.callId ?? this.header(H.msgId) ?? `${this.#msg.info.stream}:${this.#msg.seq}`;
    }
    return this.#id;
  }

  get type(): string {
    const kind = this.#sub.kind;
    return (
      this.header(H.ceType) ??
      (kind === 'async'
        ? QueueEventTypes.asyncCall
        : kind === 'cron'
          ? QueueEventTypes.cronTick
          : QueueEventTypes.message)
    );
  }

  get source(): string {
    const explicit = this.header(H.ceSource);
    if (explicit) return explicit;
    const sub = this.#sub;
    if (sub.kind === 'async') return `/kubefaas/async/${this.#functionName}`;
    if (sub.kind === 'cron') return `/kubefaas/cron/${this.#functionName}/${sub.trigger}`;
    return `/kubefaas/queue/${sub.trigger}`;
  }

  /** CloudEvents `time`: the publisher's, else when the stream stored the message. */
  get time(): string {
    if (this.#time === undefined) {
      this.#time = this.header(H.ceTime) ?? new Date(Math.floor(this.#msg.info.timestampNanos / 1e6)).toISOString();
    }
    return this.#time;
  }

  get method(): string {
    return (this.#sub.kind === 'async' && this.header(H.method)) || 'POST';
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
      // Async calls carry the HTTP request's headers as JSON; other messages' own headers are copied.
      const headers =
        this.#sub.kind === 'async' ? httpHeadersOf(this.header(H.httpHeaders)) : messageHeadersOf(this.#msg.headers);
      const callId = this.callId;
      if (callId) headers['x-call-id'] = callId;
      const traceparent = this.header(H.traceparent);
      if (traceparent && headers.traceparent === undefined) headers.traceparent = traceparent;
      this.#headers = headers;
    }
    return this.#headers;
  }

  /**
   * `headers.traceparent` (the request's own, else the one the message carries), without building
   * `headers` when the async call's request headers cannot contain one: the runtime reads it for
   * every delivery, most handlers never look at the headers.
   */
  get traceparent(): string | string[] | undefined {
    if (!this.#headers && this.#sub.kind === 'async') {
      const raw = this.header(H.httpHeaders);
      // Names are lower-cased JSON keys; a text without the name (or any escape) has no such key.
      if (!raw || (!raw.includes('traceparent') && !raw.includes('\\'))) return this.header(H.traceparent);
    }
    return this.headers.traceparent;
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
    return (this.#sub.kind === 'async' && this.header(H.path)) || '/';
  }

  /**
   * A header's first value, names compared case-insensitively (the first matching name wins, as with
   * nats.js' `Match.IgnoreCase`); undefined when missing or empty. `lowerName` is lower-case.
   */
  private header(lowerName: string): string | undefined {
    const v = this.#msg.fields.get(lowerName);
    return v === '' ? undefined : v;
  }
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
function httpHeadersOf(raw: string | undefined): HeaderMap {
  if (!raw) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    // JSON.parse made a new object, so it is the event's own (no copy needed).
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as HeaderMap;
  } catch {
    // A malformed header leaves the event without request headers rather than failing the call.
  }
  return {};
}
