// Small inputs are copied into a zero-bordered map in scratch before a convolution reads them.
// Then every output pixel reads every tap: one body for the whole map instead of one per pair of
// border runs (25 for a 5x5 kernel with padding 2), which is most of the code V8 compiles (and
// tiers up) at a cold start. The price is multiply-adds with zeros at the borders, so only
// small maps with few extra taps and much work per float copied qualify (the schedule's
// `paddedInput` limits; mnist's 28x28x1
// input: 9% more multiply-adds, the same speed, 16 KB less code).
import { add, i32, mul, type Expr, type Stmt } from '../../kir/kir.js';
import type { Schedule } from '../schedule.js';
import { convRuns } from './spatial.js';
import { copy, fill, range } from './util.js';

export interface PaddedInput {
  /** Padded height and width. */
  readonly h: number;
  readonly w: number;
  /** Floats of scratch. */
  readonly floats: number;
  /** Zeroes the scratch map and copies x into its interior. */
  readonly body: Stmt[];
}

/** Taps read along one axis by all outputs (the border runs leave out those in the padding). */
const taps = (out: number, size: number, k: number, s: number, d: number, pad: number): number =>
  convRuns(out, size, k, s, d, pad).reduce((n, r) => n + r.n * r.count, 0);

/**
 * The padded copy of an [H, W, C] input `x` into scratch `s`, or null when the input is too big
 * or the padding would add too many zero taps. pads: top, bottom, left, right.
 */
export function paddedInput(
  x: Expr,
  s: Expr,
  [H, W, C]: readonly [number, number, number],
  [OH, OW, F]: readonly [number, number, number],
  k: readonly number[],
  st: readonly number[],
  d: readonly number[],
  pads: readonly number[],
  schedule: Schedule,
): PaddedInput | null {
  const { simd, paddedInput: limits } = schedule;
  const [pt, pb, pl, pr] = pads as [number, number, number, number];
  if (pt + pb + pl + pr === 0) return null;
  const h = H + pt + pb;
  const w = W + pl + pr;
  if (h * w * C > limits.maxFloats) return null;
  if (OH * OW * F * k[0]! * k[1]! * C < limits.minMacsPerFloat * h * w * C) return null;
  const read = taps(OH, H, k[0]!, st[0]!, d[0]!, pt) * taps(OW, W, k[1]!, st[1]!, d[1]!, pl);
  const all = taps(OH, h, k[0]!, st[0]!, d[0]!, 0) * taps(OW, w, k[1]!, st[1]!, d[1]!, 0);
  if (all > read * (1 + limits.maxExtraTaps)) return null;
  const row = W * C;
  const body = [
    ...fill(s, h * w * C, 0, simd),
    ...range('r', 0, H, (r) =>
      copy(add(s, add(mul(r, w * C), i32((pt * w + pl) * C))), add(x, mul(r, row)), row, simd),
    ),
  ];
  return { h, w, floats: h * w * C, body };
}
