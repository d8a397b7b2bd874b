// Winograd F(2x2, 3x3) for stride-1 3x3 convolutions (Lavin and Gray, 2015): each 2x2 block of
// outputs ("tile") comes from a 4x4 input patch d as Y = A^T [(G g G^T) . (B^T d B)] A, so the
// 36 multiply-adds per tile, input and output channel of the direct form become 16, and those
// 16 are 16 independent GEMMs over all tiles: M[k] = V[k] x U[k] (tiles x cin times cin x cout).
//
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
//
// U = G g G^T is computed from the folded kernel by a prepare kernel when the module loads
// (`winogradPrepare`: the module ships the kernel, not the 16/9 times larger U), so the layer's
// kernel runs three stages per block of tile rows, through scratch:
//   1. input transform: V[k][tile][c] = (B^T d B)[k] over the tile's patch (zero outside),
//   2. GEMMs: for k in 0..15, the pointwise convolution core on V[k] with U[k] (no bias),
//   3. output transform: y = A^T M A + bias, the activation, stored where inside the output.
// Patches that reach into the padding have their own code with those taps known zero (tile
// rows and columns are grouped by which patch rows and columns exist), as in the direct form.
// Tile rows are processed in blocks, so V and M stay in cache between the stages.
import type { Activation } from '../../layers/activations.js';
import {
  add,
  comment,
  f32,
  get,
  i32,
  loop,
  mul,
  splat,
  store,
  type Expr,
  type Stmt,
} from '../../kir/kir.js';
import type { PreparedWeight } from '../program.js';
import { convCore, weightBlock, type ConvSpec } from './conv_core.js';
import { storeActivated } from './epilogue.js';
import { plainRuns } from './spatial.js';
import { bind, fbin, hwc, loadL, Names, range } from './util.js';

/**
 * One stride-1 3x3 correlation over the input whose outputs m land at output row m * stride + ry
 * and column m * stride + rx: the whole conv2d (stride 1, ry = rx = 0), or one phase of a
 * stride-2 conv2d_transpose (its taps for that output parity, on a common 3x3 input window).
 */
export interface WinogradPhase {
  /** U of this phase: [16][F / T][C][T] (as `winogradPrepare` lays it out). */
  readonly w: Expr;
  readonly ry: number;
  readonly rx: number;
}

export interface WinogradSpec {
  readonly x: Expr;
  readonly y: Expr;
  readonly phases: readonly WinogradPhase[];
  /** Output step between consecutive outputs of a phase (1, or a transposed conv's stride). */
  readonly stride: number;
  readonly b: Expr | null;
  /** Scratch of `winogradScratch` floats. */
  readonly s: Expr;
  readonly H: number;
  readonly W: number;
  readonly C: number;
  readonly OH: number;
  readonly OW: number;
  readonly F: number;
  /** Patch row i of tile t reads input row 2t + i - padTop (columns likewise). */
  readonly padTop: number;
  readonly padLeft: number;
  readonly act: Activation;
}

/** Scratch bytes one block of tile rows may use for V and M together (about an L2). Each
 * block reads all of U once, so fewer, larger blocks read U fewer times: ResNet-50's Winograd
 * layers took 50-53 ms in all with 2 MB blocks against 55-57 ms with 1 MB (4 MB: 52 ms),
 * measured in the network on a core with 2 MB of L2. */
const BLOCK_BYTES = 2 << 20;

/** Whether the channels suit Winograd: whole vectors, and enough to repay the transforms. */
export const winogradChannels = (C: number, F: number, simd: boolean): boolean =>
  simd && C % 4 === 0 && F % 4 === 0 && C >= 16 && F >= 16;

type Sizes = Pick<WinogradSpec, 'OH' | 'OW' | 'C' | 'F' | 'stride'>;

/** Tiles per phase below which U (16/9 times the weights, or more for transposed phases) is
 * read too few times per run to repay streaming it from memory: each U float feeds one
 * multiply-add per tile, and one core multiply-adds about 7 floats in the time it reads one
 * from DRAM. DCGAN's 4x4x512 -> 8x8x256 layer (4 tiles, 33.5 MB of U against 13 MB of
 * kernel) ran its network in 7.0-7.5 ms direct against 8.1-8.2 ms this way. */
