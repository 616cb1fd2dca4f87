/**
 * The protobuf wire format, only as much of it as KEDA's external-scaler messages use: varints
 * (bool, int64), 64-bit doubles and length-delimited fields (strings, nested messages, map entries).
 * Hand-written so the scaler bundle does not carry protobufjs (~110 KiB minified) for six messages;
 * test/scaler/protocol.test.ts checks it against protobufjs in both directions. A call's decode
 * plus encode costs about what protobufjs' does (~4 µs): nested messages are written in place
 * (length back-patched) and read in place (no copies), and short ASCII strings, which is what KEDA
 * sends, skip the native UTF-8 codec.
 */

/** Wire types (protobuf encoding spec). Groups (3, 4) are obsolete and rejected. */
export const WireType = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

/** Malformed or truncated protobuf input. */
export class ProtoError extends Error {
  override readonly name = 'ProtoError';
}

/** Strings up to this many bytes are encoded and decoded in JS when ASCII (cheaper than a native call). */
const SHORT_STRING = 64;

/** Appends fields to a growing buffer. Zero values are left out, as proto3 encoders do. */
export class ProtoWriter {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;

  /** A non-negative integer (≤ 2^53) or, for int64 fields, a negative one (ten bytes, two's complement). */
  varint(value: number): this {
    if (value < 0) return this.negativeVarint(value);
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  string(field: number, value: string): this {
    if (value === '') return this;
    this.key(field, WireType.bytes);
    if (value.length < SHORT_STRING && this.asciiInPlace(value)) return this;
    const length = Buffer.byteLength(value);
    this.varint(length).reserve(length);
    this.pos += this.buf.write(value, this.pos, 'utf8');
    return this;
  }

  bool(field: number, value: boolean): this {
    return value ? this.key(field, WireType.varint).varint(1) : this;
  }

  int64(field: number, value: number): this {
    if (!Number.isInteger(value)) throw new ProtoError(`int64 field ${field}: ${value} is not an integer`);
    return value === 0 ? this : this.key(field, WireType.varint).varint(value);
  }

  double(field: number, value: number): this {
    if (value === 0 && !Object.is(value, -0)) return this;
    this.key(field, WireType.fixed64).reserve(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
    return this;
  }

  /**
   * A nested message (or map entry) that `body` writes into this writer. Always written. Its length
   * is back-patched: one byte is kept for it, and the body moved only when it is 128 bytes or more.
   */
  message(field: number, body: (w: ProtoWriter) => void): this {
    this.key(field, WireType.bytes).reserve(1);
    const lengthAt = this.pos++;
    body(this);
    const length = this.pos - lengthAt - 1;
    if (length < 0x80) {
      this.buf[lengthAt] = length;
      return this;
    }
    let extra = 0;
    for (let v = length; v >= 0x80; v = Math.floor(v / 0x80)) extra++;
    this.reserve(extra);
    this.buf.copyWithin(lengthAt + 1 + extra, lengthAt + 1, this.pos);
    const end = this.pos + extra;
    this.pos = lengthAt;
    this.varint(length);
    this.pos = end;
    return this;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private key(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  /** Writes length and bytes of an ASCII string (< 128 chars); false, with nothing written, if it is not ASCII. */
  private asciiInPlace(value: string): boolean {
    const n = value.length;
    this.reserve(n + 1);
    const buf = this.buf;
    const start = this.pos + 1;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[start + i] = c;
    }
    buf[this.pos] = n;
    this.pos = start + n;
    return true;
  }

  private negativeVarint(value: number): this {
    let v = BigInt.asUintN(64, BigInt(value));
    this.reserve(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
    return this;
  }

  private reserve(bytes: number): this {
    if (this.pos + bytes <= this.buf.length) return this;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    return this;
  }
}

/**
 * Reads the fields of one message in order; the caller dispatches on `field` and calls `skip` for
 * unknown ones. Nested messages are read in place (`message()`), sharing the buffer.
 */
export class ProtoReader {
  private readonly buf: Buffer;
  private pos: number;
  private readonly end: number;
  /** Field number and wire type of the last `next()`. */
  field = 0;
  wireType = 0;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
  }

  /** Advances to the next field; false at the end of the message. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const key = this.varint();
    this.field = Math.floor(key / 8);
    this.wireType = key % 8;
    if (this.field === 0) throw new ProtoError('field number 0');
    return true;
  }

  /** An unsigned varint as a number (exact up to 2^53). */
  varint(): number {
    const first = this.byte();
    if (first < 0x80) return first;
    let result = first & 0x7f;
    let scale = 0x80;
    for (let i = 1; i < 10; i++) {
      const byte = this.byte();
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 0x80;
    }
    throw new ProtoError('varint longer than 10 bytes');
  }

  /** An int64 varint (negative values arrive as ten-byte two's complement); exact up to ±2^53. */
  int64(): number {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.byte();
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return Number(BigInt.asIntN(64, value));
    }
    throw new ProtoError('varint longer than 10 bytes');
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  double(): number {
    this.need(8);
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** Skips over a length-delimited field and returns its length (it ends at `pos`). */
  private span(): number {
    const length = this.varint();
    this.need(length);
    this.pos += length;
    return length;
  }

  /** A nested message (or map entry), read in place. */
  message(): ProtoReader {
    const length = this.span();
    return new ProtoReader(this.buf, this.pos - length, this.pos);
  }

  string(): string {
    const length = this.span();
    const start = this.pos - length;
    if (length < SHORT_STRING) {
      const buf = this.buf;
      let ascii = true;
      for (let i = start; i < this.pos; i++) {
        if (buf[i] >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return String.fromCharCode.apply(null, buf.subarray(start, this.pos) as unknown as number[]);
    }
    return this.buf.toString('utf8', start, this.pos);
  }

  /** Skips the value of the current field (unknown fields are ignored, as protobuf requires). */
  skip(): void {
    switch (this.wireType) {
      case WireType.varint:
        this.varint();
        return;
      case WireType.fixed64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.bytes:
        this.span();
        return;
      case WireType.fixed32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new ProtoError(`unsupported wire type ${this.wireType} (field ${this.field})`);
    }
  }

  /** Throws unless the current field has `wireType` (a field of the wrong type is malformed input). */
  expect(wireType: number): this {
    if (this.wireType !== wireType) {
      throw new ProtoError(`field ${this.field}: wire type ${this.wireType}, expected ${wireType}`);
    }
    return this;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new ProtoError('truncated message');
    return this.buf[this.pos++];
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.end) throw new ProtoError('truncated message');
  }
}
