// up_sampling2d: Keras UpSampling2D: repeat rows and columns (nearest) or interpolate
// (bilinear, with half-pixel centers as tf.image.resize): resizing by an integer factor, whose
// sample placement it shares (its kernel keeps the 2-D runs of an integer scale).
import { needImage } from './common.js';
import { resample, resizeTaps } from './resizing.js';
import { defineLayer, pair, str } from '../ir/op.js';
import { image, onnxPair, type OnnxAttrs, type OnnxMapping } from '../ir/onnx.js';

const upSamplingOnnx: OnnxMapping = {
  export(n, b) {
    const [sh, sw] = onnxPair(n, 'size');
    const scales = b.init(`${n.name}/scales`, [4], [1, 1, sh, sw]);
    const bilinear = n.attrs['interpolation'] === 'bilinear';
    const attrs: OnnxAttrs = bilinear
      ? { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }
      : {
          mode: 'nearest',
          coordinate_transformation_mode: 'asymmetric',
          nearest_mode: 'floor',
        };
    return image(b.op('Resize', [b.nchw(n), '', scales], n.name, n.name, attrs));
  },
};

export const upSampling2d = defineLayer({
  kind: 'up_sampling2d',
  onnx: upSamplingOnnx,
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
  // up_sampling2d is resizing to (h * size[0], w * size[1]) with half_pixel samples: nearest
  // reads floor((o + 0.5) / s) = floor(o / s), bilinear interpolates as tf.image.resize.
  reference(node, [x], [shape]) {
    const [H, W, C] = shape as [number, number, number];
    const [OH, OW] = node.shape as [number, number, number];
    const nearest = str(node.attrs, 'interpolation') === 'nearest';
    const ty = resizeTaps(H, OH, 'half_pixel', nearest);
    const tx = resizeTaps(W, OW, 'half_pixel', nearest);
    return resample(x!, W, C, 0, 0, ty, tx);
  },
});
