// transpose kernel: out[i0, i1, ...] = in[...] with out axis a = in axis perm[a]; nested loops
// over the output, a contiguous (vectorized) copy when the last axis stays last.
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, i32, load, mul, store, type Expr, type Stmt } from '../../kir/kir.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { copy, dims, finish, range, X, Y } from './util.js';

const strides = (shape: Shape): number[] => shape.map((_, i) => size(shape.slice(i + 1)));

export function lowerTranspose(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const perm = node.attrs['perm'] as readonly number[];
  const out = node.shape;
  const rank = out.length;
  const inStrides = strides(shape!);
  const outStrides = strides(out);
  const keepsLast = perm[rank - 1] === rank - 1;
  const depth = keepsLast ? rank - 1 : rank;
  /** Loops over output axes a..depth-1, with y and x offsets so far. */
  const nest = (a: number, yo: Expr, xo: Expr): Stmt[] => {
    if (a === depth)
      return keepsLast
        ? copy(add(Y, yo), add(X(0), xo), out[rank - 1]!, opts.schedule.simd)
        : [store(add(Y, yo), load(add(X(0), xo)))];
    return range(`i${a}`, 0, out[a]!, (i) =>
      nest(a + 1, add(yo, mul(i, outStrides[a]!)), add(xo, mul(i, inStrides[perm[a]!]!))),
    );
  };
  return finish(node, {
    name: ['transpose', `i${dims(shape!)}`, `p${perm.join('_')}`],
    doc: [`transpose ${dims(shape!)} -> ${dims(out)}, perm [${perm.join(', ')}]`],
    body: nest(0, i32(0), i32(0)),
  });
}