const MIN_TILES = 8;
/** U bytes that stay in cache from run to run, whatever the tile count. */
const CACHED_U_BYTES = 1 << 20;

/** Whether Winograd repays its larger weights at these sizes (see MIN_TILES). */
export function winogradPays(spec: Sizes, phases: number): boolean {
  const tiles = tilesOf(spec.OH, spec.stride) * tilesOf(spec.OW, spec.stride);
  return tiles >= MIN_TILES || phases * 16 * spec.C * spec.F * 4 <= CACHED_U_BYTES;
}

/** Whether a conv2d is computed this way: 3x3, stride 1, undilated, ungrouped, channels that
 * suit it, and an output large enough to repay U (winogradPays). */
export function winogradApplies(o: {
  readonly k: readonly number[];
  readonly s: readonly number[];
  readonly d: readonly number[];
  readonly groups: number;
  readonly C: number;
  readonly F: number;
  readonly OH: number;
  readonly OW: number;
  readonly simd: boolean;
}): boolean {
  return (
    o.k[0] === 3 &&
    o.k[1] === 3 &&
    o.s.every((v) => v === 1) &&
    o.d.every((v) => v === 1) &&
    o.groups === 1 &&
    winogradChannels(o.C, o.F, o.simd) &&
    winogradPays({ OH: o.OH, OW: o.OW, C: o.C, F: o.F, stride: 1 }, 1)
  );
}

/** Outputs of phase r along an axis of `size` outputs. */
const phaseOutputs = (size: number, stride: number, r: number): number =>
  Math.ceil((size - r) / stride);
/** Tiles along an axis: 2 outputs each, covering every phase's outputs. */
const tilesOf = (size: number, stride: number): number =>
  Math.ceil(phaseOutputs(size, stride, 0) / 2);

/** Tile rows per block: as many as fit BLOCK_BYTES, at least one. */
function blockRows(spec: Sizes): number {
  const perRow = 16 * tilesOf(spec.OW, spec.stride) * (spec.C + spec.F) * 4;
  return Math.max(1, Math.min(tilesOf(spec.OH, spec.stride), Math.floor(BLOCK_BYTES / perRow)));
}

/** Floats of scratch: V and M of one block. */
export function winogradScratch(spec: Sizes): number {
  return 16 * blockRows(spec) * tilesOf(spec.OW, spec.stride) * (spec.C + spec.F);
}

/**
 * A stride-2 transposed convolution along one axis as two phases on one 3-wide input window:
 * output o = 2m + r takes tap t from input m + e with t = r + pad - 2e. Returns the window's
 * first offset e0 and, per phase r, the tap read at window position a (e = e0 + a), or -1; null
 * when the phases' inputs do not fit one window of 3 (kernels longer than 6, say).
 */
export function transposeWindow(k: number, pad: number): { e0: number; taps: number[][] } | null {
  const es: number[][] = [0, 1].map((r) => {
    const out: number[] = [];
    for (let t = 0; t < k; t++) if ((r + pad - t) % 2 === 0) out.push((r + pad - t) / 2);
    return out;
  });
  const all = es.flat();
  if (all.length === 0) return null;
  const e0 = Math.min(...all);
  if (Math.max(...all) - e0 > 2) return null;
  const taps = [0, 1].map((r) =>
    [0, 1, 2].map((a) => {
      const t = r + pad - 2 * (e0 + a);
      return t >= 0 && t < k ? t : -1;
    }),
  );
  return { e0, taps };
}

/** The taps of one phase: per 3x3 window position, the kernel row (column) it reads, or -1. */
export interface PhaseTaps {
  readonly rows: readonly number[];
  readonly cols: readonly number[];
}

/**
 * The weight transform U = G g G^T of every phase, as a kernel run once at load: from the
 * kernel laid out [kh, kw, C, F] at 'g' (phase filter g[a, b] = kernel[rows[a], cols[b]]) to
 * [phases][16][F / T][C][T] at 'u', the pointwise packing the GEMMs read (T from weightBlock).
 * Vectorized over output channels; G's entries are 0, 1/2 and 1, so the f32 sums lose little.
 */
