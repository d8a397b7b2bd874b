// Winograd F(2x2, 3x3) for stride-1 3x3 convolutions (Lavin and Gray, 2015): each 2x2 block of
// outputs ("tile") comes from a 4x4 input patch d as outputBase = A^T [(G g G^T) . (B^T d B)] A, so the
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
// A transposed convolution's phases may have fewer taps along an axis: there F(2, 2) (3 points)
// or F(2, 1) (2, the direct form) replaces F(2, 3), with its own B, G and A (AxisForm).
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
import { convCore, weightBlock } from './conv_core.js';
import type { ConvSpec } from './tile.js';
import type { Schedule } from '../schedule.js';
import { plusResidual, storeActivated } from './epilogue.js';
import { plainRuns } from './spatial.js';
import { bind, floatBinary, hwc, loadL, Names, range } from './util.js';

/**
 * One stride-1 3x3 correlation over the input whose outputs m land at output row m * stride + ry
 * and column m * stride + rx: the whole conv2d (stride 1, ry = rx = 0), or one phase of a
 * stride-2 conv2d_transpose (its taps for that output parity, on a common 3x3 input window).
 */
export interface WinogradPhase extends PhaseTaps {
  /** U of this phase: [points][F / T][C][T] (as `winogradPrepare` lays it out). */
  readonly w: Expr;
  readonly ry: number;
  readonly rx: number;
}

/**
 * Winograd F(2, r) along one axis, for the r taps a phase has there (3, or fewer for a
 * transposed convolution's phases): its r + 1 points read window positions at..at + r, and
 * V = B^T d, U = G g, y = A^T m. F(2, 2) takes 3 multiplies for 2 outputs (direct: 4), F(2, 1)
 * is the direct form.
 */
interface AxisForm {
  readonly at: number;
  readonly BT: readonly (readonly number[])[];
  readonly G: readonly (readonly number[])[];
  readonly AT: readonly (readonly number[])[];
}

const FORMS: Readonly<Record<number, Omit<AxisForm, 'at'>>> = {
  3: {
    BT: [
      [1, 0, -1, 0],
      [0, 1, 1, 0],
      [0, -1, 1, 0],
      [0, 1, 0, -1],
    ],
    G: [
      [1, 0, 0],
      [0.5, 0.5, 0.5],
      [0.5, -0.5, 0.5],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 0],
      [0, 1, -1, -1],
    ],
  },
  2: {
    BT: [
      [1, -1, 0],
      [0, 1, 0],
      [0, -1, 1],
    ],
    G: [
      [1, 0],
      [1, 1],
      [0, 1],
    ],
    AT: [
      [1, 1, 0],
      [0, 1, 1],
    ],
  },
  1: {
    BT: [
      [1, 0],
      [0, 1],
    ],
    G: [[1], [1]],
    AT: [
      [1, 0],
      [0, 1],
    ],
  },
};

/** The form for a phase's taps along an axis (per window position, -1 where none). */
function axisForm(taps: readonly number[]): AxisForm {
  const at = taps.findIndex((t) => t >= 0);
  const r = taps.filter((t) => t >= 0).length;
  if (at < 0 || taps.slice(at, at + r).some((t) => t < 0))
    throw new Error(`winograd: taps ${taps.join(' ')} are not consecutive`);
  return { at, ...FORMS[r]! };
}

/** Matrices a phase's U holds (points along rows times along columns). */
export const phasePoints = (p: PhaseTaps): number =>
  axisForm(p.rows).BT.length * axisForm(p.cols).BT.length;

/** Where each phase's U starts, in matrices of C x F, as `winogradPrepare` lays them out (one
 * phase after another), and the matrices in all. */
export function phaseOffsets(phases: readonly PhaseTaps[]): { at: number[]; total: number } {
  const at: number[] = [];
  let total = 0;
  for (const p of phases) {
    at.push(total);
    total += phasePoints(p);
  }
  return { at, total };
}

