// layer_normalization and group_normalization (Keras LayerNormalization, GroupNormalization):
// per example, (x - mean) / sqrt(var + epsilon) * gamma + beta with the population variance,
// over the normalized axes (layer) or over each contiguous block of channels and every other
// axis (group). Both are one rule on a view of the input: `norm_view` is the internal shape
// (the channel axis split into [groups, channels per group] for group normalization),
// `norm_mask` marks the axes reduced over, and `param_strides` steps through gamma and beta.
import { internalAxis, stridesOf } from './broadcast.js';
import {
  bool,
  defineLayer,
  num,
  str,
  type AttrSpec,
  type InferContext,
  type Node,
} from '../ir/op.js';
import { formatShape, toUserShape, type Shape } from '../ir/types.js';
import {
  identityPerm,
  onnxInt,
  onnxInts,
  userPermOf,
  type OnnxAttrs,
  type OnnxBuilder,
  type OnnxMapping,
} from '../ir/onnx.js';

/** The `axis` attribute (an axis or a list, 1-based or negative, of the per-example shape
 * `user`) as sorted 0-based user axes; null after reporting one out of range or listed twice. */
export function userAxes(ctx: InferContext, user: Shape): number[] | null {
  const rank = user.length;
  const given = ctx.attrs['axis'];
  if (given === null) return null; // a value already reported
  const written = (Array.isArray(given) ? given : [given]) as number[];
  const axes: number[] = [];
  for (const a of written) {
    const i = a > 0 ? a - 1 : rank + a;
    if (i < 0 || i >= rank) {
      ctx.error(
        `axis ${a} is out of range for an input of rank ${rank} ${formatShape(user)} ` +
          `(batch excluded): use 1 to ${rank} or -1 to -${rank}`,
        'axis',
      );
      return null;
    }
    if (axes.includes(i)) {
      ctx.error(`axis lists axis ${i + 1} twice`, 'axis', `write each axis once`);
      return null;
    }
    axes.push(i);
  }
  return axes.sort((x, y) => x - y);
}

/** The view a normalization node works on (see the file comment). */
export interface NormView {
  readonly shape: readonly number[];
  readonly mask: readonly boolean[];
  readonly paramStrides: readonly number[];
}

export function normView(node: Node): NormView {
  return {
    shape: node.attrs['norm_view'] as readonly number[],
    mask: node.attrs['norm_mask'] as readonly boolean[],
    paramStrides: node.attrs['param_strides'] as readonly number[],
  };
}

/** The float64 normalization of one example over its view. */
function normalize(
  v: NormView,
  x: Float64Array,
  eps: number,
  gamma: Float64Array | undefined,
  beta: Float64Array | undefined,
): Float64Array {
  const rank = v.shape.length;
  const strides = stridesOf(v.shape);
  // The statistics' index: the kept axes in row-major order.
  const keptStrides = new Array<number>(rank).fill(0);
  let groups = 1;
  for (let i = rank - 1; i >= 0; i--)
    if (!v.mask[i]) {
      keptStrides[i] = groups;
      groups *= v.shape[i]!;
    }
  const count = x.length / groups;
  const idx = new Array<number>(rank).fill(0);
  const groupOf = new Int32Array(x.length);
  const paramOf = new Int32Array(x.length);
  for (let o = 0; o < x.length; o++) {
    let g = 0;
    let p = 0;
    let r = o;
    for (let i = 0; i < rank; i++) {
      idx[i] = Math.floor(r / strides[i]!);
      r -= idx[i]! * strides[i]!;
      g += idx[i]! * keptStrides[i]!;
      p += idx[i]! * v.paramStrides[i]!;
    }
    groupOf[o] = g;
    paramOf[o] = p;
  }
  const mean = new Float64Array(groups);
  const variance = new Float64Array(groups);
  for (let o = 0; o < x.length; o++) mean[groupOf[o]!]! += x[o]! / count;
  for (let o = 0; o < x.length; o++) variance[groupOf[o]!]! += (x[o]! - mean[groupOf[o]!]!) ** 2;
  const out = new Float64Array(x.length);
  for (let o = 0; o < x.length; o++) {
    const g = groupOf[o]!;
    const p = paramOf[o]!;
    const y = (x[o]! - mean[g]!) / Math.sqrt(variance[g]! / count + eps);
    out[o] = y * (gamma ? gamma[p]! : 1) + (beta ? beta[p]! : 0);
  }
  return out;
}

const common: AttrSpec[] = [
  { name: 'epsilon', kind: { type: 'float', min: 0, open: true }, default: 0.001 },
  { name: 'center', kind: { type: 'bool' }, default: true },
  { name: 'scale', kind: { type: 'bool' }, default: true },
  { name: 'beta_initializer', kind: { type: 'initializer' }, default: 'zeros' },
  { name: 'gamma_initializer', kind: { type: 'initializer' }, default: 'ones' },
];

