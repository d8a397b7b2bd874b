// batch_normalization kernel: scale[c] = gamma[c] / sqrt(variance[c] + epsilon) into scratch,
// then y = (x - mean[c]) * scale[c] + beta[c], vectorized over channels (channel axis last)
// or over the elements of one channel (an inner axis).
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, get, let_, load, mul, store, type Expr, type Stmt } from '../../kir/kir.js';
import { num } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { bandOuter } from './rows.js';
import { bandTags } from './spatial.js';
import {
  bcast,
  dims,
  floatBinary,
  fconst,
  finish,
  flat,
  loadL,
  Names,
  needWeight,
  numTag,
  range,
  scratchBase,
  vtype,
  weight,
  inputBase,
  outputBase,
} from './util.js';

interface Params {
  readonly gamma: Expr | null;
  readonly beta: Expr | null;
  readonly mean: Expr;
  readonly variance: Expr;
}

/** s[c] = gamma[c] / sqrt(variance[c] + epsilon) for every channel. */
function scales(p: Params, channels: number, eps: number, simd: boolean): Stmt[] {
  return flat(
    channels,
    simd,
    (c, l) => {
      const root: Expr = {
        op: 'sqrt',
        type: vtype(l),
        a: floatBinary('add', loadL(add(p.variance, c), l), fconst(eps, l)),
      };
      return [
        store(
          add(scratchBase, c),
          floatBinary('div', p.gamma ? loadL(add(p.gamma, c), l) : fconst(1, l), root),
        ),
      ];
    },
    'c',
  );
}

/** (x - mean) * s + beta, with the per-channel values given (lanes wide). */
function normalize(x: Expr, mean: Expr, scale: Expr, beta: Expr | null): Expr {
  const v = floatBinary('mul', floatBinary('sub', x, mean), scale);
  return beta ? floatBinary('add', v, beta) : v;
}

export function lowerBatchNormalization(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const axis = num(node.attrs, 'channel_axis');
  const eps = num(node.attrs, 'epsilon');
  const C = shape![axis]!;
  const inner = shape!.slice(axis + 1).reduce((a, d) => a * d, 1);
  const outer = size(shape!) / (C * inner);
  const p: Params = {
    gamma: weight(node, 'gamma'),
    beta: weight(node, 'beta'),
    mean: needWeight(node, 'moving_mean'),
    variance: needWeight(node, 'moving_variance'),
  };
  const names = new Names();
  const rowOf = (o: Expr, c: Expr): Expr => add(mul(o, C * inner), mul(c, inner));
  const main =
    inner === 1
      ? // Channels last: vectorize over channels.
        (o: Expr): Stmt[] =>
          flat(
            C,
            opts.schedule.simd,
            (c, l) => {
              const at = (base: Expr): Expr => loadL(add(base, c), l);
              const i = add(mul(o, C), c);
              const value = normalize(
                loadL(add(inputBase(0), i), l),
                at(p.mean),
                at(scratchBase),
                p.beta && at(p.beta),
              );
              return [store(add(outputBase, i), value)];
            },
            'c',
          )
      : // An inner axis: per channel, vectorize over its elements.
        (o: Expr): Stmt[] =>
          range('c', 0, C, (c) => {
            const named = (base: string, from: Expr): [string, Stmt] => {
              const n = names.fresh(base);
              return [n, let_(n, load(add(from, c)))];
            };
            const [sn, sd] = named('scale', scratchBase);
            const [mn, md] = named('mean', p.mean);
            const [bn, bd] = p.beta ? named('beta', p.beta) : [null, null];
            return [
              sd,
              md,
              ...(bd ? [bd] : []),
              ...flat(inner, opts.schedule.simd, (i, l) => {
                const k = add(rowOf(o, c), i);
                const v = (n: string): Expr => bcast(get(n, 'f32'), l);
                return [
                  store(
                    add(outputBase, k),
                    normalize(loadL(add(inputBase(0), k), l), v(mn), v(sn), bn ? v(bn) : null),
                  ),
                ];
              }),
            ];
          });
  // A band (channels not on the first axis): its range of the outer loop; every band computes
  // the scales into its own scratch.
  const rows = bandOuter(shape!, outer, opts.band);
  const body = [...scales(p, C, eps, opts.schedule.simd), ...range('o', rows.from, rows.to, main)];
  const tags = bandTags(opts.band);
  return finish(node, {
    name: [
      'batch_normalization',
      `i${dims(shape!)}`,
      `a${axis}`,
      `e${numTag(eps)}`,
      !p.gamma && 'noscale',
      !p.beta && 'nocenter',
      tags.name,
    ],
    doc: [
      `batch_normalization ${dims(shape!)}, channels on axis ${axis}, epsilon ${eps}` +
        `${p.gamma ? '' : ', no gamma'}${p.beta ? '' : ', no beta'}; scales in scratch`,
      ...tags.doc,
    ],
    body,
    weights: ['gamma', 'beta', 'moving_mean', 'moving_variance'],
    scratch: C,
  });
}

/** Rows are independent unless the channels are the first axis. */
export const batchNormalizationSplits = (node: Node): boolean =>
  num(node.attrs, 'channel_axis') !== 0;
