// conv2d: Keras Conv2D. kernel [kh, kw, in/groups, filters], bias [filters].
import { activate } from './activations.js';
import {
  activationAttr,
  convPadding,
  initializer,
  convGeometry,
  pairAttr,
  useBias,
} from './common.js';
import { bool, defineLayer, num, pair, str } from '../ir/op.js';
import { image, inShapeOf, onnxInt, onnxInts, onnxPair, type OnnxBuilder } from '../ir/onnx.js';
import type { Node } from '../ir/op.js';

/** Conv (weights HWIO -> OIHW), then for conv2d_add (a folded graph's residual sum) the Add of
 * the second input, then the activation. */
export function conv2dOnnx(n: Node, b: OnnxBuilder): string {
  const [KH, KW] = onnxPair(n, 'kernel_size');
  const C = inShapeOf(b, n)[2]!;
  const F = n.shape[2]!;
  const G = n.attrs['groups'] as number;
  const CG = C / G;
  const k = b.need(n, 'kernel');
  // HWIO [kh, kw, in/groups, filters] -> OIHW [filters, in/groups, kh, kw].
  const w = new Float32Array(k.length);
  for (let ky = 0; ky < KH; ky++)
    for (let kx = 0; kx < KW; kx++)
      for (let ci = 0; ci < CG; ci++)
        for (let f = 0; f < F; f++)
          w[((f * CG + ci) * KH + ky) * KW + kx] = k[((ky * KW + kx) * CG + ci) * F + f]!;
  const inputs = [b.nchw(n), b.init(`${n.name}/kernel`, [F, CG, KH, KW], w)];
  const bias = b.weight(n, 'bias');
  if (bias) inputs.push(b.init(`${n.name}/bias`, [F], bias));
  const [t, bo, l, r] = n.attrs['pads'] as readonly number[];
  const y = b.op('Conv', inputs, n.name, n.name, {
    kernel_shape: onnxInts([KH, KW]),
    strides: onnxInts(onnxPair(n, 'strides')),
    dilations: onnxInts(onnxPair(n, 'dilation_rate')),
    pads: onnxInts([t!, l!, bo!, r!]),
    group: onnxInt(G),
  });
  const sum = n.inputs.length > 1 ? b.op('Add', [y, b.nchw(n, 1)], `${n.name}/add`, n.name) : y;
  return b.epilogue(n, sum);
}

