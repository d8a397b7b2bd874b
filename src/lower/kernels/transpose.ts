// Transposes: out[i0, i1, ...] = in[...] with out axis a = in axis perm[a]; nested loops over
// the output, a contiguous (vectorized) copy when the last axis stays last. Axes of size 1 are
// dropped and input axes that stay neighbours are merged first, so a transpose that moves
// whole runs copies them (depth_to_space dcr: runs of channels) and one that moves nothing is
// one copy. The internal `transpose` (layout changes), `permute`, `depth_to_space` and
// `space_to_depth` are all this kernel.
// A band (LowerOptions.band) of a rank-3 output's rows is the same transpose of the input with
// the axis that becomes the first restricted, read with the input's own strides: copies are
// exact, so bands give the whole layer's bits. Its kernel is relative to bases the step moves
// (bandShift), so bands of equal height share it.
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, i32, load, mul, store, type Expr, type Stmt } from '../../kir/kir.js';
import type { BandShift, LowerOptions, LoweredNode } from '../program.js';
import type { Band } from './rows.js';
import { sharedBandTags } from './spatial.js';
import { copy, dims, finish, range, inputBase, outputBase } from './util.js';

const strides = (shape: Shape): number[] => shape.map((_, i) => size(shape.slice(i + 1)));

/** The same transpose with size-1 axes dropped and neighbouring axes merged. */
export function simplifyTranspose(
  shape: Shape,
  perm: readonly number[],
): { shape: number[]; perm: number[] } {
  const kept = perm.filter((p) => shape[p]! > 1);
  // Runs of output axes whose input axes are consecutive (a, a + 1, ...).
  const groups: number[][] = [];
  for (const p of kept) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1]! + 1 === p) last.push(p);
    else groups.push([p]);
  }
  const byInput = [...groups].sort((a, b) => a[0]! - b[0]!);
  return {
    shape: byInput.map((g) => size(g.map((p) => shape[p]!))),
    perm: groups.map((g) => byInput.indexOf(g)),
  };
}

/** The statements that write y = transpose(x0) (input shape `shape`, out axis a = perm[a]). */
export function transposeBody(shape: Shape, perm: readonly number[], simd: boolean): Stmt[] {
  const s = simplifyTranspose(shape, perm);
  const inShape = s.shape;
  const p = s.perm;
  const out = p.map((a) => inShape[a]!);
  const rank = out.length;
  if (rank === 0 || p.every((a, i) => a === i))
    return copy(outputBase, inputBase(0), size(shape), simd);
  const inStrides = strides(inShape);
  const outStrides = strides(out);
  const keepsLast = p[rank - 1] === rank - 1;
  const depth = keepsLast ? rank - 1 : rank;
  /** Loops over output axes a..depth-1, with y and x offsets so far. */
  const nest = (a: number, yo: Expr, xo: Expr): Stmt[] => {
    if (a === depth)
      return keepsLast
        ? copy(add(outputBase, yo), add(inputBase(0), xo), out[rank - 1]!, simd)
        : [store(add(outputBase, yo), load(add(inputBase(0), xo)))];
    return range(`i${a}`, 0, out[a]!, (i) =>
      nest(a + 1, add(yo, mul(i, outStrides[a]!)), add(xo, mul(i, inStrides[p[a]!]!))),
    );
  };
  return nest(0, i32(0), i32(0));
}

/**
 * Output rows [from, from + count) of the first output axis of a transpose (input shape
 * `shape`, out axis a = perm[a]), written from the output and input bases moved by `shift`.
 * The input axis perm[0] is cut, so the input is read with its own strides: output axes are
 * merged where the input steps through them as through one axis.
 */
export function transposeBand(
  shape: Shape,
  perm: readonly number[],
  simd: boolean,
  band: Band,
): { body: Stmt[]; shift: BandShift } {
  const inStrides = strides(shape);
  const row = size(perm.slice(1).map((a) => shape[a]!));
  const axes: { n: number; xs: number }[] = [];
  perm.forEach((a, i) => {
    const n = i === 0 ? band.count : shape[a]!;
    if (n === 1) return;
    const prev = axes[axes.length - 1];
    if (prev && prev.xs === n * inStrides[a]!)
      axes[axes.length - 1] = { n: prev.n * n, xs: inStrides[a]! };
    else axes.push({ n, xs: inStrides[a]! });
  });
  const shift = { y: band.from * row, x: [band.from * inStrides[perm[0]!]!] };
  const rank = axes.length;
  if (rank === 0) return { body: copy(outputBase, inputBase(0), 1, simd), shift };
  const ys = axes.map((_, i) => size(axes.slice(i + 1).map((a) => a.n)));
  const keepsLast = axes[rank - 1]!.xs === 1;
  const depth = keepsLast ? rank - 1 : rank;
  const nest = (d: number, yo: Expr, xo: Expr): Stmt[] => {
    if (d === depth)
      return keepsLast
        ? copy(add(outputBase, yo), add(inputBase(0), xo), axes[rank - 1]!.n, simd)
        : [store(add(outputBase, yo), load(add(inputBase(0), xo)))];
    return range(`i${d}`, 0, axes[d]!.n, (i) =>
      nest(d + 1, add(yo, mul(i, ys[d]!)), add(xo, mul(i, axes[d]!.xs))),
    );
  };
  return { body: nest(0, i32(0), i32(0)), shift };
}

