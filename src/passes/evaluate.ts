// Weight recipes evaluated: every node's weights computed from the unfolded weights the source
// declares. Dependency-free on purpose: generated modules inline this file's text (codegen/esm).
import type { WeightExpr } from '../ir/weight-expr.js';

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
    case 'winograd_f2x3':
      return winograd(evalWeightExpr64(e.x, params), e.cin * e.cout);
    case 'winograd_f2x3_phases': {
      // Each phase's 3x3 filter gathered from [kh, kw, cout, cin] into [3, 3, cin, cout].
      const x = evalWeightExpr64(e.x, params);
      const n = e.cin * e.cout;
      const out = new Float64Array(e.rows.length * e.cols.length * 16 * n);
      let at = 0;
      for (const rows of e.rows)
        for (const cols of e.cols) {
          const g = new Float64Array(9 * n);
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < 3; j++) {
              const ty = rows[i]!;
              const tx = cols[j]!;
              if (ty < 0 || tx < 0) continue;
              const from = (ty * e.kw + tx) * n;
              for (let ci = 0; ci < e.cin; ci++)
                for (let co = 0; co < e.cout; co++)
                  g[(i * 3 + j) * n + ci * e.cout + co] = x[from + co * e.cin + ci]!;
            }
          out.set(winograd(g, n), at);
          at += 16 * n;
        }
      return out;
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

/**
 * Winograd F(2x2, 3x3)'s kernel transform U[a, b] = sum over i, j of G[a, i] g[i, j] G[b, j],
 * G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1], for n filters side by side: g is [3, 3, n], U [16, n].
 */
function winograd(g: Float64Array, n: number): Float64Array {
  const G = [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1];
  const u = new Float64Array(16 * n);
  for (let a = 0; a < 4; a++)
    for (let b = 0; b < 4; b++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          const c = G[a * 3 + i]! * G[b * 3 + j]!;
          if (c === 0) continue;
          const to = (a * 4 + b) * n;
          const from = (i * 3 + j) * n;
          for (let k = 0; k < n; k++) u[to + k] = u[to + k]! + c * g[from + k]!;
        }
  return u;
}
