// Spatial iteration for gather kernels (convolutions, pooling): outputs along an axis are split
// into runs that read the same set of kernel taps, decided when the kernel is built. Borders
// get their own runs with fewer taps, so no padding check is ever evaluated at run time.
import { add, i32, mul, type Expr, type Stmt } from '../../kir/kir.js';
import { range, gcd } from './util.js';

/**
 * Outputs o = o0 + j * ostep (j < count) whose taps are t = t0 + m * tstep (m < n), reading
 * input i = i0 + j * istep + m * itap. With n = 0 an output reads nothing (bias only).
 */
export interface Run {
  readonly o0: number;
  readonly count: number;
  readonly ostep: number;
  readonly i0: number;
  readonly istep: number;
  readonly t0: number;
  readonly n: number;
  readonly tstep: number;
  readonly itap: number;
}

type Taps = Pick<Run, 't0' | 'n' | 'tstep' | 'itap' | 'i0'>;

/** Appends output o to the last run when it continues it, else starts a new run. */
function extend(runs: Run[], o: number, ostep: number, istep: number, taps: Taps): void {
  const last = runs[runs.length - 1];
  if (
    last &&
    last.ostep === ostep &&
    last.o0 + last.count * ostep === o &&
    last.t0 === taps.t0 &&
    last.n === taps.n &&
    (taps.n === 0 || (last.tstep === taps.tstep && last.i0 + last.count * istep === taps.i0))
  )
    runs[runs.length - 1] = { ...last, count: last.count + 1 };
  else runs.push({ o0: o, count: 1, ostep, istep, ...taps });
}

/** conv2d and pooling along one axis: input i = o * s - pad + t * d, kept when in [0, size). */
export function convRuns(
  outSize: number,
  inSize: number,
  k: number,
  s: number,
  d: number,
  pad: number,
): Run[] {
  const runs: Run[] = [];
  for (let o = 0; o < outSize; o++) {
    const base = o * s - pad;
    const t0 = Math.max(0, Math.ceil(-base / d));
    const t1 = Math.min(k, Math.floor((inSize - 1 - base) / d) + 1);
    const n = Math.max(0, t1 - t0);
    const taps = n
      ? { t0, n, tstep: 1, itap: d, i0: base + t0 * d }
      : { t0: 0, n: 0, tstep: 1, itap: d, i0: 0 };
    extend(runs, o, 1, s, taps);
  }
  return runs;
}

/**
 * conv2d_transpose along one axis, as a gather: output o takes tap t from input
 * i = (o + pad - t * d) / s when that divides and i is in [0, size). Outputs of one phase
 * (o mod s) with the same taps form a run; its input advances by one per output step s.
 */
export function transposeRuns(
  outSize: number,
  inSize: number,
  k: number,
  s: number,
  d: number,
  pad: number,
): Run[] {
  const runs: Run[] = [];
  const tstep = s / gcd(s, d);
  for (let phase = 0; phase < s; phase++)
    for (let o = phase; o < outSize; o += s) {
      const hits: number[] = [];
      for (let t = 0; t < k; t++) {
        const num = o + pad - t * d;
        if (num % s === 0 && num >= 0 && num / s < inSize) hits.push(t);
      }
      const t0 = hits[0] ?? 0;
      const taps = {
        t0,
        n: hits.length,
        tstep,
        itap: -(tstep * d) / s,
        i0: (o + pad - t0 * d) / s,
      };
      extend(runs, o, s, 1, hits.length ? taps : { ...taps, i0: 0 });
    }
  return runs;
}

/**
 * The part of `runs` (outputs o0 + j, ostep 1) that computes outputs [from, from + count),
 * renumbered so output `from` is 0 and the first input any of them reads is 0: returns those
 * runs and that first input (`shift`), by which the caller moves the input base. Slices whose
 * outputs all read the same taps so come out equal, whatever their place.
 */
