// separable_conv2d: Keras SeparableConv2D: depthwise [kh, kw, in, dm] (no bias), then pointwise
// [1, 1, in*dm, filters] with one bias [filters].
import { activate } from './activations.js';
import {
  activationAttr,
  convGeometry,
  convPadding,
  initializer,
  pairAttr,
  useBias,
} from './common.js';
import { depthwiseReference } from './depthwise_conv2d.js';
import { bool, defineLayer, num, pair, str } from '../ir/op.js';
import { depthwiseOnnx } from './depthwise_conv2d.js';
import { image, inShapeOf, onnxInts, type OnnxMapping } from '../ir/onnx.js';

const separableOnnx: OnnxMapping = {
  export(n, b) {
    const dw = depthwiseOnnx(
      n,
      b,
      `${n.name}/depthwise`,
      b.need(n, 'depthwise_kernel'),
      b.weight(n, 'depthwise_bias'),
    );
    const F = n.shape[2]!;
    const CM = inShapeOf(b, n)[2]! * (n.attrs['depth_multiplier'] as number);
    const pk = b.need(n, 'pointwise_kernel');
    // [1, 1, C*dm, filters] -> [filters, C*dm, 1, 1].
    const w = new Float32Array(pk.length);
    for (let i = 0; i < CM; i++) for (let f = 0; f < F; f++) w[f * CM + i] = pk[i * F + f]!;
    const inputs = [dw, b.init(`${n.name}/pointwise_kernel`, [F, CM, 1, 1], w)];
    const bias = b.weight(n, 'bias');
    if (bias) inputs.push(b.init(`${n.name}/bias`, [F], bias));
    const y = b.op('Conv', inputs, `${n.name}/pointwise`, `${n.name}/pointwise`, {
      kernel_shape: onnxInts([1, 1]),
    });
    return image(b.epilogue(n, y));
  },
};

export const separableConv2d = defineLayer({
  kind: 'separable_conv2d',
  onnx: separableOnnx,
  doc: 'depthwise then pointwise convolution (Keras SeparableConv2D)',
  samples: [
    {
      inputs: [[9, 300, 32]],
      args: '8, 3, padding: same, activation: relu',
      why: 'by bands of rows: a loop of whole bands, border bands, a remainder',
    },
    { inputs: [[15, 260, 16]], args: '6, [3, 2], strides: 2, depth_multiplier: 2' },
    { inputs: [[6, 7, 5]], args: '3, 3', why: 'channels that are not a multiple of 4' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'filters', kind: { type: 'int', min: 1 }, default: undefined },
    pairAttr('kernel_size', null),
    pairAttr('strides', 1),
    convPadding,
    pairAttr('dilation_rate', 1),
    { name: 'depth_multiplier', kind: { type: 'int', min: 1 }, default: 1 },
    activationAttr,
    useBias,
    initializer('depthwise_initializer', 'glorot_uniform'),
    initializer('pointwise_initializer', 'glorot_uniform'),
    initializer('bias_initializer', 'zeros'),
  ],
  traits: {
    fusesActivation: true,
    channelAffine: { kernel: 'pointwise_kernel', bias: 'bias', channelAxis: -1 },
  },
  infer(ctx) {
    const g = convGeometry(ctx);
    if (!g) return null;
    const c = ctx.inputs[0]![2]!;
    const a = ctx.attrs;
    const dm = num(a, 'depth_multiplier');
    const f = num(a, 'filters');
    const [kh, kw] = pair(a, 'kernel_size');
    const weights = [
      {
        name: 'depthwise_kernel',
        shape: [kh, kw, c, dm],
        initializer: str(a, 'depthwise_initializer'),
      },
      {
        name: 'pointwise_kernel',
        shape: [1, 1, c * dm, f],
        initializer: str(a, 'pointwise_initializer'),
      },
    ];
    if (bool(a, 'use_bias'))
      weights.push({ name: 'bias', shape: [f], initializer: str(a, 'bias_initializer') });
    return { shape: [g.oh, g.ow, f], weights, attrs: { pads: g.pads } };
  },
  macs(node, [input]) {
    const [kh, kw] = pair(node.attrs, 'kernel_size');
    const [oh, ow, f] = node.shape as [number, number, number];
    const mid = input![2]! * num(node.attrs, 'depth_multiplier');
    return oh * ow * mid * kh * kw + oh * ow * mid * f;
  },
  reference(node, [x], [shape], w) {
    const [oh, ow, F] = node.shape as [number, number, number];
    const mid = depthwiseReference(node, x!, shape!, w['depthwise_kernel']!, undefined, oh, ow);
    const M = mid.length / (oh * ow);
    const pk = w['pointwise_kernel']!;
    const b = w['bias'];
    const out = new Float64Array(oh * ow * F);
    for (let p = 0; p < oh * ow; p++)
      for (let f = 0; f < F; f++) {
        let acc = b ? b[f]! : 0;
        for (let m = 0; m < M; m++) acc += mid[p * M + m]! * pk[m * F + f]!;
        out[p * F + f] = acc;
      }
    return activate(out, node.attrs);
  },
});
