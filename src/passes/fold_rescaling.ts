// Pass fold_rescaling: a rescaling folds into the kernel (and bias) of the conv2d or dense
// layer that reads it.
//
// Identity: with y = x * s[c] + o[c] per input channel c (traits.constantAffine) and
// z = sum W[.., c, f] y + b[f], z = sum (W[.., c, f] * s[c]) x + (b[f] + sum W[.., c, f] o[c]):
// the kernel scaled along its input-channel axis, and, when some o[c] != 0, the bias shifted
// by W^T o over every tap (matvec_add; b absent: 0, and the layer gains a bias).
// Preconditions: the rescaling's only consumer is a conv2d with groups 1 or a dense layer,
// reading it as its input; the rescaling is not a graph output (its output would still be
// needed); its numbers are per channel of the last axis (or numbers); with an offset, the
// conv2d pads nothing (a padded cell is 0, not o[c]: the shift would differ at the borders).
// The folded node keeps its name; the rescaling disappears and the consumer reads its input.
import { InternalError } from '../diag/diagnostics.js';
import type { Graph, Node, WeightExpr } from '../ir/graph.js';
import { conv2d } from '../layers/conv2d.js';
import { dense } from '../layers/dense.js';
import { describeNode, Rewrite, weight, withUseBias, withWeight } from './rewrite.js';

export function foldRescaling(graph: Graph): Graph {
  const rw = new Rewrite(graph);
  for (const n of graph.nodes) {
    const affine = n.layer.traits.constantAffine;
    if (!affine || n.inputs.length !== 1) continue;
    const r = rw.node(n.id);
    const c = rw.soleConsumer(r.id);
    if (c === null || rw.isOutput(r.id)) continue;
    const p = rw.node(c);
    if (p.inputs.length !== 1 || (p.layer !== conv2d && p.layer !== dense)) continue;
    if (p.layer === conv2d && p.attrs['groups'] !== 1) continue;
    const values = affine(r);
    if (!values) continue;
    const shifted = values.offset.some((v) => v !== 0);
    const pads = p.attrs['pads'] as readonly number[] | undefined;
    if (shifted && pads && pads.some((v) => v !== 0)) continue;
    const kernel = weight(p, 'kernel');
    if (!kernel) throw new InternalError(`${describeNode(p)} has no kernel`);
    const C = values.scale.length;
    const F = p.shape[p.shape.length - 1]!;
    const taps = kernel.shape.reduce((a, d) => a * d, 1) / (C * F);
    if (!Number.isInteger(taps) || taps < 1)
      throw new InternalError(`${describeNode(p)} kernel does not read ${C} channels`);
    const same = (v: readonly number[]): boolean => v.every((x) => x === v[0]);
    const vector = (v: readonly number[]): WeightExpr =>
      same(v) ? { op: 'fill', size: v.length, value: v[0]! } : { op: 'values', values: [...v] };
    let weights = withWeight(p.weights, {
      ...kernel,
      value: {
        op: 'scale',
        x: kernel.value,
        s: vector(values.scale),
        outer: taps,
        channels: C,
        inner: F,
      },
    });
    if (shifted) {
      const bias = weight(p, 'bias');
      const perTap = Array.from({ length: taps }, () => values.offset).flat();
      weights = withWeight(weights, {
        name: 'bias',
        shape: [F],
        value: {
          op: 'matvec_add',
          bias: bias?.value ?? { op: 'zeros', size: F },
          w: kernel.value,
          v: vector(perTap),
          rows: taps * C,
          cols: F,
        },
      });
    }
    const folded: Node = { ...p, attrs: shifted ? withUseBias(p, true) : p.attrs, weights };
    rw.replace(folded);
    rw.remove(r.id, r.inputs[0]!);
    rw.note(`${describeNode(r)} folded into ${describeNode(p)}`);
  }
  return rw.finish();
}
