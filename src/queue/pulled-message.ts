import type { Msg, MsgHdrs } from 'nats';
import { headerFieldsOf, type HeaderFields } from './header-fields';

/** Where a delivery stands, read from its ack subject. */
export interface PulledInfo {
  readonly stream: string;
  /** 1 for the first delivery. */
  readonly deliveryCount: number;
  /** When the stream stored the message (ns since the epoch). */
  readonly timestampNanos: number;
}

/** The part of a JetStream delivery the consumer and QueueEvent use. */
export interface QueueMessage {
  readonly subject: string;
  readonly seq: number;
  readonly data: Uint8Array;
  /** Decoded by nats.js on first access: for copying headers (dead letters, topic events). */
  readonly headers?: MsgHdrs;
  /** The headers for reading single values, case-insensitively (see header-fields.ts). */
  readonly fields: HeaderFields;
  readonly info: PulledInfo;
  ack(): void;
  /** Redeliver after `delayMs` (at once when 0 or omitted). */
  nak(delayMs?: number): void;
  /** Never redeliver. */
  term(): void;
  /** Restart the ack wait: still working on it. */
  working(): void;
}

const ACK = new TextEncoder().encode('+ACK');
const NAK = new TextEncoder().encode('-NAK');
const TERM = new TextEncoder().encode('+TERM');
const WPI = new TextEncoder().encode('+WPI');

/**
 * A message our pull session received, acked by replying on its ack subject. The ack subject is
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time ns>.<pending>`, with
 * a domain and account hash after `$JS.ACK` (and a token at the end) on newer servers; it is parsed
 * once, on first use. After ack, nak or term, further acknowledgements are ignored (as nats.js does).
 */
export class PulledMessage implements QueueMessage {
  #info?: { stream: string; deliveryCount: number; seq: number; timestampNanos: number };
  #settled = false;
  #fields?: HeaderFields;

  constructor(private readonly msg: Msg) {}

  get subject(): string {
    return this.msg.subject;
  }

  get data(): Uint8Array {
    return this.msg.data;
  }

  get headers(): MsgHdrs | undefined {
    return this.msg.headers;
  }

  get fields(): HeaderFields {
    if (!this.#fields) this.#fields = headerFieldsOf(this.msg);
    return this.#fields;
  }

  get seq(): number {
    return this.parsed().seq;
  }

  get info(): PulledInfo {
    return this.parsed();
  }

  ack(): void {
    this.settle(ACK);
  }

  nak(delayMs = 0): void {
    if (delayMs > 0)
      this.settle(new TextEncoder().encode(`-NAK ${JSON.stringify({ delay: Math.round(delayMs) * 1_000_000 })}`));
    else this.settle(NAK);
  }

  term(): void {
    this.settle(TERM);
  }

  working(): void {
    if (!this.#settled) this.msg.respond(WPI);
  }

  private settle(payload: Uint8Array): void {
    if (this.#settled) return;
    this.#settled = true;
    this.msg.respond(payload);
  }

  private parsed(): { stream: string; deliveryCount: number; seq: number; timestampNanos: number } {
    if (this.#info) return this.#info;
    const tokens = (this.msg.reply ?? '').split('.');
    // Old form: 9 tokens; new form: domain and account hash inserted after `$JS.ACK`, maybe a token at the end.
    const at = tokens.length === 9 ? 2 : 4;
    if (tokens[0] !== '$JS' || tokens[1] !== 'ACK' || tokens.length < at + 7) {
      throw new Error(`not a JetStream delivery (reply subject '${this.msg.reply ?? ''}')`);
    }
    this.#info = {
      stream: tokens[at],
      deliveryCount: Number(tokens[at + 2]),
      seq: Number(tokens[at + 3]),
      timestampNanos: Number(tokens[at + 5]),
    };
    return this.#info;
  }
}
