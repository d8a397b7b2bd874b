// Code deltas (codegen/wasm/delta.ts writes them, src/runtime/delta.ts applies them at load):
// any target is made back exactly from any source, and a delta that does not fit throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeDelta } from '../codegen/wasm/delta.js';
import { applyDelta } from '../src/runtime/delta.js';

/** A source, and a target made of pieces of it (some edited) and fresh bytes, as a relaxed
 * build is made of its plain build's code with some instructions changed. */
const pair = fc
  .tuple(
    // Bytes that rarely repeat (fast-check's arrays are mostly zeros, where any copy would do).
    fc
      .tuple(fc.nat(3000), fc.integer({ min: 1 }))
      .map(([n, seed]) =>
        Uint8Array.from({ length: n }, (_, i) => Math.imul(i + seed, 0x9e3779b1) >>> 24),
      ),
    fc.array(
      fc.oneof(
        fc.record({ from: fc.nat(), length: fc.integer({ min: 1, max: 400 }), edit: fc.nat(255) }),
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
      ),
      { maxLength: 30 },
    ),
  )
  .map(([source, pieces]) => {
    const target: number[] = [];
    for (const p of pieces)
      if (p instanceof Uint8Array) target.push(...p);
      else if (source.length > 0) {
        const from = p.from % source.length;
        const piece = [...source.subarray(from, from + p.length)];
        if (piece.length > 2) piece[p.edit % piece.length] = p.edit;
        target.push(...piece);
      }
    return { source, target: Uint8Array.from(target) };
  });

describe('code deltas', () => {
  it('make the target back from the source, bit for bit', () => {
    fc.assert(
      fc.property(pair, ({ source, target }) => {
        expect(applyDelta(source, encodeDelta(source, target))).toEqual(target);
      }),
      { numRuns: 300 },
    );
  });

  it('copy what the source has instead of repeating it', () => {
    const source = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 7919) % 251);
    const target = Uint8Array.from(source);
    target[5000] = 0xaa;
    target[15000] = 0xbb;
    expect(encodeDelta(source, target).length).toBeLessThan(40);
  });

  it('throw when they do not fit their source', () => {
    const source = Uint8Array.from({ length: 4000 }, (_, i) => (i * 31) % 256);
    const target = Uint8Array.from([
      ...source.subarray(100, 2000),
      1,
      2,
      3,
      ...source.subarray(0, 50),
    ]);
    const delta = encodeDelta(source, target);
    expect(() => applyDelta(source.subarray(0, 1000), delta)).toThrow(/corrupt code delta/);
    expect(() => applyDelta(source, delta.subarray(0, delta.length - 1))).toThrow(/corrupt/);
    expect(() => applyDelta(source, Uint8Array.from([5, 9]))).toThrow(/corrupt/);
  });
});
