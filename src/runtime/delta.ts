// A byte delta: a target made of copies from a source and literal bytes. The .wasm file holds
// its relaxed SIMD builds as deltas against the plain ones (codegen/wasm/delta.ts writes them),
// which differ only where multiply-adds are fused: ResNet-50's relaxed build is 118 KB, 22 KB
// gzipped, and its delta 3 KB gzipped.
//
// Format, unsigned LEB128 numbers: the target's length, then ops to the end: a literal count
// and that many bytes, a copy length, and when it is not 0 the copy's start in the source,
// relative to where the last copy ended (zigzag-encoded: 2n for n >= 0, -2n - 1 below).

/** The target that `delta` makes from `source`; a delta that does not fit throws. */
export function applyDelta(source: Uint8Array, delta: Uint8Array): Uint8Array {
  let p = 0;
  const leb = (): number => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      if (p >= delta.length || shift > 28) throw new Error('netc: a corrupt code delta');
      const b = delta[p++]!;
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
  };
  const out = new Uint8Array(leb());
  let at = 0;
  let copied = 0;
  while (p < delta.length) {
    const literal = leb();
    if (p + literal > delta.length || at + literal > out.length)
      throw new Error('netc: a corrupt code delta');
    out.set(delta.subarray(p, p + literal), at);
    p += literal;
    at += literal;
    const copy = leb();
    if (copy === 0) continue;
    const z = leb();
    const from = copied + (z % 2 === 0 ? z / 2 : -(z + 1) / 2);
    if (from < 0 || from + copy > source.length || at + copy > out.length)
      throw new Error('netc: a corrupt code delta');
    out.set(source.subarray(from, from + copy), at);
    at += copy;
    copied = from + copy;
  }
  if (at !== out.length) throw new Error('netc: a corrupt code delta');
  return out;
}
