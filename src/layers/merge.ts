// add, multiply, subtract, average, maximum, minimum and concatenate (Keras merge layers).
// The elementwise merges broadcast as NumPy does on per-example shapes (see broadcast.ts).
import { broadcastAttrs, broadcastInputs, forEachBroadcast, inputStrides } from './broadcast.js';
import { defineLayer, num, type LayerDef } from '../ir/op.js';

/** How an elementwise merge combines its inputs (float64, for the reference). */
export interface MergeFn {
  /** Folds the next input into the running value. */
  readonly step: (acc: number, x: number) => number;
  /** Finishes the fold over n inputs (average divides by n). */
  readonly finish?: (acc: number, n: number) => number;
}

export const MERGES: Readonly<Record<string, MergeFn>> = {
  add: { step: (a, b) => a + b },
  multiply: { step: (a, b) => a * b },
  subtract: { step: (a, b) => a - b },
  average: { step: (a, b) => a + b, finish: (a, n) => a / n },
  maximum: { step: (a, b) => Math.max(a, b) },
  minimum: { step: (a, b) => Math.min(a, b) },
};

function elementwise(kind: string, doc: string, max = Infinity): LayerDef {
  const fn = MERGES[kind]!;
  return defineLayer({
    kind,
    doc,
    samples: [
      {
        inputs: [
          [3, 5, 7],
          [3, 5, 7],
        ],
      },
      {
        inputs: [
          [4, 6, 5],
          [1, 1, 5],
        ],
        why: 'a squeeze-and-excitation gate',
      },
      { inputs: [[4, 6, 5], [5]], why: '[C] lines up with the channels' },
      {
        inputs: [
          [4, 1, 5],
          [1, 6, 1],
        ],
        why: 'both operands broadcast',
      },
      ...(max > 2 ? [{ inputs: [[4, 6], [4, 1], [6]], why: 'three operands' }] : []),
    ],
    inputs: { min: 2, max },
    attrs: [],
    traits: {},
    infer(ctx) {
      const b = broadcastInputs(ctx);
      return b && { shape: b.shape, attrs: broadcastAttrs(b.shape, ctx.inputs, b.strides) };
    },
    macs: () => 0,
    reference(node, xs, shapes) {
      const strides = inputStrides(node.attrs, node.shape, shapes.length);
      const out = new Float64Array(node.shape.reduce((a, d) => a * d, 1));
      forEachBroadcast(node.shape, strides, (o, at) => {
        let acc = xs[0]![at[0]!]!;
        for (let k = 1; k < xs.length; k++) acc = fn.step(acc, xs[k]![at[k]!]!);
        out[o] = fn.finish ? fn.finish(acc, xs.length) : acc;
      });
      return out;
    },
  });
}

export const add = elementwise('add', 'elementwise sum, broadcasting (Keras Add)');
export const multiply = elementwise(
  'multiply',
  'elementwise product, broadcasting (Keras Multiply)',
);
export const subtract = elementwise(
  'subtract',
  'the first input minus the second, broadcasting (Keras Subtract)',
  2,
);
export const average = elementwise('average', 'elementwise mean, broadcasting (Keras Average)');
export const maximum = elementwise('maximum', 'elementwise maximum, broadcasting (Keras Maximum)');
export const minimum = elementwise('minimum', 'elementwise minimum, broadcasting (Keras Minimum)');

export const concatenate = defineLayer({
  kind: 'concatenate',
  doc: 'joins tensors along an axis (Keras Concatenate)',
  samples: [
    {
      inputs: [
        [3, 4, 5],
        [3, 4, 2],
      ],
    },
    {
      inputs: [
        [3, 4, 5],
        [3, 2, 5],
        [3, 1, 5],
      ],
      args: 'axis: 2',
    },
  ],
  inputs: { min: 2, max: Infinity },
  attrs: [{ name: 'axis', kind: { type: 'axis' }, default: -1 }],
  traits: {},
  infer(ctx) {
    const first = ctx.inputs[0]!;
    const axis = ctx.axis('axis', first.length);
    if (axis === null) return null;
    let total = 0;
    for (let i = 0; i < ctx.inputs.length; i++) {
      const s = ctx.inputs[i]!;
      if (s.length !== first.length || s.some((d, j) => j !== axis && d !== first[j])) {
        ctx.error(
          `inputs must agree on every axis but the concatenation axis; got ` +
            `${ctx.describe(0)} and ${ctx.describe(i)}`,
        );
        return null;
      }
      total += s[axis]!;
    }
    const shape = [...first];
    shape[axis] = total;
    return { shape, attrs: { concat_axis: axis } };
  },
  macs: () => 0,
  reference(node, xs, shapes) {
    const axis = num(node.attrs, 'concat_axis');
    const outer = node.shape.slice(0, axis).reduce((p, d) => p * d, 1);
    const inner = node.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
    const out = new Float64Array(outer * node.shape[axis]! * inner);
    let o = 0;
    for (let r = 0; r < outer; r++)
      for (let i = 0; i < xs.length; i++) {
        const chunk = shapes[i]![axis]! * inner;
        out.set(xs[i]!.subarray(r * chunk, (r + 1) * chunk), o);
        o += chunk;
      }
    return out;
  },
});
