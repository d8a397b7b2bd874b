// The IR's plain values: shapes, data formats and resolved attribute values.

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

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
