// The two gather cores every convolution-like kernel is built from:
//  - convCore: y[p, f] = b[f] + sum over taps and input channels of x * w, vectorized over
//    output channels (acc[f..f+3] += splat(x[ci]) * w[tap, ci, f..f+3]), register-tiled as
//    2 pixels x 16 channels (8 v128 accumulators; a lone pixel takes 32 channels), weights
//    packed by output-channel block so a tile streams them contiguously, the channel-tile loop
//    outermost when the weights outgrow the input (conv2d, conv2d_transpose, dense, pointwise);
//  - channelwiseCore: per channel c, a reduction over the taps reading x[., c] (depthwise,
//    pooling), vectorized over channels.
import type { Activation } from '../../layers/activations.js';
import { add, get, i32, let_, mul, set, type Expr, type Stmt } from '../../kir/kir.js';
import type { Pack } from '../program.js';
import { dotApplies, dotCore } from './dot_core.js';
import { plusResidual, storeActivated } from './epilogue.js';
import { forPixels, forTaps, UNROLL_TAPS, type Pixels, type Run } from './spatial.js';
import {
  bcast,
  channelTiles,
  bind,
  fbin,
  fconst,
  hwc,
  loadL,
  range,
  tileLoop,
  type Lanes,
  type Names,
  type Tile,
} from './util.js';

/** Most live accumulators per tile (pixels x vectors). */
const MAX_ACCS = 8;

/** Output pixels per group along a row; remainders go in a pair, then alone (forPixels). Four
 * pixels x 2 vectors read half the weights per multiply-add of a pair x 4 vectors, for twice
 * the input loads, which hit L1: each layer's best of many runs, alone, summed over the
 * network: ResNet-50 128.1 -> 124.8 ms, MobileNetV1 27.9 -> 24.5, DCGAN 5.56 -> 5.10, the
 * separable example 11.8 -> 11.5 (with weights in blocks of 8 channels, against pairs with
 * blocks of 16). */
const PIXELS = 4;

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

/** Channels of a full group's sub-tile (splitTile): MAX_ACCS / PIXELS vectors. */
const GROUP_CHANNELS = (MAX_ACCS / PIXELS) * 4;

/**
 * The output-channel block the weights are packed by, or null (as folded: [taps, cg, F]).
 * Packed weights are [F / T][taps][cg][T]: one tile's weights for consecutive input channels
 * are contiguous, instead of F floats apart (a power-of-two F puts them all in one cache set).
 * T is a full pixel group's sub-tile, 8 channels (else 4), so every sub-tile reads whole cache
 * lines of its own blocks (pairs two blocks, lone pixels four). With blocks wider than the
 * sub-tile, the sub-tiles of a tile each read part of every row and the tile took that many
 * times the lines from L2: with pairs, blocks of 32 against 16 summed ResNet-50's layers to
 * 145.7 ms against 130.9, MobileNetV1's to 29.1 against 26.6. T divides every tile start
 * (channelTiles: multiples of 32).
 */
export function weightBlock(spec: Pick<ConvSpec, 'simd' | 'groups' | 'fg'>): number | null {
  if (!spec.simd || spec.groups !== 1) return null;
  for (const t of [GROUP_CHANNELS, 4]) if (spec.fg % t === 0) return t;
  return null;
}

/** The pack for a kernel laid out [...lead, F] into [F / T][...lead][T] (see weightBlock). */
export function blockPack(lead: readonly number[], f: number, t: number): Pack {
  const n = lead.length;
  return {
    shape: [...lead, f / t, t],
    perm: [n, ...lead.map((_, i) => i), n + 1],
  };
}

const xAddr = (f: Frame, iy: Expr, ix: Expr, c: Expr): Expr => hwc(f.x, f.inW, f.inC, iy, ix, c);
const yAddr = (f: Frame, oy: Expr, ox: Expr, c: Expr): Expr => hwc(f.y, f.outW, f.outC, oy, ox, c);

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

// Nothing is unrolled around the channel loop: V8 allocates registers poorly across long
// straight runs of multiply-add steps and across many sibling loops (accumulators spill), so
// taps and channels stay loops. Measured with broadcast loads: mnist's 5x5 stride-2 conv2d
// runs in 0.15 ms with tap loops against 0.23 ms with its 25 taps unrolled; ResNet-50 and
// DCGAN are unchanged within noise.

/** Weight bytes above which the channel-tile loop goes outside the pixel loops, so one tile's
 * weights stay in cache while every pixel reads them (the input is re-read per tile instead). */
const WEIGHTS_OUTER_BYTES = 256 * 1024;

/**
 * One channel tile split for a pixel group: groups of several pixels take sub-tiles of up to
 * MAX_ACCS / pixels vectors; a lone pixel takes up to MAX_ACCS vectors, so that remainders
 * (odd columns, borders, 7x7 maps) still keep enough accumulators in flight.
 */
