// global_average_pooling2d and global_max_pooling2d: reduce height and width per channel.
import { needImage } from './common.js';
import { bool, defineLayer, type LayerDef } from '../ir/op.js';

function globalPooling(kind: string, doc: string, max: boolean): LayerDef {
  return defineLayer({
    kind,
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
