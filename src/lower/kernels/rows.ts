// The row contract for kernels whose output rows are independent (elementwise layers, copies):
// asked for a band of output rows (`LowerOptions.band`, rows [from, from + count) of the first
// axis), a kernel computes those elements alone, each exactly as the whole layer's kernel does
// (elementwise arithmetic gives the same bits in f32 and v128; copies are exact), so a threads
// build may split it.
import type { Shape } from '../../ir/graph.js';
import type { LowerOptions } from '../program.js';

export type Band = NonNullable<LowerOptions['band']>;

/** The band's elements of a row-major output: from `at`, `n` of them (the whole output when
 * there is no band). */
export function bandElements(shape: Shape, band: Band | undefined): { at: number; n: number } {
  const n = shape.reduce((p, d) => p * d, 1);
  if (!band) return { at: 0, n };
  const row = n / shape[0]!;
  return { at: band.from * row, n: band.count * row };
}

/** The band's range of an outer loop over `outer` indices that split the first axis evenly
 * (`outer` a multiple of the rows): [from, to). */
export function bandOuter(
  shape: Shape,
  outer: number,
  band: Band | undefined,
): { from: number; to: number } {
  if (!band) return { from: 0, to: outer };
  const per = outer / shape[0]!;
  return { from: band.from * per, to: (band.from + band.count) * per };
}