function splitTile(t: Tile, pixels: number): { t: Tile; at: number }[] {
  const most = Math.max(1, Math.floor(MAX_ACCS / pixels));
  const out: { t: Tile; at: number }[] = [];
  for (let v = 0; v < t.vecs; v += most) {
    const vecs = Math.min(most, t.vecs - v);
    out.push({ t: { ...t, vecs, to: t.from + vecs * t.lanes }, at: v * t.lanes });
  }
  return out;
}

/**
 * Output channels are independent, so a last vector overlapping the previous one (channels
 * n-4..n-1, some computed twice to the same values) replaces a scalar remainder of 1 to 3.
 */
function overlapRemainder(tiles: Tile[], n: number, simd: boolean): void {
  const last = tiles[tiles.length - 1];
  if (simd && n > 4 && last && last.lanes === 1)
    tiles.splice(tiles.length - 1, 1, { from: n - 4, to: n, lanes: 4, vecs: 1 });
}

/** Runs grouped by phase (output o mod ostep), in order of first appearance. */
function phases(runs: readonly Run[]): Run[][] {
  const by = new Map<number, Run[]>();
  for (const r of runs) {
    const key = r.o0 % r.ostep;
    const list = by.get(key);
    if (list) list.push(r);
    else by.set(key, [r]);
  }
  return [...by.values()];
}

/** The convolution core: one body per (row run, column run), tiled over output channels. */
export function convCore(spec: ConvSpec, names: Names): Stmt[] {
  if (dotApplies(spec)) return dotCore(spec, names);
  // Tiles of up to MAX_ACCS vectors; pixel pairs split them (splitTile).
  const tiles = channelTiles(spec.fg, spec.simd, MAX_ACCS);
  overlapRemainder(tiles, spec.fg, spec.simd);
  const pt = PIXELS;
  const tileBody = (px: Pixels, t: Tile, fc: Expr, c0: Expr): Stmt[] =>
    splitTile(t, px.ox.length).flatMap((s) => convTile(spec, names, px, s.t, fc, s.at, c0));
  const taps = Math.max(...spec.rows.map((r) => r.n)) * Math.max(...spec.cols.map((c) => c.n));
  const weightBytes = taps * spec.cg * spec.outC * 4;
  const pixels =
    spec.rows.reduce((n, r) => n + r.count, 0) * spec.cols.reduce((n, c) => n + c.count, 0);
  const inputBytes = pixels * spec.cg * spec.groups * 4;
  if (spec.groups === 1 && weightBytes > WEIGHTS_OUTER_BYTES && weightBytes > inputBytes)
    // Phases of a transposed convolution (outputs o mod s) read disjoint taps: one phase at a
    // time, a tile's weights for that phase's taps stay in cache for all its pixels.
    return phases(spec.rows).flatMap((rows) =>
      phases(spec.cols).flatMap((cols) =>
        tiles.flatMap((t) =>
          tileLoop('f', t, (f) => forPixels(rows, cols, pt, (px) => tileBody(px, t, f, i32(0)))),
        ),
      ),
    );
  return forPixels(spec.rows, spec.cols, pt, (px) => {
    const perGroup = (g: Expr): Stmt[] =>
      tiles.flatMap((t) =>
        tileLoop('f', t, (f) => tileBody(px, t, add(mul(g, spec.fg), f), mul(g, spec.cg))),
      );
    return range('g', 0, spec.groups, perGroup);
  });
}

