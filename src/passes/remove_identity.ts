// Pass remove_identity: drops layers that are the identity at inference (dropout, linear).
//
// Identity: y = x, so every consumer of y may read x instead, and a graph output naming y names x.
// Preconditions: the layer has traits.identity and exactly one input. Input nodes take no input
// and are never removed.
import type { Graph } from '../ir/graph.js';
import { describeNode, Rewrite } from './rewrite.js';

export function removeIdentity(graph: Graph): Graph {
  const rw = new Rewrite(graph);
  for (const n of graph.nodes) {
    if (!n.layer.traits.identity || n.inputs.length !== 1) continue;
    const node = rw.node(n.id);
    rw.remove(n.id, node.inputs[0]!);
    rw.note(`${describeNode(node)} removed (identity at inference)`);
  }
  return rw.finish();
}