/** The kernel of a transpose (input shape `shape`, out axis a = perm[a]): the whole, or the
 * band's rows of its first output axis. */
function transposeKernel(
  node: Node,
  name: (string | false)[],
  doc: string,
  shape: Shape,
  perm: readonly number[],
  opts: LowerOptions,
): LoweredNode {
  const simd = opts.schedule.simd;
  if (!opts.band) return finish(node, { name, doc: [doc], body: transposeBody(shape, perm, simd) });
  const { body, shift } = transposeBand(shape, perm, simd, opts.band);
  const tags = sharedBandTags(opts.band.count);
  return finish(node, {
    name: [...name, tags.name],
    doc: [doc, ...tags.doc],
    body,
    bandShift: shift,
  });
}

export function lowerTranspose(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const perm = node.attrs['perm'] as readonly number[];
  return transposeKernel(
    node,
    ['transpose', `i${dims(shape!)}`, `p${perm.join('_')}`],
    `transpose ${dims(shape!)} -> ${dims(node.shape)}, perm [${perm.join(', ')}]`,
    shape!,
    perm,
    opts,
  );
}

/** permute (Keras Permute, 1-based dims): a transpose of the per-example axes. */
export function lowerPermute(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const perm = (node.attrs['dims'] as readonly number[]).map((d) => d - 1);
  return transposeKernel(
    node,
    ['permute', `i${dims(shape!)}`, `p${perm.join('_')}`],
    `permute ${dims(shape!)} -> ${dims(node.shape)}, axes [${perm.join(', ')}]`,
    shape!,
    perm,
    opts,
  );
}

/**
 * depth_to_space and space_to_depth as transposes of their input seen with the block split
 * out. With b the block size, C' = C / b^2 (depth_to_space) and c the shallow channel:
 * dcr (TensorFlow) holds deep channel (i * b + j) * C' + c, crd (PyTorch) c * b^2 + i * b + j,
 * for the block row i and column j.
 */
export function blockTranspose(
  [H, W, C]: readonly number[],
  b: number,
  mode: string,
  toSpace: boolean,
): { shape: number[]; perm: number[] } {
  if (toSpace) {
    const c = C! / (b * b);
    // in [H, W, (b, b, c) or (c, b, b)] -> out [H, i, W, j, c]
    return mode === 'dcr'
      ? { shape: [H!, W!, b, b, c], perm: [0, 2, 1, 3, 4] }
      : { shape: [H!, W!, c, b, b], perm: [0, 3, 1, 4, 2] };
  }
  const h = H! / b;
  const w = W! / b;
  // in [h, i, w, j, C] -> out [h, w, (i, j, C) or (C, i, j)]
  return mode === 'dcr'
    ? { shape: [h, b, w, b, C!], perm: [0, 2, 1, 3, 4] }
    : { shape: [h, b, w, b, C!], perm: [0, 2, 4, 1, 3] };
}

export function lowerBlockTranspose(toSpace: boolean) {
  return (node: Node, [shape]: readonly Shape[], opts: LowerOptions): LoweredNode => {
    const kind = toSpace ? 'depth_to_space' : 'space_to_depth';
    const b = node.attrs['block_size'] as number;
    const mode = node.attrs['mode'] as string;
    const t = blockTranspose(shape!, b, mode, toSpace);
    // A band counts rows of the view's first output axis (blockBandUnits): depth_to_space's
    // input rows, each b output rows.
    return transposeKernel(
      node,
      [kind, `i${dims(shape!)}`, `b${b}`, mode],
      `${kind} ${dims(shape!)} -> ${dims(node.shape)}: block ${b}, ${mode}`,
      t.shape,
      t.perm,
      opts,
    );
  };
}

/** The units a band of depth_to_space counts: its input rows (each `block_size` output rows,
 * the first axis of the transpose it is). */
export const blockBandUnits = (node: Node): number =>
  node.shape[0]! / (node.attrs['block_size'] as number);
