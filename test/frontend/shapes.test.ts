// Shape rules of every layer against the formulas of language.md section 3 ("Shapes"), with
// fast-check comparing conv2d / conv2d_transpose sizes to a direct reading of the contract.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../src/frontend/index.js';
import type { Graph, Node } from '../../src/ir/graph.js';
import { runPasses } from '../../src/passes/pipeline.js';
import { summarize } from '../../src/summary/summary.js';
import {
  graphs,
  lastShape,
  messages,
  net,
  oneError,
  row,
  rows,
  shapeOf,
} from '../helpers/frontend.js';

const FC = { seed: 20261125, numRuns: Number(process.env['FC_NUM_RUNS'] ?? 300) };

/** The one layer called `name` of the first network. */
function node(src: string, name: string): Node {
  const n = graphs(src)[0]!.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

// ------------------------------------------------------------------------------------------
// The contract, read directly (written independently of src/layers/geometry.ts).

type Pad = 'valid' | 'same' | readonly [number, number];

const span = (k: number, d: number): number => (k - 1) * d + 1;

/** conv2d along one axis: the number of window positions, or null when none fits. */
function convSize(i: number, k: number, s: number, d: number, pad: Pad): number | null {
  if (pad === 'same') {
    let o = 0;
    while (o * s < i) o++; // o = ceil(i / s)
    return o;
  }
  const [t, b] = pad === 'valid' ? [0, 0] : pad;
  let o = 0;
  while (o * s + span(k, d) <= i + t + b) o++; // windows start at 0, s, 2s, ...
  return o === 0 ? null : o;
}

/** `same`: TensorFlow's split of the padding, as the contract states it. */
function samePads(i: number, k: number, s: number, d: number): [number, number] {
  const o = Math.ceil(i / s);
  const total = Math.max((o - 1) * s + span(k, d) - i, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** conv2d_transpose: the sizes the conv2d with the same settings maps back to i. */
function reachableSizes(
  i: number,
  k: number,
  s: number,
  d: number,
  pad: 'valid' | 'same',
): number[] {
  const out: number[] = [];
  for (let o = 1; o <= (i + 2) * s + span(k, d); o++)
    if (convSize(o, k, s, d, pad) === i) out.push(o);
  return out;
}

/** Keras's default conv2d_transpose size. */
function kerasTransposeSize(
  i: number,
  k: number,
  s: number,
  d: number,
  pad: 'valid' | 'same',
): number {
  return pad === 'valid' ? i * s + Math.max(span(k, d) - s, 0) : i * s;
}

const list = (a: readonly number[]): string => `[${a.join(', ')}]`;

// ------------------------------------------------------------------------------------------

describe('conv2d', () => {
  const axis = fc.record({
    i: fc.integer({ min: 1, max: 40 }),
    k: fc.integer({ min: 1, max: 7 }),
    s: fc.integer({ min: 1, max: 4 }),
    d: fc.integer({ min: 1, max: 3 }),
    t: fc.integer({ min: 0, max: 4 }),
    b: fc.integer({ min: 0, max: 4 }),
  });
  const padding = fc.constantFrom('valid', 'same', 'explicit');

  it('matches the contract for valid, same and explicit padding with strides and dilation', () => {
    fc.assert(
      fc.property(axis, axis, padding, (y, x, p) => {
        const padText = p === 'explicit' ? `[[${y.t}, ${y.b}], [${x.t}, ${x.b}]]` : p;
        const src = net(
          [y.i, x.i, 2],
          `  output o = x -> conv2d(3, [${y.k}, ${x.k}], strides: [${y.s}, ${x.s}], ` +
            `padding: ${padText}, dilation_rate: [${y.d}, ${x.d}])`,
        );
        const padOf = (a: typeof y): Pad => (p === 'explicit' ? [a.t, a.b] : (p as Pad));
        const oh = convSize(y.i, y.k, y.s, y.d, padOf(y));
        const ow = convSize(x.i, x.k, x.s, x.d, padOf(x));
        const r = compileSource(src);
        if (oh === null || ow === null) {
          expect(r.diagnostics).toHaveLength(1);
          expect(r.diagnostics[0]!.message).toMatch(/kernel covers/);
          return;
        }
        expect(r.diagnostics).toEqual([]);
        const n = r.graphs[0]!.nodes.find((z) => z.name === 'conv2d')!;
        expect(n.shape).toEqual([oh, ow, 3]);
        if (p === 'same') {
          const [pt, pb] = samePads(y.i, y.k, y.s, y.d);
          const [pl, pr] = samePads(x.i, x.k, x.s, x.d);
          expect(n.attrs['pads']).toEqual([pt, pb, pl, pr]);
        }
      }),
      FC,
    );
  });

  it('splits same padding as TensorFlow: the odd cell goes after', () => {
    // 10 rows, kernel 4, stride 1: total 3 -> 1 before, 2 after. 11 columns, stride 2, kernel 4:
    // o = 6, total = (6 - 1) * 2 + 4 - 11 = 3 -> 1, 2.
    const src = net([10, 11, 1], '  output y = x -> conv2d(1, 4, strides: [1, 2], padding: same)');
    const n = node(src, 'conv2d');
    expect(n.shape).toEqual([10, 6, 1]);
    expect(n.attrs['pads']).toEqual([1, 2, 1, 2]);
  });

  it('takes explicit padding as p, [ph, pw] and [[t, b], [l, r]]', () => {
    expect(shapeOf([8, 8, 2], 'conv2d(3, 3, padding: 1)')).toEqual([8, 8, 3]);
    expect(shapeOf([8, 8, 2], 'conv2d(3, 3, padding: [2, 0])')).toEqual([10, 6, 3]);
    expect(shapeOf([8, 8, 2], 'conv2d(3, 3, strides: 2, padding: [[0, 1], [2, 0]])')).toEqual([
      4, 4, 3,
    ]);
  });

  it('declares kernel [kh, kw, in/groups, filters] and bias [filters]', () => {
    const src = net([9, 9, 6], '  output y = x -> conv2d(4, [3, 2], groups: 2)');
    expect(row(src, 'conv2d').weights).toEqual({ kernel: [3, 2, 3, 4], bias: [4] });
    const noBias = net([9, 9, 6], '  output y = x -> conv2d(4, 1, use_bias: false)');
    expect(row(noBias, 'conv2d').weights).toEqual({ kernel: [1, 1, 6, 4] });
  });

  it('reports groups that do not divide the channels or the filters', () => {
    const a = oneError(net([4, 4, 3], '  output y = x -> conv2d(8, 1, groups: 2)'));
    expect(a.text).toMatch(/groups 2 must divide the input channels \(3\)/);
    expect(a.caret).toBe('2');
    const b = oneError(net([4, 4, 4], '  output y = x -> conv2d(6, 1, groups: 4)'));
    expect(b.text).toMatch(/groups 4 must divide filters \(6\)/);
  });

  it('reports an input smaller than the kernel with both sizes', () => {
    const e = oneError(net([4, 6, 3], '  output y = x -> conv2d(8, 5)'));
    expect(e.text).toMatch(/\[4, 6, 3\]/);
    expect(e.text).toMatch(/5x5/);
    // Explicit padding that makes it fit is fine.
    expect(shapeOf([4, 6, 3], 'conv2d(8, 5, padding: [1, 0])')).toEqual([2, 2, 8]);
  });

  it('needs a rank-3 input', () => {
    expect(oneError(net([10], '  output y = x -> conv2d(2, 1)')).text).toMatch(/rank 3/);
  });
});

describe('depthwise_conv2d and separable_conv2d', () => {
  it('multiplies the channels by depth_multiplier', () => {
    const src = net(
      [10, 9, 3],
      '  output y = x -> depthwise_conv2d(3, strides: 2, padding: same, depth_multiplier: 2)',
    );
    const r = row(src, 'depthwise_conv2d');
    expect(r.shape).toEqual([5, 5, 6]);
    expect(r.weights).toEqual({ depthwise_kernel: [3, 3, 3, 2], bias: [6] });
  });

  it('follows the conv2d rule for its spatial size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 2 }),
        fc.constantFrom<'valid' | 'same'>('valid', 'same'),
        (i, k, s, d, p) => {
          const o = convSize(i, k, s, d, p);
          const src = net(
            [i, i, 2],
            `  output y = x -> depthwise_conv2d(${k}, strides: ${s}, padding: ${p}, dilation_rate: ${d}, depth_multiplier: 3)`,
          );
          const r = compileSource(src);
          if (o === null) expect(r.diagnostics).toHaveLength(1);
          else expect(r.graphs[0]!.nodes.at(-1)!.shape).toEqual([o, o, 6]);
        },
      ),
      FC,
    );
  });

  it('separable_conv2d: depthwise [kh, kw, in, dm] without bias, pointwise [1, 1, in*dm, filters]', () => {
    const src = net([416, 416, 10], '  output y = x -> separable_conv2d(100, 5)');
    const r = row(src, 'separable_conv2d');
    expect(r.shape).toEqual([412, 412, 100]);
    expect(r.weights).toEqual({
      depthwise_kernel: [5, 5, 10, 1],
      pointwise_kernel: [1, 1, 10, 100],
      bias: [100],
    });
    const dm = net(
      [7, 8, 3],
      '  output y = x -> separable_conv2d(4, 3, strides: 2, depth_multiplier: 2)',
    );
    expect(row(dm, 'separable_conv2d').shape).toEqual([3, 3, 4]);
    expect(row(dm, 'separable_conv2d').weights['pointwise_kernel']).toEqual([1, 1, 6, 4]);
  });
});