export const conv2d = defineLayer({
  kind: 'conv2d',
  onnx: { export: (n, b) => image(conv2dOnnx(n, b)) },
  doc: '2-D convolution (Keras Conv2D)',
  samples: [
    { inputs: [[7, 8, 5]], args: '6, 3, strides: 2, padding: same, activation: relu' },
    { inputs: [[6, 6, 8]], args: '4, [2, 3]' },
    {
      inputs: [[7, 6, 12]],
      args: '2, 3, strides: [1, 2], padding: same',
      why: 'fewer than 4 filters: the dot-product core',
    },
    {
      inputs: [[7, 9, 16]],
      args: '20, 3, padding: same, activation: relu',
      why: '3x3 stride 1 with 16+ channels: Winograd, odd sizes and borders',
    },
    {
      inputs: [[6, 5, 20]],
      args: '16, 3, padding: [[2, 0], [1, 3]], activation: tanh, use_bias: false',
      why: 'Winograd with uneven explicit padding',
    },
    {
      inputs: [[32, 33, 64]],
      args: '64, 3, padding: same',
      why: 'Winograd: 16 tile rows of 139 KB of scratch, a block of 15 (2 MB), then one',
    },
    {
      inputs: [[9, 8, 6]],
      args: '8, 3, dilation_rate: 2, groups: 2, padding: same',
      why: 'grouped and dilated',
    },
    { inputs: [[5, 7, 3]], args: '4, 1', why: 'pointwise: one GEMM over all pixels' },
    {
      inputs: [[6, 7, 12]],
      args: '24, 3, strides: 2, padding: same, activation: relu',
      why: 'split by blocks of 8 output channels too (3 blocks)',
    },
    {
      inputs: [[5, 4, 6]],
      args: '40, 3, padding: same, activation: sigmoid, use_bias: false',
      why: 'a direct layer of 5 channel blocks, no bias',
    },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'filters', kind: { type: 'int', min: 1 }, default: undefined },
    pairAttr('kernel_size', null),
    pairAttr('strides', 1),
    convPadding,
    pairAttr('dilation_rate', 1),
    { name: 'groups', kind: { type: 'int', min: 1 }, default: 1 },
    activationAttr,
    useBias,
    initializer('kernel_initializer', 'glorot_uniform'),
    initializer('bias_initializer', 'zeros'),
  ],
  traits: {
    fusesActivation: true,
    channelAffine: { kernel: 'kernel', bias: 'bias', channelAxis: -1 },
    pointwise: (n) => {
      const k = pair(n.attrs, 'kernel_size');
      const s = pair(n.attrs, 'strides');
      const p = n.attrs['pads'] as readonly number[];
      return (
        k[0] === 1 &&
        k[1] === 1 &&
        s[0] === 1 &&
        s[1] === 1 &&
        num(n.attrs, 'groups') === 1 &&
        p.every((x) => x === 0)
      );
    },
  },
  infer(ctx) {
    const g = convGeometry(ctx);
    if (!g) return null;
    const c = ctx.inputs[0]![2]!;
    const a = ctx.attrs;
    const filters = num(a, 'filters');
    const groups = num(a, 'groups');
    const [kh, kw] = pair(a, 'kernel_size');
    if (c % groups !== 0) {
      ctx.error(`groups ${groups} must divide the input channels (${c})`, 'groups');
      return null;
    }
    if (filters % groups !== 0) {
      ctx.error(`groups ${groups} must divide filters (${filters})`, 'groups');
      return null;
    }
    const weights = [
      {
        name: 'kernel',
        shape: [kh, kw, c / groups, filters],
        initializer: str(a, 'kernel_initializer'),
      },
    ];
    if (bool(a, 'use_bias'))
      weights.push({ name: 'bias', shape: [filters], initializer: str(a, 'bias_initializer') });
    return { shape: [g.oh, g.ow, filters], weights, attrs: { pads: g.pads } };
  },
  macs(node, [input]) {
    const [kh, kw] = pair(node.attrs, 'kernel_size');
    const [oh, ow, f] = node.shape as [number, number, number];
    return (oh * ow * f * kh * kw * input![2]!) / num(node.attrs, 'groups');
  },
  reference(node, [x], [shape], wts) {
    const [H, W, C] = shape as [number, number, number];
    const [OH, OW, F] = node.shape as [number, number, number];
    const [KH, KW] = pair(node.attrs, 'kernel_size');
    const [SH, SW] = pair(node.attrs, 'strides');
    const [DH, DW] = pair(node.attrs, 'dilation_rate');
    const [PT, , PL] = node.attrs['pads'] as readonly number[];
    const G = num(node.attrs, 'groups');
    const CG = C / G;
    const FG = F / G;
    const k = wts['kernel']!;
    const b = wts['bias'];
    // The kernel with each filter's taps and channels contiguous ([F][KH][KW][CG]), so the
    // innermost sum reads both operands in order, and one filter's taps stay in cache over all
    // the pixels (each output sums the same terms in the same order as over Keras's layout).
    const kt = new Float64Array(k.length);
    for (let t = 0; t < KH * KW * CG; t++)
      for (let f = 0; f < F; f++) kt[f * KH * KW * CG + t] = k[t * F + f]!;
    const out = new Float64Array(OH * OW * F);
    for (let f = 0; f < F; f++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          const g = Math.floor(f / FG);
          let acc = b ? b[f]! : 0;
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * SH - PT! + ky * DH;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < KW; kx++) {
              const ix = ox * SW - PL! + kx * DW;
              if (ix < 0 || ix >= W) continue;
              const xb = (iy * W + ix) * C + g * CG;
              const kb = ((f * KH + ky) * KW + kx) * CG;
              for (let ci = 0; ci < CG; ci++) acc += x![xb + ci]! * kt[kb + ci]!;
            }
          }
          out[(oy * OW + ox) * F + f] = acc;
        }
    return activate(out, node.attrs);
  },
});
