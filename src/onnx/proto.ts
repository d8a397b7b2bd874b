// Minimal, dependency-free protobuf wire-format writer and bounds-checked reader (for the ONNX codec).

/** Protobuf wire types. Groups (3, 4) are deprecated and rejected by the reader. */
export const WireType = {
  VARINT: 0,
  FIXED64: 1,
  LEN: 2,
  START_GROUP: 3,
  END_GROUP: 4,
  FIXED32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** The only error the reader (and the ONNX decoder built on it) throws for malformed input. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

const TWO_32 = 4294967296;
const TWO_63 = 9223372036854775808;
const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/**
 * Two's-complement 64-bit (lo, hi) pair to a JS number, signed. Values beyond ±2^53 are rounded
 * to the nearest double (ONNX ints in practice are small, or INT64_MAX/INT64_MIN sentinels).
 */
function int64ToNumber(lo: number, hi: number): number {
  if (hi & 0x80000000) {
    let nlo = ~lo >>> 0;
    let nhi = ~hi >>> 0;
    nlo = (nlo + 1) >>> 0;
    if (nlo === 0) nhi = (nhi + 1) >>> 0;
    return -(nhi * TWO_32 + nlo);
  }
  return (hi >>> 0) * TWO_32 + (lo >>> 0);
}

/** A JS integer to a two's-complement 64-bit (lo, hi) pair, saturating at the int64 range. */
function numberToInt64(v: number): [lo: number, hi: number] {
  if (!Number.isInteger(v)) throw new Error(`protobuf int64 value must be an integer, got ${v}`);
  if (v >= TWO_63) return [0xffffffff, 0x7fffffff];
  if (v <= -TWO_63) return [0, 0x80000000];
  const a = Math.abs(v);
  let hi = Math.floor(a / TWO_32) >>> 0;
  let lo = (a - Math.floor(a / TWO_32) * TWO_32) >>> 0;
  if (v < 0) {
    lo = (~lo + 1) >>> 0;
    hi = ~hi >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
  }
  return [lo, hi];
}

/** Growable byte buffer that emits protobuf fields. Nested messages are written via `message`. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;
  private view = new DataView(this.buf.buffer);

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** Raw unsigned varint of a (lo, hi) 64-bit pair. */
  private varint64(lo: number, hi: number): void {
    this.reserve(10);
    while (hi !== 0 || lo > 0x7f) {
      this.buf[this.len++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi = hi >>> 7;
    }
    this.buf[this.len++] = lo;
  }

  private tag(field: number, wire: WireType): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) {
      throw new Error(`invalid protobuf field number ${field}`);
    }
    this.varint64(((field << 3) | wire) >>> 0, 0);
  }

  /** Raw unsigned varint (no tag), for lengths. */
  private uvarint(n: number): void {
    const [lo, hi] = numberToInt64(n);
    this.varint64(lo, hi);
  }

  /** int64/int32/enum/bool field (varint; negatives take ten bytes, as protobuf specifies). */
  int64(field: number, v: number): this {
    this.tag(field, WireType.VARINT);
    const [lo, hi] = numberToInt64(v);
    this.varint64(lo, hi);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WireType.FIXED32);
    this.reserve(4);
    this.view.setFloat32(this.len, v, true);
    this.len += 4;
    return this;
  }

  double(field: number, v: number): this {
    this.tag(field, WireType.FIXED64);
    this.reserve(8);
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WireType.LEN);
    this.uvarint(data.length);
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8Encoder.encode(s));
  }

  /** Length-delimited sub-message whose body `build` writes. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const sub = new ProtoWriter();
    build(sub);
    return this.bytes(field, sub.finish());
  }

  /** Packed repeated float (fixed32). */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const body = new Uint8Array(values.length * 4);
    const dv = new DataView(body.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i] ?? 0, true);
    return this.bytes(field, body);
  }

  /** Packed repeated double (fixed64). */
  packedDoubles(field: number, values: ArrayLike<number>): this {
    const body = new Uint8Array(values.length * 8);
    const dv = new DataView(body.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat64(i * 8, values[i] ?? 0, true);
    return this.bytes(field, body);
  }

  /** Packed repeated int64/int32 (varints). */
  packedInt64s(field: number, values: ArrayLike<number>): this {
    const sub = new ProtoWriter();
    for (let i = 0; i < values.length; i++) {
      const [lo, hi] = numberToInt64(values[i] ?? 0);
      sub.varint64(lo, hi);
    }
    return this.bytes(field, sub.finish());
  }

  /** The bytes written so far (a copy, trimmed to length). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** A decoded field key. */
export interface FieldTag {
  field: number;
  wire: WireType;
}

/**
 * Bounds-checked reader over `buf[start, end)`. Every read advances by at least one byte or
 * throws a `DecodeError`, so loops of the form `while (!r.eof()) { ... }` always terminate.
 */
export class ProtoReader {
  readonly buf: Uint8Array;
  readonly end: number;
  pos: number;
  private readonly view: DataView;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) {
      throw new DecodeError(`invalid reader range [${start}, ${end}) over ${buf.length} bytes`);
    }
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  eof(): boolean {
    return this.pos >= this.end;
  }

  private fail(what: string): never {
    throw new DecodeError(`malformed protobuf at byte ${this.pos}: ${what}`);
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      this.fail(`truncated ${what} (needs ${n} bytes, ${this.end - this.pos} left)`);
    }
  }

  private nextByte(): number {
    if (this.pos >= this.end) this.fail('truncated varint');
    return this.buf[this.pos++] as number;
  }

  /** Raw varint as a (lo, hi) pair. */
  private varint64(): [number, number] {
    let lo = 0;
    let hi = 0;
    let b: number;
    for (let i = 0; i < 4; i++) {
      b = this.nextByte();
      lo |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return [lo >>> 0, 0];
    }
    b = this.nextByte();
    lo |= (b & 0x7f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b < 0x80) return [lo >>> 0, hi >>> 0];
    for (let i = 0; i < 5; i++) {
      b = this.nextByte();
      hi |= (b & 0x7f) << (7 * i + 3);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** Signed int64 (also int32 and enums) as a number; see `int64ToNumber` for the range. */
  int64(): number {
    const [lo, hi] = this.varint64();
    return int64ToNumber(lo, hi);
  }

  /** Unsigned varint that must fit in 32 bits (lengths, tags). */
  uint32(): number {
    const [lo, hi] = this.varint64();
    if (hi !== 0) this.fail('varint exceeds 32 bits');
    return lo;
  }

  tag(): FieldTag {
    const start = this.pos;
    const key = this.uint32();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 0) {
      this.pos = start;
      this.fail('field number 0');
    }
    if (wire === WireType.START_GROUP || wire === WireType.END_GROUP || wire > 5) {
      this.pos = start;
      this.fail(`unsupported wire type ${wire} (field ${field})`);
    }
    return { field, wire: wire as WireType };
  }

  float(): number {
    this.need(4, 'fixed32');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8, 'fixed64');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Length prefix, checked against the bytes left. */
  length(): number {
    const n = this.uint32();
    this.need(n, 'length-delimited field');
    return n;
  }

  /** Length-delimited bytes (a view into the buffer, not a copy). */
  bytes(): Uint8Array {
    const n = this.length();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Length-delimited UTF-8 string (invalid sequences become U+FFFD). */
  string(): string {
    return utf8Decoder.decode(this.bytes());
  }

  /** Reader over a length-delimited sub-message; this reader skips past it. */
  sub(): ProtoReader {
    const n = this.length();
    const r = new ProtoReader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Skip a field's value of the given wire type. */
  skip(wire: WireType): void {
    switch (wire) {
      case WireType.VARINT:
        this.varint64();
        return;
      case WireType.FIXED64:
        this.need(8, 'fixed64');
        this.pos += 8;
        return;
      case WireType.LEN:
        this.pos += this.length();
        return;
      case WireType.FIXED32:
        this.need(4, 'fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wire}`);
    }
  }

  /** Repeated int64 field, packed (LEN) or not (VARINT); appends to `out`. */
  repeatedInt64(wire: WireType, out: number[]): void {
    if (wire === WireType.VARINT) {
      out.push(this.int64());
    } else if (wire === WireType.LEN) {
      const r = this.sub();
      while (!r.eof()) out.push(r.int64());
    } else {
      this.fail(`wire type ${wire} for a repeated integer field`);
    }
  }

  /** Repeated float field, packed (LEN) or not (FIXED32); appends to `out`. */
  repeatedFloat(wire: WireType, out: number[]): void {
    if (wire === WireType.FIXED32) {
      out.push(this.float());
    } else if (wire === WireType.LEN) {
      const n = this.length();
      if (n % 4 !== 0) this.fail(`packed float field of ${n} bytes (not a multiple of 4)`);
      for (let i = 0; i < n; i += 4) out.push(this.view.getFloat32(this.pos + i, true));
      this.pos += n;
    } else {
      this.fail(`wire type ${wire} for a repeated float field`);
    }
  }

  /** Repeated double field, packed (LEN) or not (FIXED64); appends to `out`. */
  repeatedDouble(wire: WireType, out: number[]): void {
    if (wire === WireType.FIXED64) {
      out.push(this.double());
    } else if (wire === WireType.LEN) {
      const n = this.length();
      if (n % 8 !== 0) this.fail(`packed double field of ${n} bytes (not a multiple of 8)`);
      for (let i = 0; i < n; i += 8) out.push(this.view.getFloat64(this.pos + i, true));
      this.pos += n;
    } else {
      this.fail(`wire type ${wire} for a repeated double field`);
    }
  }

  /** Check a field's wire type, failing with the field's name otherwise. */
  expect(tag: FieldTag, wire: WireType, name: string): void {
    if (tag.wire !== wire) {
      this.fail(`field ${name} (${tag.field}) has wire type ${tag.wire}, expected ${wire}`);
    }
  }
}