/** The taps of a 3x3 stride-1 convolution: its one phase reads every window position. */
export const CONV_3X3: PhaseTaps = { rows: [0, 1, 2], cols: [0, 1, 2] };

/** sum of c[j] * v[j]: additions and subtractions, and one multiply when the nonzero
 * coefficients share a magnitude other than 1 (G's halves); null when all terms are zero. */
function combine(c: readonly number[], v: readonly Z[]): Z {
  let acc: Z = null;
  let scale = 0;
  for (let j = 0; j < c.length; j++) {
    if (c[j] === 0 || v[j] === null) continue;
    const m = Math.abs(c[j]!);
    if (scale === 0) scale = m;
    else if (m !== scale) throw new Error('winograd: mixed coefficient magnitudes');
    acc = c[j]! > 0 ? vadd(acc, v[j]!) : vsub(acc, v[j]!);
  }
  return acc === null || scale === 1 ? acc : floatBinary('mul', acc, splat(f32(scale)));
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
  /** A tensor laid out like the output, added before the activation (conv2d_add), or none. */
  readonly residual?: Expr | null;
  readonly schedule: Schedule;
  /** Tile rows [from, from + count) only (a band of output rows: see winogradBand). */
  readonly tileRows?: { readonly from: number; readonly count: number } | undefined;
  /** With tileRows: the code is relative to moved bases (LoweredNode.bandShift: see
   * winogradBandShift), so bands of equal masks are one kernel; else in place. */
  readonly relative?: boolean;
  /** Output channels [0, channels) of bases moved to a block's first channel (the output, the
   * residual, U, the bias: winogradChannelShift), every tile row; absent: all F. The input
   * transform is the whole layer's (each block transforms every input channel), the GEMMs and
   * the output transform the block's: M holds `channels` per tile. */
  readonly channels?: number;
  /** A layer split in two phases between threads (see winogradStaged): 'input' computes the
   * input transform only, of its tile rows (`tileRows`, relative), into the whole layer's V at
   * `s` (its base moved to the band's first tile: BandShift.s); 'rest' the GEMMs and the output
   * transform of every tile (of a block of `channels`), reading that V at `x`, its M in `s`.
   * Absent: all three stages. Only for a layer computed in one block of tile rows. */
  readonly stage?: 'input' | 'rest';
}

/** The input row a relative band's input base points at: its first patch's first row (the
 * top padding left out). */
const bandInRow = (spec: WinogradSpec): number =>
  Math.max(0, 2 * (spec.tileRows?.from ?? 0) - spec.padTop);

/** A relative Winograd band's moved bases (floats): the output and the residual by its first
 * tile row's outputs, the input by bandInRow's rows; an 'input' stage's V base (BandShift.s)
 * by its first tile's matrices in the whole layer's V. */
export function winogradBandShift(spec: WinogradSpec): { y: number; x: number[]; s?: number } {
  const t0 = spec.tileRows?.from ?? 0;
  const y = 2 * t0 * spec.stride * spec.OW * spec.F;
  const x = [bandInRow(spec) * spec.W * spec.C, ...(spec.residual ? [y] : [])];
  return spec.stage === 'input'
    ? { y, x, s: t0 * tilesOf(spec.OW, spec.stride) * spec.C }
    : { y, x };
}

/** Whether a layer is computed in one block of tile rows (its V and M all in scratch at once):
 * then its input transform and the rest can be split between threads differently (`stage`). */
export function winogradOneBlock(spec: Sizes & { readonly phases: readonly PhaseTaps[] }): boolean {
  return blockRows(spec, spec.phases) >= tilesOf(spec.OH, spec.stride);
}

/** A part's name and doc tags, with its stage's. */
export function stageTags(
  stage: WinogradSpec['stage'],
  tags: { name: string | false; doc: string[] },
): { name: string | false; doc: string[] } {
  if (!stage) return tags;
  return {
    name: `${tags.name || 'all'}_${stage === 'input' ? 'vin' : 'vrest'}`,
    doc: [
      ...tags.doc,
      stage === 'input'
        ? "the input transform only, into the whole layer's V at the scratch base the step passes"
        : 'the GEMMs and the output transform only, V read at the input base the step passes',
    ],
  };
}

