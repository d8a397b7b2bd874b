// dropout (identity at inference), softmax, and the compiler's own input and transpose nodes.
import { defineLayer, num } from '../ir/op.js';
import { transposeReference } from './common.js';
import { identityPerm, onnxInt, relabel, type OnnxMapping } from '../ir/onnx.js';

export const dropout = defineLayer({
  kind: 'dropout',
  doc: 'identity at inference (Keras Dropout)',
  samples: [{ inputs: [[3, 4, 5]], args: '0.5' }],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'rate', kind: { type: 'float', min: 0, max: 1 }, default: undefined },
    { name: 'seed', kind: { type: 'int', min: 0 }, default: null, unused: true },
  ],
  traits: { identity: true },
  infer: (ctx) => ({ shape: ctx.inputs[0]! }),
  macs: () => 0,
  reference: (_node, [x]) => Float64Array.from(x!),
});

const softmaxOnnx: OnnxMapping = {
  export(n, b) {
    const v = b.value(n.inputs[0]!);
    const axis = 1 + v.perm.indexOf(n.attrs['softmax_axis'] as number);
    return {
      name: b.op('Softmax', [v.name], n.name, n.name, { axis: onnxInt(axis) }),
      perm: v.perm,
    };
  },
};

export const softmax = defineLayer({
  kind: 'softmax',
  onnx: softmaxOnnx,
  doc: 'exp(x) / sum(exp(x)) along an axis (Keras Softmax)',
  samples: [
    { inputs: [[3, 10]] },
    { inputs: [[4, 5, 6]], args: 'axis: 1', why: 'along the rows: bands of columns' },
    { inputs: [[5, 4, 6]], why: 'over the channels: bands of rows' },
    { inputs: [[5, 4, 6]], args: 'axis: 2', why: 'along the columns' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [{ name: 'axis', kind: { type: 'axis' }, default: -1 }],
  traits: { activation: 'softmax' },
  infer(ctx) {
    const s = ctx.inputs[0]!;
    const axis = ctx.axis('axis', s.length);
    return axis === null ? null : { shape: s, attrs: { softmax_axis: axis } };
  },
  macs: () => 0,
  reference(node, [x]) {
    const axis = num(node.attrs, 'softmax_axis');
    const n = node.shape[axis]!;
    const inner = node.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
    const outer = x!.length / (n * inner);
    const out = new Float64Array(x!.length);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const at = (k: number): number => (o * n + k) * inner + i;
        let m = -Infinity;
        for (let k = 0; k < n; k++) m = Math.max(m, x![at(k)]!);
        let sum = 0;
        for (let k = 0; k < n; k++) sum += out[at(k)] = Math.exp(x![at(k)]! - m);
        for (let k = 0; k < n; k++) out[at(k)] = out[at(k)]! / sum;
      }
    return out;
  },
});

/** A network input (internal layout). */
// The graph input carries the module's key for it (`name:` in the source, else the node's).
const inputOnnx: OnnxMapping = {
  export: (n, b) => ({ name: b.inputName(n), perm: identityPerm(n.shape.length) }),
};

export const inputLayer = defineLayer({
  kind: 'input',
  onnx: inputOnnx,
  doc: 'a network input',
  inputs: { min: 0, max: 0 },
  attrs: [],
  traits: {},
  internal: true,
  infer: () => null,
  macs: () => 0,
  reference: () => new Float64Array(0),
});

/** Permutes axes: out.shape[i] = in.shape[perm[i]]. Made by the front end for channels_first. */

export const transpose = defineLayer({
  kind: 'transpose',
  onnx: { export: (n, b) => relabel(b, n, n.attrs['perm'] as readonly number[]) },
  doc: 'permutes axes (layout changes for channels_first)',
  samples: [
    {
      source:
        'network t(data_format: channels_first) { input x: [6, 5, 7]  output y = x -> conv2d(4, 3) }',
      why: 'channels_first input to channels_last',
    },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [],
  traits: {},
  internal: true,
  infer: (ctx) => {
    const perm = ctx.attrs['perm'] as readonly number[];
    return { shape: perm.map((p) => ctx.inputs[0]![p]!) };
  },
  macs: () => 0,
  reference: (node, [x], [shape]) =>
    transposeReference(x!, shape!, node.attrs['perm'] as readonly number[]),
});
