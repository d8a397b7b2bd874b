// Activations: the elementwise functions, each defined once as a formula over an abstract
// arithmetic (`Arith`). The float64 reference evaluates the formula on numbers; the kernels
// evaluate it on kernel-IR expressions (src/lower/kernels/epilogue.ts), in f32 or in v128 when
// every operation it uses has a vector form. Adding an activation is one entry in ACTIVATIONS:
// its layer (`x -> softsign`), its `activation:` epilogue, its kernels on both targets and its
// ONNX mapping all follow from it.
import type { Attrs, AttrValue } from '../ir/graph.js';
import { defineLayer, type AttrSpec, type LayerDef } from '../ir/op.js';
import { erf } from '../runtime/erf.js';

/**
 * The arithmetic an activation's formula is written in. `max(x, c)` and `min(x, c)` keep a NaN
 * `x` (wasm's pmax/pmin in v128): write the input first. `ifPositive` is a per-value choice,
 * which has no v128 form; unary functions other than `exp` and `tanh` are computed in f32 per
 * lane.
 */
export interface Arith<T> {
  c(value: number): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  max(x: T, b: T): T;
  min(x: T, b: T): T;
  neg(a: T): T;
  abs(a: T): T;
  exp(a: T): T;
  expm1(a: T): T;
  log1p(a: T): T;
  tanh(a: T): T;
  erf(a: T): T;
  /** `a > 0 ? then : otherwise`. */
  ifPositive(a: T, then: T, otherwise: T): T;
}

/** An activation's parameters, by attribute name; an absent (`none`) one is missing. */
export type Params = Readonly<Record<string, number>>;

/** One ONNX node computing the activation on its input: the op type and its attributes. */
export interface OnnxActivation {
  readonly op: string;
  /** ONNX attribute name -> value (floats). */
  readonly attrs?: Readonly<Record<string, number>>;
  /** Constant inputs after x (Clip's min and max). */
  readonly inputs?: readonly number[];
}

export interface ActivationDef {
  readonly name: string;
  readonly doc: string;
  /** Its attributes (Keras argument names and defaults). */
  readonly attrs: readonly AttrSpec[];
  /** The function, once for the reference and the kernels. `p` holds the attribute values. */
  readonly formula: <T>(x: T, m: Arith<T>, p: Params) => T;
  /** The same function under a simpler name, when the parameters make it one (`relu(max_value:
   * 6)` is `relu6`), so that equal functions share kernels and names. */
  readonly canonical?: (p: Params) => Activation | null;
  /** The one ONNX node that computes it with these parameters, if there is one (else the
   * exporter writes the formula's operations). */
  readonly onnx?: (p: Params) => OnnxActivation | null;
  /** The arguments of its layer's harness samples (test/layers.test.ts), when it has
   * parameters worth covering; default: the layer without arguments. */
  readonly samples?: readonly string[];
}

const float = (name: string, dflt: number | null | undefined, min?: number): AttrSpec => ({
  name,
  kind: min === undefined ? { type: 'float' } : { type: 'float', min },
  default: dflt,
});

const sigmoid = <T>(x: T, m: Arith<T>): T => m.div(m.c(1), m.add(m.c(1), m.exp(m.neg(x))));
const relu6 = <T>(x: T, m: Arith<T>): T => m.min(m.max(x, m.c(0)), m.c(6));
const hardSigmoid = <T>(x: T, m: Arith<T>): T => m.div(relu6(m.add(x, m.c(3)), m), m.c(6));
/** log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, exact for large |x|. */
const softplus = <T>(x: T, m: Arith<T>): T =>
  m.add(m.max(x, m.c(0)), m.log1p(m.exp(m.neg(m.abs(x)))));
/** Keras's SELU constants. */
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

