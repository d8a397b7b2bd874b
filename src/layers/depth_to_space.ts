// depth_to_space and space_to_depth: move blocks of b x b pixels into channels and back
// (TensorFlow's tf.nn.depth_to_space / space_to_depth; ONNX DepthToSpace / SpaceToDepth).
// The mode is a rule on the channel index, the same in both data formats: for block row i,
// block column j and shallow channel c (of C' = C / b^2), the deep channel is
// (i * b + j) * C' + c in `dcr` (TensorFlow's order, the default) and c * b^2 + i * b + j in
// `crd` (PyTorch's PixelShuffle order).
import { needImage } from './common.js';
import { defineLayer, num, str, type AttrSpec, type InferContext } from '../ir/op.js';
import { image, onnxInt, onnxInts, type OnnxMapping } from '../ir/onnx.js';

const blockAttrs: AttrSpec[] = [
  { name: 'block_size', kind: { type: 'int', min: 2 }, default: undefined },
  { name: 'mode', kind: { type: 'enum', values: ['dcr', 'crd'] }, default: 'dcr' },
];

/** The deep channel of (block row i, block column j, shallow channel c). */
export function deepChannel(
  mode: string,
  b: number,
  shallow: number,
  i: number,
  j: number,
  c: number,
): number {
  return mode === 'crd' ? (c * b + i) * b + j : (i * b + j) * shallow + c;
}

/** Copies between the deep [h, w, C' * b * b] and the shallow [h * b, w * b, C'] maps. */
function blocks(
  deep: readonly number[],
  b: number,
  mode: string,
  visit: (deepAt: number, shallowAt: number) => void,
): void {
  const [h, w, C] = deep as [number, number, number];
  const c1 = C / (b * b);
  const W = w * b;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let i = 0; i < b; i++)
        for (let j = 0; j < b; j++)
          for (let c = 0; c < c1; c++)
            visit(
              (y * w + x) * C + deepChannel(mode, b, c1, i, j, c),
              ((y * b + i) * W + x * b + j) * c1 + c,
            );
}

function blockOf(ctx: InferContext): number {
  return num(ctx.attrs, 'block_size');
}

const depthToSpaceOnnx: OnnxMapping = {
  export: (n, b) =>
    image(
      b.op('DepthToSpace', [b.nchw(n)], n.name, n.name, {
        blocksize: onnxInt(n.attrs['block_size'] as number),
        mode: String(n.attrs['mode']).toUpperCase(),
      }),
    ),
};

export const depthToSpace = defineLayer({
  kind: 'depth_to_space',
  onnx: depthToSpaceOnnx,
  doc: 'moves channels into b x b blocks of pixels (TensorFlow depth_to_space, PixelShuffle)',
  samples: [
    { inputs: [[7, 5, 8]], args: '2' },
    { inputs: [[3, 5, 27]], args: '3, mode: crd' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: blockAttrs,
  traits: {},
  infer(ctx) {
    if (!needImage(ctx)) return null;
    const [h, w, c] = ctx.inputs[0] as [number, number, number];
    const b = blockOf(ctx);
    if (c % (b * b) !== 0) {
      const lo = Math.floor(c / (b * b)) * b * b;
      ctx.error(
        `the input ${ctx.describe(0)} has ${c} channels, which block_size ${b} cannot split into ` +
          `${b}x${b} blocks: the channels must be a multiple of ${b * b} (block_size squared)`,
        'block_size',
        `give the layer before it ${lo > 0 ? `${lo} or ` : ''}${lo + b * b} channels`,
      );
      return null;
    }
    return { shape: [h * b, w * b, c / (b * b)] };
  },
  macs: () => 0,
  reference(node, [x], [shape]) {
    const out = new Float64Array(x!.length);
    blocks(shape!, num(node.attrs, 'block_size'), str(node.attrs, 'mode'), (d, s) => {
      out[s] = x![d]!;
    });
    return out;
  },
});

/** SpaceToDepth is dcr; crd is Reshape [N, C, h, b, w, b], Transpose, Reshape. */
const spaceToDepthOnnx: OnnxMapping = {
  export(n, b) {
    const bs = n.attrs['block_size'] as number;
    const x = b.nchw(n);
    if (n.attrs['mode'] === 'dcr')
      return image(b.op('SpaceToDepth', [x], n.name, n.name, { blocksize: onnxInt(bs) }));
    const [h, w, C] = n.shape as [number, number, number];
    const c = C / (bs * bs);
    const split = b.op(
      'Reshape',
      [x, b.int64(`${n.name}/blocks`, [0, c, h, bs, w, bs])],
      `${n.name}/blocks`,
      `${n.name}/blocks`,
    );
    const moved = b.op('Transpose', [split], `${n.name}/crd`, `${n.name}/crd`, {
      perm: onnxInts([0, 1, 3, 5, 2, 4]),
    });
    return image(
      b.op('Reshape', [moved, b.int64(`${n.name}/shape`, [0, C, h, w])], n.name, n.name),
    );
  },
};

export const spaceToDepth = defineLayer({
  kind: 'space_to_depth',
  onnx: spaceToDepthOnnx,
  doc: 'moves b x b blocks of pixels into channels (TensorFlow space_to_depth)',
  samples: [
    { inputs: [[6, 10, 12]], args: '2' },
    { inputs: [[6, 4, 5]], args: '2, crd' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: blockAttrs,
  traits: {},
  infer(ctx) {
    if (!needImage(ctx)) return null;
    const [h, w, c] = ctx.inputs[0] as [number, number, number];
    const b = blockOf(ctx);
    if (h % b !== 0 || w % b !== 0) {
      ctx.error(
        `the input ${ctx.describe(0)} is ${h}x${w}; block_size ${b} needs a height and width ` +
          `that are multiples of ${b}`,
        'block_size',
        `crop or pad it to ${Math.max(b, h - (h % b))}x${Math.max(b, w - (w % b))} first (cropping2d, padding2d)`,
      );
      return null;
    }
    return { shape: [h / b, w / b, c * b * b] };
  },
  macs: () => 0,
  reference(node, [x]) {
    const out = new Float64Array(x!.length);
    blocks(node.shape, num(node.attrs, 'block_size'), str(node.attrs, 'mode'), (d, s) => {
      out[d] = x![s]!;
    });
    return out;
  },
});