function gammaBeta(attrs: Node['attrs'], shape: Shape) {
  const weights = [];
  if (bool(attrs, 'scale'))
    weights.push({ name: 'gamma', shape, initializer: str(attrs, 'gamma_initializer') });
  if (bool(attrs, 'center'))
    weights.push({ name: 'beta', shape, initializer: str(attrs, 'beta_initializer') });
  return weights;
}

const reference = (
  node: Node,
  [x]: readonly Float64Array[],
  _s: readonly Shape[],
  w: Readonly<Record<string, Float64Array>>,
): Float64Array => normalize(normView(node), x!, num(node.attrs, 'epsilon'), w['gamma'], w['beta']);

/** (x - mean) / sqrt(var + eps) over ONNX `axes` of x (population variance), then gamma and
 * beta of shape `pshape` (opset 13 has no LayerNormalization or GroupNormalization). */
function normalizeOnnx(
  n: Node,
  b: OnnxBuilder,
  x: string,
  axes: number[],
  pshape: number[],
): string {
  const o = (op: string, inputs: string[], attrs: OnnxAttrs = {}): string =>
    b.op(op, inputs, `${n.name}/${op.toLowerCase()}`, `${n.name}/${op.toLowerCase()}`, attrs);
  const reduce = (v: string): string =>
    o('ReduceMean', [v], { axes: onnxInts(axes), keepdims: onnxInt(1) });
  const d = o('Sub', [x, reduce(x)]);
  const variance = reduce(o('Mul', [d, d]));
  let y = o('Div', [d, o('Sqrt', [o('Add', [variance, b.scalar(n.attrs['epsilon'] as number)])])]);
  const gamma = b.weight(n, 'gamma');
  if (gamma) y = o('Mul', [y, b.init(`${n.name}/gamma`, pshape, gamma)]);
  const beta = b.weight(n, 'beta');
  if (beta) y = o('Add', [y, b.init(`${n.name}/beta`, pshape, beta)]);
  return y;
}

const layerNormOnnx: OnnxMapping = {
  export(n, b) {
    const mask = n.attrs['norm_mask'] as readonly boolean[];
    // x in the user's axis order (NCHW for channels_first images): gamma's order.
    const perm = userPermOf(b, n.shape.length);
    const x = b.as(b.value(n.inputs[0]!), perm, n.name);
    const axes = perm.flatMap((a, j) => (mask[a] ? [j + 1] : []));
    const pshape = perm.map((a) => (mask[a] ? n.shape[a]! : 1));
    return { name: normalizeOnnx(n, b, x, axes, pshape), perm };
  },
};

