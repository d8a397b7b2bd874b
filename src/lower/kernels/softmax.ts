// softmax kernel: per line along the axis, subtract the max, exponentiate, divide by the sum.
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, f32, get, let_, load, math, mul, set, store, type Expr } from '../../kir/kir.js';
import { num } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { dims, floatBinary, finish, Names, range, inputBase, outputBase } from './util.js';

export function lowerSoftmax(
  node: Node,
  [shape]: readonly Shape[],
  _opts: LowerOptions,
): LoweredNode {
  const axis = num(node.attrs, 'softmax_axis');
  const n = shape![axis]!;
  const inner = shape!.slice(axis + 1).reduce((p, d) => p * d, 1);
  const outer = size(shape!) / (n * inner);
  const names = new Names();
  const line = (o: Expr, i: Expr) => {
    const at = (k: Expr): Expr => add(add(mul(o, n * inner), mul(k, inner)), i);
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
  return finish(node, {
    name: ['softmax', `i${dims(shape!)}`, `a${axis}`],
    doc: [`softmax ${dims(shape!)} along axis ${axis}`],
    body,
  });
}
