// unit_normalization (Keras UnitNormalization; a netc extension beyond the contract): each
// example scaled to unit L2 norm over the given axes, x / sqrt(max(sum(x^2), epsilon)), as
// tf.math.l2_normalize computes it (Keras 2's UnitNormalization calls it with epsilon 1e-12;
// TensorFlow graphs write epsilon as the Maximum's constant, hence the attribute). Keras 3's
// ops.normalize bounds the norm by epsilon rather than its square: the two differ only for
// norms below 1e-6. epsilon 0 is the plain x / sqrt(sum(x^2)) (0 / 0 for a zero vector).
// `unit_mask` marks the reduced internal axes.
import { internalAxis } from './broadcast.js';
import { userAxes } from './normalization.js';
import { defineLayer, num, type Node } from '../ir/op.js';
import { toUserShape, type Shape } from '../ir/types.js';
import { onnxInt, onnxInts, userPermOf, type OnnxMapping } from '../ir/onnx.js';

/** The reduced internal axes of a unit_normalization node. */
export const unitMask = (node: Node): readonly boolean[] =>
  node.attrs['unit_mask'] as readonly boolean[];

/** x / sqrt(max(sum(x^2), eps)) over the masked axes of a row-major [shape] example (float64). */
function unitNormalize(
  shape: Shape,
  mask: readonly boolean[],
  eps: number,
  x: Float64Array,
): Float64Array {
  const rank = shape.length;
  const strides = new Array<number>(rank);
  const keptStrides = new Array<number>(rank).fill(0);
  let s = 1;
  let groups = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
    if (!mask[i]) {
      keptStrides[i] = groups;
      groups *= shape[i]!;
    }
  }
  const groupOf = new Int32Array(x.length);
  for (let o = 0; o < x.length; o++) {
    let g = 0;
    for (let i = 0; i < rank; i++) g += (Math.floor(o / strides[i]!) % shape[i]!) * keptStrides[i]!;
    groupOf[o] = g;
  }
  const sum = new Float64Array(groups);
  for (let o = 0; o < x.length; o++) sum[groupOf[o]!]! += x[o]! * x[o]!;
  return x.map((v, o) => v / Math.sqrt(Math.max(sum[groupOf[o]!]!, eps)));
}

const unitOnnx: OnnxMapping = {
  // ReduceSumSquare -> Max(epsilon) -> Sqrt -> Div: the same form (LpNormalization has no
  // epsilon, ReduceL2 takes the root before the bound).
  export(n, b) {
    const mask = unitMask(n);
    const perm = userPermOf(b, n.shape.length);
    const x = b.as(b.value(n.inputs[0]!), perm, n.name);
    const axes = perm.flatMap((a, j) => (mask[a] ? [j + 1] : []));
    const o = (op: string, inputs: string[], attrs = {}): string =>
      b.op(op, inputs, `${n.name}/${op.toLowerCase()}`, `${n.name}/${op.toLowerCase()}`, attrs);
    const ss = o('ReduceSumSquare', [x], { axes: onnxInts(axes), keepdims: onnxInt(1) });
    const norm = o('Sqrt', [o('Max', [ss, b.scalar(num(n.attrs, 'epsilon'))])]);
    return { name: b.op('Div', [x, norm], n.name, n.name), perm };
  },
};

export const unitNormalization = defineLayer({
  kind: 'unit_normalization',
  onnx: unitOnnx,
  doc: 'scales each example to unit L2 norm over the given axes, x / sqrt(max(sum(x^2), epsilon)) (Keras UnitNormalization; netc extension)',
  samples: [
    {
      source: 'network t { input x: [5, 4, 14]  output y = x -> unit_normalization }',
      why: 'over the channels: v128 partial sums, split in bands of rows',
    },
    {
      source: 'network t { input x: [3, 4, 3]  output y = x -> unit_normalization }',
      why: 'fewer channels than a vector',
    },
    {
      source:
        'network t { input x: [5, 4, 8]  output y = x -> unit_normalization(axis: 2, epsilon: 0.5) }',
      why: 'over the columns: 4 channels at a time, split in bands of rows',
    },
    {
      source: 'network t { input x: [5, 4, 6]  output y = x -> unit_normalization(axis: [1, 2]) }',
      why: 'spatial norms, one per channel',
    },
    {
      source:
        'network t(data_format: channels_first) { input x: [6, 5, 4]  output y = x -> unit_normalization(axis: 1) }',
      why: 'channels_first: the channels are the internal last axis',
    },
    { source: 'network t { input x: [37]  output y = x -> unit_normalization }' },
    {
      source: 'network t { input x: [6, 9]  output y = x -> unit_normalization(epsilon: 0) }',
      why: 'rank 2, no bound',
    },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'axis', kind: { type: 'axes' }, default: -1 },
    { name: 'epsilon', kind: { type: 'float', min: 0 }, default: 1e-12 },
  ],
  traits: {},
  infer(ctx) {
    const s = ctx.inputs[0]!;
    const rank = s.length;
    const user = toUserShape(s, ctx.dataFormat);
    const axes = userAxes(ctx, user);
    if (axes === null) return null;
    const mask = new Array<boolean>(rank).fill(false);
    for (const i of axes) mask[internalAxis(i, rank, ctx.dataFormat)] = true;
    return { shape: s, attrs: { unit_mask: mask } };
  },
  macs: () => 0,
  reference: (node, [x]) =>
    unitNormalize(node.shape, unitMask(node), num(node.attrs, 'epsilon'), x!),
});
