// add, multiply, subtract, average, maximum, minimum and concatenate (Keras merge layers), and
// divide (keras.ops.divide, IEEE division; a netc extension beyond the contract).
// The elementwise merges broadcast as NumPy does on per-example shapes (see broadcast.ts).
import { broadcastAttrs, broadcastInputs, forEachBroadcast, inputStrides } from './broadcast.js';
import { defineLayer, num, type LayerDef } from '../ir/op.js';
import { onnxInt, userPermOf, type OnnxMapping } from '../ir/onnx.js';

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
  divide: { step: (a, b) => a / b },
};

const BINARY: Readonly<Record<string, string>> = { subtract: 'Sub', divide: 'Div' };

/** An elementwise merge; ONNX broadcasts multidirectionally as NumPy does. */
const mergeOnnx: OnnxMapping = {
  export(n, b) {
    const kind = n.layer.kind;
    const rank = n.shape.length;
    let perm: readonly number[];
    let xs: string[];
    if (n.inputs.every((i) => b.shapeOf(i).length === rank)) {
      // Equal ranks: every input in the first one's axis order (NCHW for images).
      perm = b.value(n.inputs[0]!).perm;
      xs = n.inputs.map((i) => b.as(b.value(i), perm, n.name));
    } else {
      // Lower ranks: each input in the user's axis order, with leading 1s (NumPy's alignment).
      perm = userPermOf(b, n.shape.length);
      xs = n.inputs.map((id) => {
        const s = b.shapeOf(id);
        const x = b.as(b.value(id), userPermOf(b, s.length), n.name);
        if (s.length === rank) return x;
        const user = userPermOf(b, s.length).map((a) => s[a]!);
        const shape = b.int64(`${n.name}/shape`, [-1, ...Array(rank - s.length).fill(1), ...user]);
        return b.op('Reshape', [x, shape], `${n.name}/aligned`, `${n.name}/aligned`);
      });
    }
    const binary = (op: string): string => {
      let y = xs[0]!;
      for (const x of xs.slice(1)) y = b.op(op, [y, x], n.name, n.name);
      return y;
    };
    const variadic: Record<string, string> = {
      add: 'Sum',
      average: 'Mean',
      maximum: 'Max',
      minimum: 'Min',
    };
    const op = variadic[kind];
    const y = op ? b.op(op, xs, n.name, n.name) : binary(BINARY[kind] ?? 'Mul');
    return { name: y, perm };
  },
};

function elementwise(kind: string, doc: string, max = Infinity): LayerDef {
  const fn = MERGES[kind]!;
  return defineLayer({
    kind,
    onnx: mergeOnnx,
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
export const divide = elementwise(
  'divide',
  'the first input divided by the second, broadcasting (keras.ops.divide; IEEE division; netc extension)',
  2,
);
export const average = elementwise('average', 'elementwise mean, broadcasting (Keras Average)');
export const maximum = elementwise('maximum', 'elementwise maximum, broadcasting (Keras Maximum)');
export const minimum = elementwise('minimum', 'elementwise minimum, broadcasting (Keras Minimum)');

const concatenateOnnx: OnnxMapping = {
  export(n, b) {
    const first = b.value(n.inputs[0]!);
    const xs = n.inputs.map((i) => b.as(b.value(i), first.perm, n.name));
    const axis = 1 + first.perm.indexOf(n.attrs['concat_axis'] as number);
    return {
      name: b.op('Concat', xs, n.name, n.name, { axis: onnxInt(axis) }),
      perm: first.perm,
    };
  },
};

export const concatenate = defineLayer({
  kind: 'concatenate',
  onnx: concatenateOnnx,
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
    {
      inputs: [
        [3, 4, 5],
        [2, 4, 5],
        [1, 4, 5],
      ],
      args: 'axis: 1',
      why: 'along the rows: a band copies the part of each input it holds',
    },
    {
      inputs: [
        [5, 6],
        [5, 3],
      ],
      why: 'rank 2: bands of the first axis',
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
