// up_sampling2d kernel. nearest: each input pixel's channels copied `size[1]` times along the
// output row, then the row copied `size[0] - 1` times. bilinear (half-pixel centers): outputs
// of one phase share their interpolation weights, so each axis splits into runs with constant
// weights and the clamped edges apart; the weights are constants in the code.
import type { Node, Shape } from '../../ir/graph.js';
import { add, f32, i32, mul, store, type Expr, type Stmt } from '../../kir/kir.js';
import { pair, str } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import {
  bcast,
  copy,
  dims,
  floatBinary,
  finish,
  flat,
  loadL,
  range,
  inputBase,
  outputBase,
  type Lanes,
} from './util.js';

/** Outputs o = o0 + j * step read inputs lo0 + j and hi0 + j with weight frac on hi. */
interface LerpRun {
  readonly o0: number;
  readonly count: number;
  readonly lo0: number;
  readonly hi0: number;
  readonly frac: number;
}

/** The runs of one axis: input size n, scale s (as the reference computes them). */
export function lerpRuns(n: number, s: number): LerpRun[] {
  const runs: LerpRun[] = [];
  for (let phase = 0; phase < s; phase++)
    for (let o = phase; o < n * s; o += s) {
      const f = Math.min(Math.max((o + 0.5) / s - 0.5, 0), n - 1);
      const lo = Math.floor(f);
      const hi = Math.min(lo + 1, n - 1);
      const frac = f - lo;
      const last = runs[runs.length - 1];
      if (
        last &&
        last.o0 + last.count * s === o &&
        last.frac === frac &&
        last.lo0 + last.count === lo &&
        last.hi0 + last.count === hi
      )
        runs[runs.length - 1] = { ...last, count: last.count + 1 };
      else runs.push({ o0: o, count: 1, lo0: lo, hi0: hi, frac });
    }
  return runs;
}

/** a * (1 - f) + b * f, or a when f is 0 (f a constant). */
function lerp(a: Expr, b: () => Expr, f: number, lanes: Lanes): Expr {
  if (f === 0) return a;
  const k = (v: number): Expr => bcast(f32(v), lanes);
  return floatBinary('add', floatBinary('mul', a, k(1 - f)), floatBinary('mul', b(), k(f)));
}

function nearest(H: number, W: number, C: number, sh: number, sw: number, simd: boolean): Stmt[] {
  const OW = W * sw;
  return range('r', 0, H, (iy) => {
    const outRow = add(outputBase, mul(iy, sh * OW * C));
    return [
      ...range('q', 0, W, (ix) =>
        range(
          'sx',
          0,
          sw,
          (sx) =>
            copy(
              add(outRow, add(mul(ix, sw * C), mul(sx, C))),
              add(inputBase(0), mul(add(mul(iy, W), ix), C)),
              C,
              simd,
              'c',
            ),
          1,
          sw <= 4,
        ),
      ),
      ...range('sy', 1, sh, (sy) => copy(add(outRow, mul(sy, OW * C)), outRow, OW * C, simd)),
    ];
  });
}

function bilinear(H: number, W: number, C: number, sh: number, sw: number, simd: boolean): Stmt[] {
  const OW = W * sw;
  const out: Stmt[] = [];
  for (const rr of lerpRuns(H, sh))
    for (const cr of lerpRuns(W, sw))
      out.push(
        ...range('j', 0, rr.count, (j) =>
          range('k', 0, cr.count, (k) => {
            const oy = add(i32(rr.o0), mul(j, sh));
            const ox = add(i32(cr.o0), mul(k, sw));
            const [y0, y1] = [add(j, rr.lo0), add(j, rr.hi0)];
            const [x0, x1] = [add(k, cr.lo0), add(k, cr.hi0)];
            return flat(
              C,
              simd,
              (c, l) => {
                const at = (iy: Expr, ix: Expr) => (): Expr =>
                  loadL(add(inputBase(0), add(mul(add(mul(iy, W), ix), C), c)), l);
                const top = lerp(at(y0, x0)(), at(y0, x1), cr.frac, l);
                const bottom = (): Expr => lerp(at(y1, x0)(), at(y1, x1), cr.frac, l);
                const v = lerp(top, bottom, rr.frac, l);
                return [store(add(outputBase, add(mul(add(mul(oy, OW), ox), C), c)), v)];
              },
              'c',
            );
          }),
        ),
      );
  return out;
}

export function lowerUpSampling2d(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const [H, W, C] = shape as [number, number, number];
  const [sh, sw] = pair(node.attrs, 'size');
  const mode = str(node.attrs, 'interpolation');
  const body =
    mode === 'bilinear'
      ? bilinear(H, W, C, sh, sw, opts.schedule.simd)
      : nearest(H, W, C, sh, sw, opts.schedule.simd);
  return finish(node, {
    name: ['up_sampling2d', `i${dims(shape!)}`, `s${sh}x${sw}`, mode],
    doc: [`up_sampling2d ${dims(shape!)} -> ${dims(node.shape)}: size ${sh}x${sw}, ${mode}`],
    body,
  });
}
