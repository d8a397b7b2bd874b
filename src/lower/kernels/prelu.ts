// prelu kernel: y = max(x, 0) + alpha * min(x, 0) (pmax/pmin: one instruction each in v128),
// alpha read through its strides (0 along shared axes): a per-channel alpha [1, 1, C] is read
// in place in the vector loop over channels, as the SE product reads its gate.
import type { Node, Shape } from '../../ir/graph.js';
import { stridesOf } from '../../layers/broadcast.js';
import { alphaStrides } from '../../layers/prelu.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { bandTags } from './spatial.js';
import { bandOf, coalesce, loopTag, stridedElementwise } from './strided.js';
import { dims, floatBinary, fconst, finish, needWeight, inputBase } from './util.js';

export function lowerPrelu(node: Node, [shape]: readonly Shape[], opts: LowerOptions): LoweredNode {
  const alpha = node.weights.find((w) => w.name === 'alpha')!;
  const operands = [
    { base: inputBase(0), strides: stridesOf(shape!) },
    { base: needWeight(node, 'alpha'), strides: alphaStrides(node.attrs, alpha.shape) },
  ];
  // A band of output rows (LowerOptions.band): its elements alone.
  const part = bandOf(shape!, operands, opts.band);
  const axes = coalesce(part.shape, part.operands);
  const body = stridedElementwise(
    axes,
    part.operands,
    opts.schedule.simd,
    ([x, a], l) =>
      floatBinary(
        'add',
        floatBinary('pmax', x!, fconst(0, l)),
        floatBinary('mul', a!, floatBinary('pmin', x!, fconst(0, l))),
      ),
    part.out,
  );
  const tags = bandTags(opts.band);
  return finish(node, {
    name: ['prelu', `i${dims(shape!)}`, `a${dims(alpha.shape)}`, `b${loopTag(axes)}`, tags.name],
    doc: [`prelu ${dims(shape!)} with alpha ${dims(alpha.shape)}`, ...tags.doc],
    body,
  });
}
