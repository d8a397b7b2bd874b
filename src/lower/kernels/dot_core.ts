// The dot-product core, for convolutions with fewer output channels than a vector holds (an
// RGB image out of a generator, a single-channel mask, a 3-way dense): vectorizing over output
// channels would leave them scalar, so this core vectorizes over input channels instead,
//   acc[p, f] (4 partial sums) += x[p, ci..ci+3] * w[tap, f, ci..ci+3],
// and adds each accumulator's 4 lanes at the end. Weights are read as [taps][F][C] (each
// lowering packs them so: `dotPack`). Pixels are grouped (2, or 4 for one or two channels) so
// several accumulators are in flight; borders have their own runs, as in the other cores.
import { add, get, i32, lane, let_, mul, set, type Expr, type Stmt } from '../../kir/kir.js';
import type { Pack } from '../program.js';
import type { ConvSpec } from './tile.js';
import { plusResidual, storeActivated, transcendental } from './epilogue.js';
import { forPixels, forTaps, type Run } from './spatial.js';
import { bind, floatBinary, fconst, flat, hwc, loadL, range, type Names } from './util.js';

/** Whether the dot-product core computes this convolution (with SIMD, whole input vectors). */
export function dotApplies(spec: Pick<ConvSpec, 'schedule' | 'groups' | 'cg' | 'fg'>): boolean {
  return spec.schedule.simd && spec.groups === 1 && spec.fg < 4 && spec.cg % 4 === 0;
}

/** The pack from a kernel laid out [...taps, C, F] to [...taps, F, C]. */
export function dotPack(taps: readonly number[], C: number, F: number): Pack {
  const n = taps.length;
  return { shape: [...taps, C, F], perm: [...taps.map((_, i) => i), n + 1, n] };
}

/** How many outputs `runs` cover when they cover 0..n-1 exactly once, else null. */
function covered(runs: readonly Run[]): number | null {
  const seen = new Set<number>();
  for (const r of runs)
    for (let j = 0; j < r.count; j++) {
      const o = r.o0 + j * r.ostep;
      if (seen.has(o)) return null;
      seen.add(o);
    }
  return [...seen].every((o) => o < seen.size) ? seen.size : null;
}

/**
 * The dot core ends on scalars, and a scalar tanh, sigmoid or swish is a call per output (the
 * DCGAN generator's last layer: 0.41 ms with tanh, 0.25 ms without). When the core writes a
 * contiguous block of y, it stores the linear sums and one v128 pass applies the activation.
 */
export function dotCore(spec: ConvSpec, names: Names): Stmt[] {
  const rows = covered(spec.rows);
  const cols = covered(spec.cols);
  if (!transcendental(spec.act) || rows === null || cols !== spec.outW) return dotBody(spec, names);
  const n = rows * spec.outW * spec.outC;
  const pass = flat(n, true, (i, l) => {
    const t = names.fresh('dy');
    return [
      let_(t, loadL(add(spec.y, i), l)),
      ...storeActivated(add(spec.y, i), get(t, l === 4 ? 'v128' : 'f32'), spec.act),
    ];
  });
  return [...dotBody({ ...spec, act: { fn: 'linear' } }, names), ...pass];
}

function dotBody(spec: ConvSpec, names: Names): Stmt[] {
  const F = spec.fg;
  const C = spec.cg;
  const P = F <= 2 ? 4 : 2;
  return forPixels(spec.rows, spec.cols, P, (px) => {
    const accs = px.ox.map(() => Array.from({ length: F }, () => names.fresh('dacc')));
    const decls = accs.flat().map((name) => let_(name, fconst(0, 4)));
    const body = forTaps(px.row, 'ty', 0, (ty, dy) =>
      forTaps(px.col, 'tx', 0, (tx, dx) => {
        const tap = add(mul(ty, spec.kw), tx);
        return range(
          'ci',
          0,
          C,
          (ci) => {
            const inner: Stmt[] = [];
            const xs = px.ix.map((ix, p) => {
              const addr = hwc(spec.x, spec.inW, spec.inC, add(px.iy[p]!, dy), add(ix, dx), ci);
              return bind(names, inner, 'dx', loadL(addr, 4));
            });
            const ws = Array.from({ length: F }, (_, f) =>
              bind(
                names,
                inner,
                'dw',
                loadL(add(spec.w, add(mul(add(mul(tap, F), i32(f)), C), ci)), 4),
              ),
            );
            accs.forEach((row, p) =>
              row.forEach((name, f) =>
                inner.push(
                  set(
                    name,
                    floatBinary('add', get(name, 'v128'), floatBinary('mul', xs[p]!, ws[f]!)),
                  ),
                ),
              ),
            );
            return inner;
          },
          4,
        );
      }),
    );
    // Each accumulator's lanes added, the bias, the activation, one scalar store.
    const out = accs.flatMap((row, p) =>
      row.flatMap((name, f) => {
        const a = get(name, 'v128');
        let sum = floatBinary(
          'add',
          floatBinary('add', lane(a, 0), lane(a, 1)),
          floatBinary('add', lane(a, 2), lane(a, 3)),
        );
        if (spec.b) sum = floatBinary('add', sum, loadL(add(spec.b, i32(f)), 1));
        const at = (base: Expr): Expr =>
          hwc(base, spec.outW, spec.outC, px.oy[p]!, px.ox[p]!, i32(f));
        const done = names.fresh('dsum');
        return [
          let_(done, plusResidual(sum, spec.residual && at(spec.residual))),
          ...storeActivated(at(spec.y), get(done, 'f32'), spec.act),
        ];
      }),
    );
    return [...decls, ...body, ...out];
  });
}
