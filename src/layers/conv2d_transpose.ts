// conv2d_transpose: Keras Conv2DTranspose, the gradient of conv2d. kernel [kh, kw, filters, in].
// Output sizes: Keras's default, or output_padding / output_shape among the reachable sizes;
// placement as TensorFlow: input x, tap t add into y = x * s + t * d - pad_before.
import { activate } from './activations.js';
import {
  activationAttr,
  initializer,
  needImage,
  pairAttr,
  poolPadding,
  useBias,
} from './common.js';
import { reachable, transposeBefore, transposeDefault } from './geometry.js';
import { bool, defineLayer, ints, num, pair, str } from '../ir/op.js';
import { image, inShapeOf, onnxInts, onnxPair, type OnnxMapping } from '../ir/onnx.js';

const sizes = ([lo, hi]: [number, number]): string =>
  lo === hi ? `${lo}` : hi === lo + 1 ? `${lo} and ${hi}` : `${lo} to ${hi}`;

const convTransposeOnnx: OnnxMapping = {
  export(n, b) {
    const [KH, KW] = onnxPair(n, 'kernel_size');
    const [SH, SW] = onnxPair(n, 'strides');
    const [DH, DW] = onnxPair(n, 'dilation_rate');
    const [IH, IW, C] = inShapeOf(b, n) as [number, number, number];
    const [OH, OW, F] = n.shape as [number, number, number];
    const [PT, PL] = n.attrs['pads'] as readonly number[];
    const k = b.need(n, 'kernel');
    // [kh, kw, filters, in] -> ONNX ConvTranspose [in, filters, kh, kw].
    const w = new Float32Array(k.length);
    for (let ky = 0; ky < KH; ky++)
      for (let kx = 0; kx < KW; kx++)
        for (let f = 0; f < F; f++)
          for (let c = 0; c < C; c++)
            w[((c * F + f) * KH + ky) * KW + kx] = k[((ky * KW + kx) * F + f) * C + c]!;
    const inputs = [b.nchw(n), b.init(`${n.name}/kernel`, [C, F, KH, KW], w)];
    const bias = b.weight(n, 'bias');
    if (bias) inputs.push(b.init(`${n.name}/bias`, [F], bias));
    // ONNX: out = s*(i-1) + output_padding + (k-1)*d+1 - pad_begin - pad_end, with input x and
    // tap t landing on x*s + t*d - pad_begin: TensorFlow's placement with pad_begin = pad_before.
    // The end pad (or, when the size grows past the full extent, output_padding) fixes the size.
    const axis = (i: number, o: number, kk: number, s: number, d: number, before: number) => {
      const end = s * (i - 1) + (kk - 1) * d + 1 - before - o;
      return end >= 0 ? { end, extra: 0 } : { end: 0, extra: -end };
    };
    const ay = axis(IH, OH, KH, SH, DH, PT!);
    const ax = axis(IW, OW, KW, SW, DW, PL!);
    const y = b.op('ConvTranspose', inputs, n.name, n.name, {
      kernel_shape: onnxInts([KH, KW]),
      strides: onnxInts([SH, SW]),
      dilations: onnxInts([DH, DW]),
      pads: onnxInts([PT!, PL!, ay.end, ax.end]),
      output_padding: onnxInts([ay.extra, ax.extra]),
    });
    return image(b.epilogue(n, y));
  },
};

