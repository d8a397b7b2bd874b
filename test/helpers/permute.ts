// The test suite's own transpose, to compute packed weight layouts independently of the
// runtime's permute (src/runtime/loader.ts), which is code under test.

/** Transposes a row-major tensor of `shape`: output axis i is input axis perm[i]. */
export function permute(
  a: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): Float32Array {
  const out = new Float32Array(a.length);
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
  const idx = new Array<number>(outShape.length).fill(0);
  for (let o = 0; o < a.length; o++) {
    let src = 0;
    for (let i = 0; i < perm.length; i++) src += idx[i]! * inStrides[perm[i]!]!;
    out[o] = a[src]!;
    for (let i = idx.length - 1; i >= 0; i--) {
      if (++idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}