describe('conv2d_transpose', () => {
  const axis = fc.record({
    i: fc.integer({ min: 1, max: 20 }),
    k: fc.integer({ min: 1, max: 6 }),
    s: fc.integer({ min: 1, max: 4 }),
    d: fc.integer({ min: 1, max: 3 }),
  });
  const padding = fc.constantFrom<'valid' | 'same'>('valid', 'same');
  const layer = (
    y: { k: number; s: number; d: number },
    x: typeof y,
    p: string,
    extra = '',
  ): string =>
    `conv2d_transpose(2, [${y.k}, ${x.k}], strides: [${y.s}, ${x.s}], padding: ${p}, ` +
    `dilation_rate: [${y.d}, ${x.d}]${extra})`;

  it("defaults to Keras's size, which is reachable", () => {
    fc.assert(
      fc.property(axis, axis, padding, (y, x, p) => {
        const oh = kerasTransposeSize(y.i, y.k, y.s, y.d, p);
        const ow = kerasTransposeSize(x.i, x.k, x.s, x.d, p);
        expect(reachableSizes(y.i, y.k, y.s, y.d, p)).toContain(oh);
        expect(shapeOf([y.i, x.i, 3], layer(y, x, p))).toEqual([oh, ow, 2]);
      }),
      FC,
    );
  });

  it('has exactly `strides` reachable sizes, consecutive, as the contract lists them', () => {
    fc.assert(
      fc.property(axis, padding, ({ i, k, s, d }, p) => {
        const r = reachableSizes(i, k, s, d, p);
        const lo = p === 'valid' ? (i - 1) * s + span(k, d) : (i - 1) * s + 1;
        const hi = p === 'valid' ? (i - 1) * s + span(k, d) + s - 1 : i * s;
        expect(r).toEqual(Array.from({ length: hi - lo + 1 }, (_, j) => lo + j));
        expect(r).toHaveLength(s);
      }),
      FC,
    );
  });

  it('output_padding picks the op-th reachable size from the smallest', () => {
    fc.assert(
      fc.property(axis, axis, padding, fc.nat(3), fc.nat(3), (y, x, p, a, b) => {
        const src = net(
          [y.i, x.i, 3],
          `  output o = x -> ${layer(y, x, p, `, output_padding: [${a}, ${b}]`)}`,
        );
        const r = compileSource(src);
        if (a >= y.s || b >= x.s) {
          expect(r.diagnostics).toHaveLength(1);
          expect(r.diagnostics[0]!.message).toMatch(
            /output_padding \d+ must be smaller than the stride/,
          );
          return;
        }
        expect(r.diagnostics).toEqual([]);
        const oh = reachableSizes(y.i, y.k, y.s, y.d, p)[a];
        const ow = reachableSizes(x.i, x.k, x.s, x.d, p)[b];
        expect(r.graphs[0]!.nodes.at(-1)!.shape).toEqual([oh, ow, 2]);
      }),
      FC,
    );
  });

  it("output_padding equals Keras's formula for odd kernels", () => {
    // (i - 1) * s + k_eff - 2 * pad + op, with pad = k_eff // 2 for same and 0 for valid.
    for (const [i, k, s, p, op] of [
      [5, 3, 2, 'same', 1],
      [5, 3, 2, 'same', 0],
      [6, 5, 3, 'same', 2],
      [6, 3, 2, 'valid', 1],
      [4, 5, 3, 'valid', 2],
    ] as const) {
      const pad = p === 'same' ? Math.floor(k / 2) : 0;
      const want = (i - 1) * s + k - 2 * pad + op;
      expect(
        shapeOf(
          [i, i, 1],
          `conv2d_transpose(1, ${k}, strides: ${s}, padding: ${p}, output_padding: ${op})`,
        ),
      ).toEqual([want, want, 1]);
    }
  });

  it('output_shape asks for a reachable size, and lists the reachable ones otherwise', () => {
    fc.assert(
      fc.property(axis, axis, padding, fc.nat(30), fc.nat(30), (y, x, p, a, b) => {
        const oh = a + 1;
        const ow = b + 1;
        const src = net(
          [y.i, x.i, 3],
          `  output o = x -> ${layer(y, x, p, `, output_shape: [${oh}, ${ow}]`)}`,
        );
        const r = compileSource(src);
        const rh = reachableSizes(y.i, y.k, y.s, y.d, p);
        const rw = reachableSizes(x.i, x.k, x.s, x.d, p);
        if (rh.includes(oh) && rw.includes(ow)) {
          expect(r.diagnostics).toEqual([]);
          const n = r.graphs[0]!.nodes.at(-1)!;
          expect(n.shape).toEqual([oh, ow, 2]);
          // TensorFlow's placement: pad_before = floor(max((i - 1) * s + k_eff - o, 0) / 2).
          const before = (i: number, k: number, s: number, d: number, o: number): number =>
            p === 'same' ? Math.floor(Math.max((i - 1) * s + span(k, d) - o, 0) / 2) : 0;
          expect(n.attrs['pads']).toEqual([
            before(y.i, y.k, y.s, y.d, oh),
            before(x.i, x.k, x.s, x.d, ow),
          ]);
          return;
        }
        expect(r.diagnostics).toHaveLength(1);
        const d = r.diagnostics[0]!;
        const text = [d.message, ...d.notes].join('\n');
        expect(text).toMatch(/unreachable/);
        const words = (sizes: number[]): string =>
          sizes.length === 1
            ? `${sizes[0]}`
            : sizes.length === 2
              ? `${sizes[0]} and ${sizes[1]}`
              : `${sizes[0]} to ${sizes.at(-1)}`;
        if (!rh.includes(oh)) expect(d.message).toContain(`heights are ${words(rh)}`);
        if (!rw.includes(ow)) expect(d.message).toContain(`widths are ${words(rw)}`);
        expect(src.slice(d.span.start, d.span.end)).toBe(`[${oh}, ${ow}]`);
      }),
      FC,
    );
  });

  it('rejects output_padding together with output_shape, and output_shape of the wrong rank', () => {
    const both = net(
      [5, 5, 1],
      '  output y = x -> conv2d_transpose(1, 3, strides: 2, output_padding: 1, output_shape: [12, 12])',
    );
    expect(oneError(both).text).toMatch(/not both/);
    const rank = net(
      [5, 5, 1],
      '  output y = x -> conv2d_transpose(1, 3, strides: 2, output_shape: [11, 11, 1])',
    );
    expect(oneError(rank).text).toMatch(/\[height, width\]/);
  });

  it('takes output_shape by name only', () => {
    const src = net(
      [5, 5, 1],
      '  output y = x -> conv2d_transpose(1, 3, 2, same, 1, 1, linear, true, zeros, zeros, [10, 10])',
    );
    expect(oneError(src).text).toMatch(/at most 10 positional attributes/);
  });

  it('declares kernel [kh, kw, filters, in]', () => {
    const src = net([5, 4, 3], '  output y = x -> conv2d_transpose(4, [3, 2], strides: 2)');
    const r = row(src, 'conv2d_transpose');
    expect(r.shape).toEqual([11, 8, 4]);
    expect(r.weights).toEqual({ kernel: [3, 2, 4, 3], bias: [4] });
  });
});

