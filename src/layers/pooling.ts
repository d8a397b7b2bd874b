// max_pooling2d and average_pooling2d: Keras MaxPooling2D / AveragePooling2D. `same` pads with
// -inf (max) or leaves padded cells out of the count (average), as TensorFlow.
import { needImage, poolPadding } from './common.js';
import { axisPaddings, convAxis, hw } from './geometry.js';
import { defineLayer, pair, type LayerDef } from '../ir/op.js';
import {
  image,
  onnxInt,
  onnxInts,
  onnxPair,
  type OnnxAttrs,
  type OnnxMapping,
} from '../ir/onnx.js';

const poolOnnx = (max: boolean): OnnxMapping => ({
  export(n, b) {
    const [t, bo, l, r] = n.attrs['pads'] as readonly number[];
    const attrs: OnnxAttrs = {
      kernel_shape: onnxInts(onnxPair(n, 'pool_size')),
      strides: onnxInts(onnxPair(n, 'stride')),
      pads: onnxInts([t!, l!, bo!, r!]),
    };
    // Padded cells are left out of the max and of the count, as TensorFlow's `same`.
    if (!max) attrs['count_include_pad'] = onnxInt(0);
    return image(b.op(max ? 'MaxPool' : 'AveragePool', [b.nchw(n)], n.name, n.name, attrs));
  },
});

function pooling(kind: string, doc: string, max: boolean): LayerDef {
  return defineLayer({
    kind,
    onnx: poolOnnx(max),
    doc,
    samples: [
      { inputs: [[7, 6, 5]], args: '2' },
      {
        inputs: [[9, 8, 8]],
        args: '3, strides: 2, padding: same',
        why: 'same padding: -inf cells (max), or cells left out of the count (average)',
      },
    ],
    inputs: { min: 1, max: 1 },
    attrs: [
      { name: 'pool_size', kind: { type: 'pair', min: 1 }, default: [2, 2] },
      { name: 'strides', kind: { type: 'pair', min: 1 }, default: null },
      poolPadding,
    ],
    traits: {},
    infer(ctx) {
      if (!needImage(ctx)) return null;
      const [h, w, c] = ctx.inputs[0] as [number, number, number];
      const k = pair(ctx.attrs, 'pool_size');
      const s = ctx.attrs['strides'] === null ? k : pair(ctx.attrs, 'strides');
      const [ph, pw] = axisPaddings(ctx.attrs['padding']!);
      const y = convAxis(h, k[0], s[0], 1, ph);
      const x = convAxis(w, k[1], s[1], 1, pw);
      if (!y || !x) {
        ctx.error(
          `the input ${ctx.describe(0)} is ${hw(h, w)}, smaller than the pool ` +
            `${hw(k[0], k[1])}`,
          undefined,
          'use padding: same or a smaller pool_size',
        );
        return null;
      }
      return {
        shape: [y.o, x.o, c],
        attrs: { stride: s, pads: [y.before, y.after, x.before, x.after] },
      };
    },
    macs: () => 0,
    reference(node, [x], [shape]) {
      const [H, W, C] = shape as [number, number, number];
      const [OH, OW] = node.shape as [number, number, number];
      const [KH, KW] = pair(node.attrs, 'pool_size');
      const [SH, SW] = pair(node.attrs, 'stride');
      const [PT, , PL] = node.attrs['pads'] as readonly number[];
      const out = new Float64Array(OH * OW * C);
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++)
          for (let c = 0; c < C; c++) {
            let acc = max ? -Infinity : 0;
            let n = 0;
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * SH - PT! + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * SW - PL! + kx;
                if (ix < 0 || ix >= W) continue;
                const v = x![(iy * W + ix) * C + c]!;
                acc = max ? Math.max(acc, v) : acc + v;
                n++;
              }
            }
            out[(oy * OW + ox) * C + c] = max ? acc : acc / n;
          }
      return out;
    },
  });
}

export const maxPooling2d = pooling('max_pooling2d', 'max pooling (Keras MaxPooling2D)', true);
export const averagePooling2d = pooling(
  'average_pooling2d',
  'average pooling (Keras AveragePooling2D)',
  false,
);
