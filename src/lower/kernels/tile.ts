// What the gather cores share: the frame (memory bases and [H, W, C] layouts), the
// convolution spec, accumulator tiles and their stores through the epilogue.
import type { Activation } from '../../layers/activations.js';
import { add, get, i32, let_, type Expr, type Stmt } from '../../kir/kir.js';
import { plusResidual, storeActivated } from './epilogue.js';
import type { Schedule } from '../schedule.js';
import type { Pixels, Run } from './spatial.js';
import { hwc, type Names, type Tile } from './util.js';

/** Geometry shared by the cores: memory bases and the [H, W, C] layouts around them. */
export interface Frame {
  readonly x: Expr;
  readonly y: Expr;
  /** Input width and channels (pixel stride). */
  readonly inW: number;
  readonly inC: number;
  /** Output width and channels. */
  readonly outW: number;
  readonly outC: number;
  readonly rows: readonly Run[];
  readonly cols: readonly Run[];
  /** The target's facts: v128 or not, accumulator and cache budgets. */
  readonly schedule: Schedule;
  readonly act: Activation;
  /** A tensor laid out like the output, added before the activation (conv2d_add), or none. */
  readonly residual?: Expr | null;
}

export interface ConvSpec extends Frame {
  /** Weights [taps..., CG, outC] with `kw` column taps; bias [outC] or null. */
  readonly w: Expr;
  readonly b: Expr | null;
  /** Kernel rows and columns (taps); a weight row is tap * cg + ci. */
  readonly kh: number;
  readonly kw: number;
  readonly groups: number;
  /** Input and output channels per group. */
  readonly cg: number;
  readonly fg: number;
}

export const xAddr = (f: Frame, iy: Expr, ix: Expr, c: Expr): Expr =>
  hwc(f.x, f.inW, f.inC, iy, ix, c);
export const yAddr = (f: Frame, oy: Expr, ox: Expr, c: Expr): Expr =>
  hwc(f.y, f.outW, f.outC, oy, ox, c);

/** Declares one accumulator per pixel and vector; returns their names [pixel][vector]. */
export function accumulators(
  names: Names,
  pixels: number,
  t: Tile,
  init: (v: number) => Expr,
): { decls: Stmt[]; accs: string[][] } {
  const decls: Stmt[] = [];
  const accs = Array.from({ length: pixels }, () =>
    Array.from({ length: t.vecs }, (_, v) => {
      const name = names.fresh('acc');
      decls.push(let_(name, init(v)));
      return name;
    }),
  );
  return { decls, accs };
}

/** Stores every accumulator through the epilogue (after `finish`). */
export function stores(
  f: Frame,
  px: Pixels,
  t: Tile,
  accs: readonly string[][],
  c: Expr,
  finish: (acc: Expr) => Expr = (a) => a,
): Stmt[] {
  const type = t.lanes === 4 ? 'v128' : 'f32';
  return accs.flatMap((row, p) =>
    row.flatMap((name, v) => {
      const ch = add(c, i32(v * t.lanes));
      const addr = yAddr(f, px.oy[p]!, px.ox[p]!, ch);
      const r = f.residual && hwc(f.residual, f.outW, f.outC, px.oy[p]!, px.ox[p]!, ch);
      const value = plusResidual(finish(get(name, type)), r);
      if (value.op === 'get') return storeActivated(addr, value, f.act);
      const done = `${name}f`;
      return [let_(done, value), ...storeActivated(addr, get(done, type), f.act)];
    }),
  );
}

/**
 * Output channels are independent, so a last vector overlapping the previous one (channels
 * n-4..n-1, some computed twice to the same values) replaces a scalar remainder of 1 to 3.
 */
export function overlapRemainder(tiles: Tile[], n: number, simd: boolean): void {
  const last = tiles[tiles.length - 1];
  if (simd && n > 4 && last && last.lanes === 1)
    tiles.splice(tiles.length - 1, 1, { from: n - 4, to: n, lanes: 4, vecs: 1 });
}
