// An op's ONNX mapping, declared with the op (src/layers/NAME.ts: `onnx: { export }`), in terms
// neutral of the protobuf codec (the types are in op.ts, with the op; builders and helpers here): the exporter (src/onnx/export.ts) implements `OnnxBuilder`
// and asks each node's op for its nodes. Inside, image values are NCHW (the batch first);
// each value records the order its axes are in (`OnnxValue.perm`), so layout moves are
// Transposes only where an op needs another order.
import type { Node, OnnxAttr, OnnxBuilder, OnnxValue } from './op.js';
import type { Shape } from './types.js';

export type { OnnxAttr, OnnxAttrs, OnnxBuilder, OnnxMapping, OnnxValue } from './op.js';

export const onnxInt = (value: number): OnnxAttr => ({ type: 'int', value });
export const onnxInts = (value: readonly number[]): OnnxAttr => ({
  type: 'ints',
  value: [...value],
});
export const onnxFloat = (value: number): OnnxAttr => ({ type: 'float', value });

export const identityPerm = (rank: number): number[] => Array.from({ length: rank }, (_, i) => i);
export const NCHW: readonly number[] = [2, 0, 1];
/** An image value: NCHW in ONNX. */
export const image = (name: string): OnnxValue => ({ name, perm: NCHW });

// ------------------------------------------------------------------------------ helpers

export const inShapeOf = (b: OnnxBuilder, n: Node): Shape => b.shapeOf(n.inputs[0]!);

/** The axis order the user sees: NCHW for rank-3 tensors in channels_first. */
export const userPermOf = (b: OnnxBuilder, rank: number): number[] =>
  b.dataFormat === 'channels_first' && rank === 3 ? [...NCHW] : identityPerm(rank);

export const onnxPair = (n: Node, name: string): [number, number] => {
  const v = n.attrs[name] as readonly number[];
  return [v[0]!, v[1]!];
};

/** Rows [starts[0], ends[0]) and columns [starts[1], ends[1]) of an NCHW tensor. */
export function onnxSlice(
  b: OnnxBuilder,
  x: string,
  base: string,
  starts: number[],
  ends: number[],
): string {
  return b.op(
    'Slice',
    [
      x,
      b.int64(`${base}/starts`, starts),
      b.int64(`${base}/ends`, ends),
      b.int64(`${base}/axes`, [2, 3]),
    ],
    `${base}/slice`,
    `${base}/slice`,
  );
}

/** An axis relabeling (transpose, permute): out axis j is input axis p[j]; no data moves. */
export function relabel(b: OnnxBuilder, n: Node, p: readonly number[]): OnnxValue {
  const v = b.value(n.inputs[0]!);
  return { name: v.name, perm: v.perm.map((a) => p.indexOf(a)) };
}
