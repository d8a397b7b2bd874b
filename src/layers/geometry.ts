// Convolution geometry along one spatial axis: output sizes, TensorFlow's `same` split,
// explicit padding, and conv2d_transpose's reachable sizes and placement.
import type { AttrValue } from '../ir/graph.js';

export interface Axis {
  /** Output size. */
  readonly o: number;
  /** Padding before (top or left) and after. */
  readonly before: number;
  readonly after: number;
}

export const effective = (k: number, d: number): number => (k - 1) * d + 1;

/** The padding attribute of one axis: `valid`, `same` or explicit [before, after]. */
export type AxisPadding = 'valid' | 'same' | readonly [number, number];

/** A padding attribute value split into its two axes. */
export function axisPaddings(padding: AttrValue): [AxisPadding, AxisPadding] {
  if (padding === 'valid' || padding === 'same') return [padding, padding];
  const p = padding as readonly (readonly number[])[];
  return [
    [p[0]![0]!, p[0]![1]!],
    [p[1]![0]!, p[1]![1]!],
  ];
}

/** conv2d and pooling: output size and pads, or null when the input is smaller than the kernel. */
export function convAxis(i: number, k: number, s: number, d: number, p: AxisPadding): Axis | null {
  const ke = effective(k, d);
  if (p === 'same') {
    const o = Math.ceil(i / s);
    const total = Math.max((o - 1) * s + ke - i, 0);
    const before = Math.floor(total / 2);
    return { o, before, after: total - before };
  }
  const [before, after] = p === 'valid' ? [0, 0] : p;
  if (i + before + after < ke) return null;
  return { o: Math.floor((i + before + after - ke) / s) + 1, before, after };
}

/** The output sizes a conv2d_transpose may produce from input size i (smallest, largest). */
export function reachable(
  i: number,
  k: number,
  s: number,
  d: number,
  p: 'valid' | 'same',
): [number, number] {
  const ke = effective(k, d);
  return p === 'valid' ? [(i - 1) * s + ke, (i - 1) * s + ke + s - 1] : [(i - 1) * s + 1, i * s];
}

/** Keras's default conv2d_transpose output size. */
export function transposeDefault(
  i: number,
  k: number,
  s: number,
  d: number,
  p: 'valid' | 'same',
): number {
  return p === 'valid' ? i * s + Math.max(effective(k, d) - s, 0) : i * s;
}

/** TensorFlow's placement: input x, tap t land on y = x * s + t * d - before. */
export function transposeBefore(
  i: number,
  o: number,
  k: number,
  s: number,
  d: number,
  p: 'valid' | 'same',
): number {
  return p === 'same' ? Math.floor(Math.max((i - 1) * s + effective(k, d) - o, 0) / 2) : 0;
}

/** Words for a 2-D size: `28x28`. */
export const hw = (h: number, w: number): string => `${h}x${w}`;
