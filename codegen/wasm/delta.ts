// Writes the byte deltas that src/runtime/delta.ts applies (the format is described there): a
// relaxed SIMD build as copies from the plain build and the bytes that differ.
//
// Greedy matching: at each target byte, the longest run of the source that starts with the
// same 4 bytes (the last CHAIN such places), taken when it is at least MIN_COPY long. Short
// runs stay literal, where gzip finds them better than a copy op does: with ResNet-50's
// builds, 12 gave the smallest gzipped deltas (4 and 8 gave larger ones).

const MIN_COPY = 12;
const CHAIN = 32;
const HASH_BITS = 16;

function leb(out: number[], n: number): void {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
}

function hash4(a: Uint8Array, i: number): number {
  const word = a[i]! | (a[i + 1]! << 8) | (a[i + 2]! << 16) | (a[i + 3]! << 24);
  return Math.imul(word, 0x9e3779b1) >>> (32 - HASH_BITS);
}

/** The delta that makes `target` from `source`. */
export function encodeDelta(source: Uint8Array, target: Uint8Array): Uint8Array {
  // Places in the source by the hash of their first 4 bytes, newest first (a chain).
  const head = new Int32Array(1 << HASH_BITS).fill(-1);
  const older = new Int32Array(source.length);
  for (let i = 0; i + 4 <= source.length; i++) {
    const h = hash4(source, i);
    older[i] = head[h]!;
    head[h] = i;
  }
  const out: number[] = [];
  leb(out, target.length);
  let literalFrom = 0;
  let copied = 0;
  const op = (end: number, copy: number, from: number): void => {
    leb(out, end - literalFrom);
    for (let k = literalFrom; k < end; k++) out.push(target[k]!);
    leb(out, copy);
    if (copy > 0) {
      const d = from - copied;
      leb(out, d >= 0 ? 2 * d : -2 * d - 1);
      copied = from + copy;
    }
  };
  let i = 0;
  while (i < target.length) {
    let best = 0;
    let bestFrom = 0;
    if (i + 4 <= target.length)
      for (let s = head[hash4(target, i)]!, n = 0; s >= 0 && n < CHAIN; s = older[s]!, n++) {
        let len = 0;
        while (
          i + len < target.length &&
          s + len < source.length &&
          source[s + len] === target[i + len]
        )
          len++;
        if (len > best || (len === best && s === copied)) [best, bestFrom] = [len, s];
      }
    if (best >= MIN_COPY) {
      op(i, best, bestFrom);
      i += best;
      literalFrom = i;
    } else i++;
  }
  if (literalFrom < target.length) op(target.length, 0, 0);
  return Uint8Array.from(out);
}
