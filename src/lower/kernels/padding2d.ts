// padding2d and zero_padding2d kernels. Constant mode: constant rows above and below; per
// input row, the constant left, the row's pixels copied, the constant right (all contiguous
// runs, vectorized). Other modes (NumPy's reflect, symmetric, edge): per input row, each
// padded column copies the channels of the pixel it mirrors, the row's pixels copied between;
// then each padded row copies the finished output row it mirrors.
import type { Node, Shape } from '../../ir/graph.js';
import { add, mul, type Expr, type Stmt } from '../../kir/kir.js';
import { amounts, num, str } from '../../ir/op.js';
import { padSource } from '../../layers/padding2d.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import type { Band } from './rows.js';
import { bandTags } from './spatial.js';
import { copy, dims, fill, finish, numTag, range, inputBase, outputBase } from './util.js';

function padBody(
  [H, W, C]: readonly number[],
  [[t, b], [l, r]]: [[number, number], [number, number]],
  mode: string,
  value: number,
  simd: boolean,
): Stmt[] {
  const OW = W! + l + r;
  const row = OW * C!;
  const WC = W! * C!;
  if (mode === 'constant')
    return [
      ...fill(outputBase, t * row, value, simd),
      ...range('r', 0, H!, (i) => {
        const dst = add(outputBase, add(mul(i, row), (t * OW + l) * C!));
        return [
          ...fill(add(dst, -l * C!), l * C!, value, simd),
          ...copy(dst, add(inputBase(0), mul(i, WC)), WC, simd),
          ...fill(add(dst, WC), r * C!, value, simd),
        ];
      }),
      ...fill(add(outputBase, (t + H!) * row), b * row, value, simd),
    ];
  /** Output column ox of the row at dst from the input row at src. */
  const column = (dst: Expr, src: Expr, ox: number): Stmt[] =>
    copy(add(dst, ox * C!), add(src, padSource(ox - l, W!, mode) * C!), C!, simd, 'c');
  const rowAt = (y: number): Expr => add(outputBase, y * row);
  const out: Stmt[] = range('r', 0, H!, (i) => {
    const dst = add(outputBase, mul(add(i, t), row));
    const src = add(inputBase(0), mul(i, WC));
    return [
      ...Array.from({ length: l }, (_, ox) => column(dst, src, ox)).flat(),
      ...copy(add(dst, l * C!), src, WC, simd),
      ...Array.from({ length: r }, (_, k) => column(dst, src, l + W! + k)).flat(),
    ];
  });
  for (let oy = 0; oy < t; oy++)
    out.push(...copy(rowAt(oy), rowAt(t + padSource(oy - t, H!, mode)), row, simd));
  for (let oy = t + H!; oy < t + H! + b; oy++)
    out.push(...copy(rowAt(oy), rowAt(t + padSource(oy - t, H!, mode)), row, simd));
  return out;
}

/**
 * A band of output rows [from, from + count) alone (LowerOptions.band): the constant rows in it,
 * its input rows as the whole kernel copies them, and each mirrored row it holds copied from
 * the input row it mirrors (not from another output row, which another band computes).
 */
function padBand(
  [H, W, C]: readonly number[],
  [[t, b], [l, r]]: [[number, number], [number, number]],
  mode: string,
  value: number,
  simd: boolean,
  { from, count }: Band,
): Stmt[] {
  const OW = W! + l + r;
  const row = OW * C!;
  const WC = W! * C!;
  const end = from + count;
  const first = Math.max(0, from - t);
  const last = Math.min(H!, end - t);
  const out: Stmt[] = [];
  if (mode === 'constant') {
    const top = Math.min(end, t) - from;
    if (top > 0) out.push(...fill(add(outputBase, from * row), top * row, value, simd));
    out.push(
      ...range('r', first, last, (i) => {
        const dst = add(outputBase, add(mul(i, row), (t * OW + l) * C!));
        return [
          ...fill(add(dst, -l * C!), l * C!, value, simd),
          ...copy(dst, add(inputBase(0), mul(i, WC)), WC, simd),
          ...fill(add(dst, WC), r * C!, value, simd),
        ];
      }),
    );
    const below = Math.max(from, t + H!);
    if (end > below)
      out.push(...fill(add(outputBase, below * row), (end - below) * row, value, simd));
    return out;
  }
  const column = (dst: Expr, src: Expr, ox: number): Stmt[] =>
    copy(add(dst, ox * C!), add(src, padSource(ox - l, W!, mode) * C!), C!, simd, 'c');
  /** Output row dst from the input row at src. */
  const rowBody = (dst: Expr, src: Expr): Stmt[] => [
    ...Array.from({ length: l }, (_, ox) => column(dst, src, ox)).flat(),
    ...copy(add(dst, l * C!), src, WC, simd),
    ...Array.from({ length: r }, (_, k) => column(dst, src, l + W! + k)).flat(),
  ];
  out.push(
    ...range('r', first, last, (i) =>
      rowBody(add(outputBase, mul(add(i, t), row)), add(inputBase(0), mul(i, WC))),
    ),
  );
  for (let oy = from; oy < end; oy++)
    if (oy < t || oy >= t + H!)
      out.push(
        ...rowBody(add(outputBase, oy * row), add(inputBase(0), padSource(oy - t, H!, mode) * WC)),
      );
  return out;
}

/** The whole padded output, or a band of its rows. */
function padKernel(
  shape: readonly number[],
  pads: [[number, number], [number, number]],
  mode: string,
  value: number,
  simd: boolean,
  band: Band | undefined,
): Stmt[] {
  return band
    ? padBand(shape, pads, mode, value, simd, band)
    : padBody(shape, pads, mode, value, simd);
}

export function lowerZeroPadding2d(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const pads = amounts(node.attrs, 'padding');
  const [[t, b], [l, r]] = pads;
  const tags = bandTags(opts.band);
  return finish(node, {
    name: ['zero_padding2d', `i${dims(shape!)}`, `p${t}_${b}_${l}_${r}`, tags.name],
    doc: [
      `zero_padding2d ${dims(shape!)} -> ${dims(node.shape)}: top ${t}, bottom ${b}, left ${l}, right ${r}`,
      ...tags.doc,
    ],
    body: padKernel(shape!, pads, 'constant', 0, opts.schedule.simd, opts.band),
  });
}

export function lowerPadding2d(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const pads = amounts(node.attrs, 'padding');
  const [[t, b], [l, r]] = pads;
  const mode = str(node.attrs, 'mode');
  const value = num(node.attrs, 'constant_value');
  const constant = mode === 'constant';
  const tags = bandTags(opts.band);
  return finish(node, {
    name: [
      'padding2d',
      `i${dims(shape!)}`,
      `p${t}_${b}_${l}_${r}`,
      mode,
      constant && `v${numTag(value)}`,
      tags.name,
    ],
    doc: [
      `padding2d ${dims(shape!)} -> ${dims(node.shape)}: top ${t}, bottom ${b}, left ${l}, right ${r}, ` +
        (constant ? `constant ${value}` : mode),
      ...tags.doc,
    ],
    body: padKernel(shape!, pads, mode, value, opts.schedule.simd, opts.band),
  });
}
