// What a layer is: its attributes (Keras order, defaults, domains), shape rule, weights, MACs,
// traits the passes ask about, and its reference semantics in plain loops.
import type { Span } from '../../grammar/span.js';
import type { WeightExpr } from '../runtime/weight-expr.js';
import type { Attrs, AttrValue, DataFormat, Shape } from './types.js';

/** The domain of an attribute; the front end checks values against it before a layer sees them. */
export type AttrKind =
  | { readonly type: 'int'; readonly min: number }
  | {
      readonly type: 'float';
      readonly min?: number;
      readonly max?: number;
      readonly open?: boolean;
    }
  | { readonly type: 'bool' }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  /** An integer or `[h, w]`; normalized to `[h, w]`. */
  | { readonly type: 'pair'; readonly min: number }
  /** `valid`, `same`, `p`, `[ph, pw]` or `[[top, bottom], [left, right]]`; explicit forms are
   * normalized to `[[t, b], [l, r]]`. */
  | { readonly type: 'padding'; readonly explicit: boolean }
  /** `p`, `[ph, pw]` or `[[t, b], [l, r]]`, normalized to `[[t, b], [l, r]]`. */
  | { readonly type: 'amounts' }
  | { readonly type: 'activation' }
  | { readonly type: 'initializer' }
  /** A list of positive integers (`target_shape`, `output_shape`). */
  | { readonly type: 'ints'; readonly min: number }
  /** A Keras axis: batch is 0 (an error), -1 the last. Kept as written; see InferContext.axis. */
  | { readonly type: 'axis' }
  /** Keras axes: an integer or a list of them (none 0); normalized to a list. */
  | { readonly type: 'axes' }
  /** A number or a list of numbers (one per channel); a list stays a list. */
  | { readonly type: 'numbers' }
  | { readonly type: 'string' };

export interface AttrSpec {
  readonly name: string;
  readonly kind: AttrKind;
  /** The Keras default; `undefined` means required; `null` means "none" (absent). */
  readonly default: AttrValue | undefined;
  /** Named only (like `output_shape`): cannot be given by position. */
  readonly namedOnly?: boolean;
  /** Accepted for Keras compatibility and ignored at inference (e.g. momentum). */
  readonly unused?: boolean;
}

export interface WeightDecl {
  readonly name: string;
  readonly shape: Shape;
  readonly initializer: string;
}

export interface Inferred {
  readonly shape: Shape;
  readonly weights?: readonly WeightDecl[];
  /** Values the shape rule resolved (pads, internal axes), merged into the node's attrs. */
  readonly attrs?: Readonly<Record<string, AttrValue>>;
}

export interface InferContext {
  /** Per-example input shapes, internal layout ([H, W, C] for images). */
  readonly inputs: readonly Shape[];
  readonly attrs: Attrs;
  readonly dataFormat: DataFormat;
  /** Reports a shape or domain error on the layer (at `attr`'s value when given). */
  error(message: string, attr?: string, ...notes: string[]): void;
  /** The internal axis index for a Keras axis attribute on a tensor of this rank, or null. */
  axis(attr: string, rank: number): number | null;
  /** How to describe input i in a message: `[28, 28, 1]`, in the user's data format. */
  describe(i: number): string;
  /** Whether `attr` was written in the source (rather than defaulted). */
  given(attr: string): boolean;
}

/** What the passes may ask of a layer (never its kind string). */
export interface LayerTraits {
  /** Reads its input in the data format's element order (flatten, reshape, dense on images):
   * in channels_first the front end hands it [C, H, W] data. */
  readonly layoutSensitive?: boolean;
  /** Has an `activation` epilogue an activation layer may be fused into. */
  readonly fusesActivation?: boolean;
  /** Output channel c = affine over its weights: batch normalization may fold into it.
   * `kernel` names the weight and `channelAxis` the kernel axis where the output-channel index
   * starts (counting from the end when negative); the output channels span the axes from there
   * whose sizes multiply to the layer's output channels (depthwise `[.., in, dm]` kernels: the
   * last two axes flattened, channel c*dm+m). `bias` names the per-output-channel bias. */
  readonly channelAffine?: {
    readonly kernel: string;
    readonly bias: string;
    readonly channelAxis: number;
  };
  /** Its bias may move into the bias of a following pointwise convolution when nothing stands
   * between (the required depthwise-bias fold: b' = b_pw + W_pw^T b). */
  readonly biasIntoPointwise?: boolean;
  /** A per-channel affine map y = x * s + t (batch normalization). */
  readonly isBatchNorm?: boolean;
  /** y = x * scale[c] + offset[c] with constant numbers (rescaling): per channel of the last
   * axis, or null when its numbers vary along another axis. May fold into the kernel and bias
   * of a following conv2d or dense layer. */
  readonly constantAffine?: (node: Node) => { scale: number[]; offset: number[] } | null;
  /** Elementwise and nonlinear (an activation layer): blocks bias folding. */
  readonly activation?: string;
  /** Identity at inference (dropout, linear): removed by the passes. */
  readonly identity?: boolean;
  /** Its output is its input's data, unchanged (flatten, reshape): no kernel, same buffer. */
  readonly view?: boolean;
  /** A pointwise (1x1, unpadded, stride 1, groups 1) convolution node check. */
  readonly pointwise?: (node: Node) => boolean;
}

/** Per-example reference semantics: plain loops in float64, internal layout. */
export type Reference = (
  node: Node,
  inputs: readonly Float64Array[],
  inputShapes: readonly Shape[],
  weights: Readonly<Record<string, Float64Array>>,
) => Float64Array;