/** A block of output channels' moved bases (floats): the output and the residual by its first
 * channel `from`, U (the prepared kernel: [points][F / T][C][T]) by `from` blocks' worth of
 * rows, the bias by `from`. */
export function winogradChannelShift(
  spec: WinogradSpec,
  from: number,
  node: { readonly weights: readonly { readonly name: string }[] },
): { y: number; x: number[]; w: number[] } {
  return {
    y: from,
    x: [0, ...(spec.residual ? [from] : [])],
    w: node.weights.map((w) => (w.name === 'kernel' ? from * spec.C : from)),
  };
}

/** Output rows a tile row covers: 2 per phase. A band split between threads starts at a
 * multiple of this, so every tile is whole in one band. */
export const winogradBandRows = (stride: number): number => 2 * stride;

/** The tile rows of a band of output rows (LowerOptions.band; `from` a multiple of
 * winogradBandRows). */
export function winogradBand(
  band: { readonly from: number; readonly count: number } | undefined,
  stride: number,
): { from: number; count: number } | undefined {
  if (!band) return undefined;
  const per = winogradBandRows(stride);
  if (band.from % per !== 0) throw new Error(`a Winograd band starts at a multiple of ${per}`);
  const from = band.from / per;
  return { from, count: Math.ceil((band.from + band.count) / per) - from };
}

/** Whether the channels suit Winograd: whole vectors, and enough to repay the transforms. */
export const winogradChannels = (C: number, F: number, simd: boolean): boolean =>
  simd && C % 4 === 0 && F % 4 === 0 && C >= 16 && F >= 16;

type Sizes = Pick<WinogradSpec, 'OH' | 'OW' | 'C' | 'F' | 'stride' | 'schedule'>;

/** Whether Winograd repays its larger weights U (16/9 times the weights, or more for
 * transposed phases) at these sizes: enough tiles per phase to read U from memory, or a U
 * that stays in cache (Schedule.winogradMinTiles, cachedWeightBytes). */
export function winogradPays(spec: Sizes, phases: readonly PhaseTaps[]): boolean {
  const tiles = tilesOf(spec.OH, spec.stride) * tilesOf(spec.OW, spec.stride);
  const points = phases.reduce((n, p) => n + phasePoints(p), 0);
  const { winogradMinTiles, cachedWeightBytes } = spec.schedule;
  return tiles >= winogradMinTiles || points * spec.C * spec.F * 4 <= cachedWeightBytes;
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
  readonly schedule: Schedule;
}): boolean {
  return (
    o.k[0] === 3 &&
    o.k[1] === 3 &&
    o.s.every((v) => v === 1) &&
    o.d.every((v) => v === 1) &&
    o.groups === 1 &&
    winogradChannels(o.C, o.F, o.schedule.simd) &&
    winogradPays({ OH: o.OH, OW: o.OW, C: o.C, F: o.F, stride: 1, schedule: o.schedule }, [
      CONV_3X3,
    ])
  );
}

/** Outputs of phase r along an axis of `size` outputs. */
const phaseOutputs = (size: number, stride: number, r: number): number =>
  Math.ceil((size - r) / stride);
/** Tiles along an axis: 2 outputs each, covering every phase's outputs. */
const tilesOf = (size: number, stride: number): number =>
  Math.ceil(phaseOutputs(size, stride, 0) / 2);

/** Matrices of V (one set per distinct input transform) and of M (reused phase by phase). */
function scratchPoints(phases: readonly PhaseTaps[]): { v: number; m: number } {
  const v = new Map<string, number>();
  for (const p of phases) v.set(vKey(p), phasePoints(p));
  return { v: [...v.values()].reduce((a, b) => a + b, 0), m: Math.max(...phases.map(phasePoints)) };
}

