// unit_normalization kernel: per set of kept coordinates, two passes over the reduced elements
// (the sum of squares s, then x * r with r = 1 / sqrt(max(s, epsilon))), the input's axes
// coalesced. Vectorized two ways, as the normalizations (normalization.ts):
//   - along the reduced run when it is contiguous (over the channels, 4+ of them): v128 partial
//     sums and an f32 tail, the lanes added at the end;
//   - across 4 kept coordinates when they are contiguous (over rows or columns: 4 channels at
//     once, each lane its own sum).
// When the first axis is kept (norms within rows), a band of output rows (LowerOptions.band) is
// the same kernel over its rows, relative to bases moved to its first row: each sum adds the
// same elements in the same order, so bands give the whole layer's bits. Not split: norms that
// span rows, and kept coordinates taken 4 at a time along a run that holds the first axis
// (reduced axes of size 1), where a band would move the lanes' split.
import type { Node, Shape } from '../../ir/graph.js';
import {
  add,
  div,
  f32,
  get,
  lane,
  let_,
  mul,
  set,
  splat,
  store,
  type Expr,
  type Stmt,
} from '../../kir/kir.js';
import { num } from '../../ir/op.js';
import { stridesOf } from '../../layers/broadcast.js';
import { unitMask } from '../../layers/unit_normalization.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { coalesce, nest, type NAxis } from './normalization.js';
import { sharedBandTags } from './spatial.js';
import {
  dims,
  fconst,
  finish,
  flat,
  floatBinary,
  inputBase,
  loadL,
  Names,
  numTag,
  outputBase,
  vtype,
  type Lanes,
} from './util.js';

/** The node's axes (the first cut to `rows` when given), reduced and kept, coalesced. */
function axesOf(node: Node, rows?: number): { norm: NAxis[]; kept: NAxis[] } {
  const mask = unitMask(node);
  const xs = stridesOf(node.shape);
  const all = node.shape.map((n, i) => ({
    n: rows !== undefined && i === 0 ? rows : n,
    x: xs[i]!,
    p: 0,
  }));
  return {
    norm: coalesce(all.filter((_, i) => mask[i])),
    kept: coalesce(all.filter((_, i) => !mask[i])),
  };
}

/** Whether the node may be split in bands of rows (see the file comment). */
export function unitNormSplits(node: Node): boolean {
  if (node.shape.length !== 3 || unitMask(node)[0]) return false;
  const { kept } = axesOf(node);
  return !(kept.length === 1 && kept[0]!.x === 1);
}

export function lowerUnitNormalization(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const mask = unitMask(node);
  const eps = num(node.attrs, 'epsilon');
  const band = opts.band;
  const { norm, kept: k0 } = axesOf(node, band?.count);
  const kept = k0.length ? k0 : [{ n: 1, x: 0, p: 0 }];
  const shift = band ? band.from * stridesOf(node.shape)[0]! : 0;
  const count = norm.reduce((p, a) => p * a.n, 1);
  const names = new Names();
  const lastN = norm[norm.length - 1];
  const lastK = kept[kept.length - 1]!;
  const simd = opts.schedule.simd;
  const alongRun = simd && !!lastN && lastN.x === 1 && lastN.n >= 4;
  const acrossKept = simd && !alongRun && lastK.x === 1 && lastK.n >= 4;
  /** 1 / sqrt(max(s, eps)), lanes wide. */
  const inverse = (s: Expr, l: Lanes): Expr =>
    floatBinary('div', fconst(1, l), {
      op: 'sqrt',
      type: vtype(l),
      a: floatBinary('max', s, fconst(eps, l)),
    });

  /** The sum along the contiguous reduced run: v128 and f32 partial sums. */
  const runBody = (xk: Expr): Stmt[] => {
    const outer = norm.slice(0, -1);
    const run = lastN!;
    const [sv, ss, r, rv] = ['sumv', 'sum', 'r', 'rv'].map((b) => names.fresh(b)) as [
      string,
      string,
      string,
      string,
    ];
    const x = (xn: Expr, i: Expr, l: Lanes): Expr =>
      loadL(add(inputBase(0), add(xk, add(xn, i))), l);
    const total = [0, 1, 2, 3].reduce(
      (a: Expr, k) => floatBinary('add', a, lane(get(sv, 'v128'), k)),
      get(ss, 'f32'),
    );
    return [
      let_(sv, splat(f32(0))),
      let_(ss, f32(0)),
      ...nest(outer, 'n', (xn) =>
        flat(run.n, true, (i, l) => {
          const v = x(xn, i, l);
          return l === 4
            ? [set(sv, floatBinary('add', get(sv, 'v128'), floatBinary('mul', v, v)))]
            : [set(ss, floatBinary('add', get(ss, 'f32'), floatBinary('mul', v, v)))];
        }),
      ),
      let_(r, inverse(total, 1)),
      let_(rv, splat(get(r, 'f32'))),
      ...nest(outer, 'n', (xn) =>
        flat(run.n, true, (i, l) => [
          store(
            add(outputBase, add(xk, add(xn, i))),
            floatBinary('mul', x(xn, i, l), l === 4 ? get(rv, 'v128') : get(r, 'f32')),
          ),
        ]),
      ),
    ];
  };

  /** The sums of `l` kept coordinates at once (lanes), the reduced axes in plain loops. */
  const laneBody = (xk: Expr, l: Lanes): Stmt[] => {
    const t = vtype(l);
    const [s, r] = ['acc', 'rs'].map((b) => names.fresh(b)) as [string, string];
    const x = (xn: Expr): Expr => loadL(add(inputBase(0), add(xk, xn)), l);
    return [
      let_(s, fconst(0, l)),
      ...nest(norm, 'n', (xn) => {
        const v = x(xn);
        return [set(s, floatBinary('add', get(s, t), floatBinary('mul', v, v)))];
      }),
      let_(r, inverse(get(s, t), l)),
      ...nest(norm, 'n', (xn) => [
        store(add(outputBase, add(xk, xn)), floatBinary('mul', x(xn), get(r, t))),
      ]),
    ];
  };

  const body = alongRun
    ? nest(kept, 'k', runBody)
    : nest(kept.slice(0, -1), 'k', (xk) =>
        flat(lastK.n, acrossKept, (k, l) => laneBody(add(xk, mul(k, lastK.x)), l), 'c'),
      );
  const tags = band ? sharedBandTags(band.count) : { name: false as const, doc: [] };
  const mode = alongRun ? 'run' : acrossKept ? 'lanes' : 'scalar';
  return finish(node, {
    name: [
      'unit_normalization',
      `i${dims(shape!)}`,
      `m${mask.map((b) => (b ? 1 : 0)).join('')}`,
      `e${numTag(eps)}`,
      mode,
      tags.name,
    ],
    doc: [
      `unit_normalization ${dims(shape!)} over axes ` +
        `${mask.flatMap((b, i) => (b ? [i] : [])).join(', ')} (${count} elements per norm), ` +
        `x / sqrt(max(sum(x^2), ${eps})); vectorized: ${mode}`,
      ...tags.doc,
    ],
    body,
    ...(band ? { bandShift: { y: shift, x: [shift] } } : {}),
  });
}
