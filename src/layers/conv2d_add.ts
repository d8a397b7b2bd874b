// conv2d_add: y = act(conv2d(x) + r), r shaped like the convolution's output. Not a source
// layer: the pass fuse_residual makes it from conv2d -> add (-> activation), the residual
// connection of ResNet-style blocks, so the sum and its activation cost no pass over memory.
import { formatShape } from '../ir/graph.js';
import { activate } from './activations.js';
import { conv2d } from './conv2d.js';
import { defineLayer } from '../ir/op.js';
import { conv2dOnnx } from './conv2d.js';
import { image } from '../ir/onnx.js';

export const conv2dAdd = defineLayer({
  ...conv2d,
  kind: 'conv2d_add',
  onnx: { export: (n, b) => image(conv2dOnnx(n, b)) },
  doc: 'conv2d plus a tensor of its output shape, then the activation (fused residual sum)',
  inputs: { min: 2, max: 2 },
  internal: true,
  samples: [
    {
      source: 'network t { input x: [5, 6, 8]  output y = relu(add(x, x -> conv2d(8, 1))) }',
      why: 'a GEMM',
    },
    {
      source:
        'network t { input x: [7, 9, 16]  output y = add(x, x -> conv2d(16, 3, padding: same)) -> relu6 }',
      why: 'Winograd',
    },
    {
      source:
        'network t { input x: [5, 5, 8]  output y = tanh(add(x -> conv2d(2, 3), x -> conv2d(2, 3))) }',
      why: 'the dot-product core',
    },
    {
      source: 'network t { input x: [5, 6, 24]  output y = relu(add(x, x -> conv2d(24, 1))) }',
      why: 'a GEMM of 3 channel blocks (the residual moved with each)',
    },
    {
      source:
        'network t { input x: [6, 7, 32]  output y = add(x, x -> conv2d(32, 3, padding: same)) -> relu }',
      why: 'Winograd in 4 channel blocks',
    },
  ],
  // Already carries its activation, and a batch normalization after it would scale r too.
  traits: {},
  infer(ctx) {
    const r = conv2d.infer({ ...ctx, inputs: [ctx.inputs[0]!] });
    if (!r) return null;
    const got = ctx.inputs[1]!;
    if (got.length !== r.shape.length || got.some((d, i) => d !== r.shape[i])) {
      ctx.error(
        `the residual is ${ctx.describe(1)}, the convolution gives ${formatShape(r.shape)}`,
      );
      return null;
    }
    return r;
  },
  macs: (node, shapes) => conv2d.macs(node, shapes.slice(0, 1)),
  reference(node, [x, r], [shape], weights) {
    const linear = { ...node, attrs: { ...node.attrs, activation: { fn: 'linear' } } };
    const y = conv2d.reference(linear, [x!], [shape!], weights);
    for (let i = 0; i < y.length; i++) y[i]! += r![i]!;
    return activate(y, node.attrs);
  },
});