export function sliceRuns(
  runs: readonly Run[],
  from: number,
  count: number,
): { runs: Run[]; shift: number } {
  const cut: Run[] = [];
  for (const r of runs) {
    if (r.ostep !== 1) throw new Error('sliceRuns takes runs of consecutive outputs');
    const j0 = Math.max(0, from - r.o0);
    const j1 = Math.min(r.count, from + count - r.o0);
    if (j1 > j0) cut.push({ ...r, o0: r.o0 + j0 - from, count: j1 - j0, i0: r.i0 + j0 * r.istep });
  }
  const reading = cut.filter((r) => r.n > 0);
  const shift = reading.length ? Math.min(...reading.map((r) => r.i0)) : 0;
  return { runs: cut.map((r) => (r.n > 0 ? { ...r, i0: r.i0 - shift } : r)), shift };
}

/** Outputs o = o0 + j (j < n) of a plain axis with no taps to gather (dense, pointwise). */
export const plainRuns = (n: number): Run[] => [
  { o0: 0, count: n, ostep: 1, i0: 0, istep: 1, t0: 0, n: 1, tstep: 1, itap: 0 },
];

/** A group of output pixels that share their taps (on one row, or one column of a row run). */
export interface Pixels {
  readonly row: Run;
  readonly col: Run;
  /** Output row, and input row of tap m = 0, per pixel. */
  readonly oy: readonly Expr[];
  readonly iy: readonly Expr[];
  readonly ox: readonly Expr[];
  /** Input column of tap m = 0, per pixel. */
  readonly ix: readonly Expr[];
  /** Whether this is the bulk of the work (the longest runs), worth unrolling taps for. */
  readonly hot: boolean;
}

/**
 * body(pixels) over every output pixel, in groups along rows where runs allow: of 4 (with
 * `tile` 4), then a pair, then one by one. Loop variables: `j` (row), `k` (column). With
 * pairs, a column run's odd pixel out on each row pairs with the one below it instead (same
 * taps: same row run and column), so small maps (7 wide: runs of 1, 5 and 1 columns) are not
 * mostly single pixels, which read twice the weights per multiply-add.
 */
export function forPixels(
  rows: readonly Run[],
  cols: readonly Run[],
  tile: number,
  body: (px: Pixels) => Stmt[],
): Stmt[] {
  const out: Stmt[] = [];
  const longest = (runs: readonly Run[]): number => Math.max(...runs.map((r) => r.count));
  const [maxRow, maxCol] = [longest(rows), longest(cols)];
  for (const row of rows) {
    /** The pixels at (row j + dj, column k + dk) of this row run and `col`. */
    const group = (col: Run, at: readonly { j: Expr; k: Expr }[]): Stmt[] =>
      body({
        row,
        col,
        oy: at.map((a) => add(i32(row.o0), mul(a.j, row.ostep))),
        iy: at.map((a) => add(i32(row.i0), mul(a.j, row.istep))),
        ox: at.map((a) => add(i32(col.o0), mul(a.k, col.ostep))),
        ix: at.map((a) => add(i32(col.i0), mul(a.k, col.istep))),
        hot: row.count === maxRow && col.count === maxCol,
      });
    const quads = (col: Run): number => (tile >= 4 ? Math.floor(col.count / 4) * 4 : 0);
    const full = (col: Run): number =>
      tile >= 2 ? quads(col) + Math.floor((col.count - quads(col)) / 2) * 2 : 0;
    /** Pairs whose odd pixel out goes below: one left per row, and rows to pair it with. A
     * transposed convolution's rows of one phase are a stride apart, which changes nothing:
     * DCGAN's 4x4x512 -> 8x8x256 layer (column runs of 1, 2 and 1) took 2.4-2.7 ms with these
     * pairs against 3.0-3.1 ms without, and its next two, run direct, 2.22 and 2.32 ms against
     * 2.59 and 2.52 (measured alone, on an EPYC with 1 MB of L2). */
    const vertical = (col: Run): boolean =>
      tile >= 2 && col.count - full(col) === 1 && row.count >= 2;
    const along = (col: Run, j: Expr, from: number, to: number, n: number): Stmt[] =>
      range(
        'k',
        from,
        to,
        (k) =>
          group(
            col,
            Array.from({ length: n }, (_, p) => ({ j, k: add(k, i32(p)) })),
          ),
        n,
      );
    const inner = (j: Expr): Stmt[] =>
      cols.flatMap((col) => [
        ...along(col, j, 0, quads(col), 4),
        ...along(col, j, quads(col), full(col), 2),
        ...(vertical(col) ? [] : range('k', full(col), col.count, (k) => group(col, [{ j, k }]))),
      ]);
    out.push(...range('j', 0, row.count, inner));
    for (const col of cols.filter(vertical)) {
      const k = i32(col.count - 1);
      const pairs = Math.floor(row.count / 2) * 2;
      out.push(
        ...range(
          'j',
          0,
          pairs,
          (j) =>
            group(col, [
              { j, k },
              { j: add(j, i32(1)), k },
            ]),
          2,
        ),
        ...range('j', pairs, row.count, (j) => group(col, [{ j, k }])),
      );
    }
  }
  return out;
}

