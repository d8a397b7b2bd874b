// Pass fuse_activation: an activation layer becomes the epilogue of the layer before it.
//
// Identity: act(P(x)) is P with `activation: act`, when P's own activation is linear.
// Preconditions: the activation is elementwise (traits.activation names a function of the
// activation table; softmax is not one); the producer has traits.fusesActivation and a linear
// activation, the activation is its only consumer and the producer is not a graph output (its
// unactivated output would still be needed). The fused node keeps the producer's name; the
// activation's parameters travel with it (`{ fn, ...params }`).
import type { Graph } from '../ir/graph.js';
import { ACTIVATION_BY_NAME, activationOf, isLinear } from '../layers/activations.js';
import { describeNode, Rewrite } from './rewrite.js';

export function fuseActivation(graph: Graph): Graph {
  const rw = new Rewrite(graph);
  for (const n of graph.nodes) {
    const fn = n.layer.traits.activation;
    if (fn === undefined || fn === 'softmax' || !ACTIVATION_BY_NAME.has(fn)) continue;
    if (n.inputs.length !== 1) continue;
    const act = rw.node(n.id);
    const p = act.inputs[0]!;
    const producer = rw.node(p);
    if (!producer.layer.traits.fusesActivation || !isLinear(producer.attrs)) continue;
    if (rw.soleConsumer(p) !== act.id || rw.isOutput(p)) continue;
    rw.replace({ ...producer, attrs: { ...producer.attrs, activation: activationOf(act.attrs) } });
    rw.remove(act.id, p);
    rw.note(`${describeNode(act)} fused into ${describeNode(producer)}`);
  }
  return rw.finish();
}
