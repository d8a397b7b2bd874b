// The channelwise core: per channel c, a reduction over the taps reading x[., c] (depthwise
// convolution, pooling), vectorized over channels.
import { add, get, i32, set, type Expr, type Stmt } from '../../kir/kir.js';
import { forPixels, forTaps, type Pixels } from './spatial.js';
import { accumulators, overlapRemainder, stores, xAddr, type Frame } from './tile.js';
import { bind, channelTiles, loadL, tileLoop, type Lanes, type Names, type Tile } from './util.js';

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
  const tiles = channelTiles(
    spec.outC,
    spec.schedule.simd,
    Math.max(1, Math.floor(spec.schedule.channelwiseAccumulators / spec.pixels)),
  );
  overlapRemainder(tiles, spec.outC, spec.schedule.simd);
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
    px.hot && oneRow && px.ox.length > 1 && col.n <= spec.schedule.unrollTaps
      ? forTaps(px.row, 'ty', 0, (ty, dy) => {
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
      : forTaps(px.row, 'ty', 0, (ty, dy) =>
          forTaps(col, 'tx', px.hot ? spec.schedule.unrollTaps : 0, (tx, dx) => {
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
