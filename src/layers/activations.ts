// Activations: the elementwise functions (one table), their layers, and the epilogue that
// conv2d, dense and friends apply through their `activation:` attribute.
import type { Attrs, AttrValue } from '../ir/graph.js';
import { erf } from '../runtime/erf.js';
import { defineLayer, type AttrSpec, type LayerDef } from '../ir/op.js';

export { erf };

export interface ActivationDef {
  readonly name: string;
  readonly doc: string;
  /** Its attributes (Keras argument names and defaults). */
  readonly attrs: readonly AttrSpec[];
  /** The reference, in float64. `p` holds the attribute values. */
  readonly f: (x: number, p: Readonly<Record<string, number>>) => number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const relu6 = (x: number): number => Math.min(Math.max(x, 0), 6);
const hardSigmoid = (x: number): number => relu6(x + 3) / 6;

const float = (name: string, dflt: number, min?: number): AttrSpec => ({
  name,
  kind: min === undefined ? { type: 'float' } : { type: 'float', min },
  default: dflt,
});

export const ACTIVATIONS: readonly ActivationDef[] = [
  { name: 'linear', doc: 'identity', attrs: [], f: (x) => x },
  { name: 'relu', doc: 'max(x, 0)', attrs: [], f: (x) => (x > 0 ? x : 0) },
  { name: 'relu6', doc: 'min(max(x, 0), 6)', attrs: [], f: relu6 },
  {
    name: 'leaky_relu',
    doc: 'x, or negative_slope * x below zero',
    attrs: [float('negative_slope', 0.3, 0)],
    f: (x, p) => (x >= 0 ? x : p['negative_slope']! * x),
  },
  {
    name: 'elu',
    doc: 'x, or alpha * (exp(x) - 1) below zero',
    attrs: [float('alpha', 1)],
    f: (x, p) => (x > 0 ? x : p['alpha']! * Math.expm1(x)),
  },
  { name: 'sigmoid', doc: '1 / (1 + exp(-x))', attrs: [], f: sigmoid },
  { name: 'hard_sigmoid', doc: 'relu6(x + 3) / 6 (Keras 3)', attrs: [], f: hardSigmoid },
  { name: 'tanh', doc: 'tanh(x)', attrs: [], f: Math.tanh },
  { name: 'swish', doc: 'x * sigmoid(x)', attrs: [], f: (x) => x * sigmoid(x) },
  { name: 'hard_swish', doc: 'x * relu6(x + 3) / 6', attrs: [], f: (x) => x * hardSigmoid(x) },
  {
    name: 'gelu',
    doc: 'x * (1 + erf(x / sqrt(2))) / 2, the exact form',
    attrs: [],
    f: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  },
];

export const ACTIVATION_BY_NAME: ReadonlyMap<string, ActivationDef> = new Map(
  ACTIVATIONS.map((a) => [a.name, a]),
);

/** An activation with its parameters, as stored in attributes: `{ fn: 'leaky_relu', negative_slope: 0.3 }`. */
export type Activation = { readonly fn: string } & Readonly<Record<string, AttrValue>>;

export function activationOf(attrs: Attrs): Activation {
  const a = attrs['activation'];
  if (a && typeof a === 'object' && !Array.isArray(a)) return a as Activation;
  return { fn: 'linear' };
}

export function isLinear(attrs: Attrs): boolean {
  return activationOf(attrs).fn === 'linear';
}

/** Applies a node's `activation` epilogue in place (the reference). */
export function activate(data: Float64Array, attrs: Attrs): Float64Array {
  const act = activationOf(attrs);
  if (act.fn === 'linear') return data;
  const def = ACTIVATION_BY_NAME.get(act.fn)!;
  const p = act as unknown as Record<string, number>;
  for (let i = 0; i < data.length; i++) data[i] = def.f(data[i]!, p);
  return data;
}

/** One layer per activation: `x -> relu`, `leaky_relu(x, negative_slope: 0.1)`. */
export const activationLayers: readonly LayerDef[] = ACTIVATIONS.map((def) =>
  defineLayer({
    kind: def.name,
    doc: `activation: ${def.doc}`,
    inputs: { min: 1, max: 1 },
    attrs: def.attrs,
    traits: def.name === 'linear' ? { identity: true } : { activation: def.name },
    infer: (ctx) => ({
      shape: ctx.inputs[0]!,
      attrs: {
        activation: Object.fromEntries([
          ['fn', def.name],
          ...def.attrs.map((s) => [s.name, ctx.attrs[s.name]!] as const),
        ]),
      },
    }),
    macs: () => 0,
    reference: (node, [x]) => activate(Float64Array.from(x!), node.attrs),
  }),
);
