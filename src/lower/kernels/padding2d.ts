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

export function lowerZeroPadding2d(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const pads = amounts(node.attrs, 'padding');
  const [[t, b], [l, r]] = pads;
  return finish(node, {
    name: ['zero_padding2d', `i${dims(shape!)}`, `p${t}_${b}_${l}_${r}`],
    doc: [
      `zero_padding2d ${dims(shape!)} -> ${dims(node.shape)}: top ${t}, bottom ${b}, left ${l}, right ${r}`,
    ],
    body: padBody(shape!, pads, 'constant', 0, opts.schedule.simd),
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
  return finish(node, {
    name: [
      'padding2d',
      `i${dims(shape!)}`,
      `p${t}_${b}_${l}_${r}`,
      mode,
      constant && `v${numTag(value)}`,
    ],
    doc: [
      `padding2d ${dims(shape!)} -> ${dims(node.shape)}: top ${t}, bottom ${b}, left ${l}, right ${r}, ` +
        (constant ? `constant ${value}` : mode),
    ],
    body: padBody(shape!, pads, mode, value, opts.schedule.simd),
  });
}
