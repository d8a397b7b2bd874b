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

/** Strides of an operand of internal shape `aligned` (the output's rank) read at every output
 * index: 0 along its axes of size 1. */
export function broadcastStrides(aligned: Shape): number[] {
  return stridesOf(aligned).map((s, i) => (aligned[i] === 1 ? 0 : s));
}

/** An input's internal shape with leading 1s (in the user's layout) up to rank `rank`. */
export function alignShape(shape: Shape, rank: number, format: DataFormat): number[] {
  if (shape.length === rank) return [...shape];
  const user = toUserShape(shape, format);
  return fromUserShape([...new Array<number>(rank - user.length).fill(1), ...user], format);
}

/**
 * The broadcast of the inputs' shapes (NumPy's rule on the user's per-example shapes: aligned
 * from the last axis, each axis equal or 1), with every input's internal shape aligned to the
 * output's rank; null after reporting a mismatch.
 */
export function broadcastInputs(ctx: InferContext): { shape: Shape; aligned: Shape[] } | null {
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
  return { shape, aligned: ctx.inputs.map((s) => alignShape(s, rank, fmt)) };
}

/** The `broadcast` attribute: the inputs' aligned shapes, when any input's shape is not the
 * output's. */
export function broadcastAttrs(
  shape: Shape,
  inputs: readonly Shape[],
  aligned: readonly Shape[],
): Record<string, number[][]> {
  const same = inputs.every((a) => a.length === shape.length && a.every((d, i) => d === shape[i]));
  return same ? {} : { broadcast: aligned.map((a) => [...a]) };
}

/** The inputs' shapes aligned to the node's output (its `broadcast` attribute, or the inputs'). */
export function alignedInputs(
  attrs: Readonly<Record<string, unknown>>,
  inputShapes: readonly Shape[],
): Shape[] {
  const b = attrs['broadcast'] as readonly (readonly number[])[] | undefined;
  return b ? b.map((s) => [...s]) : inputShapes.map((s) => [...s]);
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
