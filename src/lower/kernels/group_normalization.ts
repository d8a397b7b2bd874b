// group_normalization with its channels last (the layout inside the compiler, whatever the
// network's data_format): the input is P pixels of C = G x CG channels, each group's
// statistics over its CG channels of every pixel. Each of the three passes (sums, sums of
// squared deviations, output) walks the input once in memory order, with a partial sum per
// channel in scratch (v128 over 4 channels, f32 for the last C mod 4); a group's statistic then
// adds its channels' partial sums in order. Where the general normalization kernel
// (normalization.ts) would read the input three times per group, strided by C, this reads it
// three times in all.
//
// A band (LowerOptions.band) is a run of groups, counted in units of 16 channels' worth (16 /
// gcd(CG, 16) groups: whole v128 steps, a cache line), so a band's channels start at a
// multiple of 16 and each channel is summed in the same lane, or as the same f32 tail, as in
// the whole layer: bands give its bits (the relaxed build fuses the v128 multiply-adds, not
// the f32 ones). A module does not split it
// (`pays` in strategy.ts): each band of channels streams every pixel of the channels-last input,
// so two threads ran 1.5-1.9x slower than one (1 M to 8 M elements, idle). What would pay:
// statistics by fixed blocks of pixels, combined in order (the same bits for any thread count),
// then the output by bands of rows, in two phases.
import type { Node, Shape } from '../../ir/graph.js';
import { add, div, f32, get, let_, load, mul, store, type Expr, type Stmt } from '../../kir/kir.js';
import { num } from '../../ir/op.js';
import { normView } from '../../layers/normalization.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import {
  dims,
  fconst,
  finish,
  flat,
  floatBinary,
  inputBase,
  loadL,
  numTag,
  outputBase,
  range,
  scratchBase,
  weight,
  type Lanes,
  gcd,
} from './util.js';

/** The view's geometry: pixels, groups, channels per group (channels last). */
function geometry(node: Node): { P: number; G: number; CG: number } {
  const v = normView(node);
  const axis = num(node.attrs, 'channel_axis');
  const P = v.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  return { P, G: v.shape[axis]!, CG: v.shape[axis + 1]! };
}

/** Whether the channels are the input's last axis (the view ends with groups, channels). */
export function groupNormChannelsLast(node: Node): boolean {
  return num(node.attrs, 'channel_axis') === normView(node).shape.length - 2;
}

/** Groups per band unit: 16 channels' worth at least (64 bytes, a cache line, so that two
 * bands rarely read one line; whole v128 steps too). */
const groupsPerUnit = (CG: number): number => 16 / gcd(CG, 16);

/** The units a band counts: runs of groups that start on a multiple of 16 channels. */
export function groupNormBandUnits(node: Node): number {
  const { G, CG } = geometry(node);
  return Math.ceil(G / groupsPerUnit(CG));
}

export function lowerGroupNormChannelsLast(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const { P, G, CG } = geometry(node);
  const C = G * CG;
  const eps = num(node.attrs, 'epsilon');
  const gamma = weight(node, 'gamma');
  const beta = weight(node, 'beta');
  const simd = opts.schedule.simd;
  // The band's groups [g0, g0 + n), channels [c0, c0 + cb); x and y are moved to channel c0.
  const band = opts.band;
  const per = groupsPerUnit(CG);
  const g0 = band ? band.from * per : 0;
  const n = band ? Math.min(G, (band.from + band.count) * per) - g0 : G;
  const c0 = g0 * CG;
  const cb = n * CG;
  const count = P * CG;
  // Scratch: the channels' partial sums, then their group's mean and 1 / sqrt(var + eps).
  const sums = (c: Expr): Expr => add(scratchBase, c);
  const means = (c: Expr): Expr => add(scratchBase, add(c, cb));
  const rs = (c: Expr): Expr => add(scratchBase, add(c, 2 * cb));
  const x = (p: Expr, c: Expr, l: Lanes): Expr => loadL(add(inputBase(0), add(mul(p, C), c)), l);

  /** sums[c] = the sum over pixels of term(p, c), per channel. */
  const perChannel = (term: (p: Expr, c: Expr, l: Lanes) => Expr): Stmt[] => [
    ...flat(cb, simd, (c, l) => [store(sums(c), fconst(0, l))], 'c'),
    ...range('p', 0, P, (p) =>
      flat(
        cb,
        simd,
        (c, l) => [store(sums(c), floatBinary('add', loadL(sums(c), l), term(p, c, l)))],
        'c',
      ),
    ),
  ];
  /** Per group: its channels' sums added in order, over `count`, through `f`, into `to`. */
  const perGroup = (name: string, f: (mean: Expr) => Expr, to: (c: Expr) => Expr): Stmt[] =>
    range('g', 0, n, (g) => {
      const first = mul(g, CG);
      let total: Expr = load(sums(first));
      for (let r = 1; r < CG; r++) total = floatBinary('add', total, load(sums(add(first, r))));
      return [
        let_(name, f(div(total, f32(count)))),
        ...range('k', 0, CG, (k) => [store(to(add(first, k)), get(name, 'f32'))]),
      ];
    });
  const param = (w: Expr | null, c: Expr, l: Lanes): Expr | null =>
    w && loadL(add(w, add(c, c0)), l);

  const body: Stmt[] = [
    ...perChannel(x),
    ...perGroup('mu', (m) => m, means),
    ...perChannel((p, c, l) => {
      const d = floatBinary('sub', x(p, c, l), loadL(means(c), l));
      return floatBinary('mul', d, d);
    }),
    ...perGroup('rstd', (v) => div(f32(1), { op: 'sqrt', type: 'f32', a: add(v, f32(eps)) }), rs),
    ...range('p', 0, P, (p) =>
      flat(
        cb,
        simd,
        (c, l) => {
          let y = floatBinary(
            'mul',
            floatBinary('sub', x(p, c, l), loadL(means(c), l)),
            loadL(rs(c), l),
          );
          const g = param(gamma, c, l);
          if (g) y = floatBinary('mul', y, g);
          const b = param(beta, c, l);
          if (b) y = floatBinary('add', y, b);
          return [store(add(outputBase, add(mul(p, C), c)), y)];
        },
        'c',
      ),
    ),
  ];
  const kind = node.layer.kind;
  return finish(node, {
    name: [
      kind,
      'channels',
      `i${dims(shape!)}`,
      `g${G}x${CG}`,
      `e${numTag(eps)}`,
      !gamma && 'noscale',
      !beta && 'nocenter',
      !!band && `band${g0}_${n}`,
    ],
    doc: [
      `${kind} ${dims(shape!)}: ${G} groups of ${CG} channels, channels last (${count} ` +
        `elements per statistic), epsilon ${eps}; per-channel partial sums, one pass over the ` +
        `input per step`,
      ...(band ? [`groups ${g0}..${g0 + n - 1} (a band one thread computes)`] : []),
    ],
    body,
    weights: ['gamma', 'beta'],
    scratch: 3 * cb,
    ...(band ? { bandShift: { y: c0, x: [c0] } } : {}),
  });
}