export const conv2dTranspose = defineLayer({
  kind: 'conv2d_transpose',
  onnx: convTransposeOnnx,
  doc: 'transposed 2-D convolution (Keras Conv2DTranspose)',
  samples: [
    { inputs: [[4, 5, 3]], args: '5, 3, strides: 2, padding: same' },
    {
      inputs: [[5, 4, 16]],
      args: '20, 5, strides: 2, padding: same, activation: relu',
      why: 'stride 2 with 16+ channels: four Winograd phases',
    },
    { inputs: [[3, 6, 20]], args: '16, [3, 4], strides: 2, use_bias: false' },
    { inputs: [[4, 3, 16]], args: '16, 3, strides: 2, padding: same, output_padding: [0, 1]' },
    {
      inputs: [[5, 6, 8]],
      args: '3, 5, strides: 2, padding: same, activation: tanh',
      why: 'fewer than 4 filters: the dot-product core',
    },
    { inputs: [[4, 4, 3]], args: '2, 3, dilation_rate: 2', why: 'dilated' },
    {
      inputs: [[4, 5, 16]],
      args: '32, 4, strides: 2, padding: same, activation: relu',
      why: 'Winograd phases in 4 channel blocks',
    },
    { inputs: [[5, 4, 8]], args: '24, 3, use_bias: false', why: 'direct, in 3 channel blocks' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'filters', kind: { type: 'int', min: 1 }, default: undefined },
    pairAttr('kernel_size', null),
    pairAttr('strides', 1),
    poolPadding,
    { name: 'output_padding', kind: { type: 'pair', min: 0 }, default: null },
    pairAttr('dilation_rate', 1),
    activationAttr,
    useBias,
    initializer('kernel_initializer', 'glorot_uniform'),
    initializer('bias_initializer', 'zeros'),
    { name: 'output_shape', kind: { type: 'ints', min: 1 }, default: null, namedOnly: true },
  ],
  traits: {
    fusesActivation: true,
    channelAffine: { kernel: 'kernel', bias: 'bias', channelAxis: -2 },
  },
  infer(ctx) {
    if (!needImage(ctx)) return null;
    const a = ctx.attrs;
    const [h, w, c] = ctx.inputs[0] as [number, number, number];
    const f = num(a, 'filters');
    const k = pair(a, 'kernel_size');
    const s = pair(a, 'strides');
    const d = pair(a, 'dilation_rate');
    const p = str(a, 'padding') as 'valid' | 'same';
    const inSize = [h, w];
    const ranges = [0, 1].map((ax) => reachable(inSize[ax]!, k[ax]!, s[ax]!, d[ax]!, p));
    let out = [0, 1].map((ax) => transposeDefault(inSize[ax]!, k[ax]!, s[ax]!, d[ax]!, p));
    const op = a['output_padding'] === null ? null : pair(a, 'output_padding');
    const shape = ints(a, 'output_shape');
    if (op && shape) {
      ctx.error(
        'give output_padding or output_shape, not both',
        'output_shape',
        'output_shape asks for a size directly; output_padding picks one of the reachable sizes',
      );
      return null;
    }
    if (op) {
      for (const ax of [0, 1]) {
        if (op[ax]! >= s[ax]!) {
          ctx.error(
            `output_padding ${op[ax]} must be smaller than the stride ${s[ax]}`,
            'output_padding',
            `with strides ${s[ax]} the ${ax ? 'width' : 'height'} has ${s[ax]} reachable sizes ` +
              `(${sizes(ranges[ax]!)}): output_padding 0 to ${s[ax]! - 1} picks one`,
          );
          return null;
        }
      }
      out = [0, 1].map((ax) => ranges[ax]![0] + op[ax]!);
    }
    if (shape) {
      if (shape.length !== 2) {
        ctx.error(`output_shape takes [height, width], got [${shape.join(', ')}]`, 'output_shape');
        return null;
      }
      const bad = [0, 1].filter((ax) => {
        const [lo, hi] = ranges[ax]!;
        return shape[ax]! < lo || shape[ax]! > hi;
      });
      if (bad.length) {
        const what = bad.map(
          (ax) => `the reachable ${ax ? 'widths' : 'heights'} are ${sizes(ranges[ax]!)}`,
        );
        ctx.error(
          `output_shape [${shape.join(', ')}] is unreachable: ${what.join(' and ')}`,
          'output_shape',
          `the input is ${ctx.describe(0)}; with strides [${s.join(', ')}], kernel_size ` +
            `[${k.join(', ')}] and padding ${p} the reachable sizes are ${sizes(ranges[0]!)} ` +
            `for the height and ${sizes(ranges[1]!)} for the width`,
        );
        return null;
      }
      out = shape;
    }
    const [oh, ow] = out as [number, number];
    const before = [0, 1].map((ax) =>
      transposeBefore(inSize[ax]!, out[ax]!, k[ax]!, s[ax]!, d[ax]!, p),
    );
    const weights = [
      { name: 'kernel', shape: [k[0], k[1], f, c], initializer: str(a, 'kernel_initializer') },
    ];
    if (bool(a, 'use_bias'))
      weights.push({ name: 'bias', shape: [f], initializer: str(a, 'bias_initializer') });
    return { shape: [oh, ow, f], weights, attrs: { pads: [before[0]!, before[1]!] } };
  },
  macs(node, [input]) {
    const [kh, kw] = pair(node.attrs, 'kernel_size');
    const [ih, iw, c] = input as [number, number, number];
    return ih * iw * c * node.shape[2]! * kh * kw;
  },
  reference(node, [x], [shape], wts) {
    const [H, W, C] = shape as [number, number, number];
    const [OH, OW, F] = node.shape as [number, number, number];
    const [KH, KW] = pair(node.attrs, 'kernel_size');
    const [SH, SW] = pair(node.attrs, 'strides');
    const [DH, DW] = pair(node.attrs, 'dilation_rate');
    const [PT, PL] = node.attrs['pads'] as readonly number[];
    const k = wts['kernel']!;
    const b = wts['bias'];
    const out = new Float64Array(OH * OW * F);
    for (let p = 0; p < OH * OW; p++) for (let f = 0; f < F; f++) out[p * F + f] = b ? b[f]! : 0;
    for (let iy = 0; iy < H; iy++)
      for (let ix = 0; ix < W; ix++)
        for (let ky = 0; ky < KH; ky++) {
          const oy = iy * SH + ky * DH - PT!;
          if (oy < 0 || oy >= OH) continue;
          for (let kx = 0; kx < KW; kx++) {
            const ox = ix * SW + kx * DW - PL!;
            if (ox < 0 || ox >= OW) continue;
            for (let f = 0; f < F; f++) {
              let acc = 0;
              for (let c = 0; c < C; c++)
                acc += x![(iy * W + ix) * C + c]! * k[((ky * KW + kx) * F + f) * C + c]!;
              const o = (oy * OW + ox) * F + f;
              out[o] = out[o]! + acc;
            }
          }
        }
    return activate(out, node.attrs);
  },
});
