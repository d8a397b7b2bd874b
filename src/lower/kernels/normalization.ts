// layer_normalization and group_normalization kernels: per set of kept coordinates, three
// passes over the normalized elements (the mean, the population variance of x - mean, then
// (x - mean) * r * gamma + beta with r = 1 / sqrt(var + epsilon)), on the view of
// src/layers/normalization.ts with its axes coalesced. Vectorized two ways:
//   - along the normalized run when it is contiguous (layer normalization over the channels,
//     groups of 4+ channels): v128 partial sums, their lanes added at the end;
//   - across 4 kept coordinates when they are contiguous (instance normalization in
//     channels_last: 4 channels at once, each lane its own statistics).
// When the view's first axis is kept (statistics within rows: layer normalization over the
// channels, or the columns), a band (LowerOptions.band, in units of normBandUnits) is the same
// kernel over its part of that axis: each statistic is computed from the same elements in the
// same order, by v128 lanes or f32 operations as in the whole layer (they may differ: the
// relaxed build fuses a v128 multiply-add), so bands give the whole layer's bits. Group
// normalization's groups span the rows and columns (the layout inside being channels_last
// whatever the network's data_format), so its band is a run of groups instead, the same kernel
// over its part of the group axis (4 groups a unit when the kernel takes them as lanes, so the
// lanes' split is the whole layer's): the bands together read the input once per pass, as one
// thread does, where a band of rows would have to recompute every statistic. Not split:
// statistics that span rows (layer normalization over the rows), and kept coordinates taken 4
// at a time along a run that holds the first axis (normalized axes of size 1), where a band
// would move the lanes' split.
import type { Node, Shape } from '../../ir/graph.js';
import {
  add,
  div,
  f32,
  get,
  lane,
  let_,
  load,
  mul,
  set,
  splat,
  store,
  type Expr,
  type Stmt,
} from '../../kir/kir.js';
import { num } from '../../ir/op.js';
import { normView } from '../../layers/normalization.js';
import { stridesOf } from '../../layers/broadcast.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { sharedBandTags } from './spatial.js';
import {
  bcast,
  dims,
  floatBinary,
  fconst,
  finish,
  flat,
  loadL,
  Names,
  numTag,
  range,
  vtype,
  weight,
  inputBase,
  outputBase,
  type Lanes,
  gcd,
} from './util.js';

/** A loop axis: its size, its stride in x (and y) and in gamma/beta. */
export interface NAxis {
  readonly n: number;
  readonly x: number;
  readonly p: number;
}

/** The axes without those of size 1, each run of axes that steps as one axis merged. */
export function coalesce(axes: readonly NAxis[]): NAxis[] {
  const out: NAxis[] = [];
  for (const a of axes) {
    if (a.n === 1) continue;
    const prev = out[out.length - 1];
    if (prev && prev.x === a.x * a.n && prev.p === a.p * a.n)
      out[out.length - 1] = { n: prev.n * a.n, x: a.x, p: a.p };
    else out.push(a);
  }
  return out;
}

/** Nested loops over `axes`; body gets the x and parameter offsets. */
export function nest(
  axes: readonly NAxis[],
  v: string,
  body: (xo: Expr, po: Expr) => Stmt[],
  xo: Expr = f32Zero(),
  po: Expr = f32Zero(),
  d = 0,
): Stmt[] {
  if (d === axes.length) return body(xo, po);
  const a = axes[d]!;
  return range(`${v}${d}`, 0, a.n, (i) =>
    nest(axes, v, body, add(xo, mul(i, a.x)), add(po, mul(i, a.p)), d + 1),
  );
}
const f32Zero = (): Expr => ({ op: 'const', type: 'i32', value: 0 });

/** The kept run of a group normalization is contiguous (instance normalization with the
 * channels last): its kernel may take 4 groups at once as lanes, so its bands count 4 groups. */
function groupLanes(node: Node): number {
  const v = normView(node);
  const xs = stridesOf(v.shape);
  const all = v.shape.map((n, i) => ({ n, x: xs[i]!, p: v.paramStrides[i]! }));
  const kept = coalesce(all.filter((_, i) => !v.mask[i]));
  return kept.length === 1 && kept[0]!.x === 1 ? 4 : 1;
}

/** How a band cuts the view: the kept axis it restricts (a group normalization's groups, else
 * the first axis), view indices per unit, and the units. */
function bandCut(node: Node): { axis: number; per: number; units: number } {
  const v = normView(node);
  if (node.layer.kind === 'group_normalization') {
    const axis = num(node.attrs, 'channel_axis');
    const per = groupLanes(node);
    return { axis, per, units: Math.ceil(v.shape[axis]! / per) };
  }
  const units = gcd(node.shape[0]!, v.shape[0]!);
  return { axis: 0, per: v.shape[0]! / units, units };
}

