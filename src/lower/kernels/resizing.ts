// resizing kernel, separable: a horizontal pass interpolates every input row of the window
// that the output reads into scratch rows of the output's width, then a vertical pass
// interpolates between those rows, one contiguous (vectorized) run of width * channels per
// output row. Along each axis the taps of the output indices repeat with a period (the
// sampling ratio in lowest terms), so outputs of one phase share their weight: each axis
// splits into runs of one weight, constants in the code (the clamped edges apart). Code size
// grows with the number of runs along each axis, not with their product. An axis that is
// not resized (same size, no crop) is not interpolated: the pass along it is left out.
// A band of output rows (LowerOptions.band) interpolates horizontally only the window rows its
// outputs read, and computes each of its outputs as the whole layer does (the same input
// values, weights and operations), so bands give the whole layer's bits.
import type { Node, Shape } from '../../ir/graph.js';
import { add, f32, mul, store, type Expr, type Stmt } from '../../kir/kir.js';
import { bool, str } from '../../ir/op.js';
import { resizeTaps, resizeWindow, type Tap } from '../../layers/resizing.js';
import type { LowerOptions, LoweredNode } from '../program.js';
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
  scratchBase,
  inputBase,
  outputBase,
  type Lanes,
  gcd,
} from './util.js';

/** Outputs o0 + k * ostep (k < count) read lo0 + k * istep and hi0 + k * istep, weight frac. */
export interface TapRun {
  readonly o0: number;
  readonly count: number;
  readonly ostep: number;
  readonly lo0: number;
  readonly hi0: number;
  readonly istep: number;
  readonly frac: number;
}

/** The period of the taps along an axis: the sampling ratio's denominator in lowest terms. */
export function tapPeriod(n: number, m: number, coordinates: string): number {
  if (coordinates === 'align_corners') return m <= 1 || n <= 1 ? 1 : (m - 1) / gcd(n - 1, m - 1);
  return m / gcd(n, m);
}

/** Groups the taps into runs of one weight, phase by phase. */
export function tapRuns(taps: readonly Tap[], period: number): TapRun[] {
  const runs: TapRun[] = [];
  for (let phase = 0; phase < Math.min(period, taps.length); phase++) {
    let run: TapRun | null = null;
    for (let o = phase; o < taps.length; o += period) {
      const { lo, hi, frac } = taps[o]!;
      if (run !== null && Math.abs(run.frac - frac) < 1e-12) {
        const last: TapRun = run;
        const istep: number = last.count === 1 ? lo - last.lo0 : last.istep;
        if (lo === last.lo0 + last.count * istep && hi === last.hi0 + last.count * istep) {
          run = { ...last, count: last.count + 1, istep };
          continue;
        }
      }
      if (run) runs.push(run);
      run = { o0: o, count: 1, ostep: period, lo0: lo, hi0: hi, istep: 0, frac };
    }
    if (run) runs.push(run);
  }
  return runs;
}

/** a * (1 - f) + b * f, or a when f is 0 (f a constant). */
function lerp(a: Expr, b: () => Expr, f: number, lanes: Lanes): Expr {
  if (f === 0) return a;
  const k = (v: number): Expr => bcast(f32(v), lanes);
  return floatBinary('add', floatBinary('mul', a, k(1 - f)), floatBinary('mul', b(), k(f)));
}

/** For each run, k over its outputs in [from, to) (all when absent): body(output index, lo
 * index, hi index, frac). */
function overRuns(
  runs: readonly TapRun[],
  v: string,
  body: (o: Expr, lo: Expr, hi: Expr, frac: number) => Stmt[],
  from = 0,
  to = Infinity,
): Stmt[] {
  return runs.flatMap((run) =>
    range(
      v,
      // The run's outputs o0 + k * ostep in [from, to).
      Math.max(0, Math.ceil((from - run.o0) / run.ostep)),
      Math.min(run.count, Math.ceil((to - run.o0) / run.ostep)),
      (k) =>
        body(
          add(mul(k, run.ostep), run.o0),
          add(mul(k, run.istep), run.lo0),
          add(mul(k, run.istep), run.hi0),
          run.frac,
        ),
    ),
  );
}

