// Kernel tests: every layer's kernel, printed by the TypeScript backend and run, against the
// layer's float64 reference, over attribute combinations fast-check draws (simd on and off).
import { scheduleFor } from '../src/lower/schedule.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { f32Literal, printKernelTS } from '../codegen/ts/print.js';
import { compileSource } from '../src/frontend/index.js';
import type { Graph } from '../src/ir/graph.js';
import {
  add,
  cmp,
  f32,
  get,
  i32,
  lane,
  let_,
  load,
  min,
  pmax,
  pmin,
  select,
  set,
  splat,
  store,
  type Expr,
  type Kernel,
} from '../src/kir/kir.js';
import { runKernel } from '../src/kir/interpret.js';
import { implementationsOf, lowerNode } from '../src/lower/strategy.js';
import { runPasses } from '../src/passes/pipeline.js';
import { lowerGraph } from '../src/lower/index.js';
import { implementationFor } from '../src/lower/strategy.js';
import { readFileSync } from 'node:fs';
import { checkTs as checkNode, compileJs, kernelsSeen as seen } from './helpers/layer_check.js';

const NUM_RUNS = Number(process.env['FC_NUM_RUNS'] ?? 30);
const SEED = 20240611;

// ------------------------------------------------------------------------------------ harness

// The kernel check (TypeScript backend against the reference) is test/helpers/layer_check.ts's,
// shared with the layer harness (test/layers.test.ts).

/** Compiles a one-network source and returns its graph (optionally after the passes). */
function compile(src: string, passes = false): Graph | null {
  const r = compileSource(src);
  const g = r.graphs[0];
  if (!g) return null;
  return passes ? runPasses(g) : g;
}

/** Checks the kernel of every node of `kind` in the network `src` (skipped when it does not compile). */
function checkSource(src: string, kind: string, simd: boolean, seed: number, passes = false): void {
  const g = compile(src, passes);
  fc.pre(g !== null);
  const nodes = g!.nodes.filter((n) => n.layer.kind === kind);
  expect(nodes.length, src).toBeGreaterThan(0);
  for (const n of nodes) {
    try {
      checkNode(
        n,
        n.inputs.map((i) => g!.nodes[i]!.shape),
        simd,
        seed,
      );
    } catch (e) {
      throw new Error(`${src}\n${(e as Error).message}`);
    }
  }
}

/** A property over sources for one layer kind, with simd on and off. */
function property(
  kind: string,
  source: fc.Arbitrary<string>,
  runs = NUM_RUNS,
  passes = false,
): void {
  fc.assert(
    fc.property(source, fc.boolean(), fc.nat(), (src, simd, seed) =>
      checkSource(src, kind, simd, seed, passes),
    ),
    { seed: SEED, numRuns: runs },
  );
}

const net = (shape: readonly number[], body: string, opts = ''): string =>
  `network t${opts} { input x: [${shape.join(', ')}]  output y = ${body} }`;

// ------------------------------------------------------------------------------- generators

const ACTS = [
  'linear',
  'relu',
  'relu6',
  'leaky_relu',
  'elu',
  'sigmoid',
  'hard_sigmoid',
  'tanh',
  'swish',
  'hard_swish',
  'gelu',
] as const;
const activation = fc.constantFrom(...ACTS);
const small = (lo: number, hi: number): fc.Arbitrary<number> => fc.integer({ min: lo, max: hi });
const pairOf = (lo: number, hi: number): fc.Arbitrary<[number, number]> =>
  fc.tuple(small(lo, hi), small(lo, hi));
const list = (p: readonly number[]): string => `[${p.join(', ')}]`;
const explicitPadding = fc
  .tuple(small(0, 3), small(0, 3), small(0, 3), small(0, 3))
  .map(([t, b, l, r]) => `[[${t}, ${b}], [${l}, ${r}]]`);
const convPadding = fc.oneof(fc.constant('valid'), fc.constant('same'), explicitPadding);

const shapeOf = (rank: number, hi = 5): fc.Arbitrary<number[]> =>
  fc.array(small(1, hi), { minLength: rank, maxLength: rank });
const anyShape = fc.integer({ min: 1, max: 3 }).chain((r) => shapeOf(r));
/** A Keras axis of a rank-r tensor: 1..r or -1. */
const axisOf = (rank: number): fc.Arbitrary<number> => fc.oneof(small(1, rank), fc.constant(-1));
const image = fc.tuple(small(1, 9), small(1, 9), small(1, 9));

// ----------------------------------------------------------------------------------- tests

