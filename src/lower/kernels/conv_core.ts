// The two gather cores every convolution-like kernel is built from:
//  - convCore: y[p, f] = b[f] + sum over taps and input channels of x * w, vectorized over
//    output channels (acc[f..f+3] += splat(x[ci]) * w[tap, ci, f..f+3]), register-tiled over
//    output channels and output pixels (conv2d, conv2d_transpose, dense, pointwise stages);
//  - channelwiseCore: per channel c, a reduction over the taps reading x[., c] (depthwise,
//    pooling), vectorized over channels.
import type { Activation } from '../../layers/activations.js';
import { add, get, i32, let_, mul, set, type Expr, type Stmt } from '../../kir/kir.js';
import { storeActivated } from './epilogue.js';
import { forPixels, forTaps, type Pixels, type Run } from './spatial.js';
import {
  bcast,
  channelTiles,
  fbin,
  fconst,
  loadL,
  range,
  tileLoop,
  type Lanes,
  type Names,
  type Tile,
} from './util.js';

/** Most live accumulators per tile (pixels x vectors). */
const MAX_ACCS = 8;

/** Pixels per group so that pixels * vecs accumulators fit. */
export const pixelTile = (tiles: readonly Tile[]): number =>
  Math.max(1, Math.min(4, Math.floor(MAX_ACCS / (tiles[0]?.vecs ?? 1))));

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
  readonly simd: boolean;
  readonly act: Activation;
}

export interface ConvSpec extends Frame {
  /** Weights [taps..., CG, outC] with `kw` column taps; bias [outC] or null. */
  readonly w: Expr;
  readonly b: Expr | null;
  readonly kw: number;
  readonly groups: number;
  /** Input and output channels per group. */
  readonly cg: number;
  readonly fg: number;
}

const xAddr = (f: Frame, iy: Expr, ix: Expr, c: Expr): Expr =>
  add(f.x, add(mul(add(mul(iy, f.inW), ix), f.inC), c));
const yAddr = (f: Frame, oy: Expr, ox: Expr, c: Expr): Expr =>
  add(f.y, add(mul(add(mul(oy, f.outW), ox), f.outC), c));

/** Declares one accumulator per pixel and vector; returns their names [pixel][vector]. */
function accumulators(
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
function stores(
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
      const addr = yAddr(f, px.oy, px.ox[p]!, add(c, i32(v * t.lanes)));
      const value = finish(get(name, type));
      if (value.op === 'get') return storeActivated(addr, value, f.act);
      const done = `${name}f`;
      return [let_(done, value), ...storeActivated(addr, get(done, type), f.act)];
    }),
  );
}

/** Most copies of the inner (per input channel) step that unrolling may make. */
const UNROLL_BUDGET = 32;

/** What to unroll in a pixel group: only hot groups; channels up to 4, then taps in budget. */
function unrolling(px: Pixels, cg: number): { ty: boolean; tx: boolean; ci: boolean } {
  if (!px.hot) return { ty: false, tx: false, ci: false };
  const ci = cg <= 4;
  const per = ci ? cg : 1;
  const tx = px.col.n * per <= UNROLL_BUDGET;
  return { ty: tx && px.row.n * px.col.n * per <= UNROLL_BUDGET, tx, ci };
}

/** The convolution core: one body per (row run, column run), tiled over output channels. */
export function convCore(spec: ConvSpec, names: Names): Stmt[] {
  const tiles = channelTiles(spec.fg, spec.simd);
  const pt = pixelTile(tiles);
  return forPixels(spec.rows, spec.cols, pt, (px) => {
    const perGroup = (g: Expr): Stmt[] =>
      tiles.flatMap((t) =>
        tileLoop('f', t, (f) =>
          convTile(spec, names, px, t, add(mul(g, spec.fg), f), mul(g, spec.cg)),
        ),
      );
    return range('g', 0, spec.groups, perGroup);
  });
}

