// Attribute declarations and checks that several layers share.
import type { AttrSpec, InferContext } from './layer.js';

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
export function needImage(ctx: InferContext): boolean {
  const s = ctx.inputs[0]!;
  if (s.length === 3) return true;
  ctx.error(
    `needs an image input of rank 3 (height, width, channels), got ${ctx.describe(0)}`,
    undefined,
    'flatten or reshape produce rank-1 tensors; apply convolutions and pooling before them',
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