/**
 * A small case the one layer-vs-reference harness (test/layers.test.ts) runs on every backend:
 * per-example input shapes (as written, channels_last) and the call's arguments after its
 * inputs (`6, 3, strides: 2`). An internal layer, which only passes make, gives the whole
 * network `source` that its passes turn into it.
 */
export type LayerSample =
  | { readonly inputs: readonly Shape[]; readonly args?: string; readonly why?: string }
  | { readonly source: string; readonly why?: string };

export interface LayerDef {
  readonly kind: string;
  /** One line: what it computes. */
  readonly doc: string;
  /** Cases for the layer harness, chosen to reach each of its kernels' paths. */
  readonly samples?: readonly LayerSample[];
  /** How many tensor inputs it takes. */
  readonly inputs: { readonly min: number; readonly max: number };
  readonly attrs: readonly AttrSpec[];
  readonly traits: LayerTraits;
  /** Made by the compiler only; not callable from source. */
  readonly internal?: boolean;
  infer(ctx: InferContext): Inferred | null;
  macs(node: Node, inputShapes: readonly Shape[]): number;
  readonly reference: Reference;
  /** Its ONNX form (src/ir/onnx.ts); absent: an activation's (from its formula), an identity's
   * (its input), or none (the exporter says so). */
  readonly onnx?: OnnxMapping;
}

export function defineLayer(def: LayerDef): LayerDef {
  return def;
}

// Typed readers for resolved attributes (the front end guarantees their form).

export function num(attrs: Attrs, name: string): number {
  const v = attrs[name];
  if (typeof v !== 'number') throw new Error(`attribute ${name} is not a number`);
  return v;
}

export function bool(attrs: Attrs, name: string): boolean {
  return attrs[name] === true;
}

export function str(attrs: Attrs, name: string): string {
  const v = attrs[name];
  if (typeof v !== 'string') throw new Error(`attribute ${name} is not a string`);
  return v;
}

export function pair(attrs: Attrs, name: string): [number, number] {
  const v = attrs[name];
  if (!Array.isArray(v) || v.length !== 2) throw new Error(`attribute ${name} is not a pair`);
  return [v[0] as number, v[1] as number];
}

export function ints(attrs: Attrs, name: string): number[] | null {
  const v = attrs[name];
  if (v === null || v === undefined) return null;
  return (v as readonly number[]).map(Number);
}

/** `[[t, b], [l, r]]` amounts. */
export function amounts(attrs: Attrs, name: string): [[number, number], [number, number]] {
  const v = attrs[name] as readonly (readonly number[])[];
  return [
    [v[0]![0]!, v[0]![1]!],
    [v[1]![0]!, v[1]![1]!],
  ];
}

// A node: one op applied in a graph (src/ir/graph.ts), with resolved attributes and weights.

export interface WeightUse {
  /** The layer's weight slot: `kernel`, `bias`, `gamma`, ... */
  readonly name: string;
  readonly shape: Shape;
  readonly value: WeightExpr;
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

// ------------------------------------------------------------------------------------ ONNX

/** An ONNX attribute: a tagged number (ints and floats must be told apart) or a string. */
export type OnnxAttr =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'ints'; readonly value: number[] }
  | { readonly type: 'float'; readonly value: number }
  | string;
export type OnnxAttrs = Record<string, OnnxAttr>;

/**
 * A graph value as an ONNX tensor: `name` holds the batch then the node's internal axes in the
 * order `perm` gives (ONNX axis i + 1 is internal axis perm[i]). Image tensors live in NCHW:
 * internal [H, W, C] with perm [2, 0, 1]; netc's `transpose` nodes only relabel axes.
 */
export interface OnnxValue {
  readonly name: string;
  readonly perm: readonly number[];
}

/** What an op's export builds its ONNX nodes with. */
export interface OnnxBuilder {
  /** The network's data format (channels_first images are NCHW to the user). */
  readonly dataFormat: string | undefined;
  /** The ONNX value a node was exported as. */
  value(id: number): OnnxValue;
  /** The shape of node `id`. */
  shapeOf(id: number): Shape;
  /** The name of the graph input node `n` is. */
  inputName(n: Node): string;
  /** The value's tensor with its axes in `perm` order (a Transpose when they differ). */
  as(v: OnnxValue, perm: readonly number[], base: string): string;
  /** Input i of a node as NCHW (the node's input is an internal [H, W, C] image). */
  nchw(n: Node, i?: number): string;
  /** Adds an ONNX node; returns its (unique) output tensor name. */
  op(
    opType: string,
    inputs: string[],
    base: string,
    nodeName: string,
    attrs?: OnnxAttrs,
    outName?: string,
  ): string;
  /** A float initializer. */
  init(base: string, dims: number[], data: Float32Array | number[]): string;
  /** A shared int64 vector constant. */
  int64(base: string, values: number[]): string;
  /** A shared scalar float constant. */
  scalar(v: number): string;
  /** A node's weight (computed by its recipe), or null when it has none. */
  weight(n: Node, slot: string): Float32Array | null;
  need(n: Node, slot: string): Float32Array;
  /** Applies the node's `activation` epilogue to x. */
  epilogue(n: Node, x: string): string;
}

/** How an op becomes ONNX nodes. */
export interface OnnxMapping {
  /** The nodes of `n` (through the builder) and the value its result is left in. */
  export(n: Node, b: OnnxBuilder): OnnxValue;
}
