// zero_padding2d kernel: zero rows above and below; per input row, zeros left, the row's
// pixels copied, zeros right (all contiguous runs, vectorized).
import type { Node, Shape } from '../../ir/graph.js';
import { add, mul } from '../../kir/kir.js';
import { amounts } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { copy, dims, fill, finish, range, X, Y } from './util.js';

export function lowerZeroPadding2d(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const [H, W, C] = shape as [number, number, number];
  const OW = node.shape[1]!;
  const [[t, b], [l, r]] = amounts(node.attrs, 'padding');
  const row = OW * C;
  const body = [
    ...fill(Y, t * row, 0, opts.schedule.simd),
    ...range('r', 0, H, (i) => {
      const dst = add(Y, add(mul(i, row), (t * OW + l) * C));
      return [
        ...fill(add(dst, -l * C), l * C, 0, opts.schedule.simd),
        ...copy(dst, add(X(0), mul(i, W * C)), W * C, opts.schedule.simd),
        ...fill(add(dst, W * C), r * C, 0, opts.schedule.simd),
      ];
    }),
    ...fill(add(Y, (t + H) * row), b * row, 0, opts.schedule.simd),
  ];
  return finish(node, {
    name: ['zero_padding2d', `i${dims(shape!)}`, `p${t}_${b}_${l}_${r}`],
    doc: [
      `zero_padding2d ${dims(shape!)} -> ${dims(node.shape)}: top ${t}, bottom ${b}, left ${l}, right ${r}`,
    ],
    body,
  });
}
