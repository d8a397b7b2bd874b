// add, multiply and concatenate kernels: elementwise over n inputs (vectorized), and
// contiguous copies of each input's chunk per outer index.
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, mul, store, type Expr } from '../../kir/kir.js';
import { num } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { copy, dims, fbin, finish, flat, loadL, range, X, Y } from './util.js';

/** The lowering of add or multiply over all inputs. */
export function lowerElementwise(kind: string) {
  return (node: Node, shapes: readonly Shape[], opts: LowerOptions): LoweredNode => {
    const n = size(node.shape);
    const fn = kind === 'add' ? 'add' : 'mul';
    const body = flat(n, opts.schedule.simd, (i, l) => {
      const xs = shapes.map((_, k) => loadL(add(X(k), i), l));
      return [
        store(
          add(Y, i),
          xs.slice(1).reduce((acc: Expr, x) => fbin(fn, acc, x), xs[0]!),
        ),
      ];
    });
    return finish(node, {
      name: [kind, `n${n}`, `x${shapes.length}`],
      doc: [`${kind} of ${shapes.length} inputs of ${n} elements`],
      body,
    });
  };
}

export function lowerConcatenate(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const axis = num(node.attrs, 'concat_axis');
  const outer = node.shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = node.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const total = node.shape[axis]! * inner;
  const body = range('r', 0, outer, (r) => {
    let offset = 0;
    return shapes.flatMap((s, k) => {
      const chunk = s[axis]! * inner;
      const at = offset;
      offset += chunk;
      return copy(
        add(Y, add(mul(r, total), at)),
        add(X(k), mul(r, chunk)),
        chunk,
        opts.schedule.simd,
      );
    });
  });
  return finish(node, {
    name: ['concatenate', `a${axis}`, ...shapes.map((s) => `i${dims(s)}`)],
    doc: [`concatenate ${shapes.map(dims).join(', ')} on axis ${axis} -> ${dims(node.shape)}`],
    body,
  });
}
