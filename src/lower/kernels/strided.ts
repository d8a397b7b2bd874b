// Elementwise kernels over operands read with their own strides (0 along broadcast axes): the
// broadcasting merges, prelu's alpha. Axes are coalesced first, so a squeeze-and-excitation
// product [1, 1, C] x [H, W, C] is a loop over the H*W pixels around a vector loop over the
// channels that reads the gate directly (nothing is materialized); an operand constant along
// the innermost run ([H, W, 1] x [H, W, C]) is loaded once per run and splatted.
import {
  add,
  get,
  i32,
  let_,
  load,
  mul,
  splat,
  store,
  type Expr,
  type Stmt,
} from '../../kir/kir.js';
import type { Band } from './rows.js';
import { flat, loadL, Names, range, outputBase, type Lanes } from './util.js';

/** An operand: its base and its stride (in elements) along each axis of the output. */
export interface Operand {
  readonly base: Expr;
  readonly strides: readonly number[];
}

/** A loop axis after coalescing: its size and each operand's stride. */
export interface LoopAxis {
  readonly n: number;
  readonly strides: readonly number[];
}

/**
 * The output's axes (row-major, contiguous) with the operands' strides, size-1 axes dropped and
 * neighbours merged wherever every operand steps through them as through one axis.
 */
export function coalesce(shape: readonly number[], operands: readonly Operand[]): LoopAxis[] {
  const axes: LoopAxis[] = [];
  shape.forEach((n, i) => {
    if (n !== 1) axes.push({ n, strides: operands.map((o) => o.strides[i]!) });
  });
  const out: LoopAxis[] = [];
  for (const a of axes) {
    const prev = out[out.length - 1];
    if (prev && prev.strides.every((s, k) => s === a.strides[k]! * a.n)) {
      out[out.length - 1] = { n: prev.n * a.n, strides: a.strides };
    } else out.push(a);
  }
  return out.length ? out : [{ n: 1, strides: operands.map(() => 0) }];
}

/**
 * The part of an elementwise loop a band of output rows (the first axis) computes: the output
 * shape with `count` rows, each operand's base moved to the band's first row, and the output's
 * (`out`). Without a band, the whole.
 */
export function bandOf(
  shape: readonly number[],
  operands: readonly Operand[],
  band: Band | undefined,
): { shape: number[]; operands: Operand[]; out: Expr } {
  if (!band) return { shape: [...shape], operands: [...operands], out: outputBase };
  const row = shape.slice(1).reduce((p, d) => p * d, 1);
  return {
    shape: [band.count, ...shape.slice(1)],
    operands: operands.map((o) => ({
      ...o,
      base: add(o.base, band.from * o.strides[0]!),
    })),
    out: add(outputBase, band.from * row),
  };
}

/** The loop structure for kernel names (equal names must mean equal code): the sizes, then
 * each operand's strides: `63x8_8x1_0x1`. */
export function loopTag(axes: readonly LoopAxis[]): string {
  const strides = axes[0]!.strides.map((_, k) => axes.map((a) => a.strides[k]).join('x'));
  return [axes.map((a) => a.n).join('x'), ...strides].join('_');
}

/**
 * y[i] = f(operand values at i) over the output (contiguous, row-major), the innermost coalesced
 * axis in v128 steps when `simd` and every operand is contiguous (stride 1) or constant
 * (stride 0) along it.
 */
export function stridedElementwise(
  axes: readonly LoopAxis[],
  operands: readonly Operand[],
  simd: boolean,
  f: (values: Expr[], lanes: Lanes) => Expr,
  out: Expr = outputBase,
): Stmt[] {
  const names = new Names();
  const inner = axes[axes.length - 1]!;
  const outer = axes.slice(0, -1);
  const vector = simd && inner.n >= 4 && inner.strides.every((s) => s === 0 || s === 1);
  const outStrides = axes.map((_, i) => axes.slice(i + 1).reduce((p, a) => p * a.n, 1));

  const innerLoop = (yAt: Expr, at: readonly Expr[]): Stmt[] => {
    // Operands constant along the run: one load each, outside the loop.
    const pre: Stmt[] = [];
    const fixed = operands.map((o, k) => {
      if (inner.strides[k] !== 0) return null;
      const name = names.fresh('b');
      pre.push(let_(name, load(add(o.base, at[k]!))));
      const scalar = get(name, 'f32');
      if (!vector) return { scalar, vec: scalar };
      const v = names.fresh('bv');
      pre.push(let_(v, splat(scalar)));
      return { scalar, vec: get(v, 'v128') };
    });
    const body = (i: Expr, l: Lanes): Stmt[] => {
      const values = operands.map((o, k) => {
        const c = fixed[k];
        if (c) return l === 4 ? c.vec : c.scalar;
        const s = inner.strides[k]!;
        return s === 1
          ? loadL(add(o.base, add(at[k]!, i)), l)
          : load(add(o.base, add(at[k]!, mul(i, s))));
      });
      // Loaded values in locals, so f may read one more than once.
      const lets: Stmt[] = [];
      const bound = values.map((v) => {
        if (v.op !== 'load') return v;
        const name = names.fresh('v');
        lets.push(let_(name, v));
        return get(name, v.type);
      });
      return [...lets, store(add(out, add(yAt, i)), f(bound, l))];
    };
    return [...pre, ...flat(inner.n, vector, body, 'i')];
  };

  const nest = (d: number, yAt: Expr, at: readonly Expr[]): Stmt[] => {
    if (d === outer.length) return innerLoop(yAt, at);
    const a = outer[d]!;
    return range(`o${d}`, 0, a.n, (v) =>
      nest(
        d + 1,
        add(yAt, mul(v, outStrides[d]!)),
        at.map((e, k) => add(e, mul(v, a.strides[k]!))),
      ),
    );
  };
  return nest(
    0,
    i32(0),
    operands.map(() => i32(0)),
  );
}