/** Phases whose taps start and end at the same window positions share one input transform. */
const vKey = (p: PhaseTaps): string =>
  JSON.stringify([p.rows, p.cols].map((t) => t.map((x) => x >= 0)));

/** Tile rows per block: as many as fit Schedule.winogradBlockBytes, at least one. */
function blockRows(spec: Sizes, phases: readonly PhaseTaps[]): number {
  const n = scratchPoints(phases);
  const perRow = tilesOf(spec.OW, spec.stride) * (n.v * spec.C + n.m * spec.F) * 4;
  return Math.max(
    1,
    Math.min(tilesOf(spec.OH, spec.stride), Math.floor(spec.schedule.winogradBlockBytes / perRow)),
  );
}

/** Floats of scratch: V and M of one block. */
export function winogradScratch(
  spec: Sizes & { readonly phases: readonly PhaseTaps[]; readonly stage?: 'input' | 'rest' },
): number {
  const n = scratchPoints(spec.phases);
  // The 'rest' stage: M only (V is the 'input' stage's, at x).
  if (spec.stage === 'rest')
    return tilesOf(spec.OH, spec.stride) * tilesOf(spec.OW, spec.stride) * n.m * spec.F;
  return (
    blockRows(spec, spec.phases) * tilesOf(spec.OW, spec.stride) * (n.v * spec.C + n.m * spec.F)
  );
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
  schedule: Schedule,
): PreparedWeight {
  const T = weightBlock({ schedule, groups: 1, fg: F });
  if (T === null) throw new Error(`winograd weights need whole vectors of filters, got ${F}`);
  const names = new Names();
  const g = get('g');
  const u = get('u');
  const offsets = phaseOffsets(phases);
  // Filter blocks outside, input channels inside: each of U's matrices is written in order
  // (the other way round wrote a few floats every C * T, 2 to 4 times slower at load).
  const body = range('fb', 0, F / T, (fb) => [
    loop(
      'ci',
      0,
      C,
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
            const rf = axisForm(ph.rows);
            const cf = axisForm(ph.cols);
            // The phase's filter g[a][b] over its own taps.
            const gv = rf.G[0]!.map((_, a) =>
              cf.G[0]!.map((_, b) => {
                const ty = ph.rows[rf.at + a]!;
                const tx = ph.cols[cf.at + b]!;
                return local(
                  loadL(add(g, add(mul(add(i32((ty * kw + tx) * C), get('ci')), F), f)), 4),
                );
              }),
            );
            // t = G g (rows), then U = t G^T (columns).
            const t = rf.G.map((gr) =>
              gv[0]!.map((_, b) =>
                local(
                  combine(
                    gr,
                    gv.map((r) => r[b]!),
                  ),
                ),
              ),
            );
            t.forEach((row, i) =>
              cf.G.forEach((gc, j) => {
                const k = offsets.at[q]! + i * cf.G.length + j;
                const at = add(
                  u,
                  add(add(i32(k * C * F), mul(fb, C * T)), add(mul(get('ci'), T), fl)),
                );
                stmts.push(store(at, combine(gc, row) ?? ZERO));
              }),
            );
          });
          return stmts;
        },
        4,
      ),
    ),
  ]);
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
      body,
      doc: [
        `Winograd F(2x2, 3x3) weights (F(2, 2) and F(2, 1) along axes with fewer taps): U = G g G^T for ${phases.length} phase(s) of a ${kh}x${kw} kernel, ${C} -> ${F} channels`,
        `from [kh, kw, C, F] to [phases][points][F / ${T}][C][${T}], once when the module loads`,
      ],
    },
    size: offsets.total * C * F,
  };
}

/** A value, or null when it is known to be zero (a tap in the padding). */
type Z = Expr | null;
const vsub = (a: Z, b: Z): Z =>
  b === null ? a : a === null ? { op: 'neg', type: 'v128', a: b } : floatBinary('sub', a, b);
