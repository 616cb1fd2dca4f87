import type { MsgHdrs } from 'nats';

/** Printable ASCII without ':' (RFC 822 field names), as nats.js requires of header names. */
const NAME_PATTERN = /^[!-9;-~]+$/;
/** Names checked already: ours are a few constants, so each is checked once per process. */
const checkedNames = new Set<string>();
const MAX_CHECKED_NAMES = 256;

/**
 * NATS message headers written straight in their wire form (`NATS/1.0\r\nName: value…\r\n\r\n`).
 *
 * nats.js' MsgHdrs canonicalizes the name, copies and scans the list of names twice on every
 * `set`, and builds the text again when the message is published: with the dozen headers of an
 * async call that was a visible share of an enqueue. Here a header costs one check and one string
 * append, and the bytes are made once, when nats.js asks for them. Names and values are
 * checked as nats.js checks them (names printable ASCII without ':', values without CR or LF,
 * values trimmed), so a receiver decodes exactly what MsgHdrs would have sent. Names are written
 * as given (no canonical spelling): our names are constants in subjects.ts.
 */
export class HeaderBlock {
  #text = 'NATS/1.0';
  #bytes?: Uint8Array;

  /** Appends a header (a name added twice is sent twice). Throws on a name or value nats.js would refuse. */
  add(name: string, value: string): this {
    if (!checkedNames.has(name)) {
      if (!NAME_PATTERN.test(name)) throw new Error(`invalid NATS header name '${name}'`);
      if (checkedNames.size < MAX_CHECKED_NAMES) checkedNames.add(name);
    }
    if (value.indexOf('\r') !== -1 || value.indexOf('\n') !== -1) {
      throw new Error(`invalid value for NATS header ${name}: CR and LF are not allowed`);
    }
    this.#text += `\r\n${name}: ${value.trim()}`;
    this.#bytes = undefined;
    return this;
  }

  /** A copy with one more header (this block is left as it is, so it can be reused). */
  with(name: string, value: string): HeaderBlock {
    const copy = new HeaderBlock();
    copy.#text = this.#text;
    return copy.add(name, value);
  }

  /** The wire form. nats.js' publish asks its `headers` option for exactly this. */
  encode(): Uint8Array {
    if (!this.#bytes) this.#bytes = Buffer.from(`${this.#text}\r\n\r\n`, 'utf8');
    return this.#bytes;
  }

  /**
   * This block where nats.js expects MsgHdrs: its publish (NatsConnection.publish → protocol
   * publish) only calls `encode()` on the headers option. test/queue/header-block.test.ts checks
   * that a subscriber receives these headers through nats.js.
   */
  asMsgHdrs(): MsgHdrs {
    return this as unknown as MsgHdrs;
  }
}