describe('pooling', () => {
  it('follows the conv2d rule with strides defaulting to the pool size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 5 }),
        fc.option(fc.integer({ min: 1, max: 4 })),
        fc.constantFrom<'valid' | 'same'>('valid', 'same'),
        fc.constantFrom('max_pooling2d', 'average_pooling2d'),
        (i, k, s, p, kind) => {
          const strides = s ?? k;
          const o = convSize(i, k, strides, 1, p);
          const src = net(
            [i, i + 1, 2],
            `  output y = x -> ${kind}(${k}${s === null ? '' : `, strides: ${s}`}, padding: ${p})`,
          );
          const r = compileSource(src);
          if (o === null) {
            expect(r.diagnostics).toHaveLength(1);
            return;
          }
          const ow = convSize(i + 1, k, strides, 1, p);
          expect(r.graphs[0]!.nodes.at(-1)!.shape).toEqual([o, ow, 2]);
        },
      ),
      FC,
    );
  });

  it('defaults to pool_size 2 and takes [h, w]', () => {
    expect(shapeOf([7, 8, 3], 'max_pooling2d')).toEqual([3, 4, 3]);
    expect(shapeOf([7, 8, 3], 'average_pooling2d([2, 3])')).toEqual([3, 2, 3]);
    expect(shapeOf([7, 8, 3], 'max_pooling2d(2, padding: same)')).toEqual([4, 4, 3]);
  });

  it('takes valid or same only', () => {
    const e = oneError(net([8, 8, 1], '  output y = x -> max_pooling2d(2, padding: 1)'));
    expect(e.text).toMatch(/valid or same/);
    expect(e.caret).toBe('1');
  });

  it('global pooling drops height and width, or keeps them as 1 with keepdims', () => {
    expect(shapeOf([5, 6, 4], 'global_average_pooling2d')).toEqual([4]);
    expect(shapeOf([5, 6, 4], 'global_max_pooling2d(keepdims: true)')).toEqual([1, 1, 4]);
    expect(shapeOf([5, 6, 4], 'global_max_pooling2d(true)')).toEqual([1, 1, 4]);
  });
});

