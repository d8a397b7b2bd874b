// Merge kernels: add, multiply, subtract, divide, average, maximum and minimum elementwise over n
// inputs (vectorized; broadcast operands read in place through their strides, see
// strided.ts), and concatenate as contiguous copies of each input's chunk per outer index.
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, mul, store, type BinFn, type Expr } from '../../kir/kir.js';
import { num } from '../../ir/op.js';
import { inputStrides } from '../../layers/broadcast.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { bandElements } from './rows.js';
import { bandTags, sharedBandTags } from './spatial.js';
import { bandOf, coalesce, loopTag, stridedElementwise } from './strided.js';
import {
  copy,
  dims,
  floatBinary,
  fconst,
  finish,
  flat,
  loadL,
  range,
  inputBase,
  outputBase,
  type Lanes,
} from './util.js';

const FN: Readonly<Record<string, BinFn>> = {
  add: 'add',
  multiply: 'mul',
  subtract: 'sub',
  average: 'add',
  maximum: 'max',
  minimum: 'min',
  divide: 'div',
};

/** The merge of the operands' values (lanes wide). */
function combine(kind: string, xs: readonly Expr[], l: Lanes): Expr {
  const acc = xs.slice(1).reduce((a: Expr, x) => floatBinary(FN[kind]!, a, x), xs[0]!);
  return kind === 'average' ? floatBinary('div', acc, fconst(xs.length, l)) : acc;
}

/** The lowering of an elementwise merge over all inputs. */
export function lowerElementwise(kind: string) {
  return (node: Node, shapes: readonly Shape[], opts: LowerOptions): LoweredNode => {
    const n = size(node.shape);
    // A band of output rows (LowerOptions.band): its elements alone.
    const tags = bandTags(opts.band);
    if (node.attrs['broadcast_strides'] === undefined) {
      const band = bandElements(node.shape, opts.band);
      const body = flat(band.n, opts.schedule.simd, (j, l) => {
        const i = band.at ? add(j, band.at) : j;
        const xs = shapes.map((_, k) => loadL(add(inputBase(k), i), l));
        return [store(add(outputBase, i), combine(kind, xs, l))];
      });
      return finish(node, {
        name: [kind, `n${n}`, `x${shapes.length}`, tags.name],
        doc: [`${kind} of ${shapes.length} inputs of ${n} elements`, ...tags.doc],
        body,
      });
    }
    const strides = inputStrides(node.attrs, node.shape, shapes.length);
    const whole = strides.map((s, k) => ({ base: inputBase(k), strides: s }));
    const part = bandOf(node.shape, whole, opts.band);
    const axes = coalesce(part.shape, part.operands);
    const body = stridedElementwise(
      axes,
      part.operands,
      opts.schedule.simd,
      (xs, l) => combine(kind, xs, l),
      part.out,
    );
    return finish(node, {
      name: [kind, `o${dims(node.shape)}`, `b${loopTag(axes)}`, tags.name],
      doc: [
        ...tags.doc,
        // What the name encodes only (equal names must mean equal code): the operands' shapes
        // differ between alike kernels ([C] and [1, 1, C] read the same way).
        `${kind} of ${shapes.length} operands broadcast to ${dims(node.shape)}: loops ` +
          `${axes.map((a) => a.n).join(' x ')}, operand strides ` +
          `${axes[0]!.strides.map((_, k) => axes.map((a) => a.strides[k]).join('x')).join(', ')}` +
          ' (stride 0 reads in place)',
      ],
      body,
    });
  };
}

/**
 * concatenate: per outer index, each input's chunk copied whole. A band of output rows
 * (LowerOptions.band, rows of the first axis, any rank) copies the input rows it needs, so it
 * gives the whole layer's bits (copies are exact): along a later axis, the same copies over its
 * rows, relative to bases the step moves (bandShift; bands of equal height share the kernel);
 * along the rows, the part of each input's rows that falls in the band, in place.
 */
export function lowerConcatenate(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const axis = num(node.attrs, 'concat_axis');
  const inner = node.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const name = ['concatenate', `a${axis}`, ...shapes.map((s) => `i${dims(s)}`)];
  const doc = `concatenate ${shapes.map(dims).join(', ')} on axis ${axis} -> ${dims(node.shape)}`;
  const simd = opts.schedule.simd;
  const band = opts.band;
  if (band && axis === 0) {
    // Output rows [from, to): from input k, its rows that fall there.
    const to = band.from + band.count;
    let offset = 0;
    const body = shapes.flatMap((s, k) => {
      const [lo, hi] = [Math.max(band.from, offset), Math.min(to, offset + s[0]!)];
      const at = offset;
      offset += s[0]!;
      return hi > lo
        ? copy(
            add(outputBase, lo * inner),
            add(inputBase(k), (lo - at) * inner),
            (hi - lo) * inner,
            simd,
          )
        : [];
    });
    const tags = bandTags(band);
    return finish(node, { name: [...name, tags.name], doc: [doc, ...tags.doc], body });
  }
  // Outer indices per output row (the first axis is outer here, or there is no band).
  const perRow = node.shape.slice(1, axis).reduce((p, d) => p * d, 1);
  const outer = band ? band.count * perRow : node.shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const total = node.shape[axis]! * inner;
  const body = range('r', 0, outer, (r) => {
    let offset = 0;
    return shapes.flatMap((s, k) => {
      const chunk = s[axis]! * inner;
      const at = offset;
      offset += chunk;
      return copy(
        add(outputBase, add(mul(r, total), at)),
        add(inputBase(k), mul(r, chunk)),
        chunk,
        simd,
      );
    });
  });
  if (!band) return finish(node, { name, doc: [doc], body });
  const tags = sharedBandTags(band.count);
  const rows = band.from * perRow;
  return finish(node, {
    name: [...name, tags.name],
    doc: [doc, ...tags.doc],
    body,
    bandShift: { y: rows * total, x: shapes.map((s) => rows * s[axis]! * inner) },
  });
}
