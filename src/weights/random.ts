// A seeded, machine-independent random number generator (xoshiro128**) for weight initialization.

/**
 * xoshiro128** (Blackman and Vigna) over 32-bit integer arithmetic only, so every machine and
 * engine produces the same stream. Uniform doubles are exact integer-to-float conversions;
 * normals use Box-Muller with `Math.log`, `Math.sqrt` and `Math.cos`.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * Seeds the state from any number of 32-bit words (an integer seed is split into two words
   * by `seedWords`); different word lists give unrelated streams.
   */
  constructor(words: readonly number[]) {
    // Absorb the words into a 32-bit hash chain, then expand it with SplitMix32 into the state.
    let h = 0x6a09e667;
    for (const w of words) h = fmix32((h ^ fmix32(w >>> 0)) + 0x9e3779b9);
    h = fmix32(h + words.length);
    const next = (): number => {
      h = (h + 0x9e3779b9) >>> 0;
      return fmix32(h);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the one forbidden state
  }

  /** A generator for an integer seed (any safe integer, negative included). */
  static fromSeed(seed: number): Rng {
    return new Rng(seedWords(seed));
  }

  /** A generator in a given raw state (four 32-bit words, not all zero): for tests. */
  static fromState(state: readonly [number, number, number, number]): Rng {
    const rng = new Rng([]);
    [rng.s0, rng.s1, rng.s2, rng.s3] = state.map((w) => w >>> 0) as [
      number,
      number,
      number,
      number,
    ];
    if ((rng.s0 | rng.s1 | rng.s2 | rng.s3) === 0)
      throw new RangeError('xoshiro128** state must not be all zero');
    return rng;
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.s1 = (s1 ^ n2) >>> 0;
    this.s0 = (s0 ^ n3) >>> 0;
    this.s2 = (n2 ^ t) >>> 0;
    this.s3 = rotl(n3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992; // (hi * 2^26 + lo) / 2^53, exact
  }

  /** A uniform number in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.nextDouble();
  }

  /** A normal number (Box-Muller; each draw takes two uniforms). */
  normal(mean: number, std: number): number {
    return mean + std * this.standardNormal();
  }

  /**
   * A normal number redrawn while it lies more than two standard deviations from the mean, as
   * Keras's truncated normal (whose standard deviation is therefore about 0.88 * std).
   */
  truncatedNormal(mean: number, std: number): number {
    for (;;) {
      const z = this.standardNormal();
      if (z >= -2 && z <= 2) return mean + std * z;
    }
  }

  private standardNormal(): number {
    const u1 = 1 - this.nextDouble(); // (0, 1], so the logarithm is finite
    const u2 = this.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** Splits a safe integer into its low and high 32-bit words (two's complement for negatives). */
export function seedWords(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`seed must be a safe integer, got ${seed}`);
  }
  const hi = Math.floor(seed / 4294967296);
  const lo = seed - hi * 4294967296;
  return [lo >>> 0, hi >>> 0];
}

/** 32-bit FNV-1a of a string's UTF-8 bytes. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h = Math.imul(h ^ byte, 0x01000193);
  }
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** MurmurHash3's 32-bit finalizer: a bijective avalanche mix. */
function fmix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}
