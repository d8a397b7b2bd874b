// padding2d: pads height and width as NumPy's pad: `constant` (constant_value), `reflect`
// (mirrored without the edge), `symmetric` (mirrored with it) or `edge` (the border
// repeated). Amounts as zero_padding2d's; padding wider than the input follows NumPy (the
// reflections repeat). zero_padding2d is padding2d(mode: constant, constant_value: 0).
import { borderAttr, needImage } from './common.js';
import { amounts, defineLayer, num, str } from '../ir/op.js';
import { image, inShapeOf, onnxInt, type OnnxMapping } from '../ir/onnx.js';

export const PAD_MODES = ['constant', 'reflect', 'symmetric', 'edge'] as const;

/** The input index that output index i (counted from the start of the input, so the padding
 * before is negative) reads along an axis of size n, or -1 for the constant. */
export function padSource(i: number, n: number, mode: string): number {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case 'edge':
      return i < 0 ? 0 : n - 1;
    case 'reflect': {
      if (n === 1) return 0;
      const p = 2 * (n - 1);
      const m = ((i % p) + p) % p;
      return m < n ? m : p - m;
    }
    case 'symmetric': {
      const p = 2 * n;
      const m = ((i % p) + p) % p;
      return m < n ? m : p - 1 - m;
    }
    default:
      return -1;
  }
}

/** Pad for constant, edge and reflect within the input; NumPy's other cases (symmetric,
 * reflections wider than the input) gather rows, then columns, by index tables. */
const paddingOnnx: OnnxMapping = {
  export(n, b) {
    const [[t, bo], [l, r]] = n.attrs['padding'] as readonly (readonly number[])[] as [
      [number, number],
      [number, number],
    ];
    const mode = n.attrs['mode'] as string;
    const [H, W] = inShapeOf(b, n) as [number, number, number];
    const x = b.nchw(n);
    const pads = (): string => b.int64(`${n.name}/pads`, [0, 0, t, l, 0, 0, bo, r]);
    if (mode === 'constant')
      return image(
        b.op('Pad', [x, pads(), b.scalar(n.attrs['constant_value'] as number)], n.name, n.name, {
          mode: 'constant',
        }),
      );
    if (mode === 'edge' || (mode === 'reflect' && Math.max(t, bo) < H && Math.max(l, r) < W))
      return image(b.op('Pad', [x, pads()], n.name, n.name, { mode }));
    const table = (size: number, before: number, after: number): number[] =>
      Array.from({ length: size + before + after }, (_, o) => padSource(o - before, size, mode));
    const rows = b.op(
      'Gather',
      [x, b.int64(`${n.name}/rows`, table(H, t, bo))],
      `${n.name}/rows`,
      `${n.name}/rows`,
      { axis: onnxInt(2) },
    );
    return image(
      b.op('Gather', [rows, b.int64(`${n.name}/columns`, table(W, l, r))], n.name, n.name, {
        axis: onnxInt(3),
      }),
    );
  },
};

export const padding2d = defineLayer({
  kind: 'padding2d',
  onnx: paddingOnnx,
  doc: "pads height and width with a constant or the input's reflection or edge (NumPy's pad)",
  samples: [
    { inputs: [[5, 3, 8]], args: '[[4, 1], [5, 2]], mode: reflect', why: 'wider than the input' },
    { inputs: [[4, 6, 6]], args: '[2, 3], mode: symmetric' },
    { inputs: [[4, 6, 5]], args: '[[0, 3], [2, 1]], mode: edge' },
    { inputs: [[4, 6, 5]], args: '2, constant_value: -1.5' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    borderAttr('padding', 1),
    { name: 'mode', kind: { type: 'enum', values: PAD_MODES }, default: 'constant' },
    { name: 'constant_value', kind: { type: 'float' }, default: 0 },
  ],
  traits: {},
  infer(ctx) {
    if (!needImage(ctx)) return null;
    const [h, w, c] = ctx.inputs[0] as [number, number, number];
    const [[t, b], [l, r]] = amounts(ctx.attrs, 'padding');
    if (ctx.given('constant_value') && str(ctx.attrs, 'mode') !== 'constant') {
      ctx.error(
        `constant_value applies to mode constant only, not to mode ${str(ctx.attrs, 'mode')}`,
        'constant_value',
        'write mode: constant, or leave constant_value out',
      );
      return null;
    }
    return { shape: [h + t + b, w + l + r, c] };
  },
  macs: () => 0,
  reference(node, [x], [shape]) {
    const [H, W, C] = shape as [number, number, number];
    const [OH, OW] = node.shape as [number, number, number];
    const [[t], [l]] = amounts(node.attrs, 'padding');
    const mode = str(node.attrs, 'mode');
    const value = num(node.attrs, 'constant_value');
    const out = new Float64Array(OH * OW * C);
    for (let y = 0; y < OH; y++)
      for (let xx = 0; xx < OW; xx++) {
        const sy = padSource(y - t, H, mode);
        const sx = padSource(xx - l, W, mode);
        for (let c = 0; c < C; c++)
          out[(y * OW + xx) * C + c] = sy < 0 || sx < 0 ? value : x![(sy * W + sx) * C + c]!;
      }
    return out;
  },
});