describe('zero_padding2d and up_sampling2d', () => {
  it('pads by p, [ph, pw] or [[top, bottom], [left, right]], 1 by default', () => {
    expect(shapeOf([3, 4, 2], 'zero_padding2d')).toEqual([5, 6, 2]);
    expect(shapeOf([3, 4, 2], 'zero_padding2d(2)')).toEqual([7, 8, 2]);
    expect(shapeOf([3, 4, 2], 'zero_padding2d([1, 0])')).toEqual([5, 4, 2]);
    expect(shapeOf([3, 4, 2], 'zero_padding2d([[0, 3], [2, 1]])')).toEqual([6, 7, 2]);
    expect(shapeOf([3, 4, 2], 'zero_padding2d(padding: [[0, 1], [0, 1]])')).toEqual([4, 5, 2]);
  });

  it('rejects negative or malformed padding', () => {
    expect(oneError(net([3, 4, 2], '  output y = x -> zero_padding2d(-1)')).text).toMatch(
      /negative/,
    );
    expect(oneError(net([3, 4, 2], '  output y = x -> zero_padding2d([1, 2, 3])')).text).toMatch(
      /\[\[top, bottom\], \[left, right\]\]/,
    );
  });

  it('up_sampling2d repeats rows and columns by size, 2 by default', () => {
    expect(shapeOf([3, 4, 2], 'up_sampling2d')).toEqual([6, 8, 2]);
    expect(shapeOf([3, 4, 2], 'up_sampling2d([2, 3])')).toEqual([6, 12, 2]);
    expect(shapeOf([3, 4, 2], 'up_sampling2d(3, interpolation: bilinear)')).toEqual([9, 12, 2]);
  });
});

describe('flatten, reshape and dense', () => {
  it('flatten gives one axis', () => {
    expect(shapeOf([4, 5, 3], 'flatten')).toEqual([60]);
  });

  it('reshape takes a target shape without the batch, with one -1 at most', () => {
    expect(shapeOf([4, 5, 3], 'reshape([10, 6])')).toEqual([10, 6]);
    expect(shapeOf([4, 5, 3], 'reshape([-1, 3])')).toEqual([20, 3]);
    expect(shapeOf([4, 5, 3], 'reshape([5, -1, 2])')).toEqual([5, 6, 2]);
    expect(shapeOf([60], 'reshape(target_shape: [3, 4, 5])')).toEqual([3, 4, 5]);
  });

  it('reshape reports a size that does not match and two -1', () => {
    const e = oneError(net([4, 5, 3], '  output y = x -> reshape([7, 8])'));
    expect(e.text).toMatch(/60 elements/);
    expect(e.caret).toBe('[7, 8]');
    expect(oneError(net([4, 5, 3], '  output y = x -> reshape([-1, 7])')).text).toMatch(
      /cannot reshape/,
    );
    expect(oneError(net([4, 5, 3], '  output y = x -> reshape([-1, -1])')).text).toMatch(
      /at most one -1/,
    );
  });

  it('dense acts on the last axis of any rank', () => {
    expect(shapeOf([10], 'dense(4)')).toEqual([4]);
    const src = net([4, 5, 3], '  output y = x -> dense(7)');
    expect(row(src, 'dense')).toMatchObject({
      shape: [4, 5, 7],
      weights: { kernel: [3, 7], bias: [7] },
    });
    expect(shapeOf([6, 2], 'dense(3, use_bias: false)')).toEqual([6, 3]);
  });
});