/** One channel tile at output channel fc + at for a pixel group; input channels from c0. */
function convTile(
  spec: ConvSpec,
  names: Names,
  px: Pixels,
  t: Tile,
  f0: Expr,
  at: number,
  c0: Expr,
): Stmt[] {
  const L: Lanes = t.lanes;
  const fc = add(f0, i32(at));
  const block = weightBlock(spec);
  const taps = spec.kh * spec.kw;
  /** Weight address of (tap, ci) for output channels fc + off.. */
  const wAddr = (tap: Expr, ci: Expr, off: number): Expr => {
    const row = add(mul(tap, spec.cg), ci);
    if (block === null) return add(spec.w, add(mul(row, spec.outC), add(fc, i32(off))));
    // f0 is a multiple of the block; at + off picks a block and a lane within it.
    const o = at + off;
    const blockBase = add(
      mul(f0, taps * spec.cg),
      i32(Math.floor(o / block) * taps * spec.cg * block),
    );
    return add(spec.w, add(blockBase, add(mul(row, block), i32(o % block))));
  };
  const { decls, accs } = accumulators(names, px.ox.length, t, (v) =>
    spec.b ? loadL(add(spec.b, add(fc, i32(v * L))), L) : fconst(0, L),
  );
  const type = L === 4 ? 'v128' : 'f32';
  /** One multiply-add step: input channel `ci` at row offset dy and column ix + dx, weight row
   * (tap, ci). */
  const step = (dy: Expr, dx: Expr, tap: Expr, ci: Expr): Stmt[] => {
    const inner: Stmt[] = [];
    const xs = px.ix.map((ix, p) => {
      const iy = add(px.iy[p]!, dy);
      const xv = bcast(loadL(xAddr(spec, iy, add(ix, dx), add(c0, ci)), 1), L);
      if (t.vecs === 1) return xv;
      const name = names.fresh('xv');
      inner.push(let_(name, xv));
      return get(name, type);
    });
    const ws = Array.from({ length: t.vecs }, (_, v) => {
      const wv = loadL(wAddr(tap, ci, v * L), L);
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
  // Consecutive column taps over consecutive input pixels, all channels (ungrouped): the
  // input is one contiguous run of n * cg floats per row tap, and so are the weight rows
  // (tap * cg + ci), so the column and channel loops are one loop (few channels: no loop of 3).
  const col = px.col;
  const flat = spec.groups === 1 && col.n > 1 && col.tstep === 1 && col.itap === 1;
  const body = forTaps(px.row, 'ty', false, (ty, dy) =>
    flat
      ? range('tc', 0, col.n * spec.cg, (j) =>
          step(dy, i32(0), add(mul(ty, spec.kw), i32(col.t0)), j),
        )
      : forTaps(col, 'tx', false, (tx, dx) =>
          range('ci', 0, spec.cg, (ci) => step(dy, dx, add(mul(ty, spec.kw), tx), ci)),
        ),
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

/** Most live accumulators per channelwise tile. Fewer than the convolution core's: a hot group
 * also keeps every input vector its unrolled column taps share live (pixels + taps - 1 per
 * vector), and more accumulators spill them. MobileNetV1's 13 depthwise layers took 1.37 ms
 * in all with 4 (4 pixels x 1 vector, pairs x 2) against 1.63 with 8; the separable example's
 * fused layer 11.65 ms against 12.51 (each layer's best of many runs, alone). */
const CHANNELWISE_ACCS = 4;

/** The channelwise core: output channel c reads input channel c (inC = outC). */
export function channelwiseCore(spec: ChannelwiseSpec, names: Names): Stmt[] {
  const tiles = channelTiles(
    spec.outC,
    spec.simd,
    Math.max(1, Math.floor(CHANNELWISE_ACCS / spec.pixels)),
  );
  overlapRemainder(tiles, spec.outC, spec.simd);
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
  const weights = (ty: Expr, tx: Expr, inner: Stmt[]): (Expr | null)[] =>
    Array.from({ length: t.vecs }, (_, v) => {
      if (!spec.weight) return null;
      const wv = loadL(spec.weight(ty, tx, at(v)), L);
      return px.ox.length === 1 ? wv : bind(names, inner, 'wv', wv);
    });
  // Column taps unrolled in hot groups, row taps a loop (see above: long straight runs of
  // steps allocate registers poorly in V8). Pixels of a hot group on one row read overlapping
  // columns: pixel p's tap m reads column ix[0] + p * istep + m * itap, each loaded once.
  const oneRow = px.iy.every((iy) => JSON.stringify(iy) === JSON.stringify(px.iy[0]));
  const col = px.col;
  const body =
    px.hot && oneRow && px.ox.length > 1 && col.n <= UNROLL_TAPS
      ? forTaps(px.row, 'ty', false, (ty, dy) => {
          const inner: Stmt[] = [];
          const xs = new Map<string, Expr>();
          const x = (key: number, v: number): Expr => {
            const k = `${key}:${v}`;
            let e = xs.get(k);
            if (!e) {
              const addr = xAddr(spec, add(px.iy[0]!, dy), add(px.ix[0]!, i32(key)), at(v));
              e = bind(names, inner, 'xv', loadL(addr, L));
              xs.set(k, e);
            }
            return e;
          };
          for (let m = 0; m < col.n; m++) {
            const ws = weights(ty, i32(col.t0 + m * col.tstep), inner);
            accs.forEach((row, p) =>
              row.forEach((name, v) => {
                const xv = x(p * col.istep + m * col.itap, v);
                inner.push(set(name, spec.step(get(name, type), xv, ws[v]!)));
              }),
            );
          }
          return inner;
        })
      : forTaps(px.row, 'ty', false, (ty, dy) =>
          forTaps(col, 'tx', px.hot, (tx, dx) => {
            const inner: Stmt[] = [];
            const ws = weights(ty, tx, inner);
            accs.forEach((row, p) =>
              row.forEach((name, v) => {
                const xv = loadL(xAddr(spec, add(px.iy[p]!, dy), add(px.ix[p]!, dx), at(v)), L);
                inner.push(set(name, spec.step(get(name, type), xv, ws[v]!)));
              }),
            );
            return inner;
          }),
        );
  const taps = px.row.n * px.col.n;
  return [...decls, ...body, ...stores(spec, px, t, accs, c, (a) => spec.finish(a, taps))];
}
