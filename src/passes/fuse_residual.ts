// Pass fuse_residual: a convolution, the sum with another tensor after it, and an activation
// after that become one conv2d_add, whose epilogue adds the tensor and applies the activation
// (ResNet's `relu(add(shortcut, y))`: no pass over memory for the sum or the relu).
//
// Identity: act(add(C(x), r)) = conv2d_add(x, r) with C's attributes and `activation: act`;
// without the activation, the same with C's linear activation.
// Preconditions: the add has two inputs of the output's shape (no broadcasting); one is a conv2d with a linear activation, read only
// by the add and not a graph output (when both inputs are, the later one fuses); the other
// input is any tensor (it is read in the epilogue). The activation joins when it is
// elementwise, the add's only consumer, and the add is not a graph output. The fused node takes
// the add's place in the order (after both its inputs), and the convolution's name, weights and
// span.
import type { Graph } from '../ir/graph.js';
import { ACTIVATION_BY_NAME, activationOf, isLinear } from '../layers/activations.js';
import { conv2d } from '../layers/conv2d.js';
import { conv2dAdd } from '../layers/conv2d_add.js';
import { add } from '../layers/merge.js';
import { describeNode, Rewrite } from './rewrite.js';

export function fuseResidual(graph: Graph): Graph {
  const rw = new Rewrite(graph);
  for (const n of graph.nodes) {
    if (n.layer !== add || n.inputs.length !== 2) continue;
    const sum = rw.node(n.id);
    const fusable = (i: number): boolean => {
      const p = rw.node(i);
      return (
        p.layer === conv2d && isLinear(p.attrs) && rw.soleConsumer(i) === sum.id && !rw.isOutput(i)
      );
    };
    const sameShape = (i: number): boolean => {
      const s = rw.node(i).shape;
      return s.length === sum.shape.length && s.every((d, k) => d === sum.shape[k]);
    };
    if (!sum.inputs.every(sameShape)) continue;
    const [later, earlier] = [...sum.inputs].sort((p, q) => q - p) as [number, number];
    const c = fusable(later) ? later : fusable(earlier) ? earlier : null;
    if (c === null) continue;
    const conv = rw.node(c);
    const r = c === later ? earlier : later;
    // The activation after the sum, when it may join.
    const next = rw.soleConsumer(sum.id);
    const act = next !== null && !rw.isOutput(sum.id) ? rw.node(next) : null;
    const fn = act?.layer.traits.activation;
    const activation =
      act?.inputs.length === 1 && fn && fn !== 'softmax' && ACTIVATION_BY_NAME.has(fn)
        ? activationOf(act.attrs)
        : null;
    rw.rewire({
      ...conv,
      id: sum.id,
      layer: conv2dAdd,
      inputs: [conv.inputs[0]!, r],
      attrs: activation ? { ...conv.attrs, activation } : conv.attrs,
    });
    rw.drop(c);
    if (activation) rw.remove(act!.id, sum.id);
    rw.note(
      `${describeNode(sum)}${activation ? ` and ${describeNode(act!)}` : ''} fused into ${describeNode(conv)}`,
    );
  }
  return rw.finish();
}
