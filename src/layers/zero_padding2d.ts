// zero_padding2d: Keras ZeroPadding2D: `p`, `[ph, pw]` or `[[top, bottom], [left, right]]` zeros.
import { borderAttr, needImage } from './common.js';
import { amounts, defineLayer } from '../ir/op.js';
import { image, type OnnxMapping } from '../ir/onnx.js';

const zeroPaddingOnnx: OnnxMapping = {
  export(n, b) {
    const a = n.attrs['padding'] as readonly (readonly number[])[];
    const [t, bo] = [a[0]![0]!, a[0]![1]!];
    const [l, r] = [a[1]![0]!, a[1]![1]!];
    const pads = b.int64(`${n.name}/pads`, [0, 0, t, l, 0, 0, bo, r]);
    return image(b.op('Pad', [b.nchw(n), pads], n.name, n.name, { mode: 'constant' }));
  },
};

export const zeroPadding2d = defineLayer({
  kind: 'zero_padding2d',
  onnx: zeroPaddingOnnx,
  doc: 'pads height and width with zeros (Keras ZeroPadding2D)',
  samples: [
    { inputs: [[4, 5, 3]], args: '[[1, 2], [0, 3]]' },
    { inputs: [[3, 3, 8]], args: '1' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [borderAttr('padding', 1)],
  traits: {},
  infer(ctx) {
    if (!needImage(ctx)) return null;
    const [h, w, c] = ctx.inputs[0] as [number, number, number];
    const [[t, b], [l, r]] = amounts(ctx.attrs, 'padding');
    return { shape: [h + t + b, w + l + r, c] };
  },
  macs: () => 0,
  reference(node, [x], [shape]) {
    const [H, W, C] = shape as [number, number, number];
    const [OH, OW] = node.shape as [number, number, number];
    const [[t], [l]] = amounts(node.attrs, 'padding');
    const out = new Float64Array(OH * OW * C);
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++)
        for (let c = 0; c < C; c++)
          out[((y + t) * OW + xx + l) * C + c] = x![(y * W + xx) * C + c]!;
    return out;
  },
});
