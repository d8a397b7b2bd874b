// safetensors reading, writing and checking against a network's expected weights (browser-safe).

/** The dtypes netc reads; every one is converted to F32. I8 is quantized: a tensor NAME of I8
 * comes with its F32 scales in NAME:scale (the shape of NAME with 1 on the axes the scale does
 * not vary along, as NumPy broadcasts), and its values are q * scale. */
export const SUPPORTED_DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I8'] as const;
export type Dtype = (typeof SUPPORTED_DTYPES)[number];

const DTYPE_SIZE: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I8: 1 };

/** One tensor of a parsed file, its data converted to F32. */
export interface RawTensor {
  readonly name: string;
  /** The dtype stored in the file (the data are F32 whatever it was). */
  readonly dtype: Dtype;
  readonly shape: number[];
  readonly data: Float32Array;
}

export interface ParsedSafetensors {
  /** Tensors in the order the header lists them. */
  readonly tensors: Map<string, RawTensor>;
  readonly metadata: Record<string, string> | undefined;
}

export interface ParseOptions {
  /** Accept NaN and infinities in the data (default false: weights must be finite). */
  readonly allowNonFinite?: boolean;
}

/** A tensor to write, or one a network expects. */
export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface ExpectedTensor {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Every problem with a weight file or with its fit to a network. */
export class WeightsError extends Error {
  /** The tensor the (first) problem is about, when there is one. */
  readonly tensor?: string;

  constructor(message: string, tensor?: string) {
    super(message);
    this.name = 'WeightsError';
    if (tensor !== undefined) this.tensor = tensor;
  }
}

const METADATA_KEY = '__metadata__';
const HEADER_ALIGN = 8;

// NOTE: typed-array views take the host's byte order; every engine that matters is
// little-endian, but the DataView paths keep a big-endian host correct.
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Parses a safetensors file. Every structural problem is a `WeightsError` naming the tensor; the
 * whole header is validated (sizes, ranges, overlaps) before any tensor data is allocated.
 */
export function parseSafetensors(bytes: Uint8Array, options: ParseOptions = {}): ParsedSafetensors {
  const fileSize = bytes.byteLength;
  if (fileSize < 8) {
    throw new WeightsError(
      `weight file is ${fileSize} byte${fileSize === 1 ? '' : 's'} long, too short for a ` +
        `safetensors file (at least 8 bytes: the header length)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(fileSize - 8)) {
    throw new WeightsError(
      `weight file is truncated or not a safetensors file: its header length ${headerLength} ` +
        `runs past the end of the file (${fileSize} bytes, so at most ${fileSize - 8})`,
    );
  }
  const headerEnd = 8 + Number(headerLength);
  const dataSize = fileSize - headerEnd;

  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, headerEnd),
    );
  } catch {
    throw new WeightsError('safetensors header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    const detail = e instanceof Error ? `: ${e.message}` : '';
    throw new WeightsError(`safetensors header is not valid JSON${detail}`);
  }
  if (!isPlainObject(header)) {
    throw new WeightsError(`safetensors header is ${describeJson(header)}, not a JSON object`);
  }
  // JSON.parse keeps the last of duplicate keys silently, so the text is scanned for them; the
  // scan also gives the header's key order (JSON.parse puts integer-like keys first).
  const names = scanHeaderKeys(headerText);

  let metadata: Record<string, string> | undefined;
  const entries: Entry[] = [];
  for (const name of names) {
    const value = header[name];
    if (name === METADATA_KEY) {
      metadata = checkMetadata(value);
    } else {
      entries.push(checkEntry(name, value, dataSize));
    }
  }
  checkNoOverlap(entries);
  checkCovered(entries, dataSize);

  // Validated: the ranges are disjoint and inside the data section, so the arrays allocated below
  // total at most twice the file's size (F16 and BF16 double in F32).
  const tensors = new Map<string, RawTensor>();
  const allowNonFinite = options.allowNonFinite === true;
  for (const entry of entries) {
    const data = convert(view, headerEnd + entry.begin, entry.count, entry.dtype, bytes);
    if (!allowNonFinite) checkFinite(entry, data, view, headerEnd);
    tensors.set(entry.name, { name: entry.name, dtype: entry.dtype, shape: entry.shape, data });
  }
  dequantize(tensors);
  return { tensors, metadata };
}

interface Entry {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: number[];
  readonly count: number;
  readonly begin: number;
  readonly end: number;
}

function checkMetadata(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new WeightsError(
      `safetensors ${METADATA_KEY} must be an object of strings, but it is ${describeJson(value)}`,
    );
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new WeightsError(
        `safetensors ${METADATA_KEY} must be an object of strings, but its key ${quote(key)} ` +
          `holds ${describeJson(v)}`,
      );
    }
  }
  // Object.entries/fromEntries keep a `__proto__` key as a plain own property.
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

function checkEntry(name: string, value: unknown, dataSize: number): Entry {
  const q = quote(name);
  function fail(what: string): never {
    throw new WeightsError(`tensor ${q} in the safetensors header: ${what}`, name);
  }
  if (!isPlainObject(value)) {
    fail(`expected an object with dtype, shape and data_offsets, found ${describeJson(value)}`);
  }
  const entry = value as Record<string, unknown>;
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string') {
    fail(
      dtype === undefined
        ? 'dtype is missing'
        : `dtype must be a string, found ${describeJson(dtype)}`,
    );
  }
  if (!Array.isArray(shape)) {
    fail(
      shape === undefined
        ? 'shape is missing'
        : `shape must be an array, found ${describeJson(shape)}`,
    );
  }
  const dims = shape as unknown[];
  for (const d of dims) {
    if (!isNonNegativeSafeInteger(d)) {
      fail(
        `shape ${stringifyShort(dims)} must hold non-negative integers, found ${describeJson(d)}`,
      );
    }
  }
  if (!Array.isArray(offsets)) {
    fail(
      offsets === undefined
        ? 'data_offsets is missing'
        : `data_offsets must be an array [begin, end], found ${describeJson(offsets)}`,
    );
  }
  const offs = offsets as unknown[];
  const [begin, end] = offs;
  if (offs.length !== 2 || !isNonNegativeSafeInteger(begin) || !isNonNegativeSafeInteger(end)) {
    fail(
      `data_offsets must be two non-negative integers [begin, end], found ${stringifyShort(offs)}`,
    );
  }
  const b = begin as number;
  const e = end as number;
  if (!isDtype(dtype)) {
    const kind = /^(BOOL|U8|U16|I16|U32|I32|U64|I64)$/.test(dtype as string)
      ? ' (integer and boolean weights are not supported)'
      : '';
    fail(
      `unsupported dtype ${quote(dtype as string)}${kind}; supported dtypes are ` +
        `${SUPPORTED_DTYPES.join(', ')}`,
    );
  }
  const dt = dtype as Dtype;
  if (e < b) fail(`data_offsets [${b}, ${e}] are reversed (end before begin)`);
  if (e > dataSize) {
    fail(
      `data_offsets [${b}, ${e}] run past the end of the data section (${dataSize} bytes); ` +
        'the file may be truncated',
    );
  }
  const dimsN = dims as number[];
  const count = elementCount(dimsN);
  const size = DTYPE_SIZE[dt];
  if (count === undefined || count * size !== e - b) {
    const expected =
      count === undefined || !Number.isSafeInteger(count * size)
        ? 'more bytes than the file holds'
        : `${count * size} bytes`;
    fail(
      `shape ${formatShape(dimsN)} of ${dt} needs ${expected}, but data_offsets [${b}, ${e}] ` +
        `hold ${e - b}`,
    );
  }
  return { name, dtype: dt, shape: [...dimsN], count: count as number, begin: b, end: e };
}

function checkNoOverlap(entries: readonly Entry[]): void {
  // Empty ranges occupy no bytes and cannot overlap anything.
  const sorted = entries.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  let prev: Entry | undefined;
  for (const t of sorted) {
    if (prev !== undefined && t.begin < prev.end) {
      throw new WeightsError(
        `tensors ${quote(prev.name)} (data_offsets [${prev.begin}, ${prev.end}]) and ` +
          `${quote(t.name)} (data_offsets [${t.begin}, ${t.end}]) overlap in the safetensors file`,
        t.name,
      );
    }
    if (prev === undefined || t.end > prev.end) prev = t;
  }
}

/**
 * Throws unless the tensors cover the data section exactly, as the reference implementation
 * requires: no bytes before the first tensor, between two, or after the last.
 */
function checkCovered(entries: readonly Entry[], dataSize: number): void {
  const sorted = entries.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  let at = 0;
  let before: Entry | undefined;
  for (const t of sorted) {
    if (t.begin > at)
      throw new WeightsError(
        `the safetensors data section has a gap: bytes [${at}, ${t.begin}) ` +
          (before ? `between tensors ${quote(before.name)} and ` : 'before tensor ') +
          `${quote(t.name)} belong to no tensor`,
        t.name,
      );
    at = t.end;
    before = t;
  }
  if (at < dataSize)
    throw new WeightsError(
      `the safetensors data section has ${dataSize - at} bytes after the last tensor` +
        (before ? ` (${quote(before.name)} ends at byte ${at}` : ` (it has none`) +
        `, the data section at ${dataSize}); the file may be corrupt or two files joined`,
    );
}

/** Replaces each I8 tensor's values by q * scale, from its NAME:scale tensor (then dropped). */
function dequantize(tensors: Map<string, RawTensor>): void {
  for (const t of [...tensors.values()]) {
    if (t.dtype !== 'I8') continue;
    const scaleName = `${t.name}:scale`;
    const s = tensors.get(scaleName);
    const rank = t.shape.length;
    if (s === undefined)
      throw new WeightsError(
        `tensor ${quote(t.name)} is I8 (quantized), but the file has no tensor ${quote(scaleName)} with its scales`,
        t.name,
      );
    if (
      s.dtype === 'I8' ||
      s.shape.length !== rank ||
      s.shape.some((d, i) => d !== 1 && d !== t.shape[i])
    )
      throw new WeightsError(
        `tensor ${quote(scaleName)} has shape ${formatShape(s.shape)} and dtype ${s.dtype}; the scales of ${quote(t.name)} ` +
          `${formatShape(t.shape)} need a float dtype and its shape with 1 on some axes`,
        scaleName,
      );
    const strides = new Array<number>(rank).fill(0);
    for (let i = rank - 1, n = 1; i >= 0; i--)
      if (s.shape[i] !== 1) {
        strides[i] = n;
        n *= s.shape[i]!;
      }
    const idx = new Array<number>(rank).fill(0);
    const q = t.data;
    for (let k = 0; k < q.length; k++) {
      let at = 0;
      for (let i = 0; i < rank; i++) at += idx[i]! * strides[i]!;
      q[k] = q[k]! * s.data[at]!;
      for (let i = rank - 1; i >= 0; i--) {
        if (++idx[i]! < t.shape[i]!) break;
        idx[i] = 0;
      }
    }
    tensors.delete(scaleName);
  }
}

function convert(
  view: DataView,
  start: number,
  count: number,
  dtype: Dtype,
  bytes: Uint8Array,
): Float32Array {
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN_HOST) {
        // A byte copy works at any alignment.
        new Uint8Array(out.buffer).set(bytes.subarray(start, start + count * 4));
      } else {
        for (let i = 0; i < count; i++) out[i] = view.getFloat32(start + i * 4, true);
      }
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(start + i * 8, true);
      return out;
    case 'I8':
      for (let i = 0; i < count; i++) out[i] = view.getInt8(start + i);
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(start + i * 2, true));
      return out;
    case 'BF16': {
      // BF16 is the top half of an F32: shifting the bits is exact (NaN payloads included).
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(start + i * 2, true) << 16;
      return out;
    }
  }
}

function checkFinite(entry: Entry, data: Float32Array, view: DataView, headerEnd: number): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v - v !== 0) {
      let value = String(v);
      let why = 'weights must be finite';
      if (entry.dtype === 'F64') {
        const source = view.getFloat64(headerEnd + entry.begin + i * 8, true);
        if (Number.isFinite(source)) {
          value = String(source);
          why = 'it is outside the F32 range, and weights must be finite in F32';
        }
      }
      throw new WeightsError(
        `tensor ${quote(entry.name)} holds ${value} at index ${i} ` +
          `(element ${formatIndex(i, entry.shape)}); ${why}`,
        entry.name,
      );
    }
  }
}

/** Converts the bits of an IEEE half-precision number (F16) to its value, exactly. */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** Converts the bits of a bfloat16 number (BF16) to its value, exactly. */
export function bf16ToF32(bits: number): number {
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = (bits & 0xffff) << 16;
  return f[0] as number;
}

/**
 * Scans a header that JSON.parse accepted: returns the top-level keys in text order and throws on
 * a duplicate key in any object. Iterative, so a deeply nested header cannot overflow the stack.
 */
function scanHeaderKeys(text: string): string[] {
  interface Frame {
    readonly isObject: boolean;
    readonly keys: Set<string>;
    /** The top-level key an object directly inside the top-level object belongs to. */
    readonly owner: string | undefined;
    expectKey: boolean;
    lastKey: string | undefined;
  }
  const stack: Frame[] = [];
  const top: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) j += 2;
        else if (d === 0x22) break;
        else j++;
      }
      const frame = stack[stack.length - 1];
      if (frame !== undefined && frame.isObject && frame.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (frame.keys.has(key)) throw duplicateKey(key, stack.length, frame.owner);
        frame.keys.add(key);
        frame.expectKey = false;
        frame.lastKey = key;
        if (stack.length === 1) top.push(key);
      }
      i = j + 1;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const parent = stack.length === 1 ? stack[0] : undefined;
      stack.push({
        isObject: c === 0x7b,
        keys: new Set(),
        owner: parent?.lastKey,
        expectKey: true,
        lastKey: undefined,
      });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const frame = stack[stack.length - 1];
      if (frame !== undefined) frame.expectKey = true;
    }
    i++;
  }
  return top;
}

function duplicateKey(key: string, depth: number, owner: string | undefined): WeightsError {
  if (depth === 1) {
    return key === METADATA_KEY
      ? new WeightsError(`safetensors header has ${METADATA_KEY} twice`)
      : new WeightsError(`duplicate tensor name ${quote(key)} in the safetensors header`, key);
  }
  if (depth === 2 && owner !== undefined) {
    return owner === METADATA_KEY
      ? new WeightsError(`safetensors ${METADATA_KEY} has the key ${quote(key)} twice`)
      : new WeightsError(
          `tensor ${quote(owner)} in the safetensors header has the field ${quote(key)} twice`,
          owner,
        );
  }
  return new WeightsError(`safetensors header has the key ${quote(key)} twice in one object`);
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Writes F32 tensors as a safetensors file, deterministically: the header lists `__metadata__`
 * (when given) and then the tensors in the given order, packed back to back, and is padded with
 * spaces to a multiple of 8 bytes as the reference implementation does.
 */
export function writeSafetensors(
  tensors: readonly NamedTensor[],
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const parts: string[] = [];
  if (metadata !== undefined) {
    const fields = Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== 'string') {
        throw new WeightsError(
          `metadata key ${quote(k)} must hold a string, not ${describeJson(v)}`,
        );
      }
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${fields.join(',')}}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    const q = quote(t.name);
    if (t.name === METADATA_KEY) {
      throw new WeightsError(`a tensor cannot be named ${METADATA_KEY}`, t.name);
    }
    if (seen.has(t.name)) throw new WeightsError(`duplicate tensor name ${q}`, t.name);
    seen.add(t.name);
    if (!t.shape.every(isNonNegativeSafeInteger)) {
      throw new WeightsError(`tensor ${q} has an invalid shape ${stringifyShort(t.shape)}`, t.name);
    }
    const count = elementCount(t.shape);
    if (count !== t.data.length) {
      throw new WeightsError(
        `tensor ${q} has shape ${formatShape(t.shape)} but ${t.data.length} values`,
        t.name,
      );
    }
    const end = offset + count * 4;
    const info = `{"dtype":"F32","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`;
    parts.push(`${JSON.stringify(t.name)}:${info}`);
    offset = end;
  }
  // JSON.stringify escapes lone surrogates, so the encoding below is lossless.
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / HEADER_ALIGN) * HEADER_ALIGN;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of tensors) {
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    } else {
      for (let i = 0; i < t.data.length; i++)
        view.setFloat32(at + i * 4, t.data[i] as number, true);
    }
    at += t.data.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checking against a network

const MAX_LISTED_PROBLEMS = 20;

/**
 * Matches a file's tensors to the weights a network expects and returns their data in the expected
 * order. Throws one `WeightsError` listing every missing tensor (in expected order), every wrong
 * shape and every unknown tensor (in file order); its `tensor` is the first problem's.
 */
export function checkWeights(
  tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>,
  expected: readonly ExpectedTensor[],
): Float32Array[] {
  const problems: { message: string; tensor: string }[] = [];
  const expectedNames = new Set<string>();
  const missing: string[] = [];
  const out: Float32Array[] = [];
  for (const want of expected) {
    expectedNames.add(want.name);
    const got = tensors.get(want.name);
    if (got === undefined) {
      missing.push(want.name);
      problems.push({
        message: `missing tensor ${quote(want.name)} (expected shape ${formatShape(want.shape)})`,
        tensor: want.name,
      });
    } else if (!sameShape(got.shape, want.shape)) {
      problems.push({
        message:
          `tensor ${quote(want.name)} has shape ${formatShape(got.shape)}, ` +
          `expected ${formatShape(want.shape)}`,
        tensor: want.name,
      });
    } else {
      out.push(got.data);
    }
  }
  let suggestionsLeft = MAX_LISTED_PROBLEMS;
  for (const name of tensors.keys()) {
    if (expectedNames.has(name)) continue;
    let message = `unknown tensor ${quote(name)}; this network has no such weight`;
    // Suggest only among the missing names: a present name is not what was meant.
    if (suggestionsLeft-- > 0) {
      const near = closest(name, missing);
      if (near !== undefined) message += ` (did you mean ${quote(near)}?)`;
    }
    problems.push({ message, tensor: name });
  }
  const first = problems[0];
  if (first === undefined) return out;
  if (problems.length === 1) throw new WeightsError(first.message, first.tensor);
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `  ${p.message}`);
  if (problems.length > MAX_LISTED_PROBLEMS) {
    listed.push(`  ... and ${problems.length - MAX_LISTED_PROBLEMS} more`);
  }
  throw new WeightsError(
    `the weights do not match the network (${problems.length} problems):\n${listed.join('\n')}`,
    first.tensor,
  );
}

/** `parseSafetensors` then `checkWeights`: a file's bytes to the network's weights, in order. */
export function loadWeights(
  bytes: Uint8Array,
  expected: readonly ExpectedTensor[],
  options: ParseOptions = {},
): Float32Array[] {
  return checkWeights(parseSafetensors(bytes, options).tensors, expected);
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = editDistance(name, c, bestDistance);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, or any value >= `cap` once it is known to be at least `cap`. */
export function editDistance(a: string, b: string, cap = Infinity): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      row.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin >= cap) return cap;
    prev = row;
  }
  return prev[b.length] as number;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDtype(v: unknown): v is Dtype {
  return typeof v === 'string' && (SUPPORTED_DTYPES as readonly string[]).includes(v);
}

function isNonNegativeSafeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The product of the dimensions, or undefined when it is not a safe integer. */
function elementCount(shape: readonly number[]): number | undefined {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return undefined;
  }
  return n;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function formatIndex(flat: number, shape: readonly number[]): string {
  const index: number[] = [];
  for (let k = shape.length - 1; k >= 0; k--) {
    const d = shape[k] as number;
    index.unshift(flat % d);
    flat = Math.floor(flat / d);
  }
  return `[${index.join(', ')}]`;
}

/** A name in single quotes, or as a JSON string when it holds quotes or control characters. */
function quote(name: string): string {
  // With the u flag the surrogate range matches lone surrogates only.
  return /[\u0000-\u001f\u007f-\u009f'\\\u2028\u2029\ud800-\udfff]/u.test(name)
    ? JSON.stringify(name).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`)
    : `'${name}'`;
}

function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string':
      return `the string ${stringifyShort(v)}`;
    case 'number':
      return `the number ${v}`;
    case 'boolean':
      return `${v}`;
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

function stringifyShort(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
