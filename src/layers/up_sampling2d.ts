// up_sampling2d: Keras UpSampling2D: repeat rows and columns (nearest) or interpolate
// (bilinear, with half-pixel centers as tf.image.resize).
import { needImage } from './common.js';
import { defineLayer, pair, str } from '../ir/op.js';

export const upSampling2d = defineLayer({
  kind: 'up_sampling2d',
  doc: 'upsampling by an integer factor (Keras UpSampling2D)',
  samples: [
    { inputs: [[3, 4, 5]], args: '[2, 3]' },
    { inputs: [[4, 3, 8]], args: '2, interpolation: bilinear' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'size', kind: { type: 'pair', min: 1 }, default: [2, 2] },
    {
      name: 'interpolation',
      kind: { type: 'enum', values: ['nearest', 'bilinear'] },
      default: 'nearest',
    },
  ],
  traits: {},
  infer(ctx) {
    if (!needImage(ctx)) return null;
    const [h, w, c] = ctx.inputs[0] as [number, number, number];
    const [sh, sw] = pair(ctx.attrs, 'size');
    return { shape: [h * sh, w * sw, c] };
  },
  macs: () => 0,
  reference(node, [x], [shape]) {
    const [H, W, C] = shape as [number, number, number];
    const [OH, OW] = node.shape as [number, number, number];
    const [SH, SW] = pair(node.attrs, 'size');
    const out = new Float64Array(OH * OW * C);
    const bilinear = str(node.attrs, 'interpolation') === 'bilinear';
    // Source coordinate of output cell o along an axis of input size n and scale s.
    const src = (o: number, s: number, n: number): [number, number, number] => {
      const f = Math.min(Math.max((o + 0.5) / s - 0.5, 0), n - 1);
      const lo = Math.floor(f);
      return [lo, Math.min(lo + 1, n - 1), f - lo];
    };
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          const at = (y: number, xx: number): number => x![(y * W + xx) * C + c]!;
          let v: number;
          if (!bilinear) v = at(Math.floor(oy / SH), Math.floor(ox / SW));
          else {
            const [y0, y1, fy] = src(oy, SH, H);
            const [x0, x1, fx] = src(ox, SW, W);
            const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
            const bot = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
            v = top * (1 - fy) + bot * fy;
          }
          out[(oy * OW + ox) * C + c] = v;
        }
    return out;
  },
});
