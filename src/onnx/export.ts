// Exports a netc graph as an ONNX model (opset 13, NCHW inside, netc's user layouts at the edges).
import { InternalError } from '../diag/diagnostics.js';
import {
  ACTIVATION_BY_NAME,
  activationOf,
  paramsOf,
  type Activation,
  type Arith,
} from '../layers/activations.js';
import type { Graph, Node, Shape } from '../ir/graph.js';
import { identityPerm, NCHW, type OnnxBuilder, type OnnxValue } from '../ir/onnx.js';
import { evalWeightExpr } from '../runtime/evaluate.js';
import {
  encodeModel,
  float,
  graph as graphProto,
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

/** A graph value as an ONNX tensor (its axes in the order `perm` gives: src/ir/op.ts). */
type Value = OnnxValue;

const samePerm = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

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

/** Builds the ONNX graph: each node's op declares its nodes (`LayerDef.onnx`, in src/layers),
 * through the helpers of this builder. */
class Exporter implements OnnxBuilder {
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

  get dataFormat(): string | undefined {
    return this.graph.dataFormat;
  }

  shapeOf(id: number): Shape {
    return this.graph.nodes[id]!.shape;
  }

  inputName(n: Node): string {
    return this.graph.inputs.find((p) => p.node === n.id)!.name;
  }

  // -------------------------------------------------------------------------------- layers

  /** A node's ONNX nodes: its op's mapping (LayerDef.onnx), else its input (an identity:
   * dropout, linear) or its activation. */
  private emit(n: Node): Value {
    const mapping = n.layer.onnx;
    if (mapping) return mapping.export(n, this);
    if (n.layer.traits.identity) return this.value(n.inputs[0]!);
    if (n.layer.traits.activation !== undefined) {
      const v = this.value(n.inputs[0]!);
      return { name: this.activation(v.name, activationOf(n.attrs), n.name), perm: v.perm };
    }
    throw new Error(`cannot export ${n.layer.kind} '${n.name}' to ONNX`);
  }
}