export function winogradPrepare(
  kh: number,
  kw: number,
  C: number,
  F: number,
  phases: readonly PhaseTaps[],
): PreparedWeight {
  const T = weightBlock({ simd: true, groups: 1, fg: F });
  if (T === null) throw new Error(`winograd weights need whole vectors of filters, got ${F}`);
  const names = new Names();
  const g = get('g');
  const u = get('u');
  const half = (x: Z): Z => (x === null ? null : fbin('mul', x, splat(f32(0.5))));
  /** G applied along one axis: 3 values to 4. */
  const gt = (x: readonly Z[]): Z[] => [
    x[0]!,
    half(vadd(vadd(x[0]!, x[1]!), x[2]!)),
    half(vadd(vsub(x[0]!, x[1]!), x[2]!)),
    x[2]!,
  ];
  const body = loop(
    'ci',
    0,
    C,
    range('fb', 0, F / T, (fb) =>
      range(
        'fl',
        0,
        T,
        (fl) => {
          const stmts: Stmt[] = [];
          const local = (e: Z): Z =>
            e === null || e.op === 'get' ? e : bind(names, stmts, 'wu', e);
          const f = add(mul(fb, T), fl);
          phases.forEach((ph, q) => {
            const gv = [0, 1, 2].map((a) =>
              [0, 1, 2].map((b) => {
                const ty = ph.rows[a]!;
                const tx = ph.cols[b]!;
                if (ty < 0 || tx < 0) return null;
                return local(
                  loadL(add(g, add(mul(add(i32((ty * kw + tx) * C), get('ci')), F), f)), 4),
                );
              }),
            );
            // t = G g (4 x 3), then U = t G^T (4 x 4).
            const t = [0, 1, 2].map((b) => gt(gv.map((row) => row[b]!)).map(local)); // t[b][i]
            for (let i = 0; i < 4; i++) {
              const row = gt(t.map((col) => col[i]!));
              row.forEach((e, j) => {
                const k = q * 16 + i * 4 + j;
                const at = add(
                  u,
                  add(add(i32(k * C * F), mul(fb, C * T)), add(mul(get('ci'), T), fl)),
                );
                stmts.push(store(at, e ?? ZERO));
              });
            }
          });
          return stmts;
        },
        4,
      ),
    ),
  );
  const tag = (taps: readonly number[]): string => taps.map((t) => (t < 0 ? 'n' : t)).join('');
  const name = [
    'winograd_weights',
    `k${kh}x${kw}`,
    `c${C}`,
    `f${F}`,
    ...phases.map((p) => `r${tag(p.rows)}c${tag(p.cols)}`),
  ].join('_');
  return {
    kernel: {
      name,
      params: ['u', 'g'],
      body: [body],
      doc: [
        `Winograd F(2x2, 3x3) weights: U = G g G^T for ${phases.length} phase(s) of a ${kh}x${kw} kernel, ${C} -> ${F} channels`,
        `from [kh, kw, C, F] to [phases][16][F / ${T}][C][${T}], once when the module loads`,
      ],
    },
    size: phases.length * 16 * C * F,
  };
}

/** A value, or null when it is known to be zero (a tap in the padding). */
type Z = Expr | null;
const vsub = (a: Z, b: Z): Z =>
  b === null ? a : a === null ? { op: 'neg', type: 'v128', a: b } : fbin('sub', a, b);
const vadd = (a: Z, b: Z): Z => (a === null ? b : b === null ? a : fbin('add', a, b));
const ZERO = splat(f32(0));

/** Groups 0..n-1 into runs of consecutive indices with the same key. */
function runsBy<K>(n: number, key: (i: number) => K): { from: number; count: number; key: K }[] {
  const runs: { from: number; count: number; key: K }[] = [];
  for (let i = 0; i < n; i++) {
    const k = key(i);
    const last = runs[runs.length - 1];
    if (last && JSON.stringify(last.key) === JSON.stringify(k)) last.count++;
    else runs.push({ from: i, count: 1, key: k });
  }
  return runs;
}