export const layerNormalization = defineLayer({
  kind: 'layer_normalization',
  onnx: layerNormOnnx,
  doc: 'normalizes each example over the given axes (Keras LayerNormalization)',
  samples: [
    { source: 'network t { input x: [5, 4, 14]  output y = x -> layer_normalization }' },
    {
      source:
        'network t { input x: [5, 4, 6]  output y = x -> layer_normalization(axis: [1, 2, 3], center: false) }',
    },
    {
      source:
        'network t { input x: [5, 4, 9]  output y = x -> layer_normalization(axis: 1, epsilon: 0.1) }',
    },
    {
      source:
        'network t(data_format: channels_first) { input x: [6, 5, 4]  output y = x -> layer_normalization(axis: [1, 3]) }',
    },
    {
      source:
        'network t { input x: [5, 4, 8]  output y = x -> layer_normalization(axis: 2, center: false) }',
      why: 'over the columns: channels 4 at a time, split in bands of rows',
    },
    {
      source: 'network t { input x: [6, 10]  output y = x -> layer_normalization }',
      why: 'rank 2: bands of the first axis',
    },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [{ name: 'axis', kind: { type: 'axes' }, default: -1 }, ...common],
  traits: {},
  infer(ctx) {
    const s = ctx.inputs[0]!;
    const rank = s.length;
    const user = toUserShape(s, ctx.dataFormat);
    const axes = userAxes(ctx, user);
    if (axes === null) return null;
    // gamma and beta: one dimension per normalized axis, in the user's axis order (Keras).
    const shape = axes.map((i) => user[i]!);
    const gStrides = stridesOf(shape);
    const mask = new Array<boolean>(rank).fill(false);
    const paramStrides = new Array<number>(rank).fill(0);
    axes.forEach((i, j) => {
      const k = internalAxis(i, rank, ctx.dataFormat);
      mask[k] = true;
      paramStrides[k] = shape[j] === 1 ? 0 : gStrides[j]!;
    });
    return {
      shape: s,
      weights: gammaBeta(ctx.attrs, shape),
      attrs: { norm_view: [...s], norm_mask: mask, param_strides: paramStrides },
    };
  },
  macs: () => 0,
  reference,
});

const groupNormOnnx: OnnxMapping = {
  export(n, b) {
    const axis = n.attrs['channel_axis'] as number;
    const rank = n.shape.length;
    const C = n.shape[axis]!;
    const G = (n.attrs['norm_view'] as readonly number[])[axis]!;
    // Channels to ONNX axis 1, then [N, G, rest]: each group's elements are contiguous.
    const perm = [axis, ...identityPerm(rank).filter((a) => a !== axis)];
    const x = b.as(b.value(n.inputs[0]!), perm, n.name);
    const grouped = b.op(
      'Reshape',
      [x, b.int64(`${n.name}/groups`, [0, G, -1])],
      `${n.name}/grouped`,
      `${n.name}/grouped`,
    );
    const o = (op: string, inputs: string[], attrs: OnnxAttrs = {}): string =>
      b.op(op, inputs, `${n.name}/${op.toLowerCase()}`, `${n.name}/${op.toLowerCase()}`, attrs);
    const reduce = (v: string): string =>
      o('ReduceMean', [v], { axes: onnxInts([2]), keepdims: onnxInt(1) });
    const d = o('Sub', [grouped, reduce(grouped)]);
    const variance = reduce(o('Mul', [d, d]));
    const normed = o('Div', [
      d,
      o('Sqrt', [o('Add', [variance, b.scalar(n.attrs['epsilon'] as number)])]),
    ]);
    const rest = perm.slice(1).map((a) => n.shape[a]!);
    let y = o('Reshape', [normed, b.int64(`${n.name}/shape`, [0, C, ...rest])]);
    const pshape = [C, ...rest.map(() => 1)];
    const gamma = b.weight(n, 'gamma');
    if (gamma) y = o('Mul', [y, b.init(`${n.name}/gamma`, pshape, gamma)]);
    const beta = b.weight(n, 'beta');
    if (beta) y = o('Add', [y, b.init(`${n.name}/beta`, pshape, beta)]);
    return { name: y, perm };
  },
};

export const groupNormalization = defineLayer({
  kind: 'group_normalization',
  onnx: groupNormOnnx,
  doc: 'normalizes each contiguous block of channels of an example (Keras GroupNormalization)',
  samples: [
    { source: 'network t { input x: [7, 6, 10]  output y = x -> group_normalization(-1) }' },
    { source: 'network t { input x: [5, 6, 24]  output y = x -> group_normalization(3) }' },
    {
      source:
        'network t { input x: [5, 3, 12]  output y = x -> group_normalization(6, scale: false) }',
    },
    { source: 'network t { input x: [20]  output y = x -> group_normalization(4) }' },
    {
      source: 'network t { input x: [6, 10]  output y = x -> group_normalization(-1) }',
      why: 'rank 2, one group per channel: bands of 4 groups',
    },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'groups', kind: { type: 'int', min: -1 }, default: 32 },
    { name: 'axis', kind: { type: 'axis' }, default: null },
    ...common,
  ],
  traits: {},
  infer(ctx) {
    const s = ctx.inputs[0]!;
    const axis = ctx.attrs['axis'] === null ? s.length - 1 : ctx.axis('axis', s.length);
    if (axis === null) return null;
    const c = s[axis]!;
    const written = num(ctx.attrs, 'groups');
    const groups = written === -1 ? c : written;
    if (groups === 0 || c % groups !== 0) {
      const divisors = Array.from({ length: c }, (_, i) => i + 1).filter((d) => c % d === 0);
      ctx.error(
        groups === 0
          ? `groups cannot be 0`
          : `groups ${groups} must divide the ${c} channels of ${ctx.describe(0)}`,
        'groups',
        `use a divisor of ${c} (${divisors.join(', ')}), or -1 for one group per channel ` +
          `(instance normalization)`,
      );
      return null;
    }
    const cg = c / groups;
    const view = [...s.slice(0, axis), groups, cg, ...s.slice(axis + 1)];
    const mask = view.map((_, i) => i !== axis);
    const paramStrides = view.map((_, i) => (i === axis ? cg : i === axis + 1 ? 1 : 0));
    return {
      shape: s,
      weights: gammaBeta(ctx.attrs, [c]),
      attrs: { channel_axis: axis, norm_view: view, norm_mask: mask, param_strides: paramStrides },
    };
  },
  macs: () => 0,
  reference,
});
