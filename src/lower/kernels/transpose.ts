// Transposes: out[i0, i1, ...] = in[...] with out axis a = in axis perm[a]; nested loops over
// the output, a contiguous (vectorized) copy when the last axis stays last. Axes of size 1 are
// dropped and input axes that stay neighbours are merged first, so a transpose that moves
// whole runs copies them (depth_to_space dcr: runs of channels) and one that moves nothing is
// one copy. The internal `transpose` (layout changes), `permute`, `depth_to_space` and
// `space_to_depth` are all this kernel.
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, i32, load, mul, store, type Expr, type Stmt } from '../../kir/kir.js';
import type { LowerOptions, LoweredNode } from '../program.js';
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

export function lowerTranspose(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const perm = node.attrs['perm'] as readonly number[];
  return finish(node, {
    name: ['transpose', `i${dims(shape!)}`, `p${perm.join('_')}`],
    doc: [`transpose ${dims(shape!)} -> ${dims(node.shape)}, perm [${perm.join(', ')}]`],
    body: transposeBody(shape!, perm, opts.schedule.simd),
  });
}

/** permute (Keras Permute, 1-based dims): a transpose of the per-example axes. */
export function lowerPermute(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const perm = (node.attrs['dims'] as readonly number[]).map((d) => d - 1);
  return finish(node, {
    name: ['permute', `i${dims(shape!)}`, `p${perm.join('_')}`],
    doc: [`permute ${dims(shape!)} -> ${dims(node.shape)}, axes [${perm.join(', ')}]`],
    body: transposeBody(shape!, perm, opts.schedule.simd),
  });
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
    return finish(node, {
      name: [kind, `i${dims(shape!)}`, `b${b}`, mode],
      doc: [`${kind} ${dims(shape!)} -> ${dims(node.shape)}: block ${b}, ${mode}`],
      body: transposeBody(t.shape, t.perm, opts.schedule.simd),
    });
  };
}