export const ACTIVATIONS: readonly ActivationDef[] = [
  { name: 'linear', doc: 'identity', attrs: [], formula: (x) => x },
  {
    name: 'relu',
    doc: "max(x, 0); Keras's ReLU: min(x, max_value) above threshold, negative_slope * (x - threshold) at or below",
    attrs: [float('max_value', null, 0), float('negative_slope', 0, 0), float('threshold', 0)],
    formula: (x, m, p) => {
      const top = p['max_value'];
      const slope = p['negative_slope'] ?? 0;
      const t = p['threshold'] ?? 0;
      const cap = (v: typeof x): typeof x => (top === undefined ? v : m.min(v, m.c(top)));
      // At threshold 0 with a slope up to 1, x > 0 ? x : s * x is max(x, s * x).
      if (t === 0 && slope === 0) return cap(m.max(x, m.c(0)));
      if (t === 0 && slope <= 1) return cap(m.max(x, m.mul(x, m.c(slope))));
      const below = m.mul(m.sub(x, m.c(t)), m.c(slope));
      return m.ifPositive(m.sub(x, m.c(t)), cap(x), below);
    },
    canonical: (p) => {
      const plain = (p['negative_slope'] ?? 0) === 0 && (p['threshold'] ?? 0) === 0;
      if (plain && p['max_value'] === undefined) return { fn: 'relu' };
      if (plain && p['max_value'] === 6) return { fn: 'relu6' };
      return null;
    },
    onnx: (p) => (Object.keys(p).length === 0 ? { op: 'Relu' } : null),
    samples: [
      '',
      'max_value: 2.5',
      'negative_slope: 0.1',
      'threshold: 0.5',
      '4, 0.2, 1',
      'negative_slope: 1.5',
    ],
  },
  {
    name: 'relu6',
    doc: 'min(max(x, 0), 6)',
    attrs: [],
    formula: relu6,
    onnx: () => ({ op: 'Clip', inputs: [0, 6] }),
  },
  {
    name: 'leaky_relu',
    doc: 'x, or negative_slope * x below zero',
    attrs: [float('negative_slope', 0.3, 0)],
    // x >= 0 ? x : a * x is max(x, a * x) for a <= 1 and min(x, a * x) for a > 1.
    formula: (x, m, p) => {
      const a = p['negative_slope']!;
      return a <= 1 ? m.max(x, m.mul(x, m.c(a))) : m.min(x, m.mul(x, m.c(a)));
    },
    onnx: (p) => ({ op: 'LeakyRelu', attrs: { alpha: p['negative_slope']! } }),
    samples: ['', 'negative_slope: 2'],
  },
  {
    name: 'elu',
    doc: 'x, or alpha * (exp(x) - 1) below zero',
    attrs: [float('alpha', 1)],
    formula: (x, m, p) => m.ifPositive(x, x, m.mul(m.c(p['alpha']!), m.expm1(x))),
    onnx: (p) => ({ op: 'Elu', attrs: { alpha: p['alpha']! } }),
    samples: ['', 'alpha: 0.5'],
  },
  {
    name: 'selu',
    doc: "scale * elu(x, alpha) with Keras's constants (alpha 1.67326, scale 1.05070)",
    attrs: [],
    formula: (x, m) =>
      m.ifPositive(x, m.mul(x, m.c(SELU_SCALE)), m.mul(m.c(SELU_ALPHA * SELU_SCALE), m.expm1(x))),
    onnx: () => ({ op: 'Selu', attrs: { alpha: SELU_ALPHA, gamma: SELU_SCALE } }),
  },
  {
    name: 'sigmoid',
    doc: '1 / (1 + exp(-x))',
    attrs: [],
    formula: sigmoid,
    onnx: () => ({ op: 'Sigmoid' }),
  },
  {
    name: 'hard_sigmoid',
    doc: 'relu6(x + 3) / 6 (Keras 3)',
    attrs: [],
    formula: hardSigmoid,
    onnx: () => ({ op: 'HardSigmoid', attrs: { alpha: 1 / 6, beta: 0.5 } }),
  },
  {
    name: 'tanh',
    doc: 'tanh(x)',
    attrs: [],
    formula: (x, m) => m.tanh(x),
    onnx: () => ({ op: 'Tanh' }),
  },
  { name: 'swish', doc: 'x * sigmoid(x)', attrs: [], formula: (x, m) => m.mul(x, sigmoid(x, m)) },
  {
    name: 'hard_swish',
    doc: 'x * relu6(x + 3) / 6',
    attrs: [],
    formula: (x, m) => m.mul(x, hardSigmoid(x, m)),
  },
  {
    name: 'gelu',
    doc: 'x * (1 + erf(x / sqrt(2))) / 2, the exact form',
    attrs: [],
    formula: (x, m) => m.mul(m.mul(m.c(0.5), x), m.add(m.c(1), m.erf(m.mul(x, m.c(Math.SQRT1_2))))),
  },
  {
    name: 'mish',
    doc: 'x * tanh(softplus(x))',
    attrs: [],
    formula: (x, m) => m.mul(x, m.tanh(softplus(x, m))),
  },
  {
    name: 'softplus',
    doc: 'log(1 + exp(x))',
    attrs: [],
    formula: softplus,
    onnx: () => ({ op: 'Softplus' }),
  },
  {
    name: 'softsign',
    doc: 'x / (1 + |x|)',
    attrs: [],
    formula: (x, m) => m.div(x, m.add(m.c(1), m.abs(x))),
    onnx: () => ({ op: 'Softsign' }),
  },
  {
    name: 'exponential',
    doc: 'exp(x)',
    attrs: [],
    formula: (x, m) => m.exp(x),
    onnx: () => ({ op: 'Exp' }),
  },
  {
    name: 'clip',
    doc: 'min(max(x, min_value), max_value)',
    attrs: [float('min_value', undefined), float('max_value', undefined)],
    formula: (x, m, p) => m.min(m.max(x, m.c(p['min_value']!)), m.c(p['max_value']!)),
    canonical: (p) =>
      p['min_value'] === 0 && p['max_value'] === 6
        ? { fn: 'relu6' }
        : p['min_value'] === 0 && p['max_value'] === Infinity
          ? { fn: 'relu' }
          : null,
    onnx: (p) => ({ op: 'Clip', inputs: [p['min_value']!, p['max_value']!] }),
    samples: ['-0.5, 0.5', 'min_value: 0, max_value: 6'],
  },
];