const isIdentity = (taps: readonly Tap[], n: number): boolean =>
  taps.length === n && taps.every((t, o) => t.lo === o && t.frac === 0);

export function lowerResizing(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const [H, W, C] = shape as [number, number, number];
  const [OH, OW] = node.shape as [number, number, number];
  const mode = str(node.attrs, 'interpolation');
  const coords = str(node.attrs, 'coordinates');
  const crop = bool(node.attrs, 'crop_to_aspect_ratio');
  const nearest = mode === 'nearest';
  const win = resizeWindow(H, W, OH, OW, crop);
  const ty = resizeTaps(win.h, OH, coords, nearest);
  const tx = resizeTaps(win.w, OW, coords, nearest);
  const simd = opts.schedule.simd;
  const row = OW * C;
  const inRow = (y: Expr): Expr =>
    add(inputBase(0), add(mul(y, W * C), (win.top * W + win.left) * C));

  // Output rows [a, b): the band's (LowerOptions.band), or all.
  const a = opts.band?.from ?? 0;
  const b = a + (opts.band?.count ?? OH);
  const taps = ty.slice(a, b);
  // Rows of the window the vertical pass reads: [r0, r1).
  const r0 = Math.min(...taps.map((t) => t.lo));
  const r1 = Math.max(...taps.map((t) => t.hi)) + 1;
  const vertical = !isIdentity(ty, win.h);
  const horizontal = !isIdentity(tx, win.w);
  const body: Stmt[] = [];
  let scratch = 0;
  // Where the horizontal pass leaves row y of the window (y in [r0, r1)).
  let rowOf: (y: Expr) => Expr = inRow;
  if (horizontal) {
    const dstRow = vertical
      ? (y: Expr): Expr => add(scratchBase, mul(add(y, -r0), row))
      : (y: Expr): Expr => add(outputBase, mul(y, row));
    if (vertical) scratch = (r1 - r0) * row;
    // Not resized vertically, output row y is window row y: the band's rows alone.
    const [y0, y1] = vertical ? [r0, r1] : [a, b];
    body.push(
      ...range('r', y0, y1, (y) =>
        overRuns(tapRuns(tx, tapPeriod(win.w, OW, coords)), 'k', (ox, x0, x1, frac) =>
          flat(
            C,
            simd,
            (c, l) => {
              const at = (ix: Expr) => (): Expr => loadL(add(inRow(y), add(mul(ix, C), c)), l);
              return [store(add(dstRow(y), add(mul(ox, C), c)), lerp(at(x0)(), at(x1), frac, l))];
            },
            'c',
          ),
        ),
      ),
    );
    rowOf = dstRow;
  }
  if (vertical)
    body.push(
      ...overRuns(
        tapRuns(ty, tapPeriod(win.h, OH, coords)),
        'k',
        (oy, y0, y1, frac) =>
          flat(row, simd, (i, l) => [
            store(
              add(outputBase, add(mul(oy, row), i)),
              lerp(loadL(add(rowOf(y0), i), l), () => loadL(add(rowOf(y1), i), l), frac, l),
            ),
          ]),
        a,
        b,
      ),
    );
  if (!horizontal && !vertical)
    body.push(...range('r', a, b, (y) => copy(add(outputBase, mul(y, row)), inRow(y), row, simd)));
  const cropTag = crop && `crop${win.top}_${win.left}_${win.h}x${win.w}`;
  const tags = bandTags(opts.band);
  return finish(node, {
    name: ['resizing', `i${dims(shape!)}`, `o${OH}x${OW}`, mode, coords, cropTag, tags.name],
    doc: [
      `resizing ${dims(shape!)} -> ${dims(node.shape)}: ${mode}, ${coords}` +
        (crop ? `, window ${win.h}x${win.w} at (${win.top}, ${win.left})` : ''),
      ...tags.doc,
    ],
    body,
    scratch,
  });
}
