// Weight recipes: how the weights kernels read are computed from the weights the source
// declares. Types only, no imports: generated TypeScript modules inline this file.

/**
 * How a weight tensor the kernels use is computed from the weights the source declares. The
 * folding passes build these; the same recipes run at build time and inside a generated module
 * when `load({ weights })` receives unfolded weights.
 */
export type WeightExpr =
  | { readonly op: 'param'; readonly key: string }
  | { readonly op: 'zeros'; readonly size: number }
  | { readonly op: 'fill'; readonly size: number; readonly value: number }
  /** x * s, where s is indexed by the channel (x viewed as [outer, channels, inner]). */
  | {
      readonly op: 'scale';
      readonly x: WeightExpr;
      readonly s: WeightExpr;
      readonly outer: number;
      readonly channels: number;
      readonly inner: number;
    }
  /** BN as a per-channel affine: s = gamma / sqrt(var + eps) (gamma may be absent: 1). */
  | {
      readonly op: 'bn_scale';
      readonly gamma: WeightExpr | null;
      readonly variance: WeightExpr;
      readonly epsilon: number;
    }
  /** b' = (b - mean) * s + beta. */
  | {
      readonly op: 'bn_shift';
      readonly bias: WeightExpr;
      readonly mean: WeightExpr;
      readonly scale: WeightExpr;
      readonly beta: WeightExpr | null;
    }
  /** b' = b + W^T v with W viewed as [rows, cols] row-major: b'[j] = b[j] + sum_i W[i, j] v[i]. */
  | {
      readonly op: 'matvec_add';
      readonly bias: WeightExpr;
      readonly w: WeightExpr;
      readonly v: WeightExpr;
      readonly rows: number;
      readonly cols: number;
    }
  | { readonly op: 'add'; readonly a: WeightExpr; readonly b: WeightExpr }
  /**
   * Winograd F(2x2, 3x3) kernel transform U = G g G^T of x viewed as [3, 3, cin, cout] (HWIO),
   * giving [16, cin, cout] (the 4x4 positions row-major). A lowering choice of the wasm backend,
   * never a graph weight: folds happen before it.
   */
  | {
      readonly op: 'winograd_f2x3';
      readonly x: WeightExpr;
      readonly cin: number;
      readonly cout: number;
    }
  /**
   * The same transform per phase of a strided conv2d_transpose, x viewed as [kh, kw, cout, cin]
   * (Keras's layout): phase (ry, rx) takes the 3x3 filter g[a, b] = x[rows[ry][a], cols[rx][b]]
   * (a tap index, or -1 for zero), giving [phases (ry-major), 16, cin, cout].
   */
  | {
      readonly op: 'winograd_f2x3_phases';
      readonly x: WeightExpr;
      readonly kh: number;
      readonly kw: number;
      readonly cin: number;
      readonly cout: number;
      readonly rows: readonly (readonly number[])[];
      readonly cols: readonly (readonly number[])[];
    };