describe('add, multiply and concatenate', () => {
  /** The output shape of `merge(a, b, ...)` over inputs of these shapes. */
  const merged = (merge: string, shapes: string[], format = ''): readonly number[] =>
    lastShape(
      `network t${format} {\n${shapes.map((s, i) => `  input i${i}: ${s}\n`).join('')}` +
        `  output y = ${merge}(${shapes.map((_, i) => `i${i}`).join(', ')})\n}`,
    );

  it('the elementwise merges broadcast as NumPy: aligned from the last axis, equal or 1', () => {
    expect(lastShape(net([4, 4, 3], '  output y = add(x, x, x)'))).toEqual([4, 4, 3]);
    for (const m of ['add', 'multiply', 'subtract', 'divide', 'average', 'maximum', 'minimum']) {
      expect(merged(m, ['[7, 9, 8]', '[1, 1, 8]'])).toEqual([7, 9, 8]);
      expect(merged(m, ['[1, 1, 8]', '[7, 9, 8]'])).toEqual([7, 9, 8]);
      expect(merged(m, ['[8]', '[7, 9, 8]'])).toEqual([7, 9, 8]); // [8] lines up with C
      expect(merged(m, ['[4, 1, 1]', '[1, 6, 4]'])).toEqual([4, 6, 4]);
      expect(merged(m, ['[9, 1]', '[7, 1, 8]'])).toEqual([7, 9, 8]);
      expect(merged(m, ['[1]', '[5]'])).toEqual([5]);
      expect(merged(m, ['[3, 1]', '[1, 4]'])).toEqual([3, 4]);
    }
    expect(merged('add', ['[4, 6, 1]', '[4]', '[1, 6, 4]'])).toEqual([4, 6, 4]);
    expect(merged('maximum', ['[4, 6, 4]', '[4]', '[4, 6, 1]'])).toEqual([4, 6, 4]);
  });

  it('in channels_first, shapes align in the [C, H, W] layout the user writes', () => {
    const cf = '(data_format: channels_first)';
    expect(merged('multiply', ['[8, 1, 1]', '[8, 7, 9]'], cf)).toEqual([8, 7, 9]);
    // A rank-1 operand lines up with the last axis the user sees: W.
    expect(merged('add', ['[9]', '[8, 7, 9]'], cf)).toEqual([8, 7, 9]);
    expect(merged('add', ['[7, 9]', '[8, 7, 9]'], cf)).toEqual([8, 7, 9]);
    expect(
      oneError(`network t${cf} {\n  input a: [8]\n  input b: [8, 7, 9]\n  output y = add(a, b)\n}`)
        .text,
    ).toMatch(/the last axis one has 8 and the other 9/);
  });

  it('reports shapes that do not broadcast, naming both shapes and the axis', () => {
    const e = oneError(net([4, 4, 3], '  output y = multiply(x, x -> conv2d(2, 1))'));
    expect(e.text).toMatch(
      /cannot broadcast \[4, 4, 3\] \(from 'x'\) with \[4, 4, 2\] \(from 'conv2d'\): on the last axis one has 3 and the other 2; each axis must be equal or 1/,
    );
    expect(e.text).toMatch(/aligned from the last axis/);
    const se = oneError(
      net(
        [7, 7, 8],
        '  s = x -> global_average_pooling2d(keepdims: true) -> conv2d(4, 1)\n  output y = multiply(x, s)',
      ),
    );
    expect(se.text).toMatch(/multiply 'multiply': cannot broadcast \[7, 7, 8\].*\[1, 1, 4\]/);
    const axis = oneError(
      'network t {\n  input a: [4, 6, 4]\n  input b: [5, 1]\n  output y = subtract(a, b)\n}',
    );
    expect(axis.text).toMatch(/on axis 2 of 3 one has 6 and the other 5/);
  });

  it('subtract takes exactly two inputs', () => {
    expect(oneError(net([4, 4, 3], '  output y = subtract(x, x, x)')).text).toMatch(/one too many/);
    expect(oneError(net([4, 4, 3], '  output y = x -> subtract')).text).toMatch(
      /at least 2 tensor inputs/,
    );
  });

  it('concatenate sums the sizes on its axis, counted as Keras counts', () => {
    const cat = (axis: string, a: string, b: string): readonly number[] =>
      lastShape(
        `network t {\n  input a: ${a}\n  input b: ${b}\n  output y = concatenate(a, b${axis})\n}`,
      );
    expect(cat('', '[4, 4, 3]', '[4, 4, 5]')).toEqual([4, 4, 8]);
    expect(cat(', axis: -1', '[4, 4, 3]', '[4, 4, 5]')).toEqual([4, 4, 8]);
    expect(cat(', axis: 3', '[4, 4, 3]', '[4, 4, 5]')).toEqual([4, 4, 8]);
    expect(cat(', axis: 1', '[2, 4, 3]', '[5, 4, 3]')).toEqual([7, 4, 3]);
    expect(cat(', axis: -2', '[4, 1, 3]', '[4, 6, 3]')).toEqual([4, 7, 3]);
    expect(cat(', axis: 2', '[4, 1, 3]', '[4, 6, 3]')).toEqual([4, 7, 3]);
    expect(cat('', '[3]', '[9]')).toEqual([12]);
  });

  it('concatenate reports mismatched axes, axis 0 and axes out of range', () => {
    const two = (axis: string): string =>
      `network t {\n  input a: [4, 4, 3]\n  input b: [4, 5, 3]\n  output y = concatenate(a, b, axis: ${axis})\n}`;
    expect(oneError(two('-1')).text).toMatch(
      /got \[4, 4, 3\] \(from 'a'\) and \[4, 5, 3\] \(from 'b'\)/,
    );
    expect(lastShape(two('2'))).toEqual([4, 9, 3]);
    const zero = oneError(two('0'));
    expect(zero.text).toMatch(/axis 0 is the batch/);
    expect(zero.caret).toBe('0');
    expect(oneError(two('4')).text).toMatch(/out of range/);
    expect(oneError(two('-4')).text).toMatch(/out of range/);
  });
});

