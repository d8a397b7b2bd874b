// Weight recipes evaluated: every node's weights computed from the unfolded weights the source
// declares. Dependency-free on purpose: generated modules inline this file's text (codegen/esm).
import type { WeightExpr } from './weight-expr.js';

/**
 * The value of one recipe as float32, from the unfolded weights by key, computed in float64 and
 * rounded once. Throws an Error naming a missing weight.
 */
export function evalWeightExpr(
  e: WeightExpr,
  params: ReadonlyMap<string, ArrayLike<number>>,
): Float32Array {
  return Float32Array.from(evalWeightExpr64(e, params));
}

/** The value of one recipe in float64 (each call returns a fresh array). */
export function evalWeightExpr64(
  e: WeightExpr,
  params: ReadonlyMap<string, ArrayLike<number>>,
): Float64Array {
  switch (e.op) {
    case 'param': {
      const p = params.get(e.key);
      if (!p) throw new Error(`missing weight '${e.key}'`);
      return Float64Array.from(p);
    }
    case 'zeros':
      return new Float64Array(e.size);
    case 'fill':
      return new Float64Array(e.size).fill(e.value);
    case 'values':
      return Float64Array.from(e.values);
    case 'scale': {
      // x viewed as [outer, channels, inner]; element (o, c, i) times s[c].
      const x = evalWeightExpr64(e.x, params);
      const s = evalWeightExpr64(e.s, params);
      for (let o = 0; o < e.outer; o++)
        for (let c = 0; c < e.channels; c++)
          for (let i = 0; i < e.inner; i++) {
            const k = (o * e.channels + c) * e.inner + i;
            x[k] = x[k]! * s[c]!;
          }
      return x;
    }
    case 'bn_scale': {
      // s = gamma / sqrt(variance + epsilon), gamma absent: 1.
      const v = evalWeightExpr64(e.variance, params);
      const g = e.gamma ? evalWeightExpr64(e.gamma, params) : null;
      for (let c = 0; c < v.length; c++) v[c] = (g ? g[c]! : 1) / Math.sqrt(v[c]! + e.epsilon);
      return v;
    }
    case 'bn_shift': {
      // b' = (b - mean) * s + beta, beta absent: 0.
      const b = evalWeightExpr64(e.bias, params);
      const m = evalWeightExpr64(e.mean, params);
      const s = evalWeightExpr64(e.scale, params);
      const beta = e.beta ? evalWeightExpr64(e.beta, params) : null;
      for (let c = 0; c < b.length; c++) b[c] = (b[c]! - m[c]!) * s[c]! + (beta ? beta[c]! : 0);
      return b;
    }
    case 'matvec_add': {
      // b'[j] = b[j] + sum_i W[i, j] v[i], W viewed as [rows, cols] row-major.
      const b = evalWeightExpr64(e.bias, params);
      const w = evalWeightExpr64(e.w, params);
      const v = evalWeightExpr64(e.v, params);
      for (let i = 0; i < e.rows; i++)
        for (let j = 0; j < e.cols; j++) b[j] = b[j]! + w[i * e.cols + j]! * v[i]!;
      return b;
    }
    case 'add': {
      const a = evalWeightExpr64(e.a, params);
      const b = evalWeightExpr64(e.b, params);
      for (let k = 0; k < a.length; k++) a[k] = a[k]! + b[k]!;
      return a;
    }
  }
}

/** Every node's weights (`${node.name}/${slot}`) as float32, from the unfolded weights. Takes
 * any graph-shaped value (a Graph), so this file needs no type but WeightExpr. */
export function evaluateWeights(
  graph: {
    readonly nodes: readonly {
      readonly name: string;
      readonly weights: readonly { readonly name: string; readonly value: WeightExpr }[];
    }[];
  },
  params: ReadonlyMap<string, ArrayLike<number>>,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const n of graph.nodes)
    for (const w of n.weights) out.set(`${n.name}/${w.name}`, evalWeightExpr(w.value, params));
  return out;
}
