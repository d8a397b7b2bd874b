// depthwise_conv2d: Keras DepthwiseConv2D. depthwise_kernel [kh, kw, in, dm]; output channel c*dm+m.
import type { Node, Shape } from '../ir/graph.js';
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

/** Reference depthwise stage: out[oy, ox, c*dm+m] = sum in[iy, ix, c] * k[ky, kx, c, m]. */
export function depthwiseReference(
  node: Node,
  x: Float64Array,
  shape: Shape,
  k: Float64Array,
  bias: Float64Array | undefined,
  oh: number,
  ow: number,
): Float64Array {
  const [H, W, C] = shape as [number, number, number];
  const DM = num(node.attrs, 'depth_multiplier');
  const [KH, KW] = pair(node.attrs, 'kernel_size');
  const [SH, SW] = pair(node.attrs, 'strides');
  const [DH, DW] = pair(node.attrs, 'dilation_rate');
  const [PT, , PL] = node.attrs['pads'] as readonly number[];
  const OC = C * DM;
  const out = new Float64Array(oh * ow * OC);
  for (let oy = 0; oy < oh; oy++)
    for (let ox = 0; ox < ow; ox++)
      for (let c = 0; c < C; c++)
        for (let m = 0; m < DM; m++) {
          let acc = bias ? bias[c * DM + m]! : 0;
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * SH - PT! + ky * DH;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < KW; kx++) {
              const ix = ox * SW - PL! + kx * DW;
              if (ix < 0 || ix >= W) continue;
              acc += x[(iy * W + ix) * C + c]! * k[((ky * KW + kx) * C + c) * DM + m]!;
            }
          }
          out[(oy * ow + ox) * OC + c * DM + m] = acc;
        }
  return out;
}

/** A depthwise stage as a grouped Conv: weight [C*dm, 1, kh, kw], output channel c*dm+m. */
export function depthwiseOnnx(
  n: Node,
  b: OnnxBuilder,
  base: string,
  k: Float32Array,
  bias: Float32Array | null,
): string {
  const [KH, KW] = onnxPair(n, 'kernel_size');
  const C = inShapeOf(b, n)[2]!;
  const DM = n.attrs['depth_multiplier'] as number;
  const w = new Float32Array(k.length);
  for (let ky = 0; ky < KH; ky++)
    for (let kx = 0; kx < KW; kx++)
      for (let c = 0; c < C; c++)
        for (let m = 0; m < DM; m++)
          w[((c * DM + m) * KH + ky) * KW + kx] = k[((ky * KW + kx) * C + c) * DM + m]!;
  const inputs = [b.nchw(n), b.init(`${base}/depthwise_kernel`, [C * DM, 1, KH, KW], w)];
  if (bias) inputs.push(b.init(`${base}/bias`, [C * DM], bias));
  const [t, bo, l, r] = n.attrs['pads'] as readonly number[];
  return b.op('Conv', inputs, base, base, {
    kernel_shape: onnxInts([KH, KW]),
    strides: onnxInts(onnxPair(n, 'strides')),
    dilations: onnxInts(onnxPair(n, 'dilation_rate')),
    pads: onnxInts([t!, l!, bo!, r!]),
    group: onnxInt(C),
  });
}

export const depthwiseConv2d = defineLayer({
  kind: 'depthwise_conv2d',
  onnx: {
    export: (n, b) =>
      image(
        b.epilogue(
          n,
          depthwiseOnnx(n, b, n.name, b.need(n, 'depthwise_kernel'), b.weight(n, 'bias')),
        ),
      ),
  },
  doc: 'depthwise 2-D convolution (Keras DepthwiseConv2D)',
  samples: [
    { inputs: [[7, 7, 6]], args: '3, padding: same' },
    {
      inputs: [[5, 64, 12]],
      args: '3, dilation_rate: 2, padding: same, activation: relu6',
      why: 'wide rows: 4 pixels share their overlapping input columns',
    },
    { inputs: [[6, 70, 8]], args: '[3, 4], strides: 2, use_bias: false' },
    { inputs: [[6, 5, 3]], args: '3, depth_multiplier: 2', why: 'depth multiplier' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    pairAttr('kernel_size', null),
    pairAttr('strides', 1),
    convPadding,
    { name: 'depth_multiplier', kind: { type: 'int', min: 1 }, default: 1 },
    pairAttr('dilation_rate', 1),
    activationAttr,
    useBias,
    initializer('depthwise_initializer', 'glorot_uniform'),
    initializer('bias_initializer', 'zeros'),
  ],
  traits: {
    fusesActivation: true,
    channelAffine: { kernel: 'depthwise_kernel', bias: 'bias', channelAxis: -2 },
    biasIntoPointwise: true,
  },
  infer(ctx) {
    const g = convGeometry(ctx);
    if (!g) return null;
    const c = ctx.inputs[0]![2]!;
    const dm = num(ctx.attrs, 'depth_multiplier');
    const [kh, kw] = pair(ctx.attrs, 'kernel_size');
    const weights = [
      {
        name: 'depthwise_kernel',
        shape: [kh, kw, c, dm],
        initializer: str(ctx.attrs, 'depthwise_initializer'),
      },
    ];
    if (bool(ctx.attrs, 'use_bias'))
      weights.push({
        name: 'bias',
        shape: [c * dm],
        initializer: str(ctx.attrs, 'bias_initializer'),
      });
    return { shape: [g.oh, g.ow, c * dm], weights, attrs: { pads: g.pads } };
  },
  macs(node) {
    const [kh, kw] = pair(node.attrs, 'kernel_size');
    const [oh, ow, oc] = node.shape as [number, number, number];
    return oh * ow * oc * kh * kw;
  },
  reference(node, [x], [shape], w) {
    const [oh, ow] = node.shape as [number, number, number];
    const out = depthwiseReference(node, x!, shape!, w['depthwise_kernel']!, w['bias'], oh, ow);
    return activate(out, node.attrs);
  },
});
