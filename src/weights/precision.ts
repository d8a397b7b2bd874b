// Stored weights at a chosen precision (`netc build --weight-precision`): the unfolded weights as
// a safetensors file of F32, F16, or I8 with its scales, which the generated module's loader
// reads (src/runtime/safetensors.ts dequantizes) and folds at load, as it does load({ weights }).
//
// - f32: every tensor F32 (exact).
// - f16: tensors of rank 2 and more as F16 (round to nearest even); a tensor holding a value
//   past F16's range (65504) stays F32.
// - int8: tensors of rank 2 and more as I8, symmetric, one F32 scale per output channel
//   (max |w| / 127 over the channel; q = round(w / scale) in [-127, 127]), in a tensor
//   `NAME:scale` whose shape is the weight's with 1 on the other axes (NumPy broadcasting):
//   [1, 1, 1, out] for a conv2d kernel, [1, out] for dense, [1, 1, in, dm] for a depthwise
//   kernel, [1, 1, out, 1] for conv2d_transpose's [kh, kw, out, in].
// Rank 0 and 1 tensors (biases, normalization statistics) stay F32 at every precision: they are
// small, and batch normalization's variances are often below F16's normal range.

export type WeightPrecision = 'f32' | 'f16' | 'int8';

export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ['f32', 'f16', 'int8'];

/** The suffix of an int8 tensor's scales. */
export const SCALE_SUFFIX = ':scale';

export interface StoredTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
  /** The axes that index an output channel (int8 takes one scale per index on them). */
  readonly channelAxes: readonly number[];
}

interface Encoded {
  readonly name: string;
  readonly dtype: 'F32' | 'F16' | 'I8';
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** The bits of the F16 nearest to x (ties to even); infinities past the range. */
export function f32ToF16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

function encodeF32(t: StoredTensor): Encoded {
  const bytes = new Uint8Array(t.data.length * 4);
  const view = new DataView(bytes.buffer);
  t.data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name: t.name, dtype: 'F32', shape: t.shape, bytes };
}

function encodeF16(t: StoredTensor): Encoded {
  if (t.data.some((v) => Math.abs(v) > 65504)) return encodeF32(t);
  const bytes = new Uint8Array(t.data.length * 2);
  const view = new DataView(bytes.buffer);
  t.data.forEach((v, i) => view.setUint16(i * 2, f32ToF16(v), true));
  return { name: t.name, dtype: 'F16', shape: t.shape, bytes };
}

/** The int8 values and the per-channel scales of a tensor. */
export function quantizeInt8(t: StoredTensor): {
  q: Int8Array;
  scales: Float32Array;
  scaleShape: number[];
} {
  const rank = t.shape.length;
  const scaleShape = t.shape.map((d, i) => (t.channelAxes.includes(i) ? d : 1));
  const scales = new Float32Array(scaleShape.reduce((a, b) => a * b, 1));
  // The scale index of each element: its index on the channel axes, row-major.
  const strides = new Array<number>(rank).fill(0);
  for (let i = rank - 1, s = 1; i >= 0; i--)
    if (t.channelAxes.includes(i)) {
      strides[i] = s;
      s *= t.shape[i]!;
    }
  const at = new Int32Array(t.data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < t.data.length; k++) {
    let s = 0;
    for (let i = 0; i < rank; i++) s += idx[i]! * strides[i]!;
    at[k] = s;
    scales[s] = Math.max(scales[s]!, Math.abs(t.data[k]!));
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i]! < t.shape[i]!) break;
      idx[i] = 0;
    }
  }
  for (let s = 0; s < scales.length; s++) scales[s] = scales[s]! / 127;
  const q = new Int8Array(t.data.length);
  for (let k = 0; k < q.length; k++) {
    const scale = scales[at[k]!]!;
    q[k] = scale === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(t.data[k]! / scale)));
  }
  return { q, scales, scaleShape };
}

function encodeInt8(t: StoredTensor): Encoded[] {
  const { q, scales, scaleShape } = quantizeInt8(t);
  return [
    { name: t.name, dtype: 'I8', shape: t.shape, bytes: new Uint8Array(q.buffer) },
    encodeF32({ name: t.name + SCALE_SUFFIX, shape: scaleShape, data: scales, channelAxes: [] }),
  ];
}

/**
 * The tensors as a safetensors file at `precision`: F32 tensors first, then F16, then I8, each
 * back to back, so every tensor's data is aligned to its element size and no byte is unused.
 */
export function storeWeights(
  tensors: readonly StoredTensor[],
  precision: WeightPrecision,
): Uint8Array {
  const encoded = tensors.flatMap((t): Encoded[] =>
    precision === 'f32' || t.shape.length < 2
      ? [encodeF32(t)]
      : precision === 'f16'
        ? [encodeF16(t)]
        : encodeInt8(t),
  );
  const order = { F32: 0, F16: 1, I8: 2 };
  encoded.sort((a, b) => order[a.dtype] - order[b.dtype]);
  let offset = 0;
  const fields = [
    `"__metadata__":${JSON.stringify({ format: 'pt', 'netc.precision': precision })}`,
  ];
  for (const e of encoded) {
    const end = offset + e.bytes.length;
    fields.push(
      `${JSON.stringify(e.name)}:{"dtype":"${e.dtype}","shape":[${e.shape.join(',')}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const e of encoded) {
    out.set(e.bytes, at);
    at += e.bytes.length;
  }
  return out;
}