/** Which of a patch's 4 rows (or columns) lie inside the input, for tile t. */
const patchMask = (t: number, pad: number, size: number): boolean[] =>
  [0, 1, 2, 3].map((i) => 2 * t - pad + i >= 0 && 2 * t - pad + i < size);
/** Per phase residue 0..stride-1: which of a tile's 2 outputs of that phase exist. */
const outMask = (t: number, size: number, stride: number): boolean[][] =>
  Array.from({ length: stride }, (_, r) => {
    const n = phaseOutputs(size, stride, r);
    return [2 * t < n, 2 * t + 1 < n];
  });

export function winogradCore(spec: WinogradSpec, names: Names): Stmt[] {
  const TH = tilesOf(spec.OH, spec.stride);
  const TW = tilesOf(spec.OW, spec.stride);
  const R = blockRows(spec);
  const colRuns = runsBy(TW, (t) => ({
    i: patchMask(t, spec.padLeft, spec.W),
    o: outMask(t, spec.OW, spec.stride),
  }));
  const rowKey = (t: number): Key => ({
    i: patchMask(t, spec.padTop, spec.H),
    o: outMask(t, spec.OH, spec.stride),
  });

  // Blocks of R tile rows (the last may be shorter); consecutive blocks whose rows have the
  // same masks share one loop.
  const blocks = runsBy(Math.ceil(TH / R), (b) => {
    const rows = Math.min(R, TH - b * R);
    return { rows, keys: Array.from({ length: rows }, (_, r) => rowKey(b * R + r)) };
  });
  const out: Stmt[] = [
    comment(`Winograd F(2x2, 3x3): ${TH}x${TW} tiles in blocks of ${R} tile rows`),
  ];
  for (const seg of blocks) {
    const rows = seg.key.rows;
    const body = (bi: Expr): Stmt[] => {
      // First tile row of this block.
      const th0 = add(i32(seg.from * R), mul(bi, R));
      return blockCode(spec, names, th0, rows, seg.key.keys, colRuns, TW);
    };
    out.push(...range('wb', 0, seg.count, body));
  }
  return out;
}

type Key = { i: boolean[]; o: boolean[][] };

function blockCode(
  spec: WinogradSpec,
  names: Names,
  th0: Expr,
  rows: number,
  keys: readonly Key[],
  colRuns: readonly { from: number; count: number; key: Key }[],
  TW: number,
): Stmt[] {
  const { C, F } = spec;
  const T = rows * TW;
  const V = spec.s;
  const M = add(spec.s, i32(16 * T * C));
  const rowRuns = runsBy(rows, (r) => keys[r]!);

  /** Loops over the block's tiles: body(th, tw, tile index in the block, row key, column key). */
  const forTiles = (body: (th: Expr, tw: Expr, tile: Expr, rk: Key, ck: Key) => Stmt[]): Stmt[] =>
    rowRuns.flatMap((rr) =>
      range('wr', rr.from, rr.from + rr.count, (r) =>
        colRuns.flatMap((cr) =>
          range('wt', cr.from, cr.from + cr.count, (t) =>
            body(add(th0, r), t, add(mul(r, TW), t), rr.key, cr.key),
          ),
        ),
      ),
    );

  // 1. Input transform, one channel vector at a time.
  const inputT = forTiles((th, tw, tile, rk, ck) =>
    range(
      'wc',
      0,
      C,
      (c) => {
        const stmts: Stmt[] = [];
        const d = (i: number, j: number): Z => {
          if (!rk.i[i] || !ck.i[j]) return null;
          const iy = add(mul(th, 2), i32(i - spec.padTop));
          const ix = add(mul(tw, 2), i32(j - spec.padLeft));
          return bind(names, stmts, 'wd', loadL(hwc(spec.x, spec.W, C, iy, ix, c), 4));
        };
        const dv = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => d(i, j)));
        const col = (j: number) => (i: number) => dv[i]![j]!;
        // t = B^T d (rows), then v = t B (columns); each t row through locals.
        const bt = (row: (i: number) => Z): Z[] => [
          vsub(row(0), row(2)),
          vadd(row(1), row(2)),
          vsub(row(2), row(1)),
          vsub(row(1), row(3)),
        ];
        const tcols = [0, 1, 2, 3].map((j) => bt(col(j))); // tcols[j][r] = t[r][j]
        const tv: Z[][] = [0, 1, 2, 3].map((r) =>
          [0, 1, 2, 3].map((j) => {
            const e = tcols[j]![r]!;
            return e === null || e.op === 'get' ? e : bind(names, stmts, 'wtr', e);
          }),
        );
        for (let r = 0; r < 4; r++) {
          const v = bt((j) => tv[r]![j]!);
          v.forEach((e, q) => {
            const at = add(V, add(mul(add(mul(i32(r * 4 + q), T), tile), C), c));
            stmts.push(store(at, e ?? ZERO));
          });
        }
        return stmts;
      },
      4,
    ),
  );

  // Per phase: 2. sixteen GEMMs over the block's tiles, M[k] = V[k] U[k]; 3. the output
  // transform y = A^T m A + bias, activated, stored where inside the output.
  const perPhase = spec.phases.flatMap((phase) => [
    gemm(spec, names, V, M, phase.w, T),
    ...outputTransform(spec, names, M, T, phase, forTiles),
  ]);
  return [...inputT, ...perPhase];
}

