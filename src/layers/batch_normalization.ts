// batch_normalization: Keras BatchNormalization in inference mode:
// y = (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta, per channel of `axis`.
import { defineLayer, bool, num, str } from '../ir/op.js';
import { identityPerm, onnxFloat, type OnnxMapping } from '../ir/onnx.js';

const batchNormOnnx: OnnxMapping = {
  export(n, b) {
    const axis = n.attrs['channel_axis'] as number;
    const rank = n.shape.length;
    const C = n.shape[axis]!;
    // The channel axis goes to ONNX axis 1, the others keep their order (NCHW for images).
    const perm = [axis, ...identityPerm(rank).filter((a) => a !== axis)];
    const x = b.as(b.value(n.inputs[0]!), perm, n.name);
    const slot = (s: string, dflt: number): string =>
      b.init(`${n.name}/${s}`, [C], b.weight(n, s) ?? new Float32Array(C).fill(dflt));
    const inputs = [
      x,
      slot('gamma', 1),
      slot('beta', 0),
      b.init(`${n.name}/moving_mean`, [C], b.need(n, 'moving_mean')),
      b.init(`${n.name}/moving_variance`, [C], b.need(n, 'moving_variance')),
    ];
    const y = b.op('BatchNormalization', inputs, n.name, n.name, {
      epsilon: onnxFloat(n.attrs['epsilon'] as number),
    });
    return { name: y, perm };
  },
};

export const batchNormalization = defineLayer({
  kind: 'batch_normalization',
  onnx: batchNormOnnx,
  doc: 'batch normalization with the moving statistics (Keras BatchNormalization, inference)',
  samples: [
    { inputs: [[5, 6, 7]] },
    { inputs: [[3, 4, 9]], args: 'center: false, scale: false, epsilon: 0.01' },
    { inputs: [[6, 10]], why: 'rank 2: bands of the first axis' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'axis', kind: { type: 'axis' }, default: null },
    { name: 'momentum', kind: { type: 'float', min: 0, max: 1 }, default: 0.99, unused: true },
    { name: 'epsilon', kind: { type: 'float', min: 0, open: true }, default: 0.001 },
    { name: 'center', kind: { type: 'bool' }, default: true },
    { name: 'scale', kind: { type: 'bool' }, default: true },
    { name: 'beta_initializer', kind: { type: 'initializer' }, default: 'zeros' },
    { name: 'gamma_initializer', kind: { type: 'initializer' }, default: 'ones' },
    { name: 'moving_mean_initializer', kind: { type: 'initializer' }, default: 'zeros' },
    { name: 'moving_variance_initializer', kind: { type: 'initializer' }, default: 'ones' },
  ],
  traits: { isBatchNorm: true },
  infer(ctx) {
    const s = ctx.inputs[0]!;
    // Default: the channel axis, which is the last internal axis for images in either format.
    const axis = ctx.attrs['axis'] === null ? s.length - 1 : ctx.axis('axis', s.length);
    if (axis === null) return null;
    const c = s[axis]!;
    const a = ctx.attrs;
    const weights = [];
    if (bool(a, 'scale'))
      weights.push({ name: 'gamma', shape: [c], initializer: str(a, 'gamma_initializer') });
    if (bool(a, 'center'))
      weights.push({ name: 'beta', shape: [c], initializer: str(a, 'beta_initializer') });
    weights.push({
      name: 'moving_mean',
      shape: [c],
      initializer: str(a, 'moving_mean_initializer'),
    });
    weights.push({
      name: 'moving_variance',
      shape: [c],
      initializer: str(a, 'moving_variance_initializer'),
    });
    return { shape: s, weights, attrs: { channel_axis: axis } };
  },
  macs: () => 0,
  reference(node, [x], [shape], w) {
    const axis = num(node.attrs, 'channel_axis');
    const C = shape![axis]!;
    const inner = shape!.slice(axis + 1).reduce((p, d) => p * d, 1);
    const eps = num(node.attrs, 'epsilon');
    const { gamma, beta, moving_mean: mean, moving_variance: variance } = w;
    const out = new Float64Array(x!.length);
    for (let i = 0; i < x!.length; i++) {
      const c = Math.floor(i / inner) % C;
      const s = (gamma ? gamma[c]! : 1) / Math.sqrt(variance![c]! + eps);
      out[i] = (x![i]! - mean![c]!) * s + (beta ? beta[c]! : 0);
    }
    return out;
  },
});