/** Taps loop m over a run's taps: body(t, di) with t the tap and di the input offset; unrolled
 * when the run has at most `unroll` taps (0: never). */
export function forTaps(
  run: Run,
  v: string,
  unroll: number,
  body: (t: Expr, di: Expr) => Stmt[],
): Stmt[] {
  const t = (m: Expr): Expr => add(i32(run.t0), mul(m, run.tstep));
  return range(v, 0, run.n, (m) => body(t(m), mul(m, run.itap)), 1, run.n <= unroll);
}

/**
 * The part of `runs` that computes outputs [from, from + count) (LowerOptions.band), in place:
 * outputs and inputs keep their coordinates, so a band's kernel computes exactly what the
 * whole layer's computes for those outputs, in the same order. Runs of any output step.
 */
export function bandRuns(runs: readonly Run[], from: number, count: number): Run[] {
  const cut: Run[] = [];
  for (const r of runs) {
    const j0 = Math.max(0, Math.ceil((from - r.o0) / r.ostep));
    const j1 = Math.min(r.count, Math.ceil((from + count - r.o0) / r.ostep));
    if (j1 > j0)
      cut.push({
        ...r,
        o0: r.o0 + j0 * r.ostep,
        count: j1 - j0,
        i0: r.n > 0 ? r.i0 + j0 * r.istep : r.i0,
      });
  }
  return cut;
}

/**
 * The part of `runs` that computes outputs [from, from + count) (LowerOptions.band), relative:
 * renumbered so output `from` is 0 and the first input any of them reads is 0 (`shift`). The
 * kernel's output base then moves by `from` outputs and its input base by `shift` inputs
 * (LoweredNode.bandShift), so bands whose outputs read alike taps come out equal wherever they
 * lie: one kernel, called with different bases. Each output is still computed as the whole
 * layer's kernel computes it. Runs of any output step.
 */
export function bandSlice(
  runs: readonly Run[],
  from: number,
  count: number,
): { runs: Run[]; shift: number } {
  const cut = bandRuns(runs, from, count);
  const reading = cut.filter((r) => r.n > 0);
  const shift = reading.length ? Math.min(...reading.map((r) => r.i0)) : 0;
  return {
    runs: cut.map((r) => ({ ...r, o0: r.o0 - from, i0: r.n > 0 ? r.i0 - shift : r.i0 })),
    shift,
  };
}

/** A relative band's kernel name part (`b4`: 4 output rows; finish adds a digest of the code,
 * as bands of one layer differ at its borders) and doc line. */
export function sharedBandTags(count: number): { name: string; doc: string[] } {
  return {
    name: `b${count}`,
    doc: [
      `${count} output rows from the output base the step passes (a band one thread computes; the bands alike share this kernel)`,
    ],
  };
}

/** A block of output channels' kernel name part (`c64`) and doc line (LowerOptions.channels). */
export function channelTags(count: number): { name: string; doc: string[] } {
  return {
    name: `c${count}`,
    doc: [
      `${count} output channels from the bases the step passes (a block one thread computes; the blocks alike share this kernel)`,
    ],
  };
}

/** A band's kernel name part (`b8_4`: output rows 8..11) and doc line, or nothing. */
export function bandTags(band: { readonly from: number; readonly count: number } | undefined): {
  name: string | false;
  doc: string[];
} {
  return band
    ? {
        name: `b${band.from}_${band.count}`,
        doc: [
          `output rows ${band.from}..${band.from + band.count - 1} only (a band one thread computes)`,
        ],
      }
    : { name: false, doc: [] };
}
