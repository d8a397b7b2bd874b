// global_average_pooling2d and global_max_pooling2d: reduce height and width per channel.
import { needImage } from './common.js';
import { bool, defineLayer, type LayerDef } from '../ir/op.js';
import { image, onnxInt, type OnnxMapping } from '../ir/onnx.js';

const globalPoolOnnx = (max: boolean): OnnxMapping => ({
  export(n, b) {
    const y = b.op(max ? 'GlobalMaxPool' : 'GlobalAveragePool', [b.nchw(n)], n.name, n.name);
    if (n.shape.length === 3) return image(y); // keepdims: [1, 1, C]
    return {
      name: b.op('Flatten', [y], `${n.name}/flatten`, `${n.name}/flatten`, {
        axis: onnxInt(1),
      }),
      perm: [0],
    };
  },
});

function globalPooling(kind: string, doc: string, max: boolean): LayerDef {
  return defineLayer({
    kind,
    onnx: globalPoolOnnx(max),
    doc,
    samples: [{ inputs: [[5, 6, 7]] }, { inputs: [[4, 3, 8]], args: 'keepdims: true' }],
    inputs: { min: 1, max: 1 },
    attrs: [{ name: 'keepdims', kind: { type: 'bool' }, default: false }],
    traits: {},
    infer(ctx) {
      if (!needImage(ctx)) return null;
      const c = ctx.inputs[0]![2]!;
      return { shape: bool(ctx.attrs, 'keepdims') ? [1, 1, c] : [c] };
    },
    macs: () => 0,
    reference(_node, [x], [shape]) {
      const [H, W, C] = shape as [number, number, number];
      const out = new Float64Array(C).fill(max ? -Infinity : 0);
      for (let p = 0; p < H * W; p++)
        for (let c = 0; c < C; c++) {
          const v = x![p * C + c]!;
          out[c] = max ? Math.max(out[c]!, v) : out[c]! + v;
        }
      if (!max) for (let c = 0; c < C; c++) out[c] = out[c]! / (H * W);
      return out;
    },
  });
}

export const globalAveragePooling2d = globalPooling(
  'global_average_pooling2d',
  'mean over height and width (Keras GlobalAveragePooling2D)',
  false,
);
export const globalMaxPooling2d = globalPooling(
  'global_max_pooling2d',
  'max over height and width (Keras GlobalMaxPooling2D)',
  true,
);
