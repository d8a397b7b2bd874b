// dense: Keras Dense on the last axis. kernel [in, units], bias [units].
import { size } from '../ir/graph.js';
import { activate } from './activations.js';
import { activationAttr, initializer, useBias } from './common.js';
import { bool, defineLayer, num, str } from '../ir/op.js';
import { identityPerm, inShapeOf, type OnnxMapping } from '../ir/onnx.js';

const denseOnnx: OnnxMapping = {
  export(n, b) {
    const inShape = inShapeOf(b, n);
    const I = inShape[inShape.length - 1]!;
    const U = n.shape[n.shape.length - 1]!;
    const x = b.as(b.value(n.inputs[0]!), identityPerm(inShape.length), n.name);
    const k = b.init(`${n.name}/kernel`, [I, U], b.need(n, 'kernel'));
    const bias = b.weight(n, 'bias');
    const bi = bias ? b.init(`${n.name}/bias`, [U], bias) : null;
    let y: string;
    if (inShape.length === 1 && bi) y = b.op('Gemm', [x, k, bi], n.name, n.name);
    else {
      y = b.op('MatMul', [x, k], n.name, n.name);
      if (bi) y = b.op('Add', [y, bi], `${n.name}/bias_add`, `${n.name}/bias_add`);
    }
    return { name: b.epilogue(n, y), perm: identityPerm(n.shape.length) };
  },
};

export const dense = defineLayer({
  kind: 'dense',
  onnx: denseOnnx,
  doc: 'fully connected layer on the last axis (Keras Dense)',
  samples: [
    { inputs: [[13]], args: '7, activation: tanh' },
    { inputs: [[3, 16]], args: '1', why: 'one unit: the dot-product core' },
    { inputs: [[4, 9]], args: '12, use_bias: false', why: 'on the last axis of a rank-2 input' },
    { inputs: [[20]], args: '40, activation: relu', why: 'split by blocks of 8 units (5)' },
    {
      inputs: [[3, 12]],
      args: '32, use_bias: false',
      why: 'rows of 4 unit blocks, no bias',
    },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'units', kind: { type: 'int', min: 1 }, default: undefined },
    activationAttr,
    useBias,
    initializer('kernel_initializer', 'glorot_uniform'),
    initializer('bias_initializer', 'zeros'),
  ],
  traits: {
    layoutSensitive: true,
    fusesActivation: true,
    channelAffine: { kernel: 'kernel', bias: 'bias', channelAxis: -1 },
  },
  infer(ctx) {
    const s = ctx.inputs[0]!;
    const units = num(ctx.attrs, 'units');
    const inDim = s[s.length - 1]!;
    const weights = [
      { name: 'kernel', shape: [inDim, units], initializer: str(ctx.attrs, 'kernel_initializer') },
    ];
    if (bool(ctx.attrs, 'use_bias'))
      weights.push({
        name: 'bias',
        shape: [units],
        initializer: str(ctx.attrs, 'bias_initializer'),
      });
    return { shape: [...s.slice(0, -1), units], weights };
  },
  macs(node, [input]) {
    return size(input!) * num(node.attrs, 'units');
  },
  reference(node, [x], [shape], w) {
    const I = shape![shape!.length - 1]!;
    const U = num(node.attrs, 'units');
    const rows = x!.length / I;
    const k = w['kernel']!;
    const b = w['bias'];
    const out = new Float64Array(rows * U);
    for (let r = 0; r < rows; r++)
      for (let u = 0; u < U; u++) {
        let acc = b ? b[u]! : 0;
        for (let i = 0; i < I; i++) acc += x![r * I + i]! * k[i * U + u]!;
        out[r * U + u] = acc;
      }
    return activate(out, node.attrs);
  },
});
