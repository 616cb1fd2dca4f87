import type { Msg, MsgHdrs } from 'nats';

/** A message's headers for reading: lower-cased name → the first value of the first name that matches. */
export type HeaderFields = ReadonlyMap<string, string>;

const NO_FIELDS: HeaderFields = new Map();

/**
 * The headers of a received message, read once into a map.
 *
 * nats.js' `msg.headers` decodes the header block into a MsgHdrs whose `append` canonicalizes each
 * name and scans the names read so far, and every case-insensitive `get` copies and lower-cases
 * the list of names again: about 6 µs per async call (a dozen headers), the largest single cost
 * of a delivery. Here the block is split once. The result is what `MsgHdrs.get(name,
 * Match.IgnoreCase)` returns, for every name.
 */
export function headerFieldsOf(msg: Msg): HeaderFields {
  const raw = rawHeaderBlock(msg);
  if (raw === null) return NO_FIELDS;
  if (raw !== undefined) return parseHeaderFields(raw);
  return fieldsOfMsgHdrs(msg.headers);
}

/**
 * The header block of a nats.js 2.x message (`MsgImpl`: `_rdata` holds headers then payload,
 * `_msg.hdr` the header length, -1 for none); null when there are no headers, undefined when the
 * message does not have that shape (then the public `msg.headers` is used). Reading nats.js
 * internals is deliberate: test/queue/header-fields.test.ts fails if a nats.js upgrade changes them.
 */
export function rawHeaderBlock(msg: Msg): Uint8Array | null | undefined {
  const impl = msg as unknown as { _rdata?: unknown; _msg?: { hdr?: unknown } };
  const hdr = impl._msg?.hdr;
  if (typeof hdr !== 'number') return undefined;
  if (hdr < 0) return null;
  const data = impl._rdata;
  if (!(data instanceof Uint8Array) || data.byteLength < hdr) return undefined;
  return data.subarray(0, hdr);
}

/** Splits a header block (`NATS/1.0[ status]\r\nName: value\r\n…\r\n\r\n`) as nats.js' decoder does. */
export function parseHeaderFields(block: Uint8Array): HeaderFields {
  const text = Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString('utf8');
  const fields = new Map<string, string>();
  // The first line is the version and status, not a header.
  let at = text.indexOf('\r\n');
  if (at === -1) return fields;
  at += 2;
  while (at < text.length) {
    let end = text.indexOf('\r\n', at);
    if (end === -1) end = text.length;
    const colon = text.indexOf(':', at);
    if (colon !== -1 && colon < end) {
      const name = text.slice(at, colon).toLowerCase();
      if (!fields.has(name)) fields.set(name, text.slice(colon + 1, end).trim());
    }
    at = end + 2;
  }
  return fields;
}

/** The same map from nats.js' decoded headers. */
export function fieldsOfMsgHdrs(h: MsgHdrs | undefined): HeaderFields {
  if (!h) return NO_FIELDS;
  const fields = new Map<string, string>();
  for (const [key, values] of h) {
    const name = key.toLowerCase();
    if (!fields.has(name)) fields.set(name, values[0] ?? '');
  }
  return fields;
}
