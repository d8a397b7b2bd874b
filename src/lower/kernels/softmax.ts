// softmax kernel: per line along the axis, subtract the max, exponentiate, divide by the sum.
// A band (LowerOptions.band, in units of softmaxBandUnits) is the same kernel over some of the
// lines, each computed by the same f32 operations in the same order, so bands give the whole
// layer's bits: along a later axis than the first, its lines are those of its output rows
// (rows are independent); along the first axis, where every line spans all the rows, a band is
// a run of lines (of columns, in an image) instead, so no statistic is computed twice. Either
// way it is written relative to the bases the step moves (bandShift): bands alike share it.
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, f32, get, let_, load, math, mul, set, store, type Expr } from '../../kir/kir.js';
import { num } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { sharedBandTags } from './spatial.js';
import { dims, floatBinary, finish, Names, range, inputBase, outputBase } from './util.js';

/** The units a band counts: output rows, or the lines (the inner indices) of a softmax along
 * the first axis. */
export function softmaxBandUnits(node: Node): number {
  const axis = num(node.attrs, 'softmax_axis');
  return axis === 0 ? size(node.shape) / node.shape[0]! : node.shape[0]!;
}

export function lowerSoftmax(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const axis = num(node.attrs, 'softmax_axis');
  const n = shape![axis]!;
  const whole = shape!.slice(axis + 1).reduce((p, d) => p * d, 1);
  const band = opts.band;
  // The band's lines: outer indices of its rows, or inner indices along the first axis.
  const outer =
    band && axis > 0
      ? (band.count * size(shape!)) / (shape![0]! * n * whole)
      : size(shape!) / (n * whole);
  const inner = band && axis === 0 ? band.count : whole;
  const names = new Names();
  const line = (o: Expr, i: Expr) => {
    const at = (k: Expr): Expr => add(add(mul(o, n * whole), mul(k, whole)), i);
    const [m, sum, e] = [names.fresh('max'), names.fresh('sum'), names.fresh('e')];
    const x = (k: Expr): Expr => load(add(inputBase(0), at(k)));
    return [
      let_(m, f32(-Infinity)),
      ...range('k', 0, n, (k) => [set(m, floatBinary('max', get(m, 'f32'), x(k)))]),
      let_(sum, f32(0)),
      ...range('k', 0, n, (k) => [
        let_(e, math('exp', floatBinary('sub', x(k), get(m, 'f32')))),
        store(add(outputBase, at(k)), get(e, 'f32')),
        set(sum, floatBinary('add', get(sum, 'f32'), get(e, 'f32'))),
      ]),
      ...range('k', 0, n, (k) => [
        store(
          add(outputBase, at(k)),
          floatBinary('div', load(add(outputBase, at(k))), get(sum, 'f32')),
        ),
      ]),
    ];
  };
  const body = range('o', 0, outer, (o) => range('i', 0, inner, (i) => line(o, i)));
  const name = ['softmax', `i${dims(shape!)}`, `a${axis}`];
  const doc = `softmax ${dims(shape!)} along axis ${axis}`;
  if (!band) return finish(node, { name, doc: [doc], body });
  // Floats the bases move by: the band's first row, or first line.
  const shift = axis === 0 ? band.from : (band.from * size(shape!)) / shape![0]!;
  const tags = sharedBandTags(band.count);
  return finish(node, {
    name: [...name, tags.name],
    doc: [
      doc,
      ...(axis === 0 ? [`lines ${band.count} of ${whole} (a band one thread computes)`] : tags.doc),
    ],
    body,
    bandShift: { y: shift, x: [shift] },
  });
}
