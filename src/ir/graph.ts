// The IR: a network as a topologically ordered list of layer nodes with resolved attributes,
// per-example shapes in netc's internal layout (rank-3 tensors are always [H, W, C]) and weights.
import type { Span } from '../../grammar/span.js';
import type { Node } from './op.js';
import type { DataFormat, Shape } from './types.js';

export * from './types.js';
export type { Node, WeightUse } from './op.js';
export type { WeightExpr } from '../runtime/weight-expr.js';

/** A weight the source declares: one tensor of the weight file. */
export interface Param {
  /** `LAYER/WEIGHT`, e.g. `conv2d_1/kernel`. */
  readonly key: string;
  readonly shape: Shape;
  readonly initializer: string;
}

export interface Port {
  readonly name: string;
  readonly node: number;
  /** Per-example shape as the user sees it (in the network's data format). */
  readonly shape: Shape;
  readonly span: Span;
}

export interface Graph {
  readonly name: string;
  readonly dataFormat: DataFormat;
  /** Fixed batch size, or null when the batch is free at run time. */
  readonly batch: number | null;
  readonly nodes: readonly Node[];
  readonly inputs: readonly Port[];
  readonly outputs: readonly Port[];
  /** The weights the source declares, in declaration order (the weight file's tensors). */
  readonly params: readonly Param[];
  /** Folds that passes applied, in words, for `netc summary`. */
  readonly notes: readonly string[];
  readonly span: Span;
}

/** Ids of the nodes that read each node's output. */
export function consumers(graph: Graph): number[][] {
  const out: number[][] = graph.nodes.map(() => []);
  for (const n of graph.nodes) for (const i of n.inputs) out[i]!.push(n.id);
  return out;
}