describe('kernels match the reference', () => {
  it('conv2d', () => {
    const src = fc
      .record({
        h: small(1, 9),
        w: small(1, 9),
        groups: small(1, 3),
        cg: small(1, 4),
        fg: small(1, 9),
        k: pairOf(1, 4),
        s: pairOf(1, 3),
        d: pairOf(1, 2),
        padding: convPadding,
        bias: fc.boolean(),
        act: activation,
      })
      .map((a) =>
        net(
          [a.h, a.w, a.groups * a.cg],
          `x -> conv2d(${a.groups * a.fg}, ${list(a.k)}, strides: ${list(a.s)}, padding: ${a.padding}, ` +
            `dilation_rate: ${list(a.d)}, groups: ${a.groups}, use_bias: ${a.bias}, activation: ${a.act})`,
        ),
      );
    property('conv2d', src);
  });

  it('conv2d 3x3 stride 1 with 16+ channels (Winograd F(2x2, 3x3) with simd)', () => {
    const src = fc
      .record({
        h: small(1, 9),
        w: small(1, 9),
        c: fc.constantFrom(16, 20, 32),
        f: fc.constantFrom(16, 24, 36),
        padding: convPadding,
        bias: fc.boolean(),
        act: activation,
      })
      .map((a) =>
        net(
          [a.h, a.w, a.c],
          `x -> conv2d(${a.f}, 3, padding: ${a.padding}, use_bias: ${a.bias}, activation: ${a.act})`,
        ),
      );
    property('conv2d', src);
    expect([...seen.keys()].some((name) => name.includes('_winograd_'))).toBe(true);
  });

  // conv2d_add (made by fuse_residual): the sum of two convolutions of one geometry, then an
  // activation; the later convolution takes the other's output into its epilogue.
  const residual = (a: {
    h: number;
    w: number;
    c: number;
    f: number;
    k: [number, number];
    s: [number, number];
    padding: string;
    bias: boolean;
    act: string;
  }): string => {
    const conv = (name: string): string =>
      `x -> conv2d(${a.f}, ${list(a.k)}, strides: ${list(a.s)}, padding: ${a.padding}, use_bias: ${a.bias}, name: "${name}")`;
    return net([a.h, a.w, a.c], `${a.act}(add(${conv('a')}, ${conv('b')}))`);
  };

  it('conv2d_add: a residual sum and its activation in the epilogue (direct and dot cores)', () => {
    const src = fc
      .record({
        h: small(1, 9),
        w: small(1, 9),
        c: fc.constantFrom(1, 3, 4, 8),
        f: small(1, 9),
        k: pairOf(1, 3),
        s: pairOf(1, 2),
        padding: convPadding,
        bias: fc.boolean(),
        act: activation,
      })
      .map(residual);
    property('conv2d_add', src, NUM_RUNS, true);
  });

  it('conv2d_add by Winograd F(2x2, 3x3) with simd', () => {
    const src = fc
      .record({
        h: small(1, 9),
        w: small(1, 9),
        c: fc.constantFrom(16, 20),
        f: fc.constantFrom(16, 24),
        k: fc.constant<[number, number]>([3, 3]),
        s: fc.constant<[number, number]>([1, 1]),
        padding: convPadding,
        bias: fc.boolean(),
        act: activation,
      })
      .map(residual);
    property('conv2d_add', src, NUM_RUNS, true);
    expect([...seen.keys()].some((n) => n.includes('_winograd_') && n.includes('_add'))).toBe(true);
  });

  it("conv2d on small inputs copied into a zero-padded map first (as mnist's first layer)", () => {
    const cases: [number[], string][] = [
      [[24, 24, 1], 'conv2d(32, 5, padding: same, activation: relu)'],
      [[26, 22, 2], 'conv2d(40, [5, 3], padding: [[2, 3], [1, 1]], use_bias: false)'],
      [[27, 27, 1], 'conv2d(64, 5, strides: 2, padding: same, activation: tanh)'],
      [[36, 36, 1], 'conv2d(64, 3, dilation_rate: 2, padding: same)'],
    ];
    for (const [shape, layer] of cases) {
      const src = net(shape, `x -> ${layer}`);
      // The padded path: its kernel takes scratch.
      const g = compile(src)!;
      const node = g.nodes.find((n) => n.layer.kind === 'conv2d')!;
      const lowered = lowerNode(node, [g.nodes[node.inputs[0]!]!.shape], {
        schedule: scheduleFor(true),
      });
      expect(lowered.scratch, src).toBeGreaterThan(0);
      for (const simd of [true, false]) checkSource(src, 'conv2d', simd, 7);
    }
  });

  const depthwise = {
    img: image,
    dm: small(1, 5),
    k: pairOf(1, 4),
    s: pairOf(1, 3),
    d: pairOf(1, 2),
    padding: convPadding,
    bias: fc.boolean(),
    act: activation,
  };

  it('depthwise_conv2d', () => {
    const src = fc
      .record(depthwise)
      .map((a) =>
        net(
          a.img,
          `x -> depthwise_conv2d(${list(a.k)}, strides: ${list(a.s)}, padding: ${a.padding}, ` +
            `depth_multiplier: ${a.dm}, dilation_rate: ${list(a.d)}, use_bias: ${a.bias}, activation: ${a.act})`,
        ),
      );
    property('depthwise_conv2d', src);
  });

  it('separable_conv2d', () => {
    const src = fc
      .record({ ...depthwise, f: small(1, 10) })
      .map((a) =>
        net(
          a.img,
          `x -> separable_conv2d(${a.f}, ${list(a.k)}, strides: ${list(a.s)}, padding: ${a.padding}, ` +
            `dilation_rate: ${list(a.d)}, depth_multiplier: ${a.dm}, use_bias: ${a.bias}, activation: ${a.act})`,
        ),
      );
    property('separable_conv2d', src);
  });

  it('conv2d_transpose', () => {
    const src = fc
      .record({
        h: small(1, 6),
        w: small(1, 6),
        c: small(1, 5),
        f: small(1, 10),
        k: pairOf(1, 4),
        s: pairOf(1, 3),
        d: pairOf(1, 2),
        padding: fc.constantFrom('valid', 'same'),
        op: fc.option(pairOf(0, 2)),
        bias: fc.boolean(),
        act: activation,
      })
      .map((a) => {
        const op = a.op ? `, output_padding: ${list([a.op[0] % a.s[0], a.op[1] % a.s[1]])}` : '';
        return net(
          [a.h, a.w, a.c],
          `x -> conv2d_transpose(${a.f}, ${list(a.k)}, strides: ${list(a.s)}, padding: ${a.padding}${op}, ` +
            `dilation_rate: ${list(a.d)}, use_bias: ${a.bias}, activation: ${a.act})`,
        );
      });
    property('conv2d_transpose', src);
  });

  it('conv2d_transpose with strides 2 and 16+ channels (Winograd phases with simd)', () => {
    const src = fc
      .record({
        h: small(1, 6),
        w: small(1, 6),
        c: fc.constantFrom(16, 20),
        f: fc.constantFrom(16, 24),
        k: pairOf(1, 7),
        padding: fc.constantFrom('valid', 'same'),
        op: fc.option(pairOf(0, 1)),
        bias: fc.boolean(),
        act: activation,
      })
      .map((a) => {
        const op = a.op ? `, output_padding: ${list(a.op)}` : '';
        return net(
          [a.h, a.w, a.c],
          `x -> conv2d_transpose(${a.f}, ${list(a.k)}, strides: 2, padding: ${a.padding}${op}, ` +
            `use_bias: ${a.bias}, activation: ${a.act})`,
        );
      });
    property('conv2d_transpose', src);
    expect([...seen.keys()].some((name) => /^conv2d_transpose_.*_winograd_/.test(name))).toBe(true);
  });

  it('fewer than 4 output channels over whole input vectors (the dot-product core with simd)', () => {
    const few = {
      c: fc.constantFrom(4, 8, 12),
      f: small(1, 3),
      bias: fc.boolean(),
      act: activation,
    };
    const conv = fc
      .record({
        h: small(1, 9),
        w: small(1, 9),
        k: pairOf(1, 4),
        s: pairOf(1, 3),
        d: pairOf(1, 2),
        padding: convPadding,
        ...few,
      })
      .map((a) =>
        net(
          [a.h, a.w, a.c],
          `x -> conv2d(${a.f}, ${list(a.k)}, strides: ${list(a.s)}, padding: ${a.padding}, ` +
            `dilation_rate: ${list(a.d)}, use_bias: ${a.bias}, activation: ${a.act})`,
        ),
      );
    property('conv2d', conv);
    const transpose = fc
      .record({
        h: small(1, 6),
        w: small(1, 6),
        k: pairOf(1, 5),
        s: pairOf(1, 3),
        padding: fc.constantFrom('valid', 'same'),
        ...few,
      })
      .map((a) =>
        net(
          [a.h, a.w, a.c],
          `x -> conv2d_transpose(${a.f}, ${list(a.k)}, strides: ${list(a.s)}, padding: ${a.padding}, ` +
            `use_bias: ${a.bias}, activation: ${a.act})`,
        ),
      );
    property('conv2d_transpose', transpose);
    const dense = fc
      .record({ rows: small(1, 3), ...few })
      .map((a) =>
        net([a.rows, a.c], `x -> dense(${a.f}, use_bias: ${a.bias}, activation: ${a.act})`),
      );
    property('dense', dense);
  });

  it('dense', () => {
    const src = fc
      .record({
        shape: fc.oneof(anyShape, shapeOf(1, 40)),
        units: small(1, 13),
        bias: fc.boolean(),
        act: activation,
      })
      .map((a) =>
        net(a.shape, `x -> dense(${a.units}, use_bias: ${a.bias}, activation: ${a.act})`),
      );
    property('dense', src);
  });

  it('batch_normalization', () => {
    const src = fc
      .integer({ min: 1, max: 3 })
      .chain((r) =>
        fc.record({
          shape: shapeOf(r, 9),
          axis: fc.option(axisOf(r)),
          center: fc.boolean(),
          scale: fc.boolean(),
          eps: fc.constantFrom(0.001, 1e-5, 0.1),
        }),
      )
      .map((a) => {
        const axis = a.axis === null ? '' : `axis: ${a.axis}, `;
        return net(
          a.shape,
          `x -> batch_normalization(${axis}epsilon: ${a.eps}, center: ${a.center}, scale: ${a.scale})`,
        );
      });
    property('batch_normalization', src);
  });

  for (const kind of ['max_pooling2d', 'average_pooling2d'])
    it(kind, () => {
      const src = fc
        .record({
          img: image,
          pool: pairOf(1, 4),
          s: fc.option(pairOf(1, 3)),
          padding: fc.constantFrom('valid', 'same'),
        })
        .map((a) => {
          const s = a.s ? `strides: ${list(a.s)}, ` : '';
          return net(a.img, `x -> ${kind}(${list(a.pool)}, ${s}padding: ${a.padding})`);
        });
      property(kind, src);
    });

  for (const kind of ['global_average_pooling2d', 'global_max_pooling2d'])
    it(kind, () => {
      const src = fc
        .record({ img: image, keep: fc.boolean() })
        .map((a) => net(a.img, `x -> ${kind}(keepdims: ${a.keep})`));
      property(kind, src);
    });

  it('zero_padding2d', () => {
    const src = fc
      .record({ img: image, p: fc.tuple(small(0, 3), small(0, 3), small(0, 3), small(0, 3)) })
      .map(({ img, p: [t, b, l, r] }) =>
        net(img, `x -> zero_padding2d([[${t}, ${b}], [${l}, ${r}]])`),
      );
    property('zero_padding2d', src);
  });

  it('up_sampling2d', () => {
    const src = fc
      .record({
        img: fc.tuple(small(1, 6), small(1, 6), small(1, 9)),
        size: pairOf(1, 4),
        mode: fc.constantFrom('nearest', 'bilinear'),
      })
      .map((a) => net(a.img, `x -> up_sampling2d(${list(a.size)}, interpolation: ${a.mode})`));
    property('up_sampling2d', src);
  });

  for (const kind of ['add', 'multiply'])
    it(kind, () => {
      const src = fc
        .record({ shape: fc.oneof(anyShape, shapeOf(1, 40)), n: small(2, 4) })
        .map(({ shape, n }) => {
          const names = Array.from({ length: n }, (_, i) => `x${i}`);
          const inputs = names.map((x) => `input ${x}: ${list(shape)}`).join('  ');
          return `network t { ${inputs}  output y = ${kind}(${names.join(', ')}) }`;
        });
      property(kind, src);
    });

  it('concatenate', () => {
    const src = fc
      .integer({ min: 1, max: 3 })
      .chain((r) =>
        fc.record({
          shape: shapeOf(r),
          axis: small(0, r - 1),
          sizes: fc.array(small(1, 6), { minLength: 2, maxLength: 4 }),
        }),
      )
      .map(({ shape, axis, sizes }) => {
        const inputs = sizes.map(
          (d, i) => `input x${i}: ${list(shape.map((s, j) => (j === axis ? d : s)))}`,
        );
        const args = sizes.map((_, i) => `x${i}`).join(', ');
        return `network t { ${inputs.join('  ')}  output y = concatenate(${args}, axis: ${axis + 1}) }`;
      });
    property('concatenate', src);
  });

  it('softmax', () => {
    const src = fc
      .integer({ min: 1, max: 3 })
      .chain((r) => fc.record({ shape: shapeOf(r, 7), axis: fc.option(axisOf(r)) }))
      .map(({ shape, axis }) =>
        net(shape, axis === null ? 'x -> softmax' : `x -> softmax(axis: ${axis})`),
      );
    property('softmax', src);
  });

  for (const act of ACTS.filter((a) => a !== 'linear'))
    it(`activation ${act}`, () => {
      const params =
        act === 'leaky_relu'
          ? fc
              .option(fc.constantFrom(0, 0.01, 0.3, 1, 1.5))
              .map((v) => (v === null ? '' : `(negative_slope: ${v})`))
          : act === 'elu'
            ? fc.option(fc.constantFrom(0.5, 1, 2)).map((v) => (v === null ? '' : `(alpha: ${v})`))
            : fc.constant('');
      const src = fc
        .record({ shape: fc.oneof(anyShape, shapeOf(1, 40)), params })
        .map(({ shape, params }) => net(shape, `x -> ${act}${params}`));
      property(act, src, Math.ceil(NUM_RUNS / 3));
    });

  it('transpose (channels_first layout changes)', () => {
    const src = image.map((s) => net(s, 'x -> relu', '(data_format: channels_first)'));
    property('transpose', src, Math.ceil(NUM_RUNS / 3));
  });

  it('transpose (any permutation)', () => {
    const base = compile(net([2, 3, 4], 'x -> relu', '(data_format: channels_first)'))!;
    const node = base.nodes.find((n) => n.layer.kind === 'transpose')!;
    const arb = fc.integer({ min: 1, max: 4 }).chain((r) =>
      fc.record({
        shape: shapeOf(r),
        perm: fc.shuffledSubarray([...Array(r).keys()], { minLength: r, maxLength: r }),
      }),
    );
    fc.assert(
      fc.property(arb, fc.boolean(), fc.nat(), ({ shape, perm }, simd, seed) => {
        const out = perm.map((p) => shape[p]!);
        checkNode({ ...node, attrs: { perm }, shape: out }, [shape], simd, seed);
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
  });
});

describe('space and layout layers match the reference', () => {
  const fmt = fc.constantFrom('', '(data_format: channels_first)');

  it('depth_to_space and space_to_depth, dcr and crd', () => {
    const src = fc
      .record({
        h: small(1, 5),
        w: small(1, 5),
        c: small(1, 6),
        b: small(2, 3),
        mode: fc.constantFrom('dcr', 'crd'),
        toSpace: fc.boolean(),
        opts: fmt,
      })
      .map((a) =>
        a.toSpace
          ? net([a.h, a.w, a.c * a.b * a.b], `x -> depth_to_space(${a.b}, mode: ${a.mode})`, a.opts)
          : net([a.h * a.b, a.w * a.b, a.c], `x -> space_to_depth(${a.b}, ${a.mode})`, a.opts),
      );
    property(
      'depth_to_space',
      src.filter((s) => s.includes('depth_to_space')),
    );
    property(
      'space_to_depth',
      src.filter((s) => s.includes('space_to_depth')),
    );
  });

  it('permute of ranks 1 to 5 (after a reshape), in both data formats', () => {
    const src = fc
      .integer({ min: 1, max: 5 })
      .chain((r) =>
        fc.record({
          shape: shapeOf(r, 4),
          dims: fc.shuffledSubarray(
            Array.from({ length: r }, (_, i) => i + 1),
            { minLength: r, maxLength: r },
          ),
          opts: fmt,
        }),
      )
      .map((a) => {
        const n = a.shape.reduce((p, d) => p * d, 1);
        const body = `x -> reshape(${list(a.shape)}) -> permute(${list(a.dims)})`;
        return a.shape.length === 3
          ? net(a.shape, `x -> permute(${list(a.dims)})`, a.opts)
          : net([n], body, a.opts);
      });
    property('permute', src);
  });

  it('cropping2d', () => {
    const src = fc
      .record({
        img: image,
        c: fc.tuple(small(0, 4), small(0, 4), small(0, 4), small(0, 4)),
        opts: fmt,
      })
      .filter(({ img, c }) => c[0] + c[1] < img[0] && c[2] + c[3] < img[1])
      .map(({ img, c: [t, b, l, r], opts }) =>
        net(img, `x -> cropping2d([[${t}, ${b}], [${l}, ${r}]])`, opts),
      );
    property('cropping2d', src);
  });

  it('padding2d in every mode, pads wider than the input included', () => {
    const src = fc
      .record({
        img: fc.tuple(small(1, 5), small(1, 5), small(1, 6)),
        p: fc.tuple(small(0, 7), small(0, 7), small(0, 7), small(0, 7)),
        mode: fc.constantFrom('constant', 'reflect', 'symmetric', 'edge'),
        value: fc.constantFrom(0, -1.5, 2),
      })
      .map(({ img, p: [t, b, l, r], mode, value }) =>
        net(
          img,
          `x -> padding2d([[${t}, ${b}], [${l}, ${r}]], mode: ${mode}` +
            (mode === 'constant' ? `, constant_value: ${value})` : ')'),
        ),
      );
    property('padding2d', src);
  });

  it("padding2d's reference is NumPy's pad (values printed by numpy.pad)", () => {
    const padRow = (row: number[], before: number, after: number, mode: string): number[] => {
      const g = compile(
        net([1, row.length, 1], `x -> padding2d([[0, 0], [${before}, ${after}]], mode: ${mode})`),
      )!;
      const n = g.nodes.find((x) => x.layer.kind === 'padding2d')!;
      return [...n.layer.reference(n, [Float64Array.from(row)], [[1, row.length, 1]], {})];
    };
    // numpy.pad([1, 2, 3], 7, mode) and friends.
    expect(padRow([1, 2, 3], 7, 7, 'reflect')).toEqual([
      2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2,
    ]);
    expect(padRow([1, 2, 3], 7, 7, 'symmetric')).toEqual([
      1, 1, 2, 3, 3, 2, 1, 1, 2, 3, 3, 2, 1, 1, 2, 3, 3,
    ]);
    expect(padRow([1, 2], 5, 1, 'reflect')).toEqual([2, 1, 2, 1, 2, 1, 2, 1]);
    expect(padRow([5], 3, 3, 'reflect')).toEqual([5, 5, 5, 5, 5, 5, 5]);
    expect(padRow([1], 2, 1, 'symmetric')).toEqual([1, 1, 1, 1]);
    expect(padRow([1, 2, 3], 2, 1, 'edge')).toEqual([1, 1, 1, 2, 3, 3]);
    expect(padRow([1, 2, 3], 1, 2, 'constant')).toEqual([0, 1, 2, 3, 0, 0]);
  });

  it('resizing: bilinear and nearest in every coordinates mode, up, down, cropped', () => {
    const src = fc
      .record({
        img: fc.tuple(small(1, 7), small(1, 7), small(1, 6)),
        out: pairOf(1, 12),
        mode: fc.constantFrom('bilinear', 'nearest'),
        coords: fc.constantFrom('half_pixel', 'align_corners', 'asymmetric'),
        crop: fc.boolean(),
        opts: fmt,
      })
      .map((a) =>
        net(
          a.img,
          `x -> resizing(${a.out[0]}, ${a.out[1]}, ${a.mode}, crop_to_aspect_ratio: ${a.crop}, coordinates: ${a.coords})`,
          a.opts,
        ),
      );
    property('resizing', src, 3 * NUM_RUNS);
  });
});

describe('broadcasting merges, prelu, rescaling and the normalizations', () => {
  /** A full shape of rank 1 to 3 and, per input, a broadcastable one: each axis kept or 1,
   * some leading axes dropped (NumPy aligns from the last axis). */
  const broadcastCase = fc
    .record({
      full: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }),
      masks: fc.array(
        fc.record({
          ones: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
          drop: fc.nat(3),
        }),
        { minLength: 2, maxLength: 3 },
      ),
      merge: fc.constantFrom(
        'add',
        'multiply',
        'subtract',
        'divide',
        'average',
        'maximum',
        'minimum',
      ),
      cf: fc.boolean(),
    })
    .map(({ full, masks, merge, cf }) => {
      const ms = merge === 'subtract' || merge === 'divide' ? masks.slice(0, 2) : masks;
      const shapes = ms.map(({ ones, drop }, k) => {
        // The first input keeps the full rank, so the output is `full`.
        const s = full.map((d, i) => (k > 0 && ones[i] ? 1 : d));
        return k === 0 ? s : s.slice(Math.min(drop, s.length - 1));
      });
      const inputs = shapes.map((s, i) => `input i${i}: [${s.join(', ')}]`).join('  ');
      const args = shapes.map((_, i) => `i${i}`).join(', ');
      const opts = cf ? '(data_format: channels_first)' : '';
      return { merge, src: `network t${opts} { ${inputs}  output y = ${merge}(${args}) }` };
    });

  it('add, multiply, subtract, divide, average, maximum, minimum broadcast (ranks 1 to 3)', () => {
    fc.assert(
      fc.property(broadcastCase, fc.boolean(), fc.nat(), ({ merge, src }, simd, seed) =>
        checkSource(src, merge, simd, seed),
      ),
      { seed: SEED, numRuns: NUM_RUNS * 4 },
    );
  });

  it('prelu: alpha per element, shared along any axes, both formats, ranks 1 to 3', () => {
    const source = fc
      .record({
        shape: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }),
        shared: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        cf: fc.boolean(),
      })
      .map(({ shape, shared, cf }) => {
        const axes = shape.flatMap((_, i) => (shared[i] ? [i + 1] : []));
        const attr = axes.length ? `(shared_axes: [${axes.join(', ')}])` : '';
        return net(shape, `x -> prelu${attr}`, cf ? '(data_format: channels_first)' : '');
      });
    property('prelu', source, NUM_RUNS * 2);
  });

  it('layer_normalization over any set of axes, ranks 1 to 3, both formats', () => {
    const source = fc
      .record({
        shape: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }),
        axes: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        last: fc.boolean(),
        center: fc.boolean(),
        scale: fc.boolean(),
        cf: fc.boolean(),
      })
      .map(({ shape, axes, last, center, scale, cf }) => {
        const list = shape.flatMap((_, i) => (axes[i] ? [i + 1] : []));
        const axis = list.length === 0 || last ? '-1' : `[${list.join(', ')}]`;
        return net(
          shape,
          `x -> layer_normalization(axis: ${axis}, center: ${center}, scale: ${scale})`,
          cf ? '(data_format: channels_first)' : '',
        );
      });
    property('layer_normalization', source, NUM_RUNS * 2);
  });

  it('unit_normalization over any set of axes, ranks 1 to 3, both formats', () => {
    const source = fc
      .record({
        shape: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }),
        axes: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        last: fc.boolean(),
        epsilon: fc.constantFrom('0', '1e-12', '0.5'),
        cf: fc.boolean(),
      })
      .map(({ shape, axes, last, epsilon, cf }) => {
        const list = shape.flatMap((_, i) => (axes[i] ? [i + 1] : []));
        const axis = list.length === 0 || last ? '-1' : `[${list.join(', ')}]`;
        return net(
          shape,
          `x -> unit_normalization(axis: ${axis}, epsilon: ${epsilon})`,
          cf ? '(data_format: channels_first)' : '',
        );
      });
    property('unit_normalization', source, NUM_RUNS * 2);
  });

  it('group_normalization: groups of any size, instance normalization, ranks 1 to 3', () => {
    const source = fc
      .record({
        lead: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 0, maxLength: 2 }),
        groups: fc.integer({ min: 1, max: 5 }),
        per: fc.integer({ min: 1, max: 6 }),
        instance: fc.boolean(),
        center: fc.boolean(),
        scale: fc.boolean(),
      })
      .map(({ lead, groups, per, instance, center, scale }) =>
        net(
          [...lead, groups * per],
          `x -> group_normalization(${instance ? -1 : groups}, center: ${center}, scale: ${scale})`,
        ),
      );
    property('group_normalization', source, NUM_RUNS * 2);
  });

  it("rescaling by numbers or per-channel lists along the format's channel axis", () => {
    const num = fc.constantFrom('0.5', '-2', '1', '0', '1 / 255', '3.25');
    const source = fc
      .record({
        shape: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }),
        scale: fc.tuple(fc.boolean(), num),
        offset: fc.tuple(fc.boolean(), num),
        cf: fc.boolean(),
      })
      .map(({ shape, scale, offset, cf }) => {
        const c = cf && shape.length !== 3 ? shape[0]! : shape[shape.length - 1]!;
        const list = (k: number): string =>
          `[${Array.from({ length: c }, (_, i) => (i * 0.75 - k).toFixed(2)).join(', ')}]`;
        const s = scale[0] ? list(1) : scale[1];
        const o = offset[0] ? list(2) : offset[1];
        return net(
          shape,
          `x -> rescaling(${s}, offset: ${o})`,
          cf ? '(data_format: channels_first)' : '',
        );
      });
    property('rescaling', source, NUM_RUNS * 2);
  });

  it('a rank-4 tensor with a rank-3 one in channels_first (stored [H, W, C]) broadcasts in the user layout', () => {
    const cf = '(data_format: channels_first)';
    for (const [a, b] of [
      ['[2, 3, 4, 5]', '[3, 4, 5]'],
      ['[2, 3, 4, 5]', '[3, 1, 5]'],
      ['[2, 1, 4, 1]', '[3, 4, 5]'],
    ])
      for (const simd of [true, false])
        checkSource(
          `network t${cf} { input a: ${a}  input b: ${b}  output y = subtract(a, b) }`,
          'subtract',
          simd,
          5,
        );
  });

  it('a squeeze-and-excitation product is one pass reading the [1, 1, C] gate in place', () => {
    const src = `network t { input x: [7, 9, 16]  input g: [1, 1, 16]  output y = multiply(x, g) }`;
    for (const simd of [true, false]) checkSource(src, 'multiply', simd, 3);
    const g = compile(src)!;
    const node = g.nodes.find((n) => n.layer.kind === 'multiply')!;
    const { kernel } = lowerNode(
      node,
      [
        [7, 9, 16],
        [1, 1, 16],
      ],
      { schedule: scheduleFor(true) },
    );
    // One loop over the 63 pixels around the channels, no scratch, no copy of the gate.
    const code = printKernelTS(kernel, { types: false });
    expect(code).toMatch(/for \(let o0 = 0; o0 < 63; o0\+\+\)/);
    expect(code).toMatch(/M\[x1 \+ 15\]/);
    expect(code).not.toMatch(/x1 \+ o0/);
    expect(
      lowerNode(
        node,
        [
          [7, 9, 16],
          [1, 1, 16],
        ],
        { schedule: scheduleFor(true) },
      ).scratch,
    ).toBeUndefined();
  });
});

