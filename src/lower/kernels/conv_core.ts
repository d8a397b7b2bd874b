// The convolution core, the gather core every convolution-like kernel is built from (conv2d,
// conv2d_transpose, dense, pointwise stages): y[p, f] = b[f] + sum over taps and input
// channels of x * w, vectorized over output channels (acc[f..f+3] += splat(x[ci]) *
// w[tap, ci, f..f+3]), register-tiled by the schedule: groups of `pixels` output pixels x
// accumulators / pixels vectors (4 x 8 channels on wasm; a pair takes 16, a lone pixel 32),
// weights packed by output-channel block so a tile streams them contiguously, the channel-tile
// loop outermost when the weights outgrow the input. Fewer than 4 output channels go to the
// dot-product core (dot_core.ts); depthwise and pooling to the channelwise core
// (channelwise_core.ts).
import { add, get, i32, let_, mul, set, type Expr, type Stmt } from '../../kir/kir.js';
import type { LowerOptions, Pack } from '../program.js';
import { dotApplies, dotCore } from './dot_core.js';
import { accumulators, overlapRemainder, stores, xAddr, type ConvSpec } from './tile.js';
import { forPixels, forTaps, type Pixels, type Run } from './spatial.js';
import {
  bcast,
  channelTiles,
  floatBinary,
  fconst,
  loadL,
  range,
  tileLoop,
  type Lanes,
  type Names,
  type Tile,
} from './util.js';

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
export function weightBlock(spec: Pick<ConvSpec, 'schedule' | 'groups' | 'fg'>): number | null {
  const { simd, accumulators, pixels } = spec.schedule;
  if (!simd || spec.groups !== 1) return null;
  // A full pixel group's sub-tile: accumulators / pixels vectors.
  for (const t of [(accumulators / pixels) * 4, 4]) if (spec.fg % t === 0) return t;
  return null;
}

/** The block of output channels a convolution-core layer may be split by (0: none): the
 * weights' pack block of 8, so each block's weights are contiguous and every tile whole
 * vectors (the dot-product core and grouped layers are not split so). */
export function convChannelBlock(groups: number, F: number, opts: LowerOptions): number {
  const block = weightBlock({ schedule: opts.schedule, groups, fg: F });
  return groups === 1 && block === 8 && F >= 16 ? block : 0;
}

/** The pack for a kernel laid out [...lead, F] into [F / T][...lead][T] (see weightBlock). */
export function blockPack(lead: readonly number[], f: number, t: number): Pack {
  const n = lead.length;
  return {
    shape: [...lead, f / t, t],
    perm: [n, ...lead.map((_, i) => i), n + 1],
  };
}

// Nothing is unrolled around the channel loop: V8 allocates registers poorly across long
// straight runs of multiply-add steps and across many sibling loops (accumulators spill), so
// taps and channels stay loops. Measured with broadcast loads: mnist's 5x5 stride-2 conv2d
// runs in 0.15 ms with tap loops against 0.23 ms with its 25 taps unrolled; ResNet-50 and
// DCGAN are unchanged within noise.

/**
 * One channel tile split for a pixel group: groups of several pixels take sub-tiles of up to
 * accumulators / pixels vectors; a lone pixel takes up to all the accumulators, so that remainders
 * (odd columns, borders, 7x7 maps) still keep enough accumulators in flight.
 */
function splitTile(t: Tile, pixels: number, accumulators: number): { t: Tile; at: number }[] {
  const most = Math.max(1, Math.floor(accumulators / pixels));
  const out: { t: Tile; at: number }[] = [];
  for (let v = 0; v < t.vecs; v += most) {
    const vecs = Math.min(most, t.vecs - v);
    out.push({ t: { ...t, vecs, to: t.from + vecs * t.lanes }, at: v * t.lanes });
  }
  return out;
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
  // Tiles of up to all the accumulators; pixel groups split them (splitTile).
  const tiles = channelTiles(spec.fg, spec.schedule.simd, spec.schedule.accumulators);
  overlapRemainder(tiles, spec.fg, spec.schedule.simd);
  const pt = spec.schedule.pixels;
  const tileBody = (px: Pixels, t: Tile, fc: Expr, c0: Expr): Stmt[] =>
    splitTile(t, px.ox.length, spec.schedule.accumulators).flatMap((s) =>
      convTile(spec, names, px, s.t, fc, s.at, c0),
    );
  const taps = Math.max(...spec.rows.map((r) => r.n)) * Math.max(...spec.cols.map((c) => c.n));
  const weightBytes = taps * spec.cg * spec.outC * 4;
  const pixels =
    spec.rows.reduce((n, r) => n + r.count, 0) * spec.cols.reduce((n, c) => n + c.count, 0);
  const inputBytes = pixels * spec.cg * spec.groups * 4;
  if (
    spec.groups === 1 &&
    weightBytes > spec.schedule.weightsOuterBytes &&
    weightBytes > inputBytes
  )
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
        inner.push(
          set(name, floatBinary('add', get(name, type), floatBinary('mul', xs[p]!, ws[v]!))),
        ),
      ),
    );
    return inner;
  };
  // Consecutive column taps over consecutive input pixels, all channels (ungrouped): the
  // input is one contiguous run of n * cg floats per row tap, and so are the weight rows
  // (tap * cg + ci), so the column and channel loops are one loop (few channels: no loop of 3).
  const col = px.col;
  const flat = spec.groups === 1 && col.n > 1 && col.tstep === 1 && col.itap === 1;
  const body = forTaps(px.row, 'ty', 0, (ty, dy) =>
    flat
      ? range('tc', 0, col.n * spec.cg, (j) =>
          step(dy, i32(0), add(mul(ty, spec.kw), i32(col.t0)), j),
        )
      : forTaps(col, 'tx', 0, (tx, dx) =>
          range('ci', 0, spec.cg, (ci) => step(dy, dx, add(mul(ty, spec.kw), tx), ci)),
        ),
  );
  return [...decls, ...body, ...stores(spec, px, t, accs, fc)];
}
