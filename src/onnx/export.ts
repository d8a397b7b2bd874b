// Exports a netc graph as an ONNX model (opset 13, NCHW inside, netc's user layouts at the edges).
import { InternalError } from '../diag/diagnostics.js';
import {
  ACTIVATION_BY_NAME,
  activationOf,
  paramsOf,
  type Activation,
  type Arith,
} from '../layers/activations.js';
import { padSource } from '../layers/padding2d.js';
import { resizeWindow } from '../layers/resizing.js';
import type { Graph, Node, Shape } from '../ir/graph.js';
import { evalWeightExpr } from '../runtime/evaluate.js';
import {
  encodeModel,
  float,
  graph as graphProto,
  int,
  int64Tensor,
  ints,
  modelProto,
  node as nodeProto,
  tensor,
  valueInfo,
  type AttrInput,
  type Dim,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './model.js';

/** The ONNX opset the exported models import. */
export const EXPORT_OPSET = 13;

/**
 * A graph value as an ONNX tensor: `name` holds the batch then the node's internal axes in the
 * order `perm` gives (ONNX axis i + 1 is internal axis perm[i]). Image tensors live in NCHW:
 * internal [H, W, C] with perm [2, 0, 1]; netc's `transpose` nodes only relabel axes.
 */
interface Value {
  readonly name: string;
  readonly perm: readonly number[];
}

const identityPerm = (rank: number): number[] => Array.from({ length: rank }, (_, i) => i);
const NCHW = [2, 0, 1] as const;
const samePerm = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

const pairOf = (node: Node, name: string): [number, number] => {
  const v = node.attrs[name] as readonly number[];
  return [v[0]!, v[1]!];
};
const numOf = (node: Node, name: string): number => node.attrs[name] as number;

/**
 * The network as a serialized ONNX model. `weights` holds the weights the source declares by
 * key (`LAYER/WEIGHT`, unfolded, Keras layouts); each node's weights are computed from them with
 * its recipes, so a folded graph exports too. Graph inputs and outputs carry netc's names and
 * netc's user layout ([N, H, W, C] for channels_last, [N, C, H, W] for channels_first) with the
 * batch first (symbolic `N` unless the network fixes it), so feeds and results match a netc
 * module's exactly.
 */
export function exportOnnx(
  graph: Graph,
  weights: ReadonlyMap<string, ArrayLike<number>>,
): Uint8Array {
  return encodeModel(exportOnnxModel(graph, weights));
}

/** The same model, undecoded (for inspection). */
export function exportOnnxModel(
  graph: Graph,
  weights: ReadonlyMap<string, ArrayLike<number>>,
): ModelProto {
  return new Exporter(graph, weights).run();
}

class Exporter {
  private readonly nodes: NodeProto[] = [];
  private readonly inits: TensorProto[] = [];
  private readonly tensorNames = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private readonly values = new Map<number, Value>();
  private readonly transposed = new Map<string, string>();
  private readonly constants = new Map<string, string>();
  private readonly batch: Dim;

  constructor(
    readonly graph: Graph,
    private readonly params: ReadonlyMap<string, ArrayLike<number>>,
  ) {
    this.batch = graph.batch ?? 'N';
    for (const p of graph.inputs) this.tensorNames.add(p.name);
    for (const p of graph.outputs) this.tensorNames.add(p.name);
  }

  run(): ModelProto {
    const g = this.graph;
    for (const n of g.nodes) this.values.set(n.id, this.emit(n));
    const inputs = g.inputs.map((p) => valueInfo(p.name, [this.batch, ...g.nodes[p.node]!.shape]));
    const outputs = g.outputs.map((p) => {
      const shape = g.nodes[p.node]!.shape;
      const v = this.as(this.value(p.node), identityPerm(shape.length), p.name);
      this.op('Identity', [v], p.name, `${p.name}/output`, {}, p.name);
      return valueInfo(p.name, [this.batch, ...shape]);
    });
    return modelProto(graphProto(this.nodes, inputs, outputs, this.inits, g.name), EXPORT_OPSET);
  }

  // ------------------------------------------------------------------------------- helpers

  private unique(set: Set<string>, base: string): string {
    let name = base;
    for (let i = 1; set.has(name); i++) name = `${base}_${i}`;
    set.add(name);
    return name;
  }

  /** Adds an ONNX node; returns its (unique) output tensor name. */
  op(
    opType: string,
    inputs: string[],
    base: string,
    nodeName: string,
    attrs: Record<string, AttrInput> = {},
    outName?: string,
  ): string {
    const out = outName ?? this.unique(this.tensorNames, base);
    const name = this.unique(this.nodeNames, nodeName);
    this.nodes.push(nodeProto(opType, inputs, [out], attrs, name));
    return out;
  }

  init(base: string, dims: number[], data: Float32Array | number[]): string {
    const name = this.unique(this.tensorNames, base);
    this.inits.push(tensor(name, dims, data));
    return name;
  }

  int64(base: string, values: number[]): string {
    const key = `i64:${values.join(',')}`;
    const hit = this.constants.get(key);
    if (hit) return hit;
    const name = this.unique(this.tensorNames, base);
    this.inits.push(int64Tensor(name, [values.length], values));
    this.constants.set(key, name);
    return name;
  }

  /** A shared scalar float constant. */
  scalar(v: number): string {
    const key = `f32:${Math.fround(v)}`;
    const hit = this.constants.get(key);
    if (hit) return hit;
    const name = this.unique(this.tensorNames, `const_${Math.fround(v)}`);
    this.inits.push(tensor(name, [], [v]));
    this.constants.set(key, name);
    return name;
  }

  value(id: number): Value {
    const v = this.values.get(id);
    if (!v) throw new InternalError(`node ${id} used before it was exported`);
    return v;
  }

  /** The value's tensor with its axes in `perm` order (a Transpose when they differ). */
  as(v: Value, perm: readonly number[], base: string): string {
    if (samePerm(v.perm, perm)) return v.name;
    // The same tensor may stand for several values under different labels (a permute).
    const key = `${v.name}|${v.perm.join(',')}|${perm.join(',')}`;
    const hit = this.transposed.get(key);
    if (hit) return hit;
    const t = [0, ...perm.map((a) => 1 + v.perm.indexOf(a))];
    const out = this.op('Transpose', [v.name], `${base}/transpose`, `${base}/transpose`, {
      perm: ints(t),
    });
    this.transposed.set(key, out);
    return out;
  }

  /** Input i of a node as NCHW (the node's input is an internal [H, W, C] image). */
  nchw(n: Node, i = 0): string {
    return this.as(this.value(n.inputs[i]!), NCHW, n.name);
  }

  weight(n: Node, slot: string): Float32Array | null {
    const use = n.weights.find((w) => w.name === slot);
    return use ? evalWeightExpr(use.value, this.params) : null;
  }

  need(n: Node, slot: string): Float32Array {
    const w = this.weight(n, slot);
    if (!w) throw new Error(`${n.layer.kind} '${n.name}' has no weight '${slot}'`);
    return w;
  }

  /** Applies a node's `activation` epilogue (or an activation layer's function): the one ONNX
   * node the activation declares, a customary form (swish, hard_swish, gelu), or else its
   * formula's operations (mish, ...). */
  activation(x: string, act: Activation, base: string): string {
    const o = (opType: string, inputs: string[], attrs: Record<string, AttrInput> = {}): string =>
      this.op(opType, inputs, `${base}/${opType.toLowerCase()}`, `${base}/${act.fn}`, attrs);
    const def = ACTIVATION_BY_NAME.get(act.fn);
    if (!def) throw new Error(`cannot export activation '${act.fn}' to ONNX`);
    const p = paramsOf(act);
    switch (act.fn) {
      case 'linear':
        return x;
      case 'swish':
        return o('Mul', [x, o('Sigmoid', [x])]);
      case 'hard_swish':
        // HardSwish arrived in opset 14; x * HardSigmoid(x) with alpha 1/6, beta 1/2 is its definition.
        return o('Mul', [x, o('HardSigmoid', [x], { alpha: float(1 / 6), beta: float(0.5) })]);
      case 'gelu': {
        // 0.5 * x * (1 + erf(x / sqrt(2))), the exact form.
        const e = o('Erf', [o('Mul', [x, this.scalar(Math.SQRT1_2)])]);
        return o('Mul', [o('Mul', [x, o('Add', [e, this.scalar(1)])]), this.scalar(0.5)]);
      }
    }
    const one = def.onnx?.(p);
    if (one)
      return o(
        one.op,
        [x, ...(one.inputs ?? []).map((v) => this.scalar(v))],
        Object.fromEntries(Object.entries(one.attrs ?? {}).map(([k, v]) => [k, float(v)])),
      );
    const s = (v: number): string => this.scalar(v);
    const arith: Arith<string> = {
      c: s,
      add: (a, b) => o('Add', [a, b]),
      sub: (a, b) => o('Sub', [a, b]),
      mul: (a, b) => o('Mul', [a, b]),
      div: (a, b) => o('Div', [a, b]),
      max: (a, b) => o('Max', [a, b]),
      min: (a, b) => o('Min', [a, b]),
      neg: (a) => o('Neg', [a]),
      abs: (a) => o('Abs', [a]),
      exp: (a) => o('Exp', [a]),
      expm1: (a) => o('Sub', [o('Exp', [a]), s(1)]),
      log1p: (a) => o('Log', [o('Add', [a, s(1)])]),
      tanh: (a) => o('Tanh', [a]),
      erf: (a) => o('Erf', [a]),
      ifPositive: (a, then, otherwise) => o('Where', [o('Greater', [a, s(0)]), then, otherwise]),
    };
    return def.formula(x, arith, p);
  }

  epilogue(n: Node, x: string): string {
    return this.activation(x, activationOf(n.attrs), n.name);
  }

  // -------------------------------------------------------------------------------- layers

  /** A node's ONNX nodes: its kind's entry in ONNX_EXPORTS, else its activation. */
  private emit(n: Node): Value {
    const exporter = ONNX_EXPORTS[n.layer.kind];
    if (exporter) return exporter(this, n);
    if (n.layer.traits.activation !== undefined) {
      const v = this.value(n.inputs[0]!);
      return { name: this.activation(v.name, activationOf(n.attrs), n.name), perm: v.perm };
    }
    throw new Error(`cannot export ${n.layer.kind} '${n.name}' to ONNX`);
  }

  pool(n: Node): Value {
    const max = n.layer.kind === 'max_pooling2d';
    const [t, b, l, r] = n.attrs['pads'] as readonly number[];
    const attrs: Record<string, AttrInput> = {
      kernel_shape: ints(pairOf(n, 'pool_size')),
      strides: ints(pairOf(n, 'stride')),
      pads: ints([t!, l!, b!, r!]),
    };
    // Padded cells are left out of the max and of the count, as TensorFlow's `same`.
    if (!max) attrs['count_include_pad'] = int(0);
    const y = this.op(max ? 'MaxPool' : 'AveragePool', [this.nchw(n)], n.name, n.name, attrs);
    return image(y);
  }

  globalPool(n: Node): Value {
    const op = n.layer.kind === 'global_max_pooling2d' ? 'GlobalMaxPool' : 'GlobalAveragePool';
    const y = this.op(op, [this.nchw(n)], n.name, n.name);
    if (n.shape.length === 3) return image(y); // keepdims: [1, 1, C]
    return {
      name: this.op('Flatten', [y], `${n.name}/flatten`, `${n.name}/flatten`, {
        axis: int(1),
      }),
      perm: [0],
    };
  }

  /** An elementwise merge; ONNX broadcasts multidirectionally as NumPy does. */
  merge(n: Node): Value {
    const kind = n.layer.kind;
    const rank = n.shape.length;
    let perm: readonly number[];
    let xs: string[];
    if (n.inputs.every((i) => this.graph.nodes[i]!.shape.length === rank)) {
      // Equal ranks: every input in the first one's axis order (NCHW for images).
      perm = this.value(n.inputs[0]!).perm;
      xs = n.inputs.map((i) => this.as(this.value(i), perm, n.name));
    } else {
      // Lower ranks: each input in the user's axis order, with leading 1s (NumPy's alignment).
      perm = this.userPerm(n);
      xs = n.inputs.map((id) => {
        const s = this.graph.nodes[id]!.shape;
        const x = this.as(this.value(id), this.userPermOf(s.length), n.name);
        if (s.length === rank) return x;
        const user = this.userPermOf(s.length).map((a) => s[a]!);
        const shape = this.int64(`${n.name}/shape`, [
          -1,
          ...Array(rank - s.length).fill(1),
          ...user,
        ]);
        return this.op('Reshape', [x, shape], `${n.name}/aligned`, `${n.name}/aligned`);
      });
    }
    const binary = (op: string): string => {
      let y = xs[0]!;
      for (const x of xs.slice(1)) y = this.op(op, [y, x], n.name, n.name);
      return y;
    };
    const variadic: Record<string, string> = {
      add: 'Sum',
      average: 'Mean',
      maximum: 'Max',
      minimum: 'Min',
    };
    const op = variadic[kind];
    const y = op ? this.op(op, xs, n.name, n.name) : binary(kind === 'subtract' ? 'Sub' : 'Mul');
    return { name: y, perm };
  }

  /** (x - mean) / sqrt(var + eps) over ONNX `axes` of x (population variance), then gamma and
   * beta of shape `pshape` (opset 13 has no LayerNormalization or GroupNormalization). */
  private normalize(n: Node, x: string, axes: number[], pshape: number[]): string {
    const o = (op: string, inputs: string[], attrs: Record<string, AttrInput> = {}): string =>
      this.op(op, inputs, `${n.name}/${op.toLowerCase()}`, `${n.name}/${op.toLowerCase()}`, attrs);
    const reduce = (v: string): string =>
      o('ReduceMean', [v], { axes: ints(axes), keepdims: int(1) });
    const d = o('Sub', [x, reduce(x)]);
    const variance = reduce(o('Mul', [d, d]));
    let y = o('Div', [d, o('Sqrt', [o('Add', [variance, this.scalar(numOf(n, 'epsilon'))])])]);
    const gamma = this.weight(n, 'gamma');
    if (gamma) y = o('Mul', [y, this.init(`${n.name}/gamma`, pshape, gamma)]);
    const beta = this.weight(n, 'beta');
    if (beta) y = o('Add', [y, this.init(`${n.name}/beta`, pshape, beta)]);
    return y;
  }

  layerNorm(n: Node): Value {
    const mask = n.attrs['norm_mask'] as readonly boolean[];
    // x in the user's axis order (NCHW for channels_first images): gamma's order.
    const perm = this.userPerm(n);
    const x = this.as(this.value(n.inputs[0]!), perm, n.name);
    const axes = perm.flatMap((a, j) => (mask[a] ? [j + 1] : []));
    const pshape = perm.map((a) => (mask[a] ? n.shape[a]! : 1));
    return { name: this.normalize(n, x, axes, pshape), perm };
  }

  /** The axis order the user sees: NCHW for rank-3 tensors in channels_first. */
  userPerm(n: Node): number[] {
    return this.userPermOf(n.shape.length);
  }

  userPermOf(rank: number): number[] {
    return this.graph.dataFormat === 'channels_first' && rank === 3
      ? [...NCHW]
      : identityPerm(rank);
  }

  groupNorm(n: Node): Value {
    const axis = numOf(n, 'channel_axis');
    const rank = n.shape.length;
    const C = n.shape[axis]!;
    const G = (n.attrs['norm_view'] as readonly number[])[axis]!;
    // Channels to ONNX axis 1, then [N, G, rest]: each group's elements are contiguous.
    const perm = [axis, ...identityPerm(rank).filter((a) => a !== axis)];
    const x = this.as(this.value(n.inputs[0]!), perm, n.name);
    const grouped = this.op(
      'Reshape',
      [x, this.int64(`${n.name}/groups`, [0, G, -1])],
      `${n.name}/grouped`,
      `${n.name}/grouped`,
    );
    const o = (op: string, inputs: string[], attrs: Record<string, AttrInput> = {}): string =>
      this.op(op, inputs, `${n.name}/${op.toLowerCase()}`, `${n.name}/${op.toLowerCase()}`, attrs);
    const reduce = (v: string): string =>
      o('ReduceMean', [v], { axes: ints([2]), keepdims: int(1) });
    const d = o('Sub', [grouped, reduce(grouped)]);
    const variance = reduce(o('Mul', [d, d]));
    const normed = o('Div', [
      d,
      o('Sqrt', [o('Add', [variance, this.scalar(numOf(n, 'epsilon'))])]),
    ]);
    const rest = perm.slice(1).map((a) => n.shape[a]!);
    let y = o('Reshape', [normed, this.int64(`${n.name}/shape`, [0, C, ...rest])]);
    const pshape = [C, ...rest.map(() => 1)];
    const gamma = this.weight(n, 'gamma');
    if (gamma) y = o('Mul', [y, this.init(`${n.name}/gamma`, pshape, gamma)]);
    const beta = this.weight(n, 'beta');
    if (beta) y = o('Add', [y, this.init(`${n.name}/beta`, pshape, beta)]);
    return { name: y, perm };
  }

  inRank(n: Node): number {
    return this.graph.nodes[n.inputs[0]!]!.shape.length;
  }

  inShape(n: Node): Shape {
    return this.graph.nodes[n.inputs[0]!]!.shape;
  }

  /** Rows [starts[0], ends[0]) and columns [starts[1], ends[1]) of an NCHW tensor. */
  slice(x: string, base: string, starts: number[], ends: number[]): string {
    return this.op(
      'Slice',
      [
        x,
        this.int64(`${base}/starts`, starts),
        this.int64(`${base}/ends`, ends),
        this.int64(`${base}/axes`, [2, 3]),
      ],
      `${base}/slice`,
      `${base}/slice`,
    );
  }

  /** SpaceToDepth is dcr; crd is Reshape [N, C, h, b, w, b], Transpose, Reshape. */
  spaceToDepth(n: Node): string {
    const b = numOf(n, 'block_size');
    const x = this.nchw(n);
    if (n.attrs['mode'] === 'dcr')
      return this.op('SpaceToDepth', [x], n.name, n.name, { blocksize: int(b) });
    const [h, w, C] = n.shape as [number, number, number];
    const c = C / (b * b);
    const split = this.op(
      'Reshape',
      [x, this.int64(`${n.name}/blocks`, [0, c, h, b, w, b])],
      `${n.name}/blocks`,
      `${n.name}/blocks`,
    );
    const moved = this.op('Transpose', [split], `${n.name}/crd`, `${n.name}/crd`, {
      perm: ints([0, 1, 3, 5, 2, 4]),
    });
    return this.op('Reshape', [moved, this.int64(`${n.name}/shape`, [0, C, h, w])], n.name, n.name);
  }

  /** Pad for constant, edge and reflect within the input; NumPy's other cases (symmetric,
   * reflections wider than the input) gather rows, then columns, by index tables. */
  padding(n: Node): string {
    const [[t, b], [l, r]] = n.attrs['padding'] as readonly (readonly number[])[] as [
      [number, number],
      [number, number],
    ];
    const mode = n.attrs['mode'] as string;
    const [H, W] = this.inShape(n) as [number, number, number];
    const x = this.nchw(n);
    const pads = (): string => this.int64(`${n.name}/pads`, [0, 0, t, l, 0, 0, b, r]);
    if (mode === 'constant')
      return this.op('Pad', [x, pads(), this.scalar(numOf(n, 'constant_value'))], n.name, n.name, {
        mode: 'constant',
      });
    if (mode === 'edge' || (mode === 'reflect' && Math.max(t, b) < H && Math.max(l, r) < W))
      return this.op('Pad', [x, pads()], n.name, n.name, { mode });
    const table = (size: number, before: number, after: number): number[] =>
      Array.from({ length: size + before + after }, (_, o) => padSource(o - before, size, mode));
    const rows = this.op(
      'Gather',
      [x, this.int64(`${n.name}/rows`, table(H, t, b))],
      `${n.name}/rows`,
      `${n.name}/rows`,
      { axis: int(2) },
    );
    return this.op(
      'Gather',
      [rows, this.int64(`${n.name}/columns`, table(W, l, r))],
      n.name,
      n.name,
      {
        axis: int(3),
      },
    );
  }

  /** Resize to the output's sizes (the batch from the input's shape), after Keras's crop. */
  resizing(n: Node): string {
    const [H, W] = this.inShape(n) as [number, number, number];
    const [OH, OW] = n.shape as [number, number, number];
    const win = resizeWindow(H, W, OH, OW, n.attrs['crop_to_aspect_ratio'] === true);
    let x = this.nchw(n);
    if (win.h !== H || win.w !== W)
      x = this.slice(x, n.name, [win.top, win.left], [win.top + win.h, win.left + win.w]);
    const shape = this.op('Shape', [x], `${n.name}/shape`, `${n.name}/shape`);
    const nc = this.op(
      'Slice',
      [shape, this.int64(`${n.name}/zero`, [0]), this.int64(`${n.name}/two`, [2])],
      `${n.name}/nc`,
      `${n.name}/nc`,
    );
    const sizes = this.op(
      'Concat',
      [nc, this.int64(`${n.name}/size`, [OH, OW])],
      `${n.name}/sizes`,
      `${n.name}/sizes`,
      { axis: int(0) },
    );
    const coords = n.attrs['coordinates'] as string;
    const nearest = n.attrs['interpolation'] === 'nearest';
    // tf.image.resize's nearest sample: floor((o + 0.5) * in / out) for half_pixel, which is
    // ONNX's half_pixel coordinate rounded with ties up; align_corners rounds (ties up, as
    // roundf on non-negative values); asymmetric floors.
    const attrs: Record<string, AttrInput> = {
      mode: nearest ? 'nearest' : 'linear',
      coordinate_transformation_mode: coords,
    };
    if (nearest) attrs['nearest_mode'] = coords === 'asymmetric' ? 'floor' : 'round_prefer_ceil';
    return this.op('Resize', [x, '', '', sizes], n.name, n.name, attrs);
  }

  conv2d(n: Node): string {
    const [KH, KW] = pairOf(n, 'kernel_size');
    const C = this.inShape(n)[2]!;
    const F = n.shape[2]!;
    const G = numOf(n, 'groups');
    const CG = C / G;
    const k = this.need(n, 'kernel');
    // HWIO [kh, kw, in/groups, filters] -> OIHW [filters, in/groups, kh, kw].
    const w = new Float32Array(k.length);
    for (let ky = 0; ky < KH; ky++)
      for (let kx = 0; kx < KW; kx++)
        for (let ci = 0; ci < CG; ci++)
          for (let f = 0; f < F; f++)
            w[((f * CG + ci) * KH + ky) * KW + kx] = k[((ky * KW + kx) * CG + ci) * F + f]!;
    const inputs = [this.nchw(n), this.init(`${n.name}/kernel`, [F, CG, KH, KW], w)];
    const b = this.weight(n, 'bias');
    if (b) inputs.push(this.init(`${n.name}/bias`, [F], b));
    const [t, bo, l, r] = n.attrs['pads'] as readonly number[];
    const y = this.op('Conv', inputs, n.name, n.name, {
      kernel_shape: ints([KH, KW]),
      strides: ints(pairOf(n, 'strides')),
      dilations: ints(pairOf(n, 'dilation_rate')),
      pads: ints([t!, l!, bo!, r!]),
      group: int(G),
    });
    // conv2d_add (a folded graph's residual sum): Conv, Add of the second input, activation.
    const sum =
      n.inputs.length > 1 ? this.op('Add', [y, this.nchw(n, 1)], `${n.name}/add`, n.name) : y;
    return this.epilogue(n, sum);
  }

  /** A depthwise stage as a grouped Conv: weight [C*dm, 1, kh, kw], output channel c*dm+m. */
  private depthwiseConv(n: Node, base: string, k: Float32Array, bias: Float32Array | null): string {
    const [KH, KW] = pairOf(n, 'kernel_size');
    const C = this.inShape(n)[2]!;
    const DM = numOf(n, 'depth_multiplier');
    const w = new Float32Array(k.length);
    for (let ky = 0; ky < KH; ky++)
      for (let kx = 0; kx < KW; kx++)
        for (let c = 0; c < C; c++)
          for (let m = 0; m < DM; m++)
            w[((c * DM + m) * KH + ky) * KW + kx] = k[((ky * KW + kx) * C + c) * DM + m]!;
    const inputs = [this.nchw(n), this.init(`${base}/depthwise_kernel`, [C * DM, 1, KH, KW], w)];
    if (bias) inputs.push(this.init(`${base}/bias`, [C * DM], bias));
    const [t, b, l, r] = n.attrs['pads'] as readonly number[];
    return this.op('Conv', inputs, base, base, {
      kernel_shape: ints([KH, KW]),
      strides: ints(pairOf(n, 'strides')),
      dilations: ints(pairOf(n, 'dilation_rate')),
      pads: ints([t!, l!, b!, r!]),
      group: int(C),
    });
  }

  depthwise(n: Node): string {
    const y = this.depthwiseConv(
      n,
      n.name,
      this.need(n, 'depthwise_kernel'),
      this.weight(n, 'bias'),
    );
    return this.epilogue(n, y);
  }

  separable(n: Node): string {
    const dw = this.depthwiseConv(
      n,
      `${n.name}/depthwise`,
      this.need(n, 'depthwise_kernel'),
      this.weight(n, 'depthwise_bias'),
    );
    const F = n.shape[2]!;
    const CM = this.inShape(n)[2]! * numOf(n, 'depth_multiplier');
    const pk = this.need(n, 'pointwise_kernel');
    // [1, 1, C*dm, filters] -> [filters, C*dm, 1, 1].
    const w = new Float32Array(pk.length);
    for (let i = 0; i < CM; i++) for (let f = 0; f < F; f++) w[f * CM + i] = pk[i * F + f]!;
    const inputs = [dw, this.init(`${n.name}/pointwise_kernel`, [F, CM, 1, 1], w)];
    const b = this.weight(n, 'bias');
    if (b) inputs.push(this.init(`${n.name}/bias`, [F], b));
    const y = this.op('Conv', inputs, `${n.name}/pointwise`, `${n.name}/pointwise`, {
      kernel_shape: ints([1, 1]),
    });
    return this.epilogue(n, y);
  }

  convTranspose(n: Node): string {
    const [KH, KW] = pairOf(n, 'kernel_size');
    const [SH, SW] = pairOf(n, 'strides');
    const [DH, DW] = pairOf(n, 'dilation_rate');
    const [IH, IW, C] = this.inShape(n) as [number, number, number];
    const [OH, OW, F] = n.shape as [number, number, number];
    const [PT, PL] = n.attrs['pads'] as readonly number[];
    const k = this.need(n, 'kernel');
    // [kh, kw, filters, in] -> ONNX ConvTranspose [in, filters, kh, kw].
    const w = new Float32Array(k.length);
    for (let ky = 0; ky < KH; ky++)
      for (let kx = 0; kx < KW; kx++)
        for (let f = 0; f < F; f++)
          for (let c = 0; c < C; c++)
            w[((c * F + f) * KH + ky) * KW + kx] = k[((ky * KW + kx) * F + f) * C + c]!;
    const inputs = [this.nchw(n), this.init(`${n.name}/kernel`, [C, F, KH, KW], w)];
    const b = this.weight(n, 'bias');
    if (b) inputs.push(this.init(`${n.name}/bias`, [F], b));
    // ONNX: out = s*(i-1) + output_padding + (k-1)*d+1 - pad_begin - pad_end, with input x and
    // tap t landing on x*s + t*d - pad_begin: TensorFlow's placement with pad_begin = pad_before.
    // The end pad (or, when the size grows past the full extent, output_padding) fixes the size.
    const axis = (i: number, o: number, kk: number, s: number, d: number, before: number) => {
      const end = s * (i - 1) + (kk - 1) * d + 1 - before - o;
      return end >= 0 ? { end, extra: 0 } : { end: 0, extra: -end };
    };
    const ay = axis(IH, OH, KH, SH, DH, PT!);
    const ax = axis(IW, OW, KW, SW, DW, PL!);
    const y = this.op('ConvTranspose', inputs, n.name, n.name, {
      kernel_shape: ints([KH, KW]),
      strides: ints([SH, SW]),
      dilations: ints([DH, DW]),
      pads: ints([PT!, PL!, ay.end, ax.end]),
      output_padding: ints([ay.extra, ax.extra]),
    });
    return this.epilogue(n, y);
  }

  dense(n: Node): Value {
    const inShape = this.inShape(n);
    const I = inShape[inShape.length - 1]!;
    const U = n.shape[n.shape.length - 1]!;
    const x = this.as(this.value(n.inputs[0]!), identityPerm(inShape.length), n.name);
    const k = this.init(`${n.name}/kernel`, [I, U], this.need(n, 'kernel'));
    const bias = this.weight(n, 'bias');
    const b = bias ? this.init(`${n.name}/bias`, [U], bias) : null;
    let y: string;
    if (inShape.length === 1 && b) y = this.op('Gemm', [x, k, b], n.name, n.name);
    else {
      y = this.op('MatMul', [x, k], n.name, n.name);
      if (b) y = this.op('Add', [y, b], `${n.name}/bias_add`, `${n.name}/bias_add`);
    }
    return { name: this.epilogue(n, y), perm: identityPerm(n.shape.length) };
  }

  batchNorm(n: Node): Value {
    const axis = numOf(n, 'channel_axis');
    const rank = n.shape.length;
    const C = n.shape[axis]!;
    // The channel axis goes to ONNX axis 1, the others keep their order (NCHW for images).
    const perm = [axis, ...identityPerm(rank).filter((a) => a !== axis)];
    const x = this.as(this.value(n.inputs[0]!), perm, n.name);
    const slot = (s: string, dflt: number): string =>
      this.init(`${n.name}/${s}`, [C], this.weight(n, s) ?? new Float32Array(C).fill(dflt));
    const inputs = [
      x,
      slot('gamma', 1),
      slot('beta', 0),
      this.init(`${n.name}/moving_mean`, [C], this.need(n, 'moving_mean')),
      this.init(`${n.name}/moving_variance`, [C], this.need(n, 'moving_variance')),
    ];
    const y = this.op('BatchNormalization', inputs, n.name, n.name, {
      epsilon: float(numOf(n, 'epsilon')),
    });
    return { name: y, perm };
  }
}

/** An image value: NCHW in ONNX. */
const image = (name: string): Value => ({ name, perm: NCHW });

type LayerExport = (e: Exporter, n: Node) => Value;

/**
 * Each layer kind's ONNX form, in one place: the nodes it becomes (through the exporter's
 * helpers) and the axis order its result is left in. Activation layers and epilogues export
 * from their formula in ACTIVATIONS (src/layers/activations.ts).
 */
const ONNX_EXPORTS: Readonly<Record<string, LayerExport>> = {
  // The graph input carries the module's key for it (`name:` in the source, else the node's).
  input: (e, n) => ({
    name: e.graph.inputs.find((p) => p.node === n.id)!.name,
    perm: identityPerm(n.shape.length),
  }),
  transpose: (e, n) => {
    // out axis j is input axis p[j]: a relabeling, no data moves.
    const p = n.attrs['perm'] as readonly number[];
    const v = e.value(n.inputs[0]!);
    return { name: v.name, perm: v.perm.map((a) => p.indexOf(a)) };
  },
  dropout: (e, n) => e.value(n.inputs[0]!),
  linear: (e, n) => e.value(n.inputs[0]!),
  conv2d: (e, n) => image(e.conv2d(n)),
  conv2d_add: (e, n) => image(e.conv2d(n)),
  depthwise_conv2d: (e, n) => image(e.depthwise(n)),
  separable_conv2d: (e, n) => image(e.separable(n)),
  conv2d_transpose: (e, n) => image(e.convTranspose(n)),
  dense: (e, n) => e.dense(n),
  batch_normalization: (e, n) => e.batchNorm(n),
  max_pooling2d: (e, n) => e.pool(n),
  average_pooling2d: (e, n) => e.pool(n),
  global_average_pooling2d: (e, n) => e.globalPool(n),
  global_max_pooling2d: (e, n) => e.globalPool(n),
  zero_padding2d: (e, n) => {
    const a = n.attrs['padding'] as readonly (readonly number[])[];
    const [t, b] = [a[0]![0]!, a[0]![1]!];
    const [l, r] = [a[1]![0]!, a[1]![1]!];
    const pads = e.int64(`${n.name}/pads`, [0, 0, t, l, 0, 0, b, r]);
    return image(e.op('Pad', [e.nchw(n), pads], n.name, n.name, { mode: 'constant' }));
  },
  up_sampling2d: (e, n) => {
    const [sh, sw] = pairOf(n, 'size');
    const scales = e.init(`${n.name}/scales`, [4], [1, 1, sh, sw]);
    const bilinear = n.attrs['interpolation'] === 'bilinear';
    const attrs: Record<string, AttrInput> = bilinear
      ? { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }
      : {
          mode: 'nearest',
          coordinate_transformation_mode: 'asymmetric',
          nearest_mode: 'floor',
        };
    return image(e.op('Resize', [e.nchw(n), '', scales], n.name, n.name, attrs));
  },
  depth_to_space: (e, n) =>
    image(
      e.op('DepthToSpace', [e.nchw(n)], n.name, n.name, {
        blocksize: int(numOf(n, 'block_size')),
        mode: String(n.attrs['mode']).toUpperCase(),
      }),
    ),
  space_to_depth: (e, n) => image(e.spaceToDepth(n)),
  permute: (e, n) => {
    // out axis j is input axis dims[j] - 1: a relabeling, as transpose.
    const p = (n.attrs['dims'] as readonly number[]).map((d) => d - 1);
    const v = e.value(n.inputs[0]!);
    return { name: v.name, perm: v.perm.map((a) => p.indexOf(a)) };
  },
  cropping2d: (e, n) => {
    const [[t, b], [l, r]] = n.attrs['cropping'] as readonly (readonly number[])[] as [
      [number, number],
      [number, number],
    ];
    const [H, W] = e.inShape(n) as [number, number, number];
    return image(e.slice(e.nchw(n), n.name, [t, l], [H - b, W - r]));
  },
  padding2d: (e, n) => image(e.padding(n)),
  resizing: (e, n) => image(e.resizing(n)),
  flatten: (e, n) => {
    const x = e.as(e.value(n.inputs[0]!), identityPerm(e.inRank(n)), n.name);
    return { name: e.op('Flatten', [x], n.name, n.name, { axis: int(1) }), perm: [0] };
  },
  reshape: (e, n) => {
    const x = e.as(e.value(n.inputs[0]!), identityPerm(e.inRank(n)), n.name);
    const shape = e.int64(`${n.name}/shape`, [-1, ...n.shape]);
    return {
      name: e.op('Reshape', [x, shape], n.name, n.name),
      perm: identityPerm(n.shape.length),
    };
  },
  add: (e, n) => e.merge(n),
  multiply: (e, n) => e.merge(n),
  subtract: (e, n) => e.merge(n),
  average: (e, n) => e.merge(n),
  maximum: (e, n) => e.merge(n),
  minimum: (e, n) => e.merge(n),
  prelu: (e, n) => {
    // x in the user's axis order (NCHW for channels_first images), so alpha's layout fits.
    const cf = n.attrs['data_format'] === 'channels_first' && n.shape.length === 3;
    const perm = cf ? [...NCHW] : identityPerm(n.shape.length);
    const x = e.as(e.value(n.inputs[0]!), perm, n.name);
    const a = n.weights.find((w) => w.name === 'alpha')!;
    const slope = e.init(`${n.name}/alpha`, [...a.shape], e.need(n, 'alpha'));
    return { name: e.op('PRelu', [x, slope], n.name, n.name), perm };
  },
  rescaling: (e, n) => {
    const v = e.value(n.inputs[0]!);
    const axis = numOf(n, 'channel_axis');
    // A per-channel list as a constant along the channel axis (x's axes in its order).
    const constant = (name: string): string => {
      const a = n.attrs[name] as number | readonly number[];
      if (!Array.isArray(a)) return e.scalar(a as number);
      const list = a as readonly number[];
      const dims = v.perm.map((p) => (p === axis ? list.length : 1));
      return e.init(`${n.name}/${name}`, dims, [...list]);
    };
    const y = e.op('Mul', [v.name, constant('scale')], n.name, n.name);
    return { name: e.op('Add', [y, constant('offset')], n.name, n.name), perm: v.perm };
  },
  layer_normalization: (e, n) => e.layerNorm(n),
  group_normalization: (e, n) => e.groupNorm(n),
  concatenate: (e, n) => {
    const first = e.value(n.inputs[0]!);
    const xs = n.inputs.map((i) => e.as(e.value(i), first.perm, n.name));
    const axis = 1 + first.perm.indexOf(numOf(n, 'concat_axis'));
    return {
      name: e.op('Concat', xs, n.name, n.name, { axis: int(axis) }),
      perm: first.perm,
    };
  },
  softmax: (e, n) => {
    const v = e.value(n.inputs[0]!);
    const axis = 1 + v.perm.indexOf(numOf(n, 'softmax_axis'));
    return {
      name: e.op('Softmax', [v.name], n.name, n.name, { axis: int(axis) }),
      perm: v.perm,
    };
  },
};
