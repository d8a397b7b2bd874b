// The passes' shared tool: a private working copy of a graph that replaces and removes nodes,
// then renumbers them into a new Graph (the input graph is never modified).
import { InternalError } from '../diag/diagnostics.js';
import type { Graph, Node, WeightUse } from '../ir/graph.js';

/**
 * A working copy of a graph's nodes, addressed by their original ids. Removing a node forwards
 * its consumers and graph outputs to another node that comes before it, so the order stays
 * topological; `finish` drops the removed nodes and renumbers (ids equal indices again).
 */
export class Rewrite {
  private readonly nodes: (Node | null)[];
  /** Consumer edges by node (a node reading a value twice appears twice). */
  private readonly users: number[][];
  /** Graph output ports' nodes, in port order. */
  private readonly outs: number[];
  private readonly added: string[] = [];

  constructor(private readonly graph: Graph) {
    this.nodes = [...graph.nodes];
    this.users = graph.nodes.map(() => []);
    for (const n of graph.nodes) for (const i of n.inputs) this.users[i]!.push(n.id);
    this.outs = graph.outputs.map((p) => p.node);
  }

  /** The current version of a node that has not been removed. */
  node(id: number): Node {
    const n = this.nodes[id];
    if (!n) throw new InternalError(`node ${id} was removed`);
    return n;
  }

  /** The live nodes in order (current versions). */
  live(): Node[] {
    return this.nodes.filter((n): n is Node => n !== null);
  }

  /** Consumer edges of a node. */
  consumers(id: number): readonly number[] {
    return this.users[id]!;
  }

  /** The node's single consumer, or null when it has none or several (edges counted). */
  soleConsumer(id: number): number | null {
    const u = this.users[id]!;
    return u.length === 1 ? u[0]! : null;
  }

  isOutput(id: number): boolean {
    return this.outs.includes(id);
  }

  /** Replaces a node by a new version (same id and inputs). */
  replace(node: Node): void {
    this.node(node.id);
    this.nodes[node.id] = node;
  }

  /** Replaces a node by a version reading other inputs, each an earlier node. */
  rewire(node: Node): void {
    const old = this.node(node.id);
    if (node.inputs.some((i) => i >= node.id))
      throw new InternalError(`node ${node.id} would read a later node`);
    for (const i of new Set(old.inputs))
      this.users[i] = this.users[i]!.filter((u) => u !== node.id);
    for (const i of node.inputs) this.users[i]!.push(node.id);
    this.nodes[node.id] = node;
  }

  /** Removes node `id`, which nothing reads any more and which is no graph output. */
  drop(id: number): void {
    if (this.users[id]!.length || this.isOutput(id))
      throw new InternalError(`node ${id} is dropped while still read`);
    for (const i of new Set(this.node(id).inputs))
      this.users[i] = this.users[i]!.filter((u) => u !== id);
    this.nodes[id] = null;
  }

  /** Removes node `id`; whatever read it (nodes and graph outputs) reads `into` instead. */
  remove(id: number, into: number): void {
    if (into >= id) throw new InternalError(`node ${id} forwarded to a later node ${into}`);
    for (const i of new Set(this.node(id).inputs)) {
      this.users[i] = this.users[i]!.filter((u) => u !== id);
    }
    for (const c of new Set(this.users[id]!)) {
      const n = this.node(c);
      this.nodes[c] = { ...n, inputs: n.inputs.map((i) => (i === id ? into : i)) };
    }
    this.users[into]!.push(...this.users[id]!);
    this.users[id] = [];
    for (let k = 0; k < this.outs.length; k++) if (this.outs[k] === id) this.outs[k] = into;
    this.nodes[id] = null;
  }

  note(text: string): void {
    this.added.push(text);
  }

  /** The rewritten graph: live nodes renumbered, inputs and ports remapped, notes appended. */
  finish(): Graph {
    const g = this.graph;
    const newId: number[] = [];
    let next = 0;
    for (const n of this.nodes) newId.push(n ? next++ : -1);
    const map = (i: number): number => {
      const j = newId[i]!;
      if (j < 0) throw new InternalError(`a reference to removed node ${i} remains`);
      return j;
    };
    const nodes = this.live().map((n) => ({ ...n, id: map(n.id), inputs: n.inputs.map(map) }));
    return {
      ...g,
      nodes,
      inputs: g.inputs.map((p) => ({ ...p, node: map(p.node) })),
      outputs: g.outputs.map((p, k) => ({ ...p, node: map(this.outs[k]!) })),
      notes: [...g.notes, ...this.added],
    };
  }
}

/** A node's weight by slot name. */
export function weight(node: Node, name: string): WeightUse | undefined {
  return node.weights.find((w) => w.name === name);
}

/** `weights` with slot `use.name` replaced (or appended when absent). */
export function withWeight(weights: readonly WeightUse[], use: WeightUse): WeightUse[] {
  return weights.some((w) => w.name === use.name)
    ? weights.map((w) => (w.name === use.name ? use : w))
    : [...weights, use];
}

/** Attributes with `use_bias` set, when the layer has that attribute (Keras's bias switch). */
export function withUseBias(node: Node, on: boolean): Node['attrs'] {
  return 'use_bias' in node.attrs ? { ...node.attrs, use_bias: on } : node.attrs;
}

/** `conv2d 'conv1'`, for notes. */
export function describeNode(node: Node): string {
  return `${node.layer.kind} '${node.name}'`;
}
