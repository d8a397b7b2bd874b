// NumPy broadcasting on per-example shapes (the merges, prelu's alpha) and the mapping between
// the user's axes and the internal layout ([H, W, C] for rank-3 tensors in either format).
import type { InferContext } from '../ir/op.js';
import {
  formatShape,
  fromUserShape,
  toUserShape,
  type DataFormat,
  type Shape,
} from '../ir/types.js';

/** Row-major strides of a shape. */
export function stridesOf(shape: Shape): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i]!;
  }
  return out;
}

/** The internal axis of the user's (0-based, per-example) axis `i` of a rank-`rank` tensor. */
export function internalAxis(i: number, rank: number, format: DataFormat): number {
  return format === 'channels_first' && rank === 3 ? [2, 0, 1][i]! : i;
}

/**
 * Strides, per internal axis, of a tensor whose data is stored in the user's layout with user
 * shape `userShape` (a weight such as prelu's alpha): in channels_first a rank-3 weight is
 * [C, H, W] in memory while the activations are [H, W, C]. Axes of size 1 get stride 0.
 */
export function userLayoutStrides(userShape: Shape, format: DataFormat): number[] {
  const rank = userShape.length;
  const user = stridesOf(userShape).map((s, i) => (userShape[i] === 1 ? 0 : s));
  const out = new Array<number>(rank).fill(0);
  for (let i = 0; i < rank; i++) out[internalAxis(i, rank, format)] = user[i]!;
  return out;
}

/** Strides, per user axis, of a tensor stored in the internal layout. */
function userAxisStrides(shape: Shape, format: DataFormat): number[] {
  const internal = stridesOf(shape);
  return shape.map((_, i) => internal[internalAxis(i, shape.length, format)]!);
}

/**
 * The broadcast of the inputs' shapes (NumPy's rule on the user's per-example shapes: aligned
 * from the last axis, each axis equal or 1), with each input's strides along the output's
 * internal axes (0 where it broadcasts); null after reporting a mismatch. Strides, not shapes:
 * in channels_first a rank-3 tensor is stored [H, W, C] while other ranks keep the user's order.
 */
export function broadcastInputs(ctx: InferContext): { shape: Shape; strides: number[][] } | null {
  const fmt = ctx.dataFormat;
  const users = ctx.inputs.map((s) => toUserShape(s, fmt));
  const rank = Math.max(...users.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  const from = new Array<number>(rank).fill(-1);
  for (let i = 0; i < users.length; i++) {
    const u = users[i]!;
    for (let j = 0; j < u.length; j++) {
      const axis = rank - u.length + j;
      const d = u[j]!;
      if (d === out[axis] || d === 1) continue;
      if (out[axis] === 1) {
        out[axis] = d;
        from[axis] = i;
        continue;
      }
      const k = from[axis]!;
      const which = axis === rank - 1 ? 'the last axis' : `axis ${axis + 1} of ${rank}`;
      ctx.error(
        `cannot broadcast ${ctx.describe(k)} with ${ctx.describe(i)}: on ${which} one has ` +
          `${out[axis]} and the other ${d}; each axis must be equal or 1`,
        undefined,
        `shapes are aligned from the last axis (NumPy's rule), so ${formatShape(users[k]!)} and ` +
          `${formatShape(u)} need equal sizes or 1 there; a squeeze-and-excitation gate is ` +
          `[1, 1, C] (or [C]) with the features' C`,
      );
      return null;
    }
  }
  const shape = fromUserShape(out, fmt);
  const strides = ctx.inputs.map((s, i) => {
    const u = users[i]!;
    const user = userAxisStrides(s, fmt);
    // Per output user axis: leading axes and axes of size 1 broadcast (stride 0).
    const aligned = out.map((_, a) => {
      const j = a - (rank - u.length);
      return j < 0 || u[j] === 1 ? 0 : user[j]!;
    });
    const internal = new Array<number>(rank).fill(0);
    aligned.forEach((st, a) => (internal[internalAxis(a, rank, fmt)] = st));
    return internal;
  });
  return { shape, strides };
}

/** The `broadcast_strides` attribute, when any input's shape is not the output's. */
export function broadcastAttrs(
  shape: Shape,
  inputs: readonly Shape[],
  strides: readonly (readonly number[])[],
): Record<string, number[][]> {
  const same = inputs.every((a) => a.length === shape.length && a.every((d, i) => d === shape[i]));
  return same ? {} : { broadcast_strides: strides.map((a) => [...a]) };
}

/** Each input's strides along the output's axes (its `broadcast_strides`, or contiguous). */
export function inputStrides(
  attrs: Readonly<Record<string, unknown>>,
  shape: Shape,
  inputs: number,
): number[][] {
  const b = attrs['broadcast_strides'] as readonly (readonly number[])[] | undefined;
  return b ? b.map((s) => [...s]) : Array.from({ length: inputs }, () => stridesOf(shape));
}

/** Calls f(out index, operand indices) for every output element (row-major). */
export function forEachBroadcast(
  shape: Shape,
  strides: readonly (readonly number[])[],
  f: (o: number, at: readonly number[]) => void,
): void {
  const rank = shape.length;
  const n = shape.reduce((a, d) => a * d, 1);
  const idx = new Array<number>(rank).fill(0);
  const at = strides.map(() => 0);
  for (let o = 0; o < n; o++) {
    f(o, at);
    for (let i = rank - 1; i >= 0; i--) {
      idx[i]!++;
      for (let k = 0; k < at.length; k++) at[k]! += strides[k]![i]!;
      if (idx[i]! < shape[i]!) break;
      for (let k = 0; k < at.length; k++) at[k]! -= strides[k]![i]! * shape[i]!;
      idx[i] = 0;
    }
  }
}