describe('kernels of folded graphs', () => {
  it('every kernel of a small network after the passes matches its node', () => {
    const src = `network t {
      input x: [9, 9, 3]
      a = x -> conv2d(8, 3, padding: same) -> batch_normalization -> relu
      b = a -> depthwise_conv2d(3, strides: 2, padding: same) -> batch_normalization -> relu6
            -> conv2d(12, 1) -> batch_normalization
      c = b -> separable_conv2d(8, 3, padding: same, use_bias: false) -> batch_normalization -> swish
      output y = c -> global_average_pooling2d -> dense(5) -> softmax
    }`;
    const g = compile(src, true)!;
    expect(g).not.toBeNull();
    for (const simd of [false, true])
      for (const n of g.nodes)
        if (implementationsOf(n).length > 0 && !n.layer.traits.view && !n.layer.traits.identity)
          checkNode(
            n,
            n.inputs.map((i) => g.nodes[i]!.shape),
            simd,
            n.id,
          );
  });
});

describe('scalarize and the TypeScript printer', () => {
  it('cuts long kernels into parts short enough for V8 to optimize', () => {
    // DCGAN's transposed convolutions print as 1,300-3,300 lines whole; V8 runs a function of
    // over 60 KB of bytecode (about 1,500 such lines) in its interpreter only.
    const src = readFileSync(new URL('../examples/dcgan.net', import.meta.url), 'utf8');
    const g = compileSource(src).graphs[0]!;
    const program = lowerGraph(runPasses(g), { schedule: scheduleFor(false) });
    let longest = 0;
    let whole = 0;
    for (const kernel of program.kernels) {
      whole = Math.max(whole, printKernelTS(kernel, { partLines: Infinity }).split('\n').length);
      // Each function's own lines: nested part functions counted as their own.
      const own: number[] = [];
      const open: { indent: number; at: number }[] = [];
      for (const line of printKernelTS(kernel).split('\n')) {
        const indent = line.length - line.trimStart().length;
        if (/^function \w+\(/.test(line.trimStart())) {
          open.push({ indent, at: own.length });
          own.push(0);
        } else if (open.length > 0) {
          own[open[open.length - 1]!.at]!++;
          if (line === ' '.repeat(open[open.length - 1]!.indent) + '}') open.pop();
        }
      }
      longest = Math.max(longest, ...own);
    }
    expect(whole).toBeGreaterThan(1500);
    expect(longest).toBeLessThan(450);
  });

  const run = (kernel: Kernel, x: readonly number[]): number[] => {
    const M = new Float32Array(16).fill(NaN);
    M.set(x, 8);
    compileJs(printKernelTS(kernel, { types: false }), kernel.name, M)(0, 8);
    return [...M.subarray(0, 4)];
  };
  const v = (name: string): Expr => get(name, 'v128');

  it('a v128 set that reads across lanes goes through temporaries', () => {
    const body = [
      let_('a', load(get('x0'), 'v128')),
      set('a', add(v('a'), splat(lane(v('a'), 0)))),
      set('a', add(v('a'), splat(lane(v('a'), 3)))),
      store(get('y'), v('a')),
    ];
    const k: Kernel = { name: 'cross', params: ['y', 'x0'], body, doc: ['test'] };
    // a = x + x[0] = [2, 3, 4, 5]; then a + a[3] = [7, 8, 9, 10].
    expect(run(k, [1, 2, 3, 4])).toEqual([7, 8, 9, 10]);
  });

  it('v128 select, neg, min and splat of an expression scalarize lane by lane', () => {
    const x = load(get('x0'), 'v128');
    const body = [
      let_('b', select(cmp('gt', get('x0'), i32(4)), x, { op: 'neg', type: 'v128', a: x })),
      store(get('y'), min(v('b'), splat(add(load(get('x0')), f32(0.5))))),
    ];
    const k: Kernel = { name: 'sel', params: ['y', 'x0'], body, doc: [] };
    // x0 = 8 > 4: b = x = [1, -2, 3, 4]; min with x[0] + 0.5 = 1.5.
    expect(run(k, [1, -2, 3, 4])).toEqual([1, -2, 1.5, 1.5]);
  });

  it('v128 and f32 pmin and pmax become selects over operands computed once', () => {
    const x = load(get('x0'), 'v128');
    const c = (n: number): Expr => splat(f32(n));
    const k = (value: Expr): Kernel => ({
      name: 'pseudo',
      params: ['y', 'x0'],
      body: [store(get('y'), value)],
      doc: [],
    });
    const xs = [NaN, -0, 5, -1];
    const interpreted = (kernel: Kernel): number[] => {
      const M = new Float32Array(16).fill(NaN);
      M.set(xs, 8);
      runKernel(kernel, M, [0, 8]);
      return [...M.subarray(0, 4)];
    };
    for (const kernel of [
      k(pmin(pmax(x, c(0)), c(1))),
      k(pmax(c(0), x)),
      k(pmin(x, { op: 'neg', type: 'v128', a: x })),
    ]) {
      const got = run(kernel, xs);
      const want = interpreted(kernel);
      got.forEach((g, i) => expect(Object.is(g, want[i]), `${g} vs ${want[i]}`).toBe(true));
    }
    // relu6's clamp keeps NaN and -0: [NaN, -0, 1, 0].
    expect(interpreted(k(pmin(pmax(x, c(0)), c(1))))).toEqual([NaN, -0, 1, 0]);
    // Scalar too: pmax(x[1], 0) keeps -0.
    const s = k(pmax(load(add(get('x0'), i32(1))), f32(0)));
    expect(Object.is(run(s, xs)[0], -0)).toBe(true);
  });

  it('f32 constants print as the shortest decimal that reads back', () => {
    for (const c of [0.3, 1 / 3, 1 / 6, -2.5, 1e-7, 3.4e38, 0])
      expect(Math.fround(Number(f32Literal(Math.fround(c))))).toBe(Math.fround(c));
    expect(f32Literal(Math.fround(0.3))).toBe('0.3');
    expect(f32Literal(-Infinity)).toBe('-Infinity');
  });
});

describe('kernel names', () => {
  it('equal names meant equal code across all the runs above', () => {
    expect(seen.size).toBeGreaterThan(100);
  });
});
