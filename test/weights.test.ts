// Tests for src/weights: safetensors parsing and writing, weight checking, the PRNG, initializers.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  INITIALIZERS,
  Rng,
  WeightsError,
  bf16ToF32,
  checkWeights,
  computeFans,
  editDistance,
  f16ToF32,
  fnv1a32,
  initialize,
  initializeNetworkWeights,
  loadWeights,
  parseSafetensors,
  seedWords,
  tensorRng,
  writeSafetensors,
} from '../src/weights/index.js';
import type { RawTensor } from '../src/weights/index.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const encoder = new TextEncoder();

/** A safetensors file written by hand: the length word (or an override), header text, data. */
function rawFile(header: string | object, data: Uint8Array = new Uint8Array(0), length?: bigint) {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const h = encoder.encode(text);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** Little-endian bytes of numbers in the given format. */
function leBytes(kind: 'f32' | 'f64' | 'u16', values: readonly number[]): Uint8Array {
  const size = kind === 'f64' ? 8 : kind === 'f32' ? 4 : 2;
  const out = new Uint8Array(values.length * size);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (kind === 'f64') dv.setFloat64(i * 8, v, true);
    else if (kind === 'f32') dv.setFloat32(i * 4, v, true);
    else dv.setUint16(i * 2, v, true);
  });
  return out;
}

function entry(dtype: string, shape: number[], begin: number, end: number) {
  return { dtype, shape, data_offsets: [begin, end] };
}

/** The WeightsError a thunk throws (fails the test when it throws anything else). */
function weightsError(f: () => unknown): WeightsError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WeightsError);
    return e as WeightsError;
  }
  throw new Error('expected a WeightsError, nothing was thrown');
}

function tensor(parsed: { tensors: Map<string, RawTensor> }, name: string): RawTensor {
  const t = parsed.tensors.get(name);
  if (t === undefined) throw new Error(`no tensor ${name}`);
  return t;
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function stats(a: Float32Array): { mean: number; variance: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of a) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / a.length;
  let sq = 0;
  for (const v of a) sq += (v - mean) ** 2;
  return { mean, variance: sq / (a.length - 1), min, max };
}

// ---------------------------------------------------------------------------------------------
// safetensors: writing and round trips