type ForTiles = (body: (th: Expr, tw: Expr, tile: Expr, rk: Key, ck: Key) => Stmt[]) => Stmt[];

function gemm(spec: WinogradSpec, names: Names, V: Expr, M: Expr, w: Expr, T: number): Stmt {
  const { C, F } = spec;
  return loop(
    'wk',
    0,
    16,
    convCore(
      {
        x: add(V, mul(get('wk'), T * C)),
        y: add(M, mul(get('wk'), T * F)),
        w: add(w, mul(get('wk'), C * F)),
        b: null,
        inW: T,
        inC: C,
        outW: T,
        outC: F,
        rows: plainRuns(1),
        cols: plainRuns(T),
        kh: 1,
        kw: 1,
        groups: 1,
        cg: C,
        fg: F,
        simd: true,
        act: { fn: 'linear' },
      } satisfies ConvSpec,
      names,
    ),
  );
}

function outputTransform(
  spec: WinogradSpec,
  names: Names,
  M: Expr,
  T: number,
  phase: WinogradPhase,
  forTiles: ForTiles,
): Stmt[] {
  const F = spec.F;
  return forTiles((th, tw, tile, rk, ck) =>
    range(
      'wc',
      0,
      F,
      (c) => {
        const stmts: Stmt[] = [];
        const mv = Array.from({ length: 16 }, (_, k) =>
          bind(names, stmts, 'wm', loadL(add(M, add(mul(add(mul(i32(k), T), tile), F), c)), 4)),
        );
        // s = A^T m per column, then y = s A per row.
        const at = (x: (i: number) => Expr): Expr[] => [
          fbin('add', fbin('add', x(0), x(1)), x(2)),
          fbin('sub', fbin('sub', x(1), x(2)), x(3)),
        ];
        const s = [0, 1, 2, 3].map((j) => at((i) => mv[i * 4 + j]!)); // s[j][p]
        const bias = spec.b ? bind(names, stmts, 'wbias', loadL(add(spec.b, c), 4)) : null;
        for (let p = 0; p < 2; p++) {
          if (!rk.o[phase.ry]![p]) continue;
          const y = at((j) => s[j]![p]!);
          for (let q = 0; q < 2; q++) {
            if (!ck.o[phase.rx]![q]) continue;
            const oy = add(mul(add(mul(th, 2), i32(p)), spec.stride), i32(phase.ry));
            const ox = add(mul(add(mul(tw, 2), i32(q)), spec.stride), i32(phase.rx));
            const value = bind(names, stmts, 'wy', bias ? fbin('add', y[q]!, bias) : y[q]!);
            stmts.push(...storeActivated(hwc(spec.y, spec.OW, F, oy, ox, c), value, spec.act));
          }
        }
        return stmts;
      },
      4,
    ),
  );
}
