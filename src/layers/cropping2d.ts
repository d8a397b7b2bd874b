// cropping2d: Keras Cropping2D: removes `c`, `[ch, cw]` or `[[top, bottom], [left, right]]`
// rows and columns at the borders; at least one row and column must remain.
import { borderAttr, needImage } from './common.js';
import { amounts, defineLayer } from '../ir/op.js';
import { image, inShapeOf, onnxSlice, type OnnxMapping } from '../ir/onnx.js';

const croppingOnnx: OnnxMapping = {
  export(n, b) {
    const [[t, bo], [l, r]] = n.attrs['cropping'] as readonly (readonly number[])[] as [
      [number, number],
      [number, number],
    ];
    const [H, W] = inShapeOf(b, n) as [number, number, number];
    return image(onnxSlice(b, b.nchw(n), n.name, [t, l], [H - bo, W - r]));
  },
};

export const cropping2d = defineLayer({
  kind: 'cropping2d',
  onnx: croppingOnnx,
  doc: 'crops rows and columns at the borders (Keras Cropping2D)',
  samples: [{ inputs: [[11, 9, 8]], args: '[[1, 2], [0, 3]]' }],
  inputs: { min: 1, max: 1 },
  attrs: [borderAttr('cropping', 0)],
  traits: {},
  infer(ctx) {
    if (!needImage(ctx)) return null;
    const [h, w, c] = ctx.inputs[0] as [number, number, number];
    const [[t, b], [l, r]] = amounts(ctx.attrs, 'cropping');
    const text = `[[${t}, ${b}], [${l}, ${r}]]`;
    for (const [what, n, cut] of [
      ['rows', h, t + b],
      ['columns', w, l + r],
    ] as const)
      if (cut >= n) {
        ctx.error(
          `cropping ${text} removes ${cut} ${what} of the input ${ctx.describe(0)}, which has ` +
            `${n}; it must leave at least one row and one column`,
          'cropping',
          `crop at most ${n - 1} ${what} in all`,
        );
        return null;
      }
    return { shape: [h - t - b, w - l - r, c] };
  },
  macs: () => 0,
  reference(node, [x], [shape]) {
    const [, W, C] = shape as [number, number, number];
    const [OH, OW] = node.shape as [number, number, number];
    const [[t], [l]] = amounts(node.attrs, 'cropping');
    const out = new Float64Array(OH * OW * C);
    for (let y = 0; y < OH; y++)
      for (let xx = 0; xx < OW; xx++)
        for (let c = 0; c < C; c++)
          out[(y * OW + xx) * C + c] = x![((y + t) * W + xx + l) * C + c]!;
    return out;
  },
});
