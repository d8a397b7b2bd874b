// permute: Keras Permute: reorders the per-example axes (dims are 1-based; the batch stays).
// It acts on the stored layout, as flatten and reshape: C, H, W in channels_first.
import { defineLayer, ints } from '../ir/op.js';
import { transposeReference } from './common.js';
import { relabel } from '../ir/onnx.js';

export const permute = defineLayer({
  kind: 'permute',
  onnx: {
    // out axis j is input axis dims[j] - 1: a relabeling, as transpose.
    export: (n, b) =>
      relabel(
        b,
        n,
        (n.attrs['dims'] as readonly number[]).map((d) => d - 1),
      ),
  },
  doc: 'permutes the per-example axes (Keras Permute, 1-based dims)',
  samples: [
    { inputs: [[5, 7, 8]], args: '[2, 1, 3]' },
    {
      source:
        'network t { input x: [5, 7, 8]  output y = x -> reshape([5, 7, 2, 4]) -> permute([1, 2, 4, 3]) }',
      why: 'rank 4',
    },
    {
      source:
        'network t { input x: [5, 7, 8]  output y = x -> reshape([5, 7, 2, 4]) -> permute([2, 4, 1, 3]) }',
      why: 'rank 4, the first axis moved: bands of its rows',
    },
    {
      source:
        'network t { input x: [5, 7, 8]  output y = x -> reshape([35, 8]) -> permute([2, 1]) }',
      why: 'rank 2',
    },
    {
      source:
        'network t(data_format: channels_first) { input x: [8, 5, 7]  output y = x -> permute([2, 1, 3]) }',
      why: 'channels_first: the stored layout',
    },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [{ name: 'dims', kind: { type: 'ints', min: 1 }, default: undefined }],
  traits: { layoutSensitive: true },
  infer(ctx) {
    const dims = ints(ctx.attrs, 'dims')!;
    const s = ctx.inputs[0]!;
    const r = s.length;
    const ok = dims.length === r && [...dims].sort((a, b) => a - b).every((d, i) => d === i + 1);
    if (!ok) {
      ctx.error(
        `dims [${dims.join(', ')}] must name each axis 1 to ${r} of the input ${ctx.describe(0)} once`,
        'dims',
        `the batch axis is not included: e.g. dims: [${Array.from({ length: r }, (_, i) => r - i).join(', ')}]`,
      );
      return null;
    }
    return { shape: dims.map((d) => s[d - 1]!) };
  },
  macs: () => 0,
  reference: (node, [x], [shape]) =>
    transposeReference(
      x!,
      shape!,
      ints(node.attrs, 'dims')!.map((d) => d - 1),
    ),
});
