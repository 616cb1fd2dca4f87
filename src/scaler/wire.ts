/**
 * The protobuf wire format, only as much of it as KEDA's external-scaler messages use: varints
 * (bool, int64), 64-bit doubles and length-delimited fields (strings, nested messages, map entries).
 * Hand-written so the scaler bundle does not carry protobufjs (~110 KiB minified) for six messages;
 * test/scaler/protocol.test.ts checks it against protobufjs in both directions.
 */

/** Wire types (protobuf encoding spec). Groups (3, 4) are obsolete and rejected. */
export const WireType = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

/** Malformed or truncated protobuf input. */
export class ProtoError extends Error {
  override readonly name = 'ProtoError';
}

/** Appends fields to a growing buffer. Zero values are left out, as proto3 encoders do. */
export class ProtoWriter {
  private buf = Buffer.allocUnsafe(128);
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
    const length = Buffer.byteLength(value);
    this.key(field, WireType.bytes).varint(length);
    this.reserve(length);
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

  /** A nested message (or map entry), written by `body` into a writer of its own. Always written. */
  message(field: number, body: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    body(inner);
    const bytes = inner.finish();
    this.key(field, WireType.bytes).varint(bytes.length);
    this.reserve(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
    return this;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private key(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
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

/** Reads fields in order; the caller dispatches on `field` and calls `skip` for unknown ones. */
export class ProtoReader {
  private pos = 0;
  /** Field number and wire type of the last `next()`. */
  field = 0;
  wireType = 0;

  constructor(private readonly buf: Uint8Array) {}

  /** Advances to the next field; false at the end of the message. */
  next(): boolean {
    if (this.pos >= this.buf.length) return false;
    const key = this.varint();
    this.field = Math.floor(key / 8);
    this.wireType = key % 8;
    if (this.field === 0) throw new ProtoError('field number 0');
    return true;
  }

  /** An unsigned varint as a number (exact up to 2^53). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
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
    const value = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength).readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  bytes(): Uint8Array {
    const length = this.varint();
    this.need(length);
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  string(): string {
    const b = this.bytes();
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
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
        this.bytes();
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
    if (this.pos >= this.buf.length) throw new ProtoError('truncated message');
    return this.buf[this.pos++];
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.buf.length) throw new ProtoError('truncated message');
  }
}
