// cropping2d kernel: each kept row's kept pixels are one contiguous run (vectorized); when
// no column is cropped, the kept rows are one run.
import type { Node, Shape } from '../../ir/graph.js';
import { add, mul } from '../../kir/kir.js';
import { amounts } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { bandTags } from './spatial.js';
import { copy, dims, finish, range, inputBase, outputBase } from './util.js';

export function lowerCropping2d(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const [, W, C] = shape as [number, number, number];
  const [OH, OW] = node.shape as [number, number, number];
  const [[t, b], [l, r]] = amounts(node.attrs, 'cropping');
  const start = (t * W + l) * C;
  // A band of output rows (LowerOptions.band): those rows alone.
  const band = opts.band ?? { from: 0, count: OH };
  const body =
    OW === W
      ? copy(
          band.from ? add(outputBase, band.from * OW * C) : outputBase,
          add(inputBase(0), start + band.from * W * C),
          band.count * OW * C,
          opts.schedule.simd,
        )
      : range('r', band.from, band.from + band.count, (i) =>
          copy(
            add(outputBase, mul(i, OW * C)),
            add(inputBase(0), add(mul(i, W * C), start)),
            OW * C,
            opts.schedule.simd,
          ),
        );
  const tags = bandTags(opts.band);
  return finish(node, {
    name: ['cropping2d', `i${dims(shape!)}`, `c${t}_${b}_${l}_${r}`, tags.name],
    doc: [
      `cropping2d ${dims(shape!)} -> ${dims(node.shape)}: top ${t}, bottom ${b}, left ${l}, right ${r}`,
      ...tags.doc,
    ],
    body,
  });
}