/** Whether the node may be split in bands: a group normalization (bands of groups), or its
 * view's first axis kept (statistics within rows) and not in the lanes' run (see the file
 * comment). Any rank: rows are the first axis. */
export function normSplits(node: Node): boolean {
  if (node.layer.kind === 'group_normalization') return true;
  const v = normView(node);
  if (v.mask[0]) return false;
  // Kept coordinates in one contiguous run (the lanes' run, holding the first axis): unsplit.
  const xs = stridesOf(v.shape);
  const all = v.shape.map((n, i) => ({ n, x: xs[i]!, p: v.paramStrides[i]! }));
  const kept = coalesce(all.filter((_, i) => !v.mask[i]));
  return !(kept.length === 1 && kept[0]!.x === 1);
}

/** The units a band counts: blocks of output rows that are whole indices of the view's first
 * axis (the view is a row-major reshape of the output); a group normalization's groups, 4 at
 * a time when its kernel takes them as lanes. */
export const normBandUnits = (node: Node): number => bandCut(node).units;

const param = (base: Expr | null, at: Expr, stride: number, l: Lanes): Expr | null =>
  base && (stride === 1 ? loadL(add(base, at), l) : bcast(load(add(base, at)), l));

export function lowerNormalization(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const v = normView(node);
  const eps = num(node.attrs, 'epsilon');
  const gamma = weight(node, 'gamma');
  const beta = weight(node, 'beta');
  const xs = stridesOf(v.shape);
  // A band: indices [from * per, (from + count) * per) of the view's axis `cut.axis` (the
  // last unit may be short), written relative to the output and input bases moved to its
  // first (bandShift), gamma and beta at `p0`.
  const band = opts.band;
  const cut = band ? bandCut(node) : { axis: 0, per: 0, units: 0 };
  const first = band ? band.from * cut.per : 0;
  const all = v.shape.map((n, i) => ({
    n: band && i === cut.axis ? Math.min(n, (band.from + band.count) * cut.per) - first : n,
    x: xs[i]!,
    p: v.paramStrides[i]!,
  }));
  const shift = first * xs[cut.axis]!;
  const p0: Expr = { op: 'const', type: 'i32', value: first * all[cut.axis]!.p };
  const norm = coalesce(all.filter((_, i) => v.mask[i]));
  let kept = coalesce(all.filter((_, i) => !v.mask[i]));
  if (kept.length === 0) kept = [{ n: 1, x: 0, p: 0 }];
  const count = norm.reduce((p, a) => p * a.n, 1);
  const names = new Names();
  const lastN = norm[norm.length - 1];
  const lastK = kept[kept.length - 1]!;
  const alongRun =
    opts.schedule.simd && !!lastN && lastN.x === 1 && lastN.p <= 1 && lastN.n >= 4 && count >= 4;
  const acrossKept =
    opts.schedule.simd && !alongRun && lastK.x === 1 && lastK.p <= 1 && lastK.n >= 4;

  /** (x - mean) * r * gamma + beta, lanes wide. */
  const output = (x: Expr, mean: Expr, r: Expr, pAt: Expr, pStride: number, l: Lanes): Expr => {
    let y = floatBinary('mul', floatBinary('sub', x, mean), r);
    const g = param(gamma, pAt, pStride, l);
    if (g) y = floatBinary('mul', y, g);
    const b = param(beta, pAt, pStride, l);
    return b ? floatBinary('add', y, b) : y;
  };

  /** Statistics along the contiguous normalized run: v128 and f32 partial sums. */
  const runBody = (xk: Expr, pk: Expr): Stmt[] => {
    const outer = norm.slice(0, -1);
    const run = lastN!;
    const [sv, ss, mean, meanv, r, rv] = ['sumv', 'sum', 'mean', 'meanv', 'r', 'rv'].map((b) =>
      names.fresh(b),
    ) as [string, string, string, string, string, string];
    const x = (xn: Expr, i: Expr, l: Lanes): Expr =>
      loadL(add(inputBase(0), add(xk, add(xn, i))), l);
    const acc = (term: (xn: Expr, i: Expr, l: Lanes) => Expr): Stmt[] =>
      nest(outer, 'n', (xn) =>
        flat(run.n, true, (i, l) =>
          l === 4
            ? [set(sv, floatBinary('add', get(sv, 'v128'), term(xn, i, 4)))]
            : [set(ss, floatBinary('add', get(ss, 'f32'), term(xn, i, 1)))],
        ),
      );
    const total = (): Expr =>
      [0, 1, 2, 3].reduce(
        (a: Expr, k) => floatBinary('add', a, lane(get(sv, 'v128'), k)),
        get(ss, 'f32'),
      );
    const m = (l: Lanes): Expr => (l === 4 ? get(meanv, 'v128') : get(mean, 'f32'));
    const rr = (l: Lanes): Expr => (l === 4 ? get(rv, 'v128') : get(r, 'f32'));
    return [
      let_(sv, splat(f32(0))),
      let_(ss, f32(0)),
      ...acc((xn, i, l) => x(xn, i, l)),
      let_(mean, div(total(), f32(count))),
      let_(meanv, splat(get(mean, 'f32'))),
      set(sv, splat(f32(0))),
      set(ss, f32(0)),
      ...acc((xn, i, l) => {
        const d = floatBinary('sub', x(xn, i, l), m(l));
        return floatBinary('mul', d, d);
      }),
      let_(r, div(f32(1), { op: 'sqrt', type: 'f32', a: add(div(total(), f32(count)), f32(eps)) })),
      let_(rv, splat(get(r, 'f32'))),
      ...nest(outer, 'n', (xn, pn) =>
        flat(run.n, true, (i, l) => [
          store(
            add(outputBase, add(xk, add(xn, i))),
            output(x(xn, i, l), m(l), rr(l), add(pk, add(pn, mul(i, run.p))), run.p, l),
          ),
        ]),
      ),
    ];
  };

  /** Statistics of `l` kept coordinates at once (lanes), the normalized axes in plain loops. */
  const laneBody = (xk: Expr, pk: Expr, pStride: number, l: Lanes): Stmt[] => {
    const t = vtype(l);
    const [s, mean, r] = ['acc', 'mu', 'rs'].map((b) => names.fresh(b)) as [string, string, string];
    const x = (xn: Expr): Expr => loadL(add(inputBase(0), add(xk, xn)), l);
    const sum = (term: (xn: Expr) => Expr): Stmt[] =>
      nest(norm, 'n', (xn) => [set(s, floatBinary('add', get(s, t), term(xn)))]);
    const one = (value: number): Expr => fconst(value, l);
    return [
      let_(s, one(0)),
      ...sum(x),
      let_(mean, floatBinary('div', get(s, t), one(count))),
      set(s, one(0)),
      ...sum((xn) => {
        const d = floatBinary('sub', x(xn), get(mean, t));
        return floatBinary('mul', d, d);
      }),
      let_(
        r,
        floatBinary('div', one(1), {
          op: 'sqrt',
          type: t,
          a: floatBinary('add', floatBinary('div', get(s, t), one(count)), one(eps)),
        }),
      ),
      ...nest(norm, 'n', (xn, pn) => [
        store(
          add(outputBase, add(xk, xn)),
          output(x(xn), get(mean, t), get(r, t), add(pk, pn), pStride, l),
        ),
      ]),
    ];
  };

  const body = alongRun
    ? nest(kept, 'k', runBody, f32Zero(), p0)
    : nest(
        kept.slice(0, -1),
        'k',
        (xk, pk) =>
          flat(
            lastK.n,
            acrossKept,
            (k, l) => laneBody(add(xk, mul(k, lastK.x)), add(pk, mul(k, lastK.p)), lastK.p, l),
            'c',
          ),
        f32Zero(),
        p0,
      );
  const kind = node.layer.kind;
  const tags = !band
    ? { name: false as const, doc: [] }
    : cut.axis === 0
      ? sharedBandTags(band.count)
      : {
          name: `g${band.count}`,
          doc: [
            `${all[cut.axis]!.n} of the ${v.shape[cut.axis]} groups (a band one thread computes)`,
          ],
        };
  const mode = alongRun ? 'run' : acrossKept ? 'lanes' : 'scalar';
  return finish(node, {
    name: [
      kind,
      `i${dims(shape!)}`,
      `v${dims(v.shape)}`,
      `m${v.mask.map((b) => (b ? 1 : 0)).join('')}`,
      `p${v.paramStrides.join('_')}`,
      `e${numTag(eps)}`,
      mode,
      !gamma && 'noscale',
      !beta && 'nocenter',
      tags.name,
    ],
    doc: [
      `${kind} ${dims(shape!)} as ${dims(v.shape)}, normalized over axes ` +
        `${v.mask.flatMap((b, i) => (b ? [i] : [])).join(', ')} (${count} elements per ` +
        `statistic), epsilon ${eps}; vectorized: ${mode}`,
      ...tags.doc,
    ],
    body,
    weights: ['gamma', 'beta'],
    ...(band ? { bandShift: { y: shift, x: [shift] } } : {}),
  });
}
