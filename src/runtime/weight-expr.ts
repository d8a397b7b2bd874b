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
  /** Constant numbers written in the source (rescaling's per-channel scale and offset). */
  | { readonly op: 'values'; readonly values: readonly number[] }
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
  | { readonly op: 'add'; readonly a: WeightExpr; readonly b: WeightExpr };