describe('writeSafetensors', () => {
  it('writes the reference layout: length, space-padded JSON header, packed F32 data', () => {
    const file = writeSafetensors([{ name: 'a', shape: [2], data: new Float32Array([1, -2]) }], {
      format: 'pt',
    });
    const header =
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
    expect(padded.length % 8).toBe(0);
    const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
    expect(dv.getBigUint64(0, true)).toBe(BigInt(padded.length));
    expect(new TextDecoder().decode(file.subarray(8, 8 + padded.length))).toBe(padded);
    expect(file.length).toBe(8 + padded.length + 8);
    expect(dv.getFloat32(8 + padded.length, true)).toBe(1);
    expect(dv.getFloat32(8 + padded.length + 4, true)).toBe(-2);
  });

  it('round-trips tensors, metadata and header order (integer-like names included)', () => {
    const tensors = [
      {
        name: 'conv2d/kernel',
        shape: [3, 3, 1, 2],
        data: Float32Array.from({ length: 18 }, (_, i) => i / 7),
      },
      { name: '10', shape: [], data: new Float32Array([-0]) },
      { name: '2', shape: [0, 4], data: new Float32Array(0) },
      { name: 'dense/bias', shape: [3], data: new Float32Array([1e-45, -3.4e38, 0.1]) },
    ];
    const parsed = parseSafetensors(writeSafetensors(tensors, { __proto__x: 'y', a: 'b' }));
    expect([...parsed.tensors.keys()]).toEqual(['conv2d/kernel', '10', '2', 'dense/bias']);
    expect(parsed.metadata).toEqual({ __proto__x: 'y', a: 'b' });
    for (const t of tensors) {
      const got = tensor(parsed, t.name);
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual(t.shape);
      expect(bytesOf(got.data)).toEqual(bytesOf(t.data));
    }
  });

  it('keeps names and metadata keys like __proto__ as plain data', () => {
    const metadata = JSON.parse('{"__proto__":"x"}') as Record<string, string>;
    const file = writeSafetensors(
      [
        { name: '__proto__', shape: [1], data: new Float32Array([3]) },
        { name: 'constructor', shape: [1], data: new Float32Array([4]) },
      ],
      metadata,
    );
    const parsed = parseSafetensors(file);
    expect([...parsed.tensors.keys()]).toEqual(['__proto__', 'constructor']);
    expect(tensor(parsed, '__proto__').data[0]).toBe(3);
    expect(Object.keys(parsed.metadata ?? {})).toEqual(['__proto__']);
    expect(parsed.metadata?.['__proto__']).toBe('x');
  });

  it('is deterministic', () => {
    const t = [{ name: 'w', shape: [4], data: new Float32Array([1, 2, 3, 4]) }];
    expect(writeSafetensors(t)).toEqual(writeSafetensors(t));
  });

  it('writes data from a Float32Array view at an offset', () => {
    const backing = new Float32Array([9, 1, 2, 9]);
    const file = writeSafetensors([{ name: 'w', shape: [2], data: backing.subarray(1, 3) }]);
    expect([...tensor(parseSafetensors(file), 'w').data]).toEqual([1, 2]);
  });

  it('rejects duplicate names, a shape that does not match the data, and __metadata__', () => {
    const w = { name: 'w', shape: [1], data: new Float32Array(1) };
    expect(weightsError(() => writeSafetensors([w, w])).message).toMatch(
      /duplicate tensor name 'w'/,
    );
    expect(weightsError(() => writeSafetensors([{ ...w, shape: [2] }])).message).toMatch(
      /tensor 'w' has shape \[2\] but 1 values/,
    );
    expect(weightsError(() => writeSafetensors([{ ...w, name: '__metadata__' }])).message).toMatch(
      /__metadata__/,
    );
  });

  it('round-trips any list of tensors exactly (property)', () => {
    const shapeAndData = fc
      .array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 })
      .chain((shape) => {
        const n = shape.reduce((a, b) => a * b, 1);
        return fc.record({
          shape: fc.constant(shape),
          data: fc.float32Array({ minLength: n, maxLength: n }),
        });
      });
    const tensors = fc.uniqueArray(
      fc.record({
        name: fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => s !== '__metadata__'),
        sd: shapeAndData,
      }),
      { selector: (t) => t.name, maxLength: 6 },
    );
    const metadata = fc.option(fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), {
      nil: undefined,
    });
    fc.assert(
      fc.property(tensors, metadata, (list, meta) => {
        const input = list.map((t) => ({ name: t.name, shape: t.sd.shape, data: t.sd.data }));
        const file = writeSafetensors(input, meta);
        const parsed = parseSafetensors(file, { allowNonFinite: true });
        expect([...parsed.tensors.keys()]).toEqual(input.map((t) => t.name));
        for (const t of input) {
          const got = tensor(parsed, t.name);
          expect(got.shape).toEqual(t.shape);
          expect(bytesOf(got.data)).toEqual(bytesOf(t.data));
        }
        expect(parsed.metadata).toEqual(meta);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// safetensors: malformed files

describe('parseSafetensors rejects malformed files', () => {
  it('a file shorter than the length word', () => {
    const e = weightsError(() => parseSafetensors(new Uint8Array(5)));
    expect(e.message).toMatch(/5 bytes long, too short/);
  });

  it('a header length past the end of the file', () => {
    const e = weightsError(() => parseSafetensors(rawFile('{}', new Uint8Array(4), 1000n)));
    expect(e.message).toMatch(/header length 1000 runs past the end of the file \(14 bytes/);
    const huge = weightsError(() => parseSafetensors(rawFile('{}', undefined, 2n ** 63n)));
    expect(huge.message).toMatch(/header length 9223372036854775808 runs past the end/);
  });

  it('a header that is not UTF-8', () => {
    const file = rawFile('{ }');
    file[9] = 0xff;
    expect(weightsError(() => parseSafetensors(file)).message).toMatch(/not valid UTF-8/);
  });

  it('a header that is not JSON, or not a JSON object', () => {
    expect(weightsError(() => parseSafetensors(rawFile('{"a":'))).message).toMatch(
      /header is not valid JSON/,
    );
    expect(weightsError(() => parseSafetensors(rawFile(''))).message).toMatch(/not valid JSON/);
    expect(weightsError(() => parseSafetensors(rawFile('[1, 2]'))).message).toMatch(
      /header is an array, not a JSON object/,
    );
    expect(weightsError(() => parseSafetensors(rawFile('null'))).message).toMatch(
      /header is null, not a JSON object/,
    );
    expect(weightsError(() => parseSafetensors(rawFile('7'))).message).toMatch(
      /the number 7, not a JSON object/,
    );
  });

  it('an entry that is not an object with dtype, shape and data_offsets', () => {
    const bad = (e: unknown) =>
      weightsError(() => parseSafetensors(rawFile({ w: e }, new Uint8Array(8))));
    const notObject = bad(5);
    expect(notObject.tensor).toBe('w');
    expect(notObject.message).toMatch(/tensor 'w'.*expected an object with dtype, shape/);
    expect(bad({ shape: [2], data_offsets: [0, 8] }).message).toMatch(/'w'.*dtype is missing/);
    expect(bad({ ...entry('F32', [2], 0, 8), dtype: 4 }).message).toMatch(/dtype must be a string/);
    expect(bad({ dtype: 'F32', data_offsets: [0, 8] }).message).toMatch(/shape is missing/);
    expect(bad({ ...entry('F32', [2], 0, 8), shape: 2 }).message).toMatch(/shape must be an array/);
    expect(bad(entry('F32', [-2], 0, 8)).message).toMatch(
      /non-negative integers, found the number -2/,
    );
    expect(bad(entry('F32', [1.5], 0, 8)).message).toMatch(/found the number 1.5/);
    expect(bad({ ...entry('F32', [2], 0, 8), shape: ['2'] }).message).toMatch(
      /found the string "2"/,
    );
    expect(bad({ dtype: 'F32', shape: [2] }).message).toMatch(/data_offsets is missing/);
    expect(bad({ ...entry('F32', [2], 0, 8), data_offsets: [0] }).message).toMatch(
      /data_offsets must be two non-negative integers \[begin, end\], found \[0\]/,
    );
    expect(bad({ ...entry('F32', [2], 0, 8), data_offsets: [-1, 8] }).message).toMatch(
      /found \[-1,8\]/,
    );
  });

  it('reversed offsets', () => {
    const e = weightsError(() =>
      parseSafetensors(rawFile({ w: entry('F32', [1], 8, 4) }, new Uint8Array(8))),
    );
    expect(e.message).toMatch(/tensor 'w'.*data_offsets \[8, 4\] are reversed/);
    expect(e.tensor).toBe('w');
  });

  it('offsets out of range (a truncated file)', () => {
    const e = weightsError(() =>
      parseSafetensors(rawFile({ 'conv/kernel': entry('F32', [4], 0, 16) }, new Uint8Array(12))),
    );
    expect(e.message).toMatch(
      /tensor 'conv\/kernel'.*data_offsets \[0, 16\] run past the end of the data section \(12 bytes\)/,
    );
  });

  it('a byte length that does not match dtype and shape', () => {
    const e = weightsError(() =>
      parseSafetensors(rawFile({ 'dense/bias': entry('F32', [3], 0, 8) }, new Uint8Array(8))),
    );
    expect(e.message).toMatch(
      /tensor 'dense\/bias'.*shape \[3\] of F32 needs 12 bytes, but data_offsets \[0, 8\] hold 8/,
    );
    const f16 = weightsError(() =>
      parseSafetensors(rawFile({ h: entry('F16', [3], 0, 12) }, new Uint8Array(12))),
    );
    expect(f16.message).toMatch(/shape \[3\] of F16 needs 6 bytes/);
  });

  it('an absurd shape, without allocating it', () => {
    const e = weightsError(() =>
      parseSafetensors(rawFile({ w: entry('F32', [2 ** 52, 2 ** 52], 0, 8) }, new Uint8Array(8))),
    );
    expect(e.message).toMatch(/needs more bytes than the file holds/);
    const big = weightsError(() =>
      parseSafetensors(rawFile({ w: entry('F64', [2 ** 50], 0, 8) }, new Uint8Array(8))),
    );
    expect(big.message).toMatch(/needs more bytes than the file holds/);
  });

  it('unknown and integer dtypes', () => {
    const q7 = weightsError(() =>
      parseSafetensors(rawFile({ w: entry('Q7', [1], 0, 4) }, new Uint8Array(4))),
    );
    expect(q7.message).toMatch(
      /tensor 'w'.*unsupported dtype 'Q7'; supported dtypes are F32, F16, BF16, F64/,
    );
    const i32 = weightsError(() =>
      parseSafetensors(rawFile({ w: entry('I32', [1], 0, 4) }, new Uint8Array(4))),
    );
    expect(i32.message).toMatch(
      /unsupported dtype 'I32' \(integer and boolean weights are not supported\)/,
    );
  });

  it('a __metadata__ that is not an object of strings', () => {
    expect(weightsError(() => parseSafetensors(rawFile({ __metadata__: [1] }))).message).toMatch(
      /__metadata__ must be an object of strings, but it is an array/,
    );
    expect(weightsError(() => parseSafetensors(rawFile({ __metadata__: 'x' }))).message).toMatch(
      /__metadata__ must be an object of strings/,
    );
    expect(
      weightsError(() => parseSafetensors(rawFile({ __metadata__: { a: 'b', n: 1 } }))).message,
    ).toMatch(/its key 'n' holds the number 1/);
  });

  it('duplicate names, which JSON.parse would drop silently', () => {
    const data = new Uint8Array(8);
    const e1 = weightsError(() =>
      parseSafetensors(
        rawFile(
          '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
          data,
        ),
      ),
    );
    expect(e1.message).toMatch(/duplicate tensor name 'w'/);
    expect(e1.tensor).toBe('w');
    // The same name spelled with an escape is still the same name.
    const e2 = weightsError(() =>
      parseSafetensors(
        rawFile(
          '{ "w" : {"dtype":"F32","shape":[1],"data_offsets":[0,4]} , "\\u0077":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
          data,
        ),
      ),
    );
    expect(e2.message).toMatch(/duplicate tensor name 'w'/);
    // Keys inside strings, arrays and other entries are not top-level keys.
    const ok = parseSafetensors(
      rawFile(
        '{"__metadata__":{"w":"{\\"w\\":1}"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        data,
      ),
    );
    expect([...ok.tensors.keys()]).toEqual(['w', 'v']);
    const field = weightsError(() =>
      parseSafetensors(
        rawFile('{"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}', data),
      ),
    );
    expect(field.message).toMatch(
      /tensor 'w' in the safetensors header has the field 'dtype' twice/,
    );
    const meta = weightsError(() =>
      parseSafetensors(rawFile('{"__metadata__":{"a":"1","a":"2"}}')),
    );
    expect(meta.message).toMatch(/__metadata__ has the key 'a' twice/);
    const meta2 = weightsError(() =>
      parseSafetensors(rawFile('{"__metadata__":{},"__metadata__":{}}')),
    );
    expect(meta2.message).toMatch(/__metadata__ twice/);
  });

  it('overlapping ranges', () => {
    const e = weightsError(() =>
      parseSafetensors(
        rawFile({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) }, new Uint8Array(12)),
      ),
    );
    expect(e.message).toMatch(
      /tensors 'a' \(data_offsets \[0, 8\]\) and 'b' \(data_offsets \[4, 12\]\) overlap/,
    );
    // Contained in a larger earlier range, listed in any order.
    const e2 = weightsError(() =>
      parseSafetensors(
        rawFile(
          { c: entry('F32', [1], 16, 20), a: entry('F32', [6], 0, 24), b: entry('F32', [1], 4, 8) },
          new Uint8Array(24),
        ),
      ),
    );
    expect(e2.message).toMatch(/'a'.*'b'.*overlap/);
  });

  it('rejects a gap between tensors and bytes after the last, naming them (as the reference does)', () => {
    const gap = weightsError(() =>
      parseSafetensors(
        rawFile(
          { b: entry('F32', [1], 8, 12), a: entry('F32', [1], 0, 4) },
          leBytes('f32', [1, 0, 2]),
        ),
      ),
    );
    expect(gap.message).toMatch(/gap: bytes \[4, 8\) between tensors 'a' and 'b'/);
    const before = weightsError(() =>
      parseSafetensors(rawFile({ a: entry('F32', [1], 4, 8) }, leBytes('f32', [0, 1]))),
    );
    expect(before.message).toMatch(/gap: bytes \[0, 4\) before tensor 'a'/);
    const trailing = weightsError(() =>
      parseSafetensors(rawFile({ a: entry('F32', [1], 0, 4) }, leBytes('f32', [1, 0]))),
    );
    expect(trailing.message).toMatch(/4 bytes after the last tensor \('a' ends at byte 4/);
  });

  it('accepts empty tensors anywhere in range', () => {
    const parsed = parseSafetensors(
      rawFile(
        { b: entry('F32', [1], 4, 8), a: entry('F32', [1], 0, 4), e: entry('F32', [0], 2, 2) },
        leBytes('f32', [1, 2]),
      ),
    );
    expect([...tensor(parsed, 'a').data]).toEqual([1]);
    expect([...tensor(parsed, 'b').data]).toEqual([2]);
    expect(tensor(parsed, 'e').data.length).toBe(0);
  });

  it('non-finite weights, naming the tensor and the element', () => {
    const e = weightsError(() =>
      parseSafetensors(
        rawFile({ 'dense/kernel': entry('F32', [2, 2], 0, 16) }, leBytes('f32', [0, 1, NaN, 3])),
      ),
    );
    expect(e.message).toMatch(
      /tensor 'dense\/kernel' holds NaN at index 2 \(element \[1, 0\]\); weights must be finite/,
    );
    expect(e.tensor).toBe('dense/kernel');
    const inf = weightsError(() =>
      parseSafetensors(rawFile({ w: entry('F16', [1], 0, 2) }, leBytes('u16', [0xfc00]))),
    );
    expect(inf.message).toMatch(/holds -Infinity/);
    const f64 = weightsError(() =>
      parseSafetensors(rawFile({ w: entry('F64', [1], 0, 8) }, leBytes('f64', [1e300]))),
    );
    expect(f64.message).toMatch(/holds 1e\+300 at index 0 .*outside the F32 range/);
    const allowed = parseSafetensors(
      rawFile({ w: entry('F32', [1], 0, 4) }, leBytes('f32', [Infinity])),
      {
        allowNonFinite: true,
      },
    );
    expect(tensor(allowed, 'w').data[0]).toBe(Infinity);
  });

  it('never throws anything but WeightsError on corrupted files (property)', () => {
    const valid = writeSafetensors(
      [
        { name: 'conv/kernel', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
        { name: 'conv/bias', shape: [3], data: new Float32Array([7, 8, 9]) },
      ],
      { k: 'v' },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.nat(255)), { maxLength: 4 }),
        fc.nat(valid.length),
        (flips, cut) => {
          const file = valid.slice(0, cut);
          for (const [at, v] of flips) if (at < file.length) file[at] = v;
          try {
            parseSafetensors(file);
          } catch (e) {
            expect(e).toBeInstanceOf(WeightsError);
          }
        },
      ),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// safetensors: conversions and alignment

describe('dtype conversion', () => {
  // Expected values computed independently with numpy (float16) and struct (bfloat16 as the top
  // half of a float32).
  const f16Cases: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 5.960464477539063e-8],
    [0x8001, -5.960464477539063e-8],
    [0x03ff, 6.097555160522461e-5],
    [0x0400, 6.103515625e-5],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0xfbff, -65504],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  const bf16Cases: [number, number][] = [
    [0x3f80, 1],
    [0xc000, -2],
    [0x8000, -0],
    [0x0001, 9.183549615799121e-41],
    [0x3eab, 0.333984375],
    [0x7f7f, 3.3895313892515355e38],
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ];

  it('converts F16 bits exactly (subnormals, infinities, NaN)', () => {
    for (const [bits, value] of f16Cases) expect(f16ToF32(bits)).toBe(value);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(f16ToF32(0xfc01)).toBeNaN();
  });

  it('converts BF16 bits exactly', () => {
    for (const [bits, value] of bf16Cases) expect(bf16ToF32(bits)).toBe(value);
    expect(bf16ToF32(0x7fc0)).toBeNaN();
  });

  it('reads F16, BF16 and F64 tensors from a file as F32', () => {
    const f16 = f16Cases.map(([b]) => b);
    const bf16 = bf16Cases.map(([b]) => b);
    const f64 = [0.1, -0, 1e-40, 3.4028234663852886e38, -1.5];
    const data = new Uint8Array(f16.length * 2 + bf16.length * 2 + f64.length * 8);
    data.set(leBytes('u16', f16), 0);
    data.set(leBytes('u16', bf16), f16.length * 2);
    const o64 = f16.length * 2 + bf16.length * 2;
    data.set(leBytes('f64', f64), o64);
    const file = rawFile(
      {
        h: entry('F16', [f16.length], 0, f16.length * 2),
        b: entry('BF16', [bf16.length], f16.length * 2, o64),
        d: entry('F64', [f64.length], o64, data.length),
      },
      data,
    );
    const parsed = parseSafetensors(file, { allowNonFinite: true });
    expect(tensor(parsed, 'h').dtype).toBe('F16');
    expect([...tensor(parsed, 'h').data]).toEqual(f16Cases.map(([, v]) => v));
    expect(Object.is(tensor(parsed, 'h').data[1], -0)).toBe(true);
    expect([...tensor(parsed, 'b').data]).toEqual(bf16Cases.map(([, v]) => v));
    // float32(0.1) and float32(1e-40), from numpy.
    expect([...tensor(parsed, 'd').data]).toEqual([
      0.10000000149011612, -0, 9.99994610111476e-41, 3.4028234663852886e38, -1.5,
    ]);
  });

  it('reads unaligned data (odd header length, and a view at an odd offset)', () => {
    // Spaces after the header put the data at an odd byte offset.
    const header = '{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}';
    let padded = header;
    while ((8 + padded.length) % 4 !== 1) padded += ' ';
    const file = rawFile(padded, leBytes('f32', [1.5, -2.25, 3e-3]));
    expect((8 + padded.length) % 4).not.toBe(0);
    const expected = [...new Float32Array([1.5, -2.25, 3e-3])];
    expect([...tensor(parseSafetensors(file), 'w').data]).toEqual(expected);
    const shifted = new Uint8Array(file.length + 3);
    shifted.set(file, 3);
    expect([...tensor(parseSafetensors(shifted.subarray(3)), 'w').data]).toEqual(expected);
    const f64File = rawFile(
      padded.replace('F32', 'F64').replace('12]', '24]'),
      leBytes('f64', [1.5, -2.25, 3e-3]),
    );
    expect([...tensor(parseSafetensors(f64File), 'w').data]).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Checking a file against a network

describe('checkWeights', () => {
  const expected = [
    { name: 'conv2d_1/kernel', shape: [3, 3, 16, 32] },
    { name: 'conv2d_1/bias', shape: [32] },
    { name: 'dense/bias', shape: [10] },
  ];
  const make = (list: { name: string; shape: number[] }[]) =>
    new Map(
      list.map((t) => [
        t.name,
        { shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) },
      ]),
    );

  it('returns the data in the expected order', () => {
    const file = make([...expected].reverse());
    const out = checkWeights(file, expected);
    expect(out.map((a) => a.length)).toEqual([3 * 3 * 16 * 32, 32, 10]);
    expect(out[0]).toBe(file.get('conv2d_1/kernel')?.data);
  });

  it('names a missing tensor with its expected shape', () => {
    const e = weightsError(() => checkWeights(make(expected.slice(1)), expected));
    expect(e.message).toBe("missing tensor 'conv2d_1/kernel' (expected shape [3, 3, 16, 32])");
    expect(e.tensor).toBe('conv2d_1/kernel');
  });

  it('names a wrong shape', () => {
    const e = weightsError(() =>
      checkWeights(
        make([expected[0]!, expected[1]!, { name: 'dense/bias', shape: [9] }]),
        expected,
      ),
    );
    expect(e.message).toBe("tensor 'dense/bias' has shape [9], expected [10]");
  });

  it('names an unknown tensor', () => {
    const e = weightsError(() =>
      checkWeights(make([...expected, { name: 'conv2d_9/kernel', shape: [1] }]), expected),
    );
    expect(e.message).toBe("unknown tensor 'conv2d_9/kernel'; this network has no such weight");
    expect(e.tensor).toBe('conv2d_9/kernel');
  });

  it('lists every problem, with a did-you-mean among the missing names', () => {
    const file = make([
      { name: 'conv2d_1/kernal', shape: [3, 3, 16, 32] },
      { name: 'conv2d_1/bias', shape: [31] },
      { name: 'dense/bias', shape: [10] },
      { name: 'totally_different', shape: [1] },
    ]);
    const e = weightsError(() => checkWeights(file, expected));
    expect(e.message).toBe(
      [
        'the weights do not match the network (4 problems):',
        "  missing tensor 'conv2d_1/kernel' (expected shape [3, 3, 16, 32])",
        "  tensor 'conv2d_1/bias' has shape [31], expected [32]",
        "  unknown tensor 'conv2d_1/kernal'; this network has no such weight (did you mean 'conv2d_1/kernel'?)",
        "  unknown tensor 'totally_different'; this network has no such weight",
      ].join('\n'),
    );
    expect(e.tensor).toBe('conv2d_1/kernel');
  });

  it('loadWeights parses and checks in one step', () => {
    const file = writeSafetensors([
      { name: 'dense/bias', shape: [2], data: new Float32Array([1, 2]) },
    ]);
    expect([...loadWeights(file, [{ name: 'dense/bias', shape: [2] }])[0]!]).toEqual([1, 2]);
    expect(() => loadWeights(file, [{ name: 'dense/bias', shape: [3] }])).toThrow(WeightsError);
  });

  it('editDistance', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
    expect(editDistance('abcdef', 'uvwxyz', 2)).toBeGreaterThanOrEqual(2);
  });
});

// ---------------------------------------------------------------------------------------------
// Random numbers

describe('Rng', () => {
  // Golden values from an independent Python implementation of the same seeding and generator.
  it('implements xoshiro128** (reference vector from state [1, 2, 3, 4])', () => {
    const rng = Rng.fromState([1, 2, 3, 4]);
    const got = Array.from({ length: 6 }, () => rng.nextUint32());
    expect(got).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('seeds identically on every machine', () => {
    const first = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.nextUint32());
    expect(first(Rng.fromSeed(0), 4)).toEqual([184744328, 3821008765, 2813598614, 3220483936]);
    expect(first(Rng.fromSeed(42), 4)).toEqual([1307719786, 3914031270, 1706145261, 2987178056]);
    expect(first(Rng.fromSeed(-1), 4)).toEqual([2301000770, 1096249252, 1847590471, 2950120324]);
    expect(first(tensorRng(0, 'conv2d/kernel'), 3)).toEqual([3558536349, 1011083552, 3224489905]);
    expect(Rng.fromSeed(7).nextDouble()).toBe(0.7604006542150857);
  });

  it('splits seeds and hashes names', () => {
    expect(seedWords(0)).toEqual([0, 0]);
    expect(seedWords(-1)).toEqual([0xffffffff, 0xffffffff]);
    expect(seedWords(2 ** 32 + 5)).toEqual([5, 1]);
    expect(() => seedWords(0.5)).toThrow(RangeError);
    expect(() => seedWords(2 ** 53)).toThrow(RangeError);
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('draws uniforms in range with the right moments', () => {
    const rng = Rng.fromSeed(1);
    const a = Float32Array.from({ length: 50000 }, () => rng.uniform(-3, 5));
    const s = stats(a);
    expect(s.min).toBeGreaterThanOrEqual(-3);
    expect(s.max).toBeLessThanOrEqual(5);
    expect(s.mean).toBeCloseTo(1, 1);
    expect(s.variance / (64 / 12)).toBeCloseTo(1, 1);
  });

  it('draws normals and truncated normals', () => {
    const rng = Rng.fromSeed(2);
    const n = Float32Array.from({ length: 50000 }, () => rng.normal(1, 2));
    expect(stats(n).mean).toBeCloseTo(1, 1);
    expect(Math.sqrt(stats(n).variance) / 2).toBeCloseTo(1, 1);
    const t = Float32Array.from({ length: 50000 }, () => rng.truncatedNormal(-1, 0.5));
    const st = stats(t);
    expect(st.min).toBeGreaterThanOrEqual(-2);
    expect(st.max).toBeLessThanOrEqual(0);
    expect(st.mean).toBeCloseTo(-1, 1);
    // A unit normal truncated to [-2, 2] has standard deviation 0.8796...
    expect(Math.sqrt(st.variance) / (0.5 * 0.87962566103423978)).toBeCloseTo(1, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Initializers

describe('initializers', () => {
  it('lists the Keras names', () => {
    expect([...INITIALIZERS].sort()).toEqual(
      [
        'glorot_uniform',
        'glorot_normal',
        'he_uniform',
        'he_normal',
        'lecun_uniform',
        'lecun_normal',
        'zeros',
        'ones',
        'random_uniform',
        'random_normal',
        'truncated_normal',
      ].sort(),
    );
  });

  it('computes Keras fans', () => {
    expect(computeFans([3, 3, 16, 32])).toEqual({ fanIn: 144, fanOut: 288 });
    expect(computeFans([5, 7])).toEqual({ fanIn: 5, fanOut: 7 });
    expect(computeFans([10])).toEqual({ fanIn: 10, fanOut: 10 });
    expect(computeFans([])).toEqual({ fanIn: 1, fanOut: 1 });
  });

  const shape = [3, 3, 64, 64]; // fan_in = fan_out = 576, 36864 values
  const fan = 576;
  const uniformCases: [string, number][] = [
    ['glorot_uniform', Math.sqrt(6 / (fan + fan))],
    ['he_uniform', Math.sqrt(6 / fan)],
    ['lecun_uniform', Math.sqrt(3 / fan)],
    ['random_uniform', 0.05],
  ];
  for (const [name, limit] of uniformCases) {
    it(`${name} stays within +-${limit.toPrecision(3)} with variance limit^2 / 3`, () => {
      const s = stats(initialize(name, shape, Rng.fromSeed(3)));
      expect(s.min).toBeGreaterThanOrEqual(-limit);
      expect(s.max).toBeLessThanOrEqual(limit);
      expect(Math.abs(s.mean)).toBeLessThan(limit * 0.02);
      expect(s.variance / (limit ** 2 / 3)).toBeGreaterThan(0.97);
      expect(s.variance / (limit ** 2 / 3)).toBeLessThan(1.03);
    });
  }

  // [name, the untruncated stddev, the variance after truncation]
  const normalCases: [string, number, number][] = [
    ['glorot_normal', Math.sqrt(2 / (fan + fan)) / 0.87962566103423978, 2 / (fan + fan)],
    ['he_normal', Math.sqrt(2 / fan) / 0.87962566103423978, 2 / fan],
    ['lecun_normal', Math.sqrt(1 / fan) / 0.87962566103423978, 1 / fan],
    ['truncated_normal', 0.05, (0.05 * 0.87962566103423978) ** 2],
  ];
  for (const [name, std, variance] of normalCases) {
    it(`${name} stays within 2 std with variance ${variance.toPrecision(3)}`, () => {
      const s = stats(initialize(name, shape, Rng.fromSeed(4)));
      expect(s.min).toBeGreaterThanOrEqual(-2 * std * (1 + 1e-6));
      expect(s.max).toBeLessThanOrEqual(2 * std * (1 + 1e-6));
      expect(s.variance / variance).toBeGreaterThan(0.97);
      expect(s.variance / variance).toBeLessThan(1.03);
    });
  }

  it('random_normal has stddev 0.05 and is not truncated', () => {
    const s = stats(initialize('random_normal', shape, Rng.fromSeed(5)));
    expect(Math.sqrt(s.variance) / 0.05).toBeGreaterThan(0.98);
    expect(Math.sqrt(s.variance) / 0.05).toBeLessThan(1.02);
    expect(s.max).toBeGreaterThan(0.1); // beyond 2 std, which truncation would forbid
  });

  it('zeros and ones', () => {
    expect([...initialize('zeros', [2, 2], Rng.fromSeed(0))]).toEqual([0, 0, 0, 0]);
    expect([...initialize('ones', [3], Rng.fromSeed(0))]).toEqual([1, 1, 1]);
    expect(initialize('ones', [], Rng.fromSeed(0)).length).toBe(1);
    expect(initialize('glorot_uniform', [0, 4], Rng.fromSeed(0)).length).toBe(0);
  });

  it('rejects unknown names and bad shapes', () => {
    expect(() => initialize('glorot', [2], Rng.fromSeed(0))).toThrow(
      /unknown initializer 'glorot'/,
    );
    expect(() => initialize('zeros', [-1], Rng.fromSeed(0))).toThrow(RangeError);
  });

  it('initializes a network deterministically, each tensor from (seed, name) alone', () => {
    const specs = [
      { name: 'conv2d/kernel', shape: [3, 3, 1, 8], initializer: 'glorot_uniform' },
      { name: 'conv2d/bias', shape: [8], initializer: 'zeros' },
      { name: 'dense/kernel', shape: [8, 10], initializer: 'he_normal' },
    ];
    const a = initializeNetworkWeights(specs, 0);
    const b = initializeNetworkWeights(specs, 0);
    expect(a.map(bytesOf)).toEqual(b.map(bytesOf));
    const other = initializeNetworkWeights(specs, 1);
    expect(bytesOf(other[0]!)).not.toEqual(bytesOf(a[0]!));
    // Adding a layer leaves the others unchanged.
    const grown = initializeNetworkWeights(
      [
        specs[0]!,
        { name: 'conv2d_1/kernel', shape: [3, 3, 8, 8], initializer: 'glorot_uniform' },
        specs[1]!,
        specs[2]!,
      ],
      0,
    );
    expect(bytesOf(grown[0]!)).toEqual(bytesOf(a[0]!));
    expect(bytesOf(grown[3]!)).toEqual(bytesOf(a[2]!));
    // Same shape and initializer, different names: different values.
    const twins = initializeNetworkWeights(
      [
        { name: 'x/kernel', shape: [4, 4], initializer: 'glorot_uniform' },
        { name: 'y/kernel', shape: [4, 4], initializer: 'glorot_uniform' },
      ],
      0,
    );
    expect(bytesOf(twins[0]!)).not.toEqual(bytesOf(twins[1]!));
    // And the stream is the tensor's own generator.
    expect(bytesOf(a[0]!)).toEqual(
      bytesOf(initialize('glorot_uniform', [3, 3, 1, 8], tensorRng(0, 'conv2d/kernel'))),
    );
  });
});