const vadd = (a: Z, b: Z): Z => (a === null ? b : b === null ? a : floatBinary('add', a, b));
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
  const TW = tilesOf(spec.OW, spec.stride);
  // The tile rows computed: all, or a band's (the same blocks' arithmetic, fewer of them).
  const t0 = spec.tileRows?.from ?? 0;
  const TH = spec.tileRows?.count ?? tilesOf(spec.OH, spec.stride);
  const R = Math.min(TH, blockRows(spec, spec.phases));
  if (spec.stage && (R < TH || !winogradOneBlock(spec)))
    throw new Error('winograd: a layer split in stages is computed in one block');
  if (spec.stage === 'rest' && (spec.tileRows || spec.channels === undefined))
    throw new Error('winograd: the rest stage is a block of channels of every tile');
  if (spec.stage === 'input' && (!spec.tileRows || !spec.relative || spec.channels !== undefined))
    throw new Error('winograd: the input stage is a band of tile rows');
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
    return { rows, keys: Array.from({ length: rows }, (_, r) => rowKey(t0 + b * R + r)) };
  });
  const out: Stmt[] = [
    comment(`Winograd F(2x2, 3x3): ${TH}x${TW} tiles in blocks of ${R} tile rows`),
  ];
  for (const seg of blocks) {
    const rows = seg.key.rows;
    const body = (bi: Expr): Stmt[] => {
      // First tile row of this block.
      // (Relative to the band's first tile row when the bases move with the band.)
      const th0 = add(i32((spec.relative ? 0 : t0) + seg.from * R), mul(bi, R));
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
  // V: one set of matrices per distinct input transform, then M (reused phase by phase). An
  // 'input' stage writes its tiles into the whole layer's V (matrices of every tile), the
  // 'rest' reads V at x and keeps only M in scratch.
  const vT = spec.stage === 'input' ? tilesOf(spec.OH, spec.stride) * TW : T;
  const vBase = spec.stage === 'rest' ? spec.x : spec.s;
  const groups = [...new Map(spec.phases.map((p) => [vKey(p), p])).values()];
  const vAt = new Map<string, Expr>();
  let vTop = 0;
  for (const p of groups) {
    vAt.set(vKey(p), add(vBase, i32(vTop * vT * C)));
    vTop += phasePoints(p);
  }
  const M = spec.stage === 'rest' ? spec.s : add(spec.s, i32(vTop * T * C));
  const rowRuns = runsBy(rows, (r) => keys[r]!);
  // A relative band: th counts from its first tile row, the input base points at bandInRow.
  const inRowMoved = spec.relative ? 2 * (spec.tileRows?.from ?? 0) - bandInRow(spec) : 0;

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

  // 1. Input transforms, one channel vector at a time: the 4x4 patch loaded once (the values
  // some transform reads), V = B^T d B per group.
  const inputT = forTiles((th, tw, tile, rk, ck) =>
    range(
      'wc',
      0,
      C,
      (c) => {
        const stmts: Stmt[] = [];
        const loaded = new Map<string, Z>();
        const d = (i: number, j: number): Z => {
          if (!rk.i[i] || !ck.i[j]) return null;
          const k = `${i}:${j}`;
          if (!loaded.has(k)) {
            const iy = add(mul(th, 2), i32(i - spec.padTop + inRowMoved));
            const ix = add(mul(tw, 2), i32(j - spec.padLeft));
            loaded.set(k, bind(names, stmts, 'wd', loadL(hwc(spec.x, spec.W, C, iy, ix, c), 4)));
          }
          return loaded.get(k)!;
        };
        for (const p of groups) {
          const rf = axisForm(p.rows);
          const cf = axisForm(p.cols);
          const nr = rf.BT.length;
          const nc = cf.BT.length;
          // t = B^T d along rows (per patch column), then v = t B along columns.
          const t = rf.BT.map((br) =>
            cf.BT.map((_, b) => {
              const e = combine(
                br,
                br.map((_, a) => d(rf.at + a, cf.at + b)),
              );
              return e === null || e.op === 'get' ? e : bind(names, stmts, 'wtr', e);
            }),
          );
          const V = vAt.get(vKey(p))!;
          for (let r = 0; r < nr; r++)
            for (let q = 0; q < nc; q++) {
              const at = add(V, add(mul(add(mul(i32(r * nc + q), vT), tile), C), c));
              stmts.push(store(at, combine(cf.BT[q]!, t[r]!) ?? ZERO));
            }
        }
        return stmts;
      },
      4,
    ),
  );

  // Per phase: 2. the GEMMs over the block's tiles, M[k] = V[k] U[k]; 3. the output
  // transform y = A^T m A + bias, activated, stored where inside the output.
  const perPhase = spec.phases.flatMap((phase) => [
    gemm(spec, names, vAt.get(vKey(phase))!, M, phase.w, T, phasePoints(phase)),
    ...outputTransform(spec, names, M, T, phase, forTiles),
  ]);
  if (spec.stage === 'input') return inputT;
  if (spec.stage === 'rest') return perPhase;
  return [...inputT, ...perPhase];
}

type ForTiles = (body: (th: Expr, tw: Expr, tile: Expr, rk: Key, ck: Key) => Stmt[]) => Stmt[];

function gemm(
  spec: WinogradSpec,
  names: Names,
  V: Expr,
  M: Expr,
  w: Expr,
  T: number,
  points: number,
): Stmt {
  const { C, F, schedule } = spec;
  // M holds the channels computed (a block's, or all F) per tile; U's matrices stay C x F.
  const MF = spec.channels ?? F;
  return loop(
    'wk',
    0,
    points,
    convCore(
      {
        x: add(V, mul(get('wk'), T * C)),
        y: add(M, mul(get('wk'), T * MF)),
        w: add(w, mul(get('wk'), C * F)),
        b: null,
        inW: T,
        inC: C,
        outW: T,
        outC: MF,
        rows: plainRuns(1),
        cols: plainRuns(T),
        kh: 1,
        kw: 1,
        groups: 1,
        cg: C,
        fg: MF,
        schedule,
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
  const MF = spec.channels ?? F;
  const rf = axisForm(phase.rows);
  const cf = axisForm(phase.cols);
  const [nr, nc] = [rf.AT[0]!.length, cf.AT[0]!.length];
  return forTiles((th, tw, tile, rk, ck) =>
    range(
      'wc',
      0,
      MF,
      (c) => {
        const stmts: Stmt[] = [];
        const mv = Array.from({ length: nr * nc }, (_, k) =>
          bind(names, stmts, 'wm', loadL(add(M, add(mul(add(mul(i32(k), T), tile), MF), c)), 4)),
        );
        // s = A^T m per column, then y = s A per row.
        const sv = Array.from({ length: nc }, (_, j) =>
          rf.AT.map((ar) =>
            combine(
              ar,
              ar.map((_, i) => mv[i * nc + j]!),
            ),
          ),
        ); // sv[j][p]
        const bias = spec.b ? bind(names, stmts, 'wbias', loadL(add(spec.b, c), 4)) : null;
        for (let p = 0; p < 2; p++) {
          if (!rk.o[phase.ry]![p]) continue;
          const y = cf.AT.map(
            (ac) =>
              combine(
                ac,
                sv.map((col) => col[p]!),
              ) ?? ZERO,
          );
          for (let q = 0; q < 2; q++) {
            if (!ck.o[phase.rx]![q]) continue;
            const oy = add(mul(add(mul(th, 2), i32(p)), spec.stride), i32(phase.ry));
            const ox = add(mul(add(mul(tw, 2), i32(q)), spec.stride), i32(phase.rx));
            const at = (base: Expr): Expr => hwc(base, spec.OW, F, oy, ox, c);
            const sum = plusResidual(
              bias ? floatBinary('add', y[q]!, bias) : y[q]!,
              spec.residual && at(spec.residual),
            );
            const value = bind(names, stmts, 'wy', sum);
            stmts.push(...storeActivated(at(spec.y), value, spec.act));
          }
        }
        return stmts;
      },
      4,
    ),
  );
}
