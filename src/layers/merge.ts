// add, multiply and concatenate: two or more tensor inputs (Keras merge layers).
import { sameShapes } from './common.js';
import { defineLayer, num, type LayerDef } from '../ir/op.js';

function elementwise(kind: string, doc: string, f: (a: number, b: number) => number): LayerDef {
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
          [4, 6],
          [4, 6],
          [4, 6],
        ],
      },
    ],
    inputs: { min: 2, max: Infinity },
    attrs: [],
    traits: {},
    infer: (ctx) => (sameShapes(ctx) ? { shape: ctx.inputs[0]! } : null),
    macs: () => 0,
    reference(_node, xs) {
      const out = Float64Array.from(xs[0]!);
      for (const x of xs.slice(1)) for (let i = 0; i < out.length; i++) out[i] = f(out[i]!, x[i]!);
      return out;
    },
  });
}

export const add = elementwise('add', 'elementwise sum (Keras Add)', (a, b) => a + b);
export const multiply = elementwise(
  'multiply',
  'elementwise product (Keras Multiply)',
  (a, b) => a * b,
);

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
