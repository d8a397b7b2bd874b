// The IR: a network as a topologically ordered list of layer nodes with resolved attributes,
// per-example shapes in netc's internal layout (rank-3 tensors are always [H, W, C]) and weights.
import type { Span } from '../../grammar/ast.js';
import type { LayerDef } from '../layers/layer.js';

export type Shape = readonly number[];
export type DataFormat = 'channels_last' | 'channels_first';

/** Explicit padding amounts, after `valid`/`same` were resolved against the input size. */
export interface Pads {
  readonly top: number;
  readonly bottom: number;
  readonly left: number;
  readonly right: number;
}

/** A resolved attribute value (JSON-like, so graphs print and compare as text). */
export type AttrValue =
  number | boolean | string | null | readonly AttrValue[] | { readonly [k: string]: AttrValue };

export type Attrs = Readonly<Record<string, AttrValue>>;

export type { WeightExpr } from './weight-expr.js';
import type { WeightExpr } from './weight-expr.js';

export interface WeightUse {
  /** The layer's weight slot: `kernel`, `bias`, `gamma`, ... */
  readonly name: string;
  readonly shape: Shape;
  readonly value: WeightExpr;
}

/** A weight the source declares: one tensor of the weight file. */
export interface Param {
  /** `LAYER/WEIGHT`, e.g. `conv2d_1/kernel`. */
  readonly key: string;
  readonly shape: Shape;
  readonly initializer: string;
}

export interface Node {
  readonly id: number;
  readonly layer: LayerDef;
  /** Keras-style unique name (`conv_block_1/conv2d_2`); hidden nodes get `~`-prefixed names. */
  readonly name: string;
  readonly attrs: Attrs;
  readonly inputs: readonly number[];
  /** Per-example output shape, internal layout. */
  readonly shape: Shape;
  /** The same shape as the user sees it, in the network's data format (for summaries). */
  readonly userShape: Shape;
  readonly weights: readonly WeightUse[];
  /** Layers the compiler made (layout transposes, inputs): not listed as user layers. */
  readonly hidden: boolean;
  readonly span: Span;
  /** Block call path this node was created in (`conv_block_1`), empty at network level. */
  readonly scope: string;
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

export function size(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Converts an internal shape to the user's data format (rank-3 tensors only differ). */
export function toUserShape(shape: Shape, format: DataFormat): number[] {
  if (format === 'channels_first' && shape.length === 3) return [shape[2]!, shape[0]!, shape[1]!];
  return [...shape];
}

/** Converts a user-format shape to the internal layout. */
export function fromUserShape(shape: Shape, format: DataFormat): number[] {
  if (format === 'channels_first' && shape.length === 3) return [shape[1]!, shape[2]!, shape[0]!];
  return [...shape];
}

/** Ids of the nodes that read each node's output. */
export function consumers(graph: Graph): number[][] {
  const out: number[][] = graph.nodes.map(() => []);
  for (const n of graph.nodes) for (const i of n.inputs) out[i]!.push(n.id);
  return out;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
