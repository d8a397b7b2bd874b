// prelu: Keras PReLU, f(x) = x for x > 0, alpha * x otherwise, with one alpha per element of
// the per-example shape except along `shared_axes` (1-based, as Keras), where alpha is shared.
import { forEachBroadcast, stridesOf, userLayoutStrides } from './broadcast.js';
import { defineLayer, ints, str } from '../ir/op.js';
import { formatShape, toUserShape, type Attrs, type DataFormat, type Shape } from '../ir/types.js';
import { identityPerm, NCHW, type OnnxMapping } from '../ir/onnx.js';

/** alpha's strides per internal axis of the input (0 along shared axes); alpha is stored in
 * the user's layout, so in channels_first a rank-3 alpha is [C, H, W] in memory. */
export function alphaStrides(attrs: Attrs, alphaShape: Shape): number[] {
  return userLayoutStrides(alphaShape, attrs['data_format'] as DataFormat);
}

const preluOnnx: OnnxMapping = {
  export(n, b) {
    // x in the user's axis order (NCHW for channels_first images), so alpha's layout fits.
    const cf = n.attrs['data_format'] === 'channels_first' && n.shape.length === 3;
    const perm = cf ? [...NCHW] : identityPerm(n.shape.length);
    const x = b.as(b.value(n.inputs[0]!), perm, n.name);
    const a = n.weights.find((w) => w.name === 'alpha')!;
    const slope = b.init(`${n.name}/alpha`, [...a.shape], b.need(n, 'alpha'));
    return { name: b.op('PRelu', [x, slope], n.name, n.name), perm };
  },
};

export const prelu = defineLayer({
  kind: 'prelu',
  onnx: preluOnnx,
  doc: 'x where x > 0, alpha * x elsewhere, alpha learned per element (Keras PReLU)',
  samples: [
    { source: 'network t { input x: [7, 5, 12]  output y = x -> prelu(shared_axes: [1, 2]) }' },
    { source: 'network t { input x: [4, 5, 6]  output y = x -> prelu }' },
    { source: 'network t { input x: [4, 5, 7]  output y = x -> prelu(shared_axes: [1]) }' },
    {
      source:
        'network t(data_format: channels_first) { input x: [5, 4, 6]  output y = x -> prelu }',
    },
    { source: 'network t { input x: [13]  output y = x -> prelu }' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'alpha_initializer', kind: { type: 'initializer' }, default: 'zeros' },
    { name: 'shared_axes', kind: { type: 'ints', min: 1 }, default: null },
  ],
  traits: {},
  infer(ctx) {
    const s = ctx.inputs[0]!;
    const user = toUserShape(s, ctx.dataFormat);
    const shared = ints(ctx.attrs, 'shared_axes') ?? [];
    const alpha = [...user];
    for (const a of shared) {
      if (a > user.length) {
        ctx.error(
          `shared_axes ${a} is out of range for an input of rank ${user.length} ` +
            `${formatShape(user)} (batch excluded)`,
          'shared_axes',
          `shared_axes lists 1-based axes of the example, 1 to ${user.length}; ` +
            `for one alpha per channel of an image write shared_axes: ` +
            (ctx.dataFormat === 'channels_first' ? '[2, 3]' : '[1, 2]'),
        );
        return null;
      }
      alpha[a - 1] = 1;
    }
    return {
      shape: s,
      weights: [{ name: 'alpha', shape: alpha, initializer: str(ctx.attrs, 'alpha_initializer') }],
      attrs: { data_format: ctx.dataFormat },
    };
  },
  macs: () => 0,
  reference(node, [x], [shape], w) {
    const alpha = w['alpha']!;
    const aShape = node.weights.find((u) => u.name === 'alpha')!.shape;
    const out = new Float64Array(x!.length);
    forEachBroadcast(shape!, [stridesOf(shape!), alphaStrides(node.attrs, aShape)], (o, at) => {
      const v = x![at[0]!]!;
      out[o] = v > 0 ? v : alpha[at[1]!]! * v;
    });
    return out;
  },
});