export const ACTIVATION_BY_NAME: ReadonlyMap<string, ActivationDef> = new Map(
  ACTIVATIONS.map((a) => [a.name, a]),
);

/** An activation with its parameters, as stored in attributes: `{ fn: 'leaky_relu', negative_slope: 0.3 }`. */
export type Activation = { readonly fn: string } & Readonly<Record<string, AttrValue>>;

/** The activation from its name and attribute values (`none` values left out), in its
 * canonical form. */
export function makeActivation(
  def: ActivationDef,
  values: Readonly<Record<string, AttrValue>>,
): Activation {
  const act: Record<string, AttrValue> = { fn: def.name };
  for (const a of def.attrs) {
    const v = values[a.name];
    if (v !== null && v !== undefined) act[a.name] = v;
  }
  return def.canonical?.(paramsOf(act as Activation)) ?? (act as Activation);
}

/** An activation's numeric parameters. */
export function paramsOf(act: Activation): Params {
  return Object.fromEntries(
    Object.entries(act).filter((e): e is [string, number] => typeof e[1] === 'number'),
  );
}

export function activationOf(attrs: Attrs): Activation {
  const a = attrs['activation'];
  if (a && typeof a === 'object' && !Array.isArray(a)) return a as Activation;
  return { fn: 'linear' };
}

export function isLinear(attrs: Attrs): boolean {
  return activationOf(attrs).fn === 'linear';
}

/** Numbers, in float64: the reference's arithmetic. `max`/`min` keep a NaN x, as the kernels. */
const NUMBERS: Arith<number> = {
  c: (v) => v,
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (x, b) => (x < b ? b : x),
  min: (x, b) => (b < x ? b : x),
  neg: (a) => -a,
  abs: Math.abs,
  exp: Math.exp,
  expm1: Math.expm1,
  log1p: Math.log1p,
  tanh: Math.tanh,
  erf,
  ifPositive: (a, t, o) => (a > 0 ? t : o),
};

/** act(x) in float64 (the reference). */
export function applyActivation(act: Activation, x: number): number {
  const def = ACTIVATION_BY_NAME.get(act.fn);
  if (!def) throw new Error(`no activation ${act.fn}`);
  return def.formula(x, NUMBERS, paramsOf(act));
}

/** Applies a node's `activation` epilogue in place (the reference). */
export function activate(data: Float64Array, attrs: Attrs): Float64Array {
  const act = activationOf(attrs);
  if (act.fn === 'linear') return data;
  const def = ACTIVATION_BY_NAME.get(act.fn)!;
  const p = paramsOf(act);
  for (let i = 0; i < data.length; i++) data[i] = def.formula(data[i]!, NUMBERS, p);
  return data;
}

/** One layer per activation: `x -> relu`, `leaky_relu(x, negative_slope: 0.1)`. */
export const activationLayers: readonly LayerDef[] = ACTIVATIONS.map((def) =>
  defineLayer({
    kind: def.name,
    doc: `activation: ${def.doc}`,
    inputs: { min: 1, max: 1 },
    attrs: def.attrs,
    // Odd sizes: a vector loop and a remainder.
    samples: (def.samples ?? ['']).map((args) => ({ inputs: [[3, 5, 7]], args })),
    traits: def.name === 'linear' ? { identity: true } : { activation: def.name },
    infer: (ctx) => ({
      shape: ctx.inputs[0]!,
      attrs: { activation: makeActivation(def, ctx.attrs) },
    }),
    macs: () => 0,
    reference: (node, [x]) => activate(Float64Array.from(x!), node.attrs),
  }),
);