describe('prelu', () => {
  const alpha = (shape: number[], attrs: string, opts = ''): readonly number[] =>
    row(net(shape, `  output y = x -> prelu${attrs}`, opts), 'prelu').weights['alpha']!;

  it("alpha is the input's shape with each shared axis (1-based, as Keras) set to 1", () => {
    expect(alpha([7, 5, 3], '')).toEqual([7, 5, 3]);
    expect(alpha([7, 5, 3], '(shared_axes: [1, 2])')).toEqual([1, 1, 3]);
    expect(alpha([7, 5, 3], '(shared_axes: [1])')).toEqual([1, 5, 3]);
    expect(alpha([7, 5, 3], '(shared_axes: 3)')).toEqual([7, 5, 1]);
    expect(alpha([6], '')).toEqual([6]);
    expect(alpha([4, 6], '(shared_axes: [1])')).toEqual([1, 6]);
    expect(lastShape(net([7, 5, 3], '  output y = x -> prelu(shared_axes: [1, 2])'))).toEqual([
      7, 5, 3,
    ]);
  });

  it('in channels_first, axes and alpha are in the [C, H, W] layout', () => {
    const cf = '(data_format: channels_first)';
    expect(alpha([3, 7, 5], '(shared_axes: [2, 3])', cf)).toEqual([3, 1, 1]);
    expect(alpha([3, 7, 5], '', cf)).toEqual([3, 7, 5]);
  });

  it('reports shared axes out of range at the attribute, and axis 0', () => {
    const e = oneError(net([7, 5, 3], '  output y = x -> prelu(shared_axes: [1, 4])'));
    expect(e.text).toMatch(/shared_axes 4 is out of range for an input of rank 3 \[7, 5, 3\]/);
    expect(e.text).toMatch(/shared_axes: \[1, 2\]/);
    expect(e.caret).toBe('[1, 4]');
    expect(oneError(net([7, 5, 3], '  output y = x -> prelu(shared_axes: [0])')).text).toMatch(
      /at least 1/,
    );
  });
});

