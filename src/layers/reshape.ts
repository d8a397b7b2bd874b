// flatten and reshape: change the shape, keep the elements in the data format's order
// (H, W, C for channels_last; C, H, W for channels_first, as PyTorch and Theano). Both are
// views: no kernel, the same buffer. reshape makes per-example ranks 1 to 5 (a channel
// shuffle is reshape -> permute -> reshape).
import { size } from '../ir/graph.js';
import { defineLayer, ints } from '../ir/op.js';
import { identityPerm, inShapeOf, onnxInt, type OnnxMapping } from '../ir/onnx.js';

/** The largest per-example rank reshape makes (and permute carries). */
const MAX_RANK = 5;

const flattenOnnx: OnnxMapping = {
  export(n, b) {
    const x = b.as(b.value(n.inputs[0]!), identityPerm(inShapeOf(b, n).length), n.name);
    return { name: b.op('Flatten', [x], n.name, n.name, { axis: onnxInt(1) }), perm: [0] };
  },
};

export const flatten = defineLayer({
  kind: 'flatten',
  onnx: flattenOnnx,
  doc: 'flattens each example to one axis (Keras Flatten)',
  samples: [{ inputs: [[3, 4, 5]] }],
  inputs: { min: 1, max: 1 },
  attrs: [],
  traits: { layoutSensitive: true, view: true },
  infer: (ctx) => ({ shape: [size(ctx.inputs[0]!)] }),
  macs: () => 0,
  reference: (_node, [x]) => Float64Array.from(x!),
});

const reshapeOnnx: OnnxMapping = {
  export(n, b) {
    const x = b.as(b.value(n.inputs[0]!), identityPerm(inShapeOf(b, n).length), n.name);
    const shape = b.int64(`${n.name}/shape`, [-1, ...n.shape]);
    return {
      name: b.op('Reshape', [x, shape], n.name, n.name),
      perm: identityPerm(n.shape.length),
    };
  },
};

export const reshape = defineLayer({
  kind: 'reshape',
  onnx: reshapeOnnx,
  doc: 'reshapes each example (Keras Reshape); one dimension may be -1',
  samples: [{ inputs: [[3, 4, 5]], args: '[12, 5]' }],
  inputs: { min: 1, max: 1 },
  attrs: [{ name: 'target_shape', kind: { type: 'ints', min: -1 }, default: undefined }],
  traits: { layoutSensitive: true, view: true },
  infer(ctx) {
    const target = ints(ctx.attrs, 'target_shape')!;
    const n = size(ctx.inputs[0]!);
    const unknown = target.filter((d) => d === -1).length;
    const list = `[${target.join(', ')}]`;
    if (target.length < 1 || target.length > MAX_RANK) {
      ctx.error(
        `target_shape ${list} has rank ${target.length}; netc reshapes each example to a rank of 1 to ${MAX_RANK}`,
        'target_shape',
        'the batch is implicit: target_shape excludes it',
      );
      return null;
    }
    if (target.some((d) => d === 0 || d < -1) || unknown > 1) {
      ctx.error(`target_shape ${list} must hold positive sizes and at most one -1`, 'target_shape');
      return null;
    }
    const known = target.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    if (unknown ? n % known !== 0 : known !== n) {
      ctx.error(
        unknown
          ? `cannot reshape ${ctx.describe(0)} (${n} elements) to ${list}: its other sizes hold ${known} elements, which do not divide ${n}`
          : `cannot reshape ${ctx.describe(0)} (${n} elements) to ${list} (${known} elements)`,
        'target_shape',
        'the batch is implicit: target_shape excludes it; one size may be -1 (inferred)',
      );
      return null;
    }
    return { shape: target.map((d) => (d === -1 ? n / known : d)) };
  },
  macs: () => 0,
  reference: (_node, [x]) => Float64Array.from(x!),
});
