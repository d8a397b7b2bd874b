// up_sampling2d kernel. nearest: each input pixel's channels copied `size[1]` times along the
// output row, then the row copied `size[0] - 1` times. bilinear (half-pixel centers): outputs
// of one phase share their interpolation weights, so each axis splits into runs with constant
// weights and the clamped edges apart; the weights are constants in the code.
import type { Node, Shape } from '../../ir/graph.js';
import { add, f32, i32, mul, store, type Expr, type Stmt } from '../../kir/kir.js';
import { pair, str } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import type { Band } from './rows.js';
import { bandTags } from './spatial.js';
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

/** Input rows [from, to), each giving its output rows [s0, s1) of its `sh`: the first copied
 * pixel by pixel, the others from it. */
function nearestRows(
  [from, to]: readonly [number, number],
  [s0, s1]: readonly [number, number],
  W: number,
  C: number,
  sh: number,
  sw: number,
  simd: boolean,
): Stmt[] {
  const OW = W * sw;
  return range('r', from, to, (iy) => {
    const outRow = add(outputBase, add(mul(iy, sh * OW * C), s0 * OW * C));
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
      ...range('sy', 1, s1 - s0, (sy) => copy(add(outRow, mul(sy, OW * C)), outRow, OW * C, simd)),
    ];
  });
}

/** Nearest: output rows [band.from, band.from + band.count), or all; an input row whose output
 * rows the band cuts gives the rows the band holds. */
function nearest(
  H: number,
  W: number,
  C: number,
  sh: number,
  sw: number,
  simd: boolean,
  band: Band | undefined,
): Stmt[] {
  if (!band) return nearestRows([0, H], [0, sh], W, C, sh, sw, simd);
  const end = band.from + band.count;
  const out: Stmt[] = [];
  let full: [number, number] | null = null;
  const flush = (): void => {
    if (full) out.push(...nearestRows(full, [0, sh], W, C, sh, sw, simd));
    full = null;
  };
  for (let iy = Math.floor(band.from / sh); iy * sh < end; iy++) {
    const s0 = Math.max(0, band.from - iy * sh);
    const s1 = Math.min(sh, end - iy * sh);
    if (s0 === 0 && s1 === sh) full = full ? [full[0], iy + 1] : [iy, iy + 1];
    else {
      flush();
      out.push(...nearestRows([iy, iy + 1], [s0, s1], W, C, sh, sw, simd));
    }
  }
  flush();
  return out;
}

/** Bilinear: the outputs of rows [band.from, band.from + band.count) of each run, or all. */
function bilinear(
  H: number,
  W: number,
  C: number,
  sh: number,
  sw: number,
  simd: boolean,
  band: Band | undefined,
): Stmt[] {
  const OW = W * sw;
  const out: Stmt[] = [];
  for (const rr of lerpRuns(H, sh)) {
    // Run outputs rr.o0 + j * sh for j in [j0, j1) fall in the band.
    const j0 = band ? Math.max(0, Math.ceil((band.from - rr.o0) / sh)) : 0;
    const j1 = band
      ? Math.min(rr.count, Math.ceil((band.from + band.count - rr.o0) / sh))
      : rr.count;
    if (j1 <= j0) continue;
    for (const cr of lerpRuns(W, sw))
      out.push(
        ...range('j', j0, j1, (j) =>
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
  }
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
      ? bilinear(H, W, C, sh, sw, opts.schedule.simd, opts.band)
      : nearest(H, W, C, sh, sw, opts.schedule.simd, opts.band);
  const tags = bandTags(opts.band);
  return finish(node, {
    name: ['up_sampling2d', `i${dims(shape!)}`, `s${sh}x${sw}`, mode, tags.name],
    doc: [
      `up_sampling2d ${dims(shape!)} -> ${dims(node.shape)}: size ${sh}x${sw}, ${mode}`,
      ...tags.doc,
    ],
    body,
  });
}