describe('layer_normalization and group_normalization', () => {
  const weights = (shape: number[], call: string, opts = '') =>
    row(net(shape, `  output y = x -> ${call}`, opts), call.replace(/\(.*$/, '')).weights;

  it('layer_normalization: gamma and beta have one dimension per normalized axis (Keras)', () => {
    expect(weights([9, 7, 8], 'layer_normalization')).toEqual({ gamma: [8], beta: [8] });
    expect(weights([9, 7, 8], 'layer_normalization(axis: [1, 2, 3])')).toEqual({
      gamma: [9, 7, 8],
      beta: [9, 7, 8],
    });
    expect(weights([9, 7, 8], 'layer_normalization(axis: [-1, 1])')).toEqual({
      gamma: [9, 8],
      beta: [9, 8],
    });
    expect(weights([9, 7, 8], 'layer_normalization(axis: 2, center: false)')).toEqual({
      gamma: [7],
    });
    expect(weights([12], 'layer_normalization(scale: false)')).toEqual({ beta: [12] });
    expect(
      weights([8, 9, 7], 'layer_normalization(axis: [1, 3])', '(data_format: channels_first)'),
    ).toEqual({ gamma: [8, 7], beta: [8, 7] });
    expect(lastShape(net([9, 7, 8], '  output y = x -> layer_normalization'))).toEqual([9, 7, 8]);
  });

  it('layer_normalization reports axes out of range, twice, or 0 at the attribute', () => {
    const bad = (axis: string) =>
      oneError(net([9, 7, 8], `  output y = x -> layer_normalization(axis: ${axis})`));
    const e = bad('[1, 4]');
    expect(e.text).toMatch(/axis 4 is out of range for an input of rank 3 \[9, 7, 8\]/);
    expect(e.caret).toBe('[1, 4]');
    expect(bad('-4').text).toMatch(/out of range/);
    expect(bad('[3, -1]').text).toMatch(/lists axis 3 twice/);
    expect(bad('[1, 0]').text).toMatch(/axis 0 is the batch/);
  });

  it('unit_normalization keeps the shape, has no weights, and checks its axes and epsilon', () => {
    expect(weights([9, 7, 8], 'unit_normalization(axis: [1, 2])')).toEqual({});
    expect(lastShape(net([9, 7, 8], '  output y = x -> unit_normalization'))).toEqual([9, 7, 8]);
    const bad = (args: string) =>
      oneError(net([9, 7, 8], `  output y = x -> unit_normalization(${args})`));
    const e = bad('axis: [1, 4]');
    expect(e.text).toMatch(/axis 4 is out of range for an input of rank 3 \[9, 7, 8\]/);
    expect(e.caret).toBe('[1, 4]');
    expect(bad('axis: [3, -1]').text).toMatch(/lists axis 3 twice/);
    expect(bad('axis: [1, 0]').text).toMatch(/axis 0 is the batch/);
    expect(bad('epsilon: -1').text).toMatch(/epsilon must be at least 0, got -1/);
  });

  it('divide takes exactly two inputs', () => {
    expect(oneError(net([4, 4, 3], '  output y = divide(x, x, x)')).text).toMatch(
      /divide takes tensors first; this tensor is one too many/,
    );
  });

  it('group_normalization: gamma and beta [C]; groups -1 is one group per channel', () => {
    const gb = (c: number) => ({ gamma: [c], beta: [c] });
    expect(weights([11, 9, 8], 'group_normalization(4)')).toEqual(gb(8));
    expect(weights([11, 9, 8], 'group_normalization(-1)')).toEqual(gb(8));
    expect(weights([11, 9, 64], 'group_normalization')).toEqual(gb(64)); // 32 groups
    expect(weights([10], 'group_normalization(5, center: false)')).toEqual({ gamma: [10] });
    expect(weights([8, 11, 9], 'group_normalization(2)', '(data_format: channels_first)')).toEqual(
      gb(8),
    );
  });

  it('group_normalization reports groups that do not divide the channels, with a fix', () => {
    const e = oneError(net([11, 9, 6], '  output y = x -> group_normalization(4)'));
    expect(e.text).toMatch(/groups 4 must divide the 6 channels of \[11, 9, 6\] \(from 'x'\)/);
    expect(e.text).toMatch(/use a divisor of 6 \(1, 2, 3, 6\), or -1 for one group per channel/);
    expect(e.caret).toBe('4');
    // The default, 32 groups, needs 32 | C.
    expect(oneError(net([11, 9, 8], '  output y = x -> group_normalization')).text).toMatch(
      /groups 32 must divide the 8 channels/,
    );
    expect(oneError(net([11, 9, 8], '  output y = x -> group_normalization(0)')).text).toMatch(
      /groups cannot be 0/,
    );
    expect(oneError(net([11, 9, 8], '  output y = x -> group_normalization(-2)')).text).toMatch(
      /at least -1/,
    );
  });
});

describe('rescaling', () => {
  it('keeps the shape; lists have one number per channel of the data format', () => {
    expect(lastShape(net([5, 7, 3], '  output y = x -> rescaling(1 / 255)'))).toEqual([5, 7, 3]);
    expect(
      lastShape(net([5, 7, 3], '  output y = x -> rescaling([1, 2, 3], offset: [0, 1, 2])')),
    ).toEqual([5, 7, 3]);
    const cf = '(data_format: channels_first)';
    expect(lastShape(net([3, 5, 7], '  output y = x -> rescaling([1, 2, 3])', cf))).toEqual([
      3, 5, 7,
    ]);
    expect(lastShape(net([4, 6], '  output y = x -> rescaling([1, 2, 3, 4])', cf))).toEqual([4, 6]);
    expect(lastShape(net([4, 6], '  output y = x -> rescaling([2], offset: 1)'))).toEqual([4, 6]);
  });

  it('reports a list of the wrong length at the attribute, and a missing scale', () => {
    const e = oneError(net([5, 7, 4], '  output y = x -> rescaling(2, offset: [1, 2, 3])'));
    expect(e.text).toMatch(/offset lists 3 numbers, but \[5, 7, 4\] \(from 'x'\) has 4 channels/);
    expect(e.text).toMatch(/a list of 4/);
    expect(e.caret).toBe('[1, 2, 3]');
    const cf = oneError(
      net(
        [3, 5, 7],
        '  output y = x -> rescaling([1, 2, 3, 4, 5, 6, 7])',
        '(data_format: channels_first)',
      ),
    );
    expect(cf.text).toMatch(/has 3 channels \(axis 1\)/);
    expect(oneError(net([5, 7, 4], '  output y = x -> rescaling')).text).toMatch(
      /rescaling needs scale/,
    );
    expect(oneError(net([5, 7, 4], '  output y = x -> rescaling(relu)')).text).toMatch(
      /takes a number or a list of numbers/,
    );
  });
});

describe('batch_normalization', () => {
  it('normalizes the channel axis by default, any axis on request', () => {
    const at = (shape: number[], attrs: string): Record<string, readonly number[]> =>
      row(net(shape, `  output y = x -> batch_normalization${attrs}`), 'batch_normalization')
        .weights;
    const four = (c: number): Record<string, number[]> => ({
      gamma: [c],
      beta: [c],
      moving_mean: [c],
      moving_variance: [c],
    });
    expect(at([5, 5, 6], '')).toEqual(four(6));
    expect(at([5, 4, 6], '(axis: -1)')).toEqual(four(6));
    expect(at([5, 4, 6], '(axis: 3)')).toEqual(four(6));
    expect(at([5, 4, 6], '(axis: 1)')).toEqual(four(5));
    expect(at([5, 4, 6], '(axis: -2)')).toEqual(four(4));
    expect(at([12], '')).toEqual(four(12));
    expect(at([5, 4, 6], '(center: false, scale: false)')).toEqual({
      moving_mean: [6],
      moving_variance: [6],
    });
  });

  it('rejects axis 0 and axes out of range', () => {
    expect(oneError(net([5, 5, 6], '  output y = x -> batch_normalization(axis: 0)')).text).toMatch(
      /batch/,
    );
    expect(oneError(net([5, 5, 6], '  output y = x -> batch_normalization(axis: 4)')).text).toMatch(
      /out of range/,
    );
    expect(oneError(net([6], '  output y = x -> batch_normalization(axis: 2)')).text).toMatch(
      /out of range/,
    );
  });
});

describe('channels_first', () => {
  const cf = '(data_format: channels_first)';
  it('shows shapes as [C, H, W]', () => {
    const src = net(
      [3, 8, 10],
      `  h = x -> conv2d(4, 3, padding: same) -> max_pooling2d(2) -> zero_padding2d([[1, 2], [3, 4]])
         -> up_sampling2d([1, 2]) -> depthwise_conv2d(3, depth_multiplier: 2)
  output y = h -> global_average_pooling2d(keepdims: true)`,
      cf,
    );
    expect(rows(src).map((r) => [r.name, r.shape])).toEqual([
      ['x', [3, 8, 10]],
      ['conv2d', [4, 8, 10]],
      ['max_pooling2d', [4, 4, 5]],
      ['zero_padding2d', [4, 7, 12]],
      ['up_sampling2d', [4, 7, 24]],
      ['depthwise_conv2d', [8, 5, 22]],
      ['global_average_pooling2d', [8, 1, 1]],
    ]);
    // Weights keep Keras's layouts whatever the data format.
    expect(row(src, 'conv2d').weights).toEqual({ kernel: [3, 3, 3, 4], bias: [4] });
    const g = graphs(src)[0]!;
    expect(g.outputs.map((o) => [o.name, [...o.shape]])).toEqual([['y', [8, 1, 1]]]);
    expect(g.inputs.map((o) => [o.name, [...o.shape]])).toEqual([['x', [3, 8, 10]]]);
  });

  it('gives outputs and inputs their [C, H, W] shapes', () => {
    const src = `network t(data_format: channels_first) {
  input x: [3, 8, 10]
  h = x -> conv2d(4, 3)
  output a = h
  output b = h -> global_max_pooling2d
  output c = x
  output d = h -> flatten -> reshape([4, 6, 8])
}`;
    const g = graphs(src)[0]!;
    expect(g.outputs.map((o) => [o.name, [...o.shape]])).toEqual([
      ['a', [4, 6, 8]],
      ['b', [4]],
      ['c', [3, 8, 10]],
      ['d', [4, 6, 8]],
    ]);
  });

  it('normalizes axis 1 (the channels) by default in batch_normalization', () => {
    const src = net([3, 8, 10], '  output y = x -> batch_normalization', cf);
    expect(row(src, 'batch_normalization').weights['gamma']).toEqual([3]);
    const w = net([3, 8, 10], '  output y = x -> batch_normalization(axis: -1)', cf);
    expect(row(w, 'batch_normalization').weights['gamma']).toEqual([10]);
    const h = net([3, 8, 10], '  output y = x -> batch_normalization(axis: 2)', cf);
    expect(row(h, 'batch_normalization').weights['gamma']).toEqual([8]);
  });

  it('numbers concatenate and softmax axes in the [C, H, W] layout', () => {
    const src = `network t${cf} {
  input a: [3, 4, 5]
  input b: [2, 4, 5]
  c = concatenate(a, b, axis: 1)
  d = concatenate(a, a, axis: -1)
  output y = c
  output z = d -> softmax(axis: 1)
}`;
    expect(
      rows(src)
        .filter((r) => r.kind !== 'input')
        .map((r) => [r.name, r.shape]),
    ).toEqual([
      ['concatenate', [5, 4, 5]],
      ['concatenate_1', [3, 4, 10]],
      ['softmax', [3, 4, 10]],
    ]);
  });

  it('dense acts on the last axis of [C, H, W] and flatten keeps C, H, W order', () => {
    const src = net([3, 8, 10], '  output y = x -> dense(5)\n  output z = x -> flatten', cf);
    expect(row(src, 'dense')).toMatchObject({ shape: [3, 8, 5], weights: { kernel: [10, 5] } });
    expect(row(src, 'flatten').shape).toEqual([240]);
    expect(shapeOf([3, 8, 10], 'reshape([6, -1])', cf)).toEqual([6, 40]);
  });

  it('does not change conv2d_transpose reachable sizes', () => {
    expect(
      shapeOf(
        [2, 5, 6],
        'conv2d_transpose(3, 3, strides: 2, padding: same, output_shape: [9, 11])',
        cf,
      ),
    ).toEqual([3, 9, 11]);
  });
});

describe('other layers keep the shape', () => {
  it('activations and dropout', () => {
    for (const l of [
      'relu',
      'relu6',
      'leaky_relu(0.1)',
      'elu',
      'sigmoid',
      'hard_sigmoid',
      'tanh',
      'softmax',
      'swish',
      'hard_swish',
      'gelu',
      'linear',
      'dropout(0.5)',
      'softmax(axis: 1)',
    ])
      expect(shapeOf([3, 4, 5], l)).toEqual([3, 4, 5]);
  });
});

// ------------------------------------------------------------------------------------------
// The public conformance cases: names, shapes and totals from meta.json.

const CASES = '/work/shared/conformance/cases';
const cases = existsSync(CASES)
  ? readdirSync(CASES).filter((d) => existsSync(join(CASES, d, 'meta.json')))
  : [];

interface Meta {
  network: string;
  inputs?: Record<string, number[]>;
  outputs?: Record<string, number[]>;
  params?: number;
  macs?: number;
  layers?: { name: string; output_shape: number[] }[];
  error?: { line: number; contains: string[] };
}

describe.skipIf(cases.length === 0)('conformance cases', () => {
  for (const c of cases) {
    const meta = JSON.parse(readFileSync(join(CASES, c, 'meta.json'), 'utf8')) as Meta;
    if (meta.error) continue; // see diagnostics.test.ts
    it(c, () => {
      const src = readFileSync(join(CASES, c, 'model.net'), 'utf8');
      const g: Graph = graphs(src).find((x) => x.name === meta.network)!;
      expect(g).toBeDefined();
      const ports = (ps: Graph['inputs']): Record<string, number[]> =>
        Object.fromEntries(ps.map((p) => [p.name, [...p.shape]]));
      expect(ports(g.inputs)).toEqual(meta.inputs);
      expect(ports(g.outputs)).toEqual(meta.outputs);
      const s = summarize(g, runPasses(g));
      if (meta.params !== undefined) expect(s.params).toBe(meta.params);
      if (meta.macs !== undefined) expect(s.macs).toBe(meta.macs);
      const byName = new Map(s.layers.map((l) => [l.name, [...l.output_shape]]));
      for (const l of meta.layers ?? [])
        expect([l.name, byName.get(l.name)]).toEqual([l.name, l.output_shape]);
    });
  }
});

describe('messages', () => {
  it('name the layer, the input shape and its source', () => {
    const [m] = messages(
      net([3, 3, 2], '  h = x -> relu\n  output y = h -> conv2d(1, 4, name: "c4")'),
    );
    expect(m).toMatch(/^conv2d 'c4': the input \[3, 3, 2\] \(from 'relu'\)/);
  });
});