/** One channel tile at output channel fc for a pixel group; input channels from c0. */
function convTile(spec: ConvSpec, names: Names, px: Pixels, t: Tile, fc: Expr, c0: Expr): Stmt[] {
  const L: Lanes = t.lanes;
  const { decls, accs } = accumulators(names, px.ox.length, t, (v) =>
    spec.b ? loadL(add(spec.b, add(fc, i32(v * L))), L) : fconst(0, L),
  );
  const type = L === 4 ? 'v128' : 'f32';
  const un = unrolling(px, spec.cg);
  const body = forTaps(px.row, 'ty', un.ty, (ty, dy) =>
    forTaps(px.col, 'tx', un.tx, (tx, dx) => {
      const tap = add(mul(ty, spec.kw), tx);
      const perChannel = (ci: Expr): Stmt[] => {
        const inner: Stmt[] = [];
        const xs = px.ix.map((ix) => {
          const xv = bcast(loadL(xAddr(spec, add(px.iy, dy), add(ix, dx), add(c0, ci)), 1), L);
          if (t.vecs === 1) return xv;
          const name = names.fresh('xv');
          inner.push(let_(name, xv));
          return get(name, type);
        });
        const ws = Array.from({ length: t.vecs }, (_, v) => {
          const row = add(mul(tap, spec.cg), ci);
          const wv = loadL(add(spec.w, add(mul(row, spec.outC), add(fc, i32(v * L)))), L);
          if (xs.length === 1) return wv;
          const name = names.fresh('wv');
          inner.push(let_(name, wv));
          return get(name, type);
        });
        accs.forEach((accRow, p) =>
          accRow.forEach((name, v) =>
            inner.push(set(name, fbin('add', get(name, type), fbin('mul', xs[p]!, ws[v]!)))),
          ),
        );
        return inner;
      };
      return range('ci', 0, spec.cg, perChannel, 1, un.ci);
    }),
  );
  return [...decls, ...body, ...stores(spec, px, t, accs, fc)];
}

export interface ChannelwiseSpec extends Frame {
  /** The accumulator's start for channels c.. (bias, 0, -inf). */
  readonly init: (c: Expr, lanes: Lanes) => Expr;
  /** Per tap and channels c..: a weight address (depthwise), or null. */
  readonly weight: ((ty: Expr, tx: Expr, c: Expr) => Expr) | null;
  /** The accumulator after one tap: x the input, w the weight (when any). */
  readonly step: (acc: Expr, x: Expr, w: Expr | null) => Expr;
  /** The result from the accumulator and the number of taps read (average: divide). */
  readonly finish: (acc: Expr, taps: number) => Expr;
  /** Pixels per group (reuse of weights across pixels). */
  readonly pixels: number;
}

/** The channelwise core: output channel c reads input channel c (inC = outC). */
export function channelwiseCore(spec: ChannelwiseSpec, names: Names): Stmt[] {
  const tiles = channelTiles(spec.outC, spec.simd);
  return forPixels(spec.rows, spec.cols, spec.pixels, (px) =>
    tiles.flatMap((t) => tileLoop('c', t, (c) => channelwiseTile(spec, names, px, t, c))),
  );
}

function channelwiseTile(
  spec: ChannelwiseSpec,
  names: Names,
  px: Pixels,
  t: Tile,
  c: Expr,
): Stmt[] {
  const L = t.lanes;
  const type = L === 4 ? 'v128' : 'f32';
  const at = (v: number): Expr => add(c, i32(v * L));
  const { decls, accs } = accumulators(names, px.ox.length, t, (v) => spec.init(at(v), L));
  const body = forTaps(px.row, 'ty', px.hot, (ty, dy) =>
    forTaps(px.col, 'tx', px.hot, (tx, dx) => {
      const inner: Stmt[] = [];
      const ws = Array.from({ length: t.vecs }, (_, v) => {
        if (!spec.weight) return null;
        const wv = loadL(spec.weight(ty, tx, at(v)), L);
        if (px.ox.length === 1) return wv;
        const name = names.fresh('wv');
        inner.push(let_(name, wv));
        return get(name, type);
      });
      accs.forEach((row, p) =>
        row.forEach((name, v) => {
          const xv = loadL(xAddr(spec, add(px.iy, dy), add(px.ix[p]!, dx), at(v)), L);
          inner.push(set(name, spec.step(get(name, type), xv, ws[v]!)));
        }),
      );
      return inner;
    }),
  );
  const taps = px.row.n * px.col.n;
  return [...decls, ...body, ...stores(spec, px, t, accs, c, (a) => spec.finish(a, taps))];
}
