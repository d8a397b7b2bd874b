// flatten and reshape: change the shape, keep the elements in the data format's order
// (H, W, C for channels_last; C, H, W for channels_first, as PyTorch and Theano).
import { size } from '../ir/graph.js';
import { defineLayer, ints } from '../ir/op.js';

export const flatten = defineLayer({
  kind: 'flatten',
  doc: 'flattens each example to one axis (Keras Flatten)',
  samples: [{ inputs: [[3, 4, 5]] }],
  inputs: { min: 1, max: 1 },
  attrs: [],
  traits: { layoutSensitive: true, view: true },
  infer: (ctx) => ({ shape: [size(ctx.inputs[0]!)] }),
  macs: () => 0,
  reference: (_node, [x]) => Float64Array.from(x!),
});

export const reshape = defineLayer({
  kind: 'reshape',
  doc: 'reshapes each example (Keras Reshape); one dimension may be -1',
  samples: [{ inputs: [[3, 4, 5]], args: '[12, 5]' }],
  inputs: { min: 1, max: 1 },
  attrs: [{ name: 'target_shape', kind: { type: 'ints', min: -1 }, default: undefined }],
  traits: { layoutSensitive: true, view: true },
  infer(ctx) {
    const target = ints(ctx.attrs, 'target_shape')!;
    const n = size(ctx.inputs[0]!);
    const unknown = target.filter((d) => d === -1).length;
    if (target.some((d) => d === 0 || d < -1) || unknown > 1) {
      ctx.error(
        `target_shape [${target.join(', ')}] must hold positive sizes and at most one -1`,
        'target_shape',
      );
      return null;
    }
    const known = target.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    const shape = target.map((d) => (d === -1 ? n / known : d));
    if (size(shape) !== n || !Number.isInteger(n / known)) {
      ctx.error(
        `cannot reshape ${ctx.describe(0)} (${n} elements) to [${target.join(', ')}]` +
          (unknown ? '' : ` (${known} elements)`),
        'target_shape',
        'the batch is implicit: target_shape excludes it',
      );
      return null;
    }
    return { shape };
  },
  macs: () => 0,
  reference: (_node, [x]) => Float64Array.from(x!),
});
