// rescaling kernel: y = x * scale + offset with the numbers as constants. Scalars: one
// vectorized pass; per-channel lists: the channels unrolled with their constants (channel
// axis last), or a vectorized pass per channel over its elements (an inner axis).
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, mul, store, type Expr } from '../../kir/kir.js';
import { perChannel } from '../../layers/rescaling.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { bandElements, bandOuter } from './rows.js';
import { bandTags } from './spatial.js';
import {
  dims,
  floatBinary,
  fconst,
  finish,
  flat,
  loadL,
  numTag,
  range,
  inputBase,
  outputBase,
  type Lanes,
} from './util.js';

export function lowerRescaling(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const scale = node.attrs['scale']!;
  const offset = node.attrs['offset']!;
  const axis = node.attrs['channel_axis'] as number;
  const C = shape![axis]!;
  const inner = shape!.slice(axis + 1).reduce((p, d) => p * d, 1);
  const n = size(shape!);
  const uniform = [scale, offset].every((v) => !Array.isArray(v) || v.length === 1);
  const affine = (x: Expr, c: number, l: Lanes): Expr => {
    const s = perChannel(scale, c);
    const o = perChannel(offset, c);
    const y = s === 1 ? x : floatBinary('mul', x, fconst(s, l));
    return o === 0 ? y : floatBinary('add', y, fconst(o, l));
  };
  const at = (i: Expr): Expr => add(inputBase(0), i);
  // A band (rescalingSplits): its rows' elements, or its range of the outer loop.
  const elements = bandElements(shape!, opts.band);
  const outer = bandOuter(shape!, n / (C * inner), opts.band);
  const body = uniform
    ? flat(elements.n, opts.schedule.simd, (j, l) => {
        const i = elements.at ? add(j, elements.at) : j;
        return [store(add(outputBase, i), affine(loadL(at(i), l), 0, l))];
      })
    : inner === 1
      ? range('o', outer.from, outer.to, (o) =>
          Array.from({ length: C }, (_, c) => {
            const i = add(mul(o, C), c);
            return store(add(outputBase, i), affine(loadL(at(i), 1), c, 1));
          }),
        )
      : range('o', outer.from, outer.to, (o) =>
          Array.from({ length: C }, (_, c) =>
            flat(inner, opts.schedule.simd, (i, l) => {
              const k = add(add(mul(o, C * inner), c * inner), i);
              return [store(add(outputBase, k), affine(loadL(at(k), l), c, l))];
            }),
          ).flat(),
        );
  const tag = (v: typeof scale): string =>
    Array.isArray(v) ? v.map((x) => numTag(x as number)).join('_') : numTag(v as number);
  const tags = bandTags(opts.band);
  return finish(node, {
    name: [
      'rescaling',
      `i${dims(shape!)}`,
      `a${axis}`,
      `s${tag(scale)}`,
      `o${tag(offset)}`,
      tags.name,
    ],
    doc: [
      `rescaling ${dims(shape!)}: x * ${JSON.stringify(scale)} + ${JSON.stringify(offset)}`,
      ...tags.doc,
    ],
    body,
  });
}

/** Rows are independent unless per-channel numbers run along the first axis. */
export function rescalingSplits(node: Node): boolean {
  const uniform = [node.attrs['scale'], node.attrs['offset']].every(
    (v) => !Array.isArray(v) || v.length === 1,
  );
  return uniform || (node.attrs['channel_axis'] as number) !== 0;
}
