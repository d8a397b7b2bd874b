// Attribute declarations and checks that several layers share.
import { axisPaddings, convAxis, effective, hw } from './geometry.js';
import { pair, type AttrSpec, type InferContext } from '../ir/op.js';

export const activationAttr: AttrSpec = {
  name: 'activation',
  kind: { type: 'activation' },
  default: 'linear',
};
export const useBias: AttrSpec = { name: 'use_bias', kind: { type: 'bool' }, default: true };
export const initializer = (name: string, dflt: string): AttrSpec => ({
  name,
  kind: { type: 'initializer' },
  default: dflt,
});
export const pairAttr = (name: string, dflt: number | null, min = 1): AttrSpec => ({
  name,
  kind: { type: 'pair', min },
  default: dflt === null ? undefined : [dflt, dflt],
});
export const convPadding: AttrSpec = {
  name: 'padding',
  kind: { type: 'padding', explicit: true },
  default: 'valid',
};
export const poolPadding: AttrSpec = {
  name: 'padding',
  kind: { type: 'padding', explicit: false },
  default: 'valid',
};

/** Requires a rank-3 image input; reports and returns false otherwise. */
/** Amounts at the borders (`p`, `[ph, pw]` or `[[top, bottom], [left, right]]`), by default
 * `each` on every side: padding and cropping. */
export const borderAttr = (name: string, each: number): AttrSpec => ({
  name,
  kind: { type: 'amounts' },
  default: [
    [each, each],
    [each, each],
  ],
});

export function needImage(ctx: InferContext): boolean {
  const s = ctx.inputs[0]!;
  if (s.length === 3) return true;
  ctx.error(
    `needs an image input of rank 3 (height, width, channels), got ${ctx.describe(0)}`,
    undefined,
    s.length === 4
      ? `shapes exclude the batch (it comes from the data at run time): if ${s[0]} is the batch, the shape is [${s.slice(1).join(', ')}]`
      : 'flatten, reshape and permute change the rank: apply image layers before them, or reshape back to an image',
  );
  return false;
}

/** Requires all inputs to have the same shape (add, multiply). */
export function sameShapes(ctx: InferContext): boolean {
  const first = ctx.inputs[0]!;
  for (let i = 1; i < ctx.inputs.length; i++) {
    const s = ctx.inputs[i]!;
    if (s.length !== first.length || s.some((d, j) => d !== first[j])) {
      ctx.error(`needs inputs of the same shape, got ${ctx.describe(0)} and ${ctx.describe(i)}`);
      return false;
    }
  }
  return true;
}

/** The spatial rule of conv2d, depthwise_conv2d and separable_conv2d: output size and pads. */
export function convGeometry(ctx: InferContext): { oh: number; ow: number; pads: number[] } | null {
  if (!needImage(ctx)) return null;
  const [h, w] = ctx.inputs[0] as [number, number, number];
  const [kh, kw] = pair(ctx.attrs, 'kernel_size');
  const [sh, sw] = pair(ctx.attrs, 'strides');
  const [dh, dw] = pair(ctx.attrs, 'dilation_rate');
  const [ph, pw] = axisPaddings(ctx.attrs['padding']!);
  const y = convAxis(h, kh, sh, dh, ph);
  const x = convAxis(w, kw, sw, dw, pw);
  if (!y || !x) {
    ctx.error(
      `the input ${ctx.describe(0)} is ${hw(h, w)} but the kernel covers ` +
        `${hw(effective(kh, dh), effective(kw, dw))}; it needs an input of at least that size`,
      undefined,
      'use padding: same, a smaller kernel_size or dilation_rate, or a larger input',
    );
    return null;
  }
  return { oh: y.o, ow: x.o, pads: [y.before, y.after, x.before, x.after] };
}

/** The reference of a transpose: out axis i is input axis perm[i] (row-major, float64). */
export function transposeReference(
  x: Float64Array,
  inShape: readonly number[],
  perm: readonly number[],
): Float64Array {
  const rank = inShape.length;
  const outShape = perm.map((p) => inShape[p]!);
  const inStrides = inShape.map((_, i) => inShape.slice(i + 1).reduce((p, d) => p * d, 1));
  const out = new Float64Array(x.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += idx[i]! * inStrides[perm[i]!]!;
    out[o] = x[src]!;
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}
