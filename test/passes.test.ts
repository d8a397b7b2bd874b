// Tests for the folding passes: each fires where it should and not where it must not, the graph
// verifies after every pass, and random graphs compute the same before and after (metamorphic).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../src/frontend/index.js';
import { size, type Graph, type WeightExpr } from '../src/ir/graph.js';
import { printGraph } from '../src/ir/print.js';
import { verifyGraph } from '../src/ir/verify.js';
import { evalWeightExpr, evaluateWeights } from '../src/runtime/evaluate.js';
import { PASSES, PASS_NAMES, runPasses } from '../src/passes/pipeline.js';
import { runReference } from '../src/reference/run.js';
import { summarize } from '../src/summary/summary.js';
import { Rng, initialize, tensorRng } from '../src/weights/index.js';
import { expectClose } from './helpers/tolerance.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** The single network of a source text; fails the test on any diagnostic. */
function net(text: string): Graph {
  const r = compileSource(text);
  if (r.diagnostics.length)
    throw new Error(r.diagnostics.map((d) => JSON.stringify(d)).join('\n') + '\n' + text);
  expect(r.graphs.length).toBe(1);
  return r.graphs[0]!;
}

/** Random unfolded weights with non-trivial batch-norm statistics and biases. */
function randomParams(graph: Graph, seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const p of graph.params) {
    const rng = tensorRng(seed, p.key);
    const n = size(p.shape);
    const uniform = (lo: number, hi: number): Float32Array =>
      Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
    const slot = p.key.slice(p.key.lastIndexOf('/') + 1);
    if (slot === 'moving_variance') out.set(p.key, uniform(0.5, 2));
    else if (slot === 'gamma') out.set(p.key, uniform(-1.5, 1.5));
    else if (slot === 'beta' || slot === 'moving_mean' || slot === 'bias')
      out.set(p.key, uniform(-0.5, 0.5));
    else out.set(p.key, initialize(p.initializer, p.shape, rng));
  }
  return out;
}

function randomFeeds(graph: Graph, batch: number, seed: number): Record<string, Float32Array> {
  const rng = new Rng([seed, 7]);
  const feeds: Record<string, Float32Array> = {};
  for (const p of graph.inputs)
    feeds[p.name] = Float32Array.from({ length: batch * size(p.shape) }, () => rng.uniform(-1, 1));
  return feeds;
}

function run(
  graph: Graph,
  params: Map<string, Float32Array>,
  feeds: Record<string, Float32Array>,
  batch: number,
): Record<string, Float64Array> {
  return runReference(graph, evaluateWeights(graph, params), feeds, batch);
}

/** Runs every pass in order, verifying the graph after each; returns the graphs after each. */
function passByPass(graph: Graph): { name: string; graph: Graph }[] {
  const out = [{ name: 'source', graph }];
  expect(verifyGraph(graph)).toEqual([]);
  let g = graph;
  for (const p of PASSES) {
    g = p.run(g);
    const problems = verifyGraph(g);
    if (problems.length)
      throw new Error(`after ${p.name}:\n${problems.join('\n')}\n${printGraph(g)}`);
    out.push({ name: p.name, graph: g });
  }
  return out;
}

/** Checks every stage of the pipeline computes what the source graph computes. */
function expectSameOutputs(graph: Graph, seed = 1, batch = 2): Graph {
  const params = randomParams(graph, seed);
  const feeds = randomFeeds(graph, batch, seed);
  const want = run(graph, params, feeds, batch);
  const stages = passByPass(graph);
  for (const { name, graph: g } of stages.slice(1)) {
    const got = run(g, params, feeds, batch);
    expect(Object.keys(got)).toEqual(Object.keys(want));
    for (const k of Object.keys(want)) expectClose(got[k]!, want[k]!, `${name}: output ${k}`);
  }
  return stages[stages.length - 1]!.graph;
}

const kinds = (g: Graph): string[] => g.nodes.map((n) => n.layer.kind);
const nodeNamed = (g: Graph, name: string) => {
  const n = g.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
};

/** The contract's params_folded: sizes of the distinct node weights of the folded graph. */
function foldedParams(g: Graph): number {
  const seen = new Map<string, number>();
  for (const n of g.nodes)
    for (const w of n.weights) seen.set(`${n.name}/${w.name}`, size(w.shape));
  return [...seen.values()].reduce((a, b) => a + b, 0);
}

const declaredParams = (g: Graph): number => g.params.reduce((s, p) => s + size(p.shape), 0);

// ---------------------------------------------------------------------------------------------
// The reference interpreter and the recipes, by hand

describe('runReference', () => {
  const src = `network tiny {
    input x: [2]
    output y = x -> dense(2, name: "d") -> batch_normalization(name: "bn") -> relu
  }`;
  const weights = new Map<string, Float32Array>([
    ['d/kernel', Float32Array.of(1, 2, 3, 4)],
    ['d/bias', Float32Array.of(0.5, -1)],
    ['bn/gamma', Float32Array.of(3, 1)],
    ['bn/beta', Float32Array.of(0, 1)],
    ['bn/moving_mean', Float32Array.of(1, 0)],
    ['bn/moving_variance', Float32Array.of(3.999, 0.999)],
  ]);
  const feeds = { x: Float32Array.of(1, 1, 0, -1) };

  it('computes a tiny network by hand (dense, batch normalization, relu; batch 2)', () => {
    const g = net(src);
    // dense: [4.5, 5] and [-2.5, -5]; BN s = [1.5, 1]: [5.25, 6] and [-5.25, -4]; relu.
    const out = runReference(g, evaluateWeights(g, weights), feeds, 2);
    expectClose(out['y']!, [5.25, 6, 0, 0]);
  });

  it('computes the same after folding, with the folded weights expected by hand', () => {
    const folded = runPasses(net(src));
    expect(kinds(folded)).toEqual(['input', 'dense']);
    const w = evaluateWeights(folded, weights);
    expectClose(w.get('d/kernel')!, [1.5, 2, 4.5, 4]);
    expectClose(w.get('d/bias')!, [-0.75, 0]);
    expect(nodeNamed(folded, 'd').attrs['activation']).toEqual({ fn: 'relu' });
    expectClose(runReference(folded, w, feeds, 2)['y']!, [5.25, 6, 0, 0]);
  });

  it('takes channels_first feeds in the user layout and returns outputs in it', () => {
    const g = net(`network cf(data_format: channels_first) {
      input x: [2, 1, 2]
      output y = x -> conv2d(1, 1, use_bias: false, name: "c")
    }`);
    const w = new Map([['c/kernel', Float32Array.of(1, 10)]]);
    // [C, H, W] = [[a, b], [c, d]] -> [a + 10c, b + 10d].
    const out = runReference(g, evaluateWeights(g, w), { x: Float32Array.of(1, 2, 3, 4) }, 1);
    expectClose(out['y']!, [31, 42]);
  });

  it('rejects a feed of the wrong length or a missing feed', () => {
    const g = net(src);
    const w = evaluateWeights(g, weights);
    expect(() => runReference(g, w, { x: Float32Array.of(1, 2, 3) }, 2)).toThrow(RangeError);
    expect(() => runReference(g, w, {}, 1)).toThrow(/missing input 'x'/);
  });
});

describe('evalWeightExpr', () => {
  const params = new Map([
    ['a', Float32Array.of(1, 2, 3, 4, 5, 6)],
    ['v', Float32Array.of(1, -1)],
    ['c', Float32Array.of(10, 20, 30)],
  ]);
  const ev = (e: WeightExpr): number[] => [...evalWeightExpr(e, params)];
  const a: WeightExpr = { op: 'param', key: 'a' };
  const v: WeightExpr = { op: 'param', key: 'v' };

  it('scales the middle axis of [outer, channels, inner]', () => {
    expect(ev({ op: 'scale', x: a, s: v, outer: 1, channels: 2, inner: 3 })).toEqual([
      1, 2, 3, -4, -5, -6,
    ]);
    expect(ev({ op: 'scale', x: a, s: v, outer: 3, channels: 2, inner: 1 })).toEqual([
      1, -2, 3, -4, 5, -6,
    ]);
  });

  it('computes the batch-norm scale and shift', () => {
    const s: WeightExpr = {
      op: 'bn_scale',
      gamma: null,
      variance: { op: 'fill', size: 2, value: 3 },
      epsilon: 1,
    };
    expect(ev(s)).toEqual([0.5, 0.5]);
    expect(
      ev({
        op: 'bn_shift',
        bias: { op: 'zeros', size: 2 },
        mean: v,
        scale: s,
        beta: { op: 'fill', size: 2, value: 1 },
      }),
    ).toEqual([0.5, 1.5]);
  });

  it('adds W^T v to a bias, and adds', () => {
    // W [2, 3] = [[1, 2, 3], [4, 5, 6]], v = [1, -1]: W^T v = [-3, -3, -3].
    expect(
      ev({ op: 'matvec_add', bias: { op: 'param', key: 'c' }, w: a, v, rows: 2, cols: 3 }),
    ).toEqual([7, 17, 27]);
    expect(ev({ op: 'add', a: v, b: v })).toEqual([2, -2]);
  });

  it('names a missing weight', () => {
    expect(() => ev({ op: 'param', key: 'nope' })).toThrow(/nope/);
  });
});

// ---------------------------------------------------------------------------------------------
// The verifier

describe('verifyGraph', () => {
  const g = net(`network v {
    input x: [4, 4, 2]
    output y = x -> conv2d(3, 3, name: "c") -> batch_normalization -> relu
  }`);

  it('accepts front-end graphs and the graph after every pass', () => {
    expect(verifyGraph(g)).toEqual([]);
    passByPass(g);
  });

  it('finds broken ids, topology, shapes and weights', () => {
    const nodes = [...g.nodes];
    const c = nodes[1]!;
    const broken = (patch: Partial<Graph>): string[] => verifyGraph({ ...g, ...patch });
    expect(broken({ nodes: nodes.map((n, i) => (i === 1 ? { ...n, id: 5 } : n)) })).not.toEqual([]);
    expect(
      broken({ nodes: nodes.map((n, i) => (i === 1 ? { ...n, inputs: [2] } : n)) }),
    ).not.toEqual([]);
    expect(
      broken({ nodes: nodes.map((n, i) => (i === 1 ? { ...n, shape: [2, 2, 4] } : n)) }),
    ).not.toEqual([]);
    const badWeight = { ...c, weights: [{ ...c.weights[0]!, shape: [3, 3, 2, 4] }, c.weights[1]!] };
    expect(broken({ nodes: nodes.map((n, i) => (i === 1 ? badWeight : n)) })).not.toEqual([]);
    const badExpr = {
      ...c,
      weights: [c.weights[0]!, { ...c.weights[1]!, value: { op: 'zeros', size: 4 } as const }],
    };
    expect(broken({ nodes: nodes.map((n, i) => (i === 1 ? badExpr : n)) })).not.toEqual([]);
    expect(broken({ outputs: [{ ...g.outputs[0]!, node: 9 }] })).not.toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Each fold fires where it should

describe('fold_batch_norm fires', () => {
  it('folds conv2d -> batch_normalization and notes it', () => {
    const g = net(`network n {
      input x: [6, 6, 3]
      output y = x -> conv2d(4, 3, name: "conv1") -> batch_normalization(name: "bn1")
    }`);
    const f = expectSameOutputs(g);
    expect(kinds(f)).toEqual(['input', 'conv2d']);
    expect(f.notes).toContain("batch_normalization 'bn1' folded into conv2d 'conv1'");
    const conv = nodeNamed(f, 'conv1');
    expect(conv.weights.map((w) => w.value.op)).toEqual(['scale', 'bn_shift']);
    expect(f.outputs[0]!.node).toBe(conv.id);
    expect(foldedParams(f)).toBe(declaredParams(g) - 16);
  });

  const producers: [string, string][] = [
    ['conv2d with groups', 'conv2d(4, 3, groups: 2, padding: same)'],
    ['conv2d without a bias', 'conv2d(3, 1, use_bias: false)'],
    ['depthwise_conv2d with a depth multiplier', 'depthwise_conv2d(3, depth_multiplier: 2)'],
    ['depthwise_conv2d without a bias', 'depthwise_conv2d(2, use_bias: false)'],
    ['separable_conv2d', 'separable_conv2d(5, 3, depth_multiplier: 2, padding: same)'],
    ['conv2d_transpose', 'conv2d_transpose(3, 3, strides: 2)'],
    ['conv2d_transpose without a bias', 'conv2d_transpose(2, 2, use_bias: false)'],
    ['dense on an image', 'dense(3)'],
    ['dense on a vector', 'flatten -> dense(5)'],
  ];
  it.each(producers)('folds into %s', (_what, layer) => {
    for (const bn of [
      'batch_normalization',
      'batch_normalization(center: false, scale: false, epsilon: 0.01)',
    ]) {
      const g = net(`network n {
        input x: [5, 5, 2]
        output y = x -> ${layer} -> ${bn} -> relu
      }`);
      const f = expectSameOutputs(g, 3);
      expect(f.nodes.some((n) => n.layer.traits.isBatchNorm)).toBe(false);
      expect(f.notes.filter((t) => t.includes('batch_normalization'))).toHaveLength(1);
    }
  });

  it('folds with channels_first (the default axis 1 is the channel)', () => {
    const g = net(`network n(data_format: channels_first) {
      input x: [3, 5, 5]
      output y = x -> conv2d(4, 3) -> batch_normalization -> relu
    }`);
    const f = expectSameOutputs(g);
    expect(f.nodes.some((n) => n.layer.traits.isBatchNorm)).toBe(false);
  });

  it('folds a batch normalization whose output has two consumers', () => {
    const g = net(`network n {
      input x: [5, 5, 2]
      b = x -> conv2d(3, 3, name: "c") -> batch_normalization
      output y = add(b -> relu, b -> sigmoid)
    }`);
    const f = expectSameOutputs(g);
    expect(f.nodes.some((n) => n.layer.traits.isBatchNorm)).toBe(false);
  });

  it('folds a chain of two batch normalizations', () => {
    const g = net(`network n {
      input x: [4, 4, 2]
      output y = x -> conv2d(3, 1) -> batch_normalization -> batch_normalization
    }`);
    const f = expectSameOutputs(g);
    expect(kinds(f)).toEqual(['input', 'conv2d']);
  });
});

describe('fold_rescaling', () => {
  const folds = (f: Graph): number => f.notes.filter((t) => t.startsWith('rescaling')).length;

  it('scales the kernel of the conv2d after it (any padding) and notes it', () => {
    const g = net(`network n {
      input x: [6, 6, 3]
      output y = x -> rescaling([0.5, 2, -1]) -> conv2d(4, 3, padding: same, name: "c")
    }`);
    const f = expectSameOutputs(g);
    expect(kinds(f)).toEqual(['input', 'conv2d']);
    expect(f.notes).toContain("rescaling 'rescaling' folded into conv2d 'c'");
    const conv = nodeNamed(f, 'c');
    expect(conv.weights.map((w) => w.value.op)).toEqual(['scale', 'param']);
  });

  it('shifts the bias by W^T offset when nothing is padded; dense layers too', () => {
    for (const [layer, input] of [
      ['conv2d(4, 3, use_bias: false)', '[6, 6, 3]'],
      ['conv2d(4, 1)', '[6, 6, 3]'],
      ['dense(5)', '[6, 3]'],
      ['dense(5, use_bias: false)', '[3]'],
    ] as const) {
      const g = net(`network n {
        input x: ${input}
        output y = x -> rescaling(1 / 127.5, offset: [-1, 0.5, 2]) -> ${layer}
      }`);
      const f = expectSameOutputs(g);
      expect(folds(f), layer).toBe(1);
      expect(f.nodes.at(-1)!.weights.map((w) => w.value.op)).toEqual(['scale', 'matvec_add']);
    }
  });

  it('folds in channels_first (lists along the channels) and before a batch normalization', () => {
    const g = net(`network n(data_format: channels_first) {
      input x: [3, 5, 5]
      output y = x -> rescaling([1, 2, 3], offset: 1) -> conv2d(4, 3) -> batch_normalization
    }`);
    const f = expectSameOutputs(g);
    expect(kinds(f)).toEqual(['input', 'transpose', 'conv2d', 'transpose']);
  });

  it('does not fire: an offset before padding, another reader, an output, groups, other layers', () => {
    const cases = [
      'output y = x -> rescaling(2, offset: 1) -> conv2d(4, 3, padding: same)',
      'r = x -> rescaling(2)\n output y = add(r -> conv2d(4, 1), r -> conv2d(4, 1))',
      'r = x -> rescaling(2)\n output a = r\n output y = r -> conv2d(4, 1)',
      'output y = x -> rescaling([1, 2, 3, 4]) -> conv2d(4, 1, groups: 2)',
      'output y = x -> rescaling(2) -> depthwise_conv2d(3)',
      'output y = x -> rescaling(2) -> relu -> conv2d(4, 1)',
    ];
    for (const body of cases) {
      const g = net(`network n {\n input x: [5, 5, 4]\n ${body}\n}`);
      expect(folds(expectSameOutputs(g)), body).toBe(0);
    }
  });
});

describe('fold_depthwise_bias fires', () => {
  it('depthwise_conv2d(5) -> conv2d(100, 1) on [24, 24, 10]: 1360 params, 1350 folded', () => {
    const g = net(`network n {
      input x: [24, 24, 10]
      output y = x -> depthwise_conv2d(5, name: "dw") -> conv2d(100, 1, name: "pw")
    }`);
    expect(declaredParams(g)).toBe(1360);
    const f = expectSameOutputs(g, 5, 1);
    expect(foldedParams(f)).toBe(1350);
    expect(summarize(g, f).params_folded).toBe(1350);
    expect(f.notes).toContain("depthwise_conv2d 'dw' bias folded into conv2d 'pw'");
    expect(nodeNamed(f, 'dw').weights.map((w) => w.name)).toEqual(['depthwise_kernel']);
    expect(nodeNamed(f, 'dw').attrs['use_bias']).toBe(false);
    expect(nodeNamed(f, 'pw').weights.find((w) => w.name === 'bias')!.value.op).toBe('matvec_add');
  });

  it('gives a bias to a pointwise layer without one', () => {
    const g = net(`network n {
      input x: [5, 5, 3]
      output y = x -> depthwise_conv2d(3, depth_multiplier: 2) -> conv2d(4, 1, use_bias: false, activation: relu)
    }`);
    const f = expectSameOutputs(g);
    expect(f.notes.some((t) => t.includes('bias folded'))).toBe(true);
    expect(foldedParams(f)).toBe(declaredParams(g) - 6 + 4);
  });

  it('moves a folded batch normalization shift on to the pointwise layer (MobileNet without relu)', () => {
    const g = net(`network n {
      input x: [5, 5, 3]
      output y = x -> depthwise_conv2d(3, use_bias: false) -> batch_normalization -> conv2d(4, 1)
    }`);
    const f = expectSameOutputs(g);
    expect(f.notes).toHaveLength(2);
    expect(kinds(f)).toEqual(['input', 'depthwise_conv2d', 'conv2d']);
    expect(f.nodes[1]!.weights.map((w) => w.name)).toEqual(['depthwise_kernel']);
  });
});

describe('fold_zero_padding', () => {
  it('becomes the padding of the convolutions that read it (MobileNet and ResNet stems)', () => {
    const g = net(`network n {
      input x: [9, 8, 4]
      p = x -> zero_padding2d([[0, 1], [0, 1]], name: "zp")
      a = p -> depthwise_conv2d(3, strides: 2, name: "dw")
      b = p -> conv2d(5, 3, strides: 2, padding: same, name: "c")
      output y = x -> zero_padding2d([[3, 2], [1, 3]]) -> separable_conv2d(6, 7, name: "s")
      output u = a
      output v = b
    }`);
    const f = expectSameOutputs(g);
    expect(kinds(f).filter((k) => k === 'zero_padding2d')).toEqual([]);
    expect(f.notes).toContain(
      "zero_padding2d 'zp' folded into the padding of depthwise_conv2d 'dw', conv2d 'c'",
    );
    expect(nodeNamed(f, 'dw').attrs['pads']).toEqual([0, 1, 0, 1]);
    // same on the padded 10x9 input with strides 2 pads rows (0, 1) and columns (1, 1); then
    // the zeros below and on the right.
    expect(nodeNamed(f, 'c').attrs['pads']).toEqual([0, 2, 1, 2]);
    expect(nodeNamed(f, 's').attrs['padding']).toEqual([
      [3, 2],
      [1, 3],
    ]);
  });

  it('padding2d in mode constant folds when its value is 0, and only then', () => {
    const g = net(`network n {
      input x: [7, 6, 3]
      output y = x -> padding2d([[1, 2], [0, 1]], name: "p0") -> conv2d(4, 3, name: "c")
      output z = x -> padding2d(1, constant_value: 0.5) -> conv2d(4, 3)
      output w = x -> padding2d(1, mode: edge) -> depthwise_conv2d(3)
    }`);
    const f = expectSameOutputs(g);
    expect(kinds(f).filter((k) => k === 'padding2d')).toHaveLength(2);
    expect(f.notes).toContain("padding2d 'p0' folded into the padding of conv2d 'c'");
    expect(nodeNamed(f, 'c').attrs['pads']).toEqual([1, 2, 0, 1]);
  });

  it('stays where a reader treats padding otherwise, or it is an output', () => {
    for (const body of [
      'p = x -> zero_padding2d(1)\n output y = p -> conv2d(2, 3)\n output z = p -> max_pooling2d(2)',
      'output y = x -> zero_padding2d(1) -> conv2d_transpose(2, 3)',
      'output y = x -> zero_padding2d(1) -> average_pooling2d(2)',
      'p = x -> zero_padding2d(1)\n output y = p\n output z = p -> conv2d(2, 3)',
    ]) {
      const g = net(`network n {\n input x: [6, 6, 2]\n ${body}\n }`);
      const f = expectSameOutputs(g);
      expect(kinds(f)).toContain('zero_padding2d');
      expect(f.notes.some((t) => t.includes('folded into the padding'))).toBe(false);
    }
  });
});

describe('fuse_activation and remove_identity fire', () => {
  it('fuses an activation with its parameters', () => {
    const g = net(`network n {
      input x: [4, 4, 2]
      output y = x -> conv2d(3, 3, name: "c") -> leaky_relu(negative_slope: 0.1, name: "a")
    }`);
    const f = expectSameOutputs(g);
    expect(kinds(f)).toEqual(['input', 'conv2d']);
    expect(nodeNamed(f, 'c').attrs['activation']).toEqual({
      fn: 'leaky_relu',
      negative_slope: 0.1,
    });
    expect(f.notes).toContain("leaky_relu 'a' fused into conv2d 'c'");
  });

  it('removes dropout and linear, forwarding consumers and outputs', () => {
    const g = net(`network n {
      input x: [4]
      h = x -> dense(3, name: "d") -> dropout(0.5) -> linear
      output y = h
      output z = h -> dense(2) -> dropout(0.2)
      output w = x -> dropout(0.1)
    }`);
    const f = expectSameOutputs(g);
    expect(kinds(f)).toEqual(['input', 'dense', 'dense']);
    expect(f.outputs.map((p) => f.nodes[p.node]!.name)).toEqual(['d', 'dense', 'x']);
  });

  it('runs the whole pipeline on conv -> bn -> relu -> dropout', () => {
    const g = net(`network n {
      input x: [6, 6, 3]
      output y = x -> conv2d(4, 3, name: "c1") -> batch_normalization -> relu -> dropout(0.5)
    }`);
    const f = expectSameOutputs(g);
    expect(kinds(f)).toEqual(['input', 'conv2d']);
    expect(nodeNamed(f, 'c1').attrs['activation']).toEqual({ fn: 'relu' });
    expect(f.notes).toHaveLength(3);
  });
});

describe('fuse_residual', () => {
  const fold = (body: string): Graph =>
    expectSameOutputs(net(`network n {\n input x: [5, 5, 4]\n ${body}\n}`));
  const residualNodes = (f: Graph) => f.nodes.filter((n) => n.layer.kind === 'conv2d_add');

  it("fuses ResNet's relu(add(shortcut, conv)) into the convolution, in the add's place", () => {
    const f = fold(`h = x -> conv2d(4, 3, padding: same, activation: relu, name: "c1")
      output y = relu(add(h, h -> conv2d(4, 1, name: "c2") -> batch_normalization, name: "sum"), name: "r")`);
    expect(kinds(f)).toEqual(['input', 'conv2d', 'conv2d_add']);
    const [c2] = residualNodes(f);
    expect(c2!.name).toBe('c2');
    expect(c2!.inputs).toEqual([1, 1]);
    expect(c2!.attrs['activation']).toEqual({ fn: 'relu' });
    expect(f.notes).toContain("add 'sum' and relu 'r' fused into conv2d 'c2'");
  });

  it('fuses the later of two convolutions, with the conv on either side and no activation', () => {
    const f = fold(`a = x -> conv2d(6, 1, strides: 2, name: "short")
      output y = add(x -> conv2d(6, 3, strides: 2, padding: same, name: "main"), a)`);
    expect(kinds(f)).toEqual(['input', 'conv2d', 'conv2d_add']);
    expect(residualNodes(f)[0]!.name).toBe('main');
    expect(nodeNamed(f, 'main').attrs['activation']).toBe('linear');
  });

  it('an activation with parameters joins; one with another consumer does not', () => {
    const joined = fold(`output y = add(x, x -> conv2d(4, 1)) -> leaky_relu(negative_slope: 0.2)`);
    expect(residualNodes(joined)[0]!.attrs['activation']).toEqual({
      fn: 'leaky_relu',
      negative_slope: 0.2,
    });
    const s = fold(`s = add(x, x -> conv2d(4, 1))
      output y = s -> relu
      output z = s`);
    expect(kinds(s)).toEqual(['input', 'conv2d_add', 'relu']);
    expect(residualNodes(s)[0]!.attrs['activation']).toBe('linear');
  });

  it('does not fire: the conv has another reader, is an output, is not linear; three inputs', () => {
    const cases = [
      `c = x -> conv2d(4, 1)
       output y = add(x, c) -> relu
       output z = c -> relu6`,
      `c = x -> conv2d(4, 1)
       output y = add(x, c)
       output z = c`,
      `output y = add(x, x -> conv2d(4, 1, activation: tanh))`,
      `output y = add(x, x, x -> conv2d(4, 1))`,
      `output y = add(x, x -> depthwise_conv2d(1))`,
    ];
    for (const body of cases) expect(residualNodes(fold(body)), body).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// ... and not where it must not

describe('folds do not fire when their preconditions fail', () => {
  const notes = (body: string, input = '[5, 5, 4]'): { g: Graph; f: Graph } => {
    const g = net(`network n {\n input x: ${input}\n ${body}\n}`);
    return { g, f: expectSameOutputs(g) };
  };
  const bnFolds = (f: Graph): number =>
    f.notes.filter((t) => t.startsWith('batch_normalization')).length;
  const biasFolds = (f: Graph): number => f.notes.filter((t) => t.includes('bias folded')).length;
  const fusions = (f: Graph): number => f.notes.filter((t) => t.includes('fused')).length;

  it('batch normalization: the producer has another consumer', () => {
    const { f } = notes(`c = x -> conv2d(4, 3)
      output y = add(c -> batch_normalization, c)`);
    expect(bnFolds(f)).toBe(0);
  });

  it('batch normalization: the producer is a graph output', () => {
    const { f } = notes(`c = x -> conv2d(4, 3)
      output a = c
      output b = c -> batch_normalization`);
    expect(bnFolds(f)).toBe(0);
  });

  it('batch normalization: a nonlinearity between', () => {
    const { f } = notes(`output y = x -> conv2d(4, 3, activation: relu) -> batch_normalization`);
    expect(bnFolds(f)).toBe(0);
    const r = notes(`output y = x -> conv2d(4, 3) -> relu -> batch_normalization`);
    expect(bnFolds(r.f)).toBe(0);
  });

  it('batch normalization: not on the channel axis, or after a layer that is not channel-affine', () => {
    expect(bnFolds(notes(`output y = x -> conv2d(4, 1) -> batch_normalization(axis: 1)`).f)).toBe(
      0,
    );
    expect(bnFolds(notes(`output y = x -> max_pooling2d(2) -> batch_normalization`).f)).toBe(0);
    expect(bnFolds(notes(`output y = x -> batch_normalization`).f)).toBe(0);
  });

  it('depthwise bias: a relu between', () => {
    const { f } = notes(`output y = x -> depthwise_conv2d(3) -> relu -> conv2d(8, 1)`);
    expect(biasFolds(f)).toBe(0);
    const r = notes(`output y = x -> depthwise_conv2d(3, activation: relu6) -> conv2d(8, 1)`);
    expect(biasFolds(r.f)).toBe(0);
  });

  it('depthwise bias: a consumer that is not pointwise', () => {
    for (const consumer of [
      'conv2d(8, 3)',
      'conv2d(8, 1, padding: 1)',
      'conv2d(8, 1, padding: [[0, 1], [0, 0]])',
      'conv2d(8, 1, strides: 2)',
      'conv2d(8, 1, groups: 2)',
      'conv2d(8, 1, dilation_rate: 2, padding: same)',
      'dense(3)',
      'separable_conv2d(4, 1)',
    ]) {
      const { f } = notes(`output y = x -> depthwise_conv2d(3) -> ${consumer}`);
      const pw = consumer.includes('dilation') ? 1 : 0; // dilation does not matter on a 1x1 kernel
      expect(biasFolds(f), consumer).toBe(pw);
    }
  });

  it('depthwise bias: the depthwise output has another consumer or is an output', () => {
    const two = notes(`d = x -> depthwise_conv2d(3)
      output y = d -> conv2d(4, 1)
      output z = d -> global_average_pooling2d`);
    expect(biasFolds(two.f)).toBe(0);
    const out = notes(`d = x -> depthwise_conv2d(3)
      output z = d
      output y = d -> conv2d(4, 1)`);
    expect(biasFolds(out.f)).toBe(0);
    const noBias = notes(`output y = x -> depthwise_conv2d(3, use_bias: false) -> conv2d(4, 1)`);
    expect(biasFolds(noBias.f)).toBe(0);
  });

  it('activation: softmax, a nonlinear producer, another consumer, an output, no epilogue', () => {
    expect(fusions(notes(`output y = x -> conv2d(4, 3) -> softmax`).f)).toBe(0);
    expect(fusions(notes(`output y = x -> conv2d(4, 3, activation: relu) -> sigmoid`).f)).toBe(0);
    expect(
      fusions(
        notes(`c = x -> conv2d(4, 3)
        output y = add(c, c -> relu)`).f,
      ),
    ).toBe(0);
    expect(
      fusions(
        notes(`c = x -> conv2d(4, 3)
        output a = c
        output b = c -> tanh`).f,
      ),
    ).toBe(0);
    expect(fusions(notes(`output y = x -> max_pooling2d(2) -> relu`).f)).toBe(0);
    expect(fusions(notes(`output y = x -> relu -> relu`).f)).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// The pipeline, purity and --dump-ir

describe('the pipeline', () => {
  const src = `network n {
    input x: [5, 5, 2]
    output y = x -> conv2d(4, 3, name: "c") -> batch_normalization(name: "bn") -> relu -> dropout(0.5)
  }`;

  it('lists the passes in order', () => {
    expect(PASS_NAMES).toEqual([
      'remove_identity',
      'fold_rescaling',
      'fold_batch_norm',
      'fold_depthwise_bias',
      'fold_zero_padding',
      'fuse_activation',
      'fuse_residual',
    ]);
  });

  it('never changes its input graph', () => {
    const g = net(src);
    const before = JSON.stringify(g);
    const nodes = [...g.nodes];
    runPasses(g);
    expect(JSON.stringify(g)).toBe(before);
    g.nodes.forEach((n, i) => expect(n).toBe(nodes[i]));
  });

  it('stops after a named pass, and prints the graph', () => {
    const g = net(src);
    const early = runPasses(g, 'remove_identity');
    expect(kinds(early)).toEqual(['input', 'conv2d', 'batch_normalization', 'relu']);
    const text = printGraph(runPasses(g, 'fold_batch_norm'));
    expect(text).toContain('%1 c = conv2d(%0) [3, 3, 4] filters=4 kernel_size=[3,3]');
    expect(text).toMatch(
      /kernel \[3, 3, 2, 4\] = scale\(@c\/kernel, bn_scale\(@bn\/gamma, @bn\/moving_variance, eps=0\.001\), 18x4x1\)/,
    );
    expect(text).toContain("note: batch_normalization 'bn' folded into conv2d 'c'");
    expect(printGraph(runPasses(g))).toContain('activation=relu');
    expect(() => runPasses(g, 'no_such_pass')).toThrow(/remove_identity/);
  });
});

// ---------------------------------------------------------------------------------------------
// Metamorphic: random graphs compute the same after every pass

/** One step of a random network: which op, which earlier tensor, and small choices. */
interface Step {
  readonly op: number;
  readonly src: number;
  readonly latest: boolean;
  readonly a: number;
  readonly b: number;
  readonly flag: boolean;
}

const OPS = [
  'conv',
  'pointwise',
  'pointwise_blocked',
  'depthwise',
  'separable',
  'transpose',
  'dense',
  'bn',
  'bn',
  'bn',
  'act',
  'act',
  'add',
  'flatten',
  'zero_padding',
  'rescale',
  'rescale',
] as const;
const ACTS = [
  'relu',
  'relu6',
  'leaky_relu(negative_slope: 0.1)',
  'elu',
  'sigmoid',
  'tanh',
  'hard_swish',
  'linear',
  'dropout(0.3)',
  'softmax',
  'gelu',
];

/** Writes a network's source text from steps, tracking internal shapes to stay valid. */
function randomNetwork(
  steps: readonly Step[],
  cf: boolean,
  input: [number, number, number],
  extraOutputs: readonly number[],
): string {
  const [h0, w0, c0] = input;
  const tensors: { name: string; shape: number[] }[] = [{ name: 'x', shape: [h0, w0, c0] }];
  const lines: string[] = [];
  const userInput = cf ? [c0, h0, w0] : [h0, w0, c0];
  steps.forEach((s, i) => {
    const from = s.latest ? tensors[tensors.length - 1]! : tensors[s.src % tensors.length]!;
    const sh = from.shape;
    const img = sh.length === 3;
    const [h, w, c] = sh as [number, number, number];
    const bias = s.flag ? '' : ', use_bias: false';
    let expr: string | null = null;
    let shape: number[] = sh;
    switch (OPS[s.op % OPS.length]!) {
      case 'conv': {
        if (!img) break;
        const f = 1 + (s.a % 4);
        const k = 1 + (s.b % 3);
        expr = `conv2d(${f}, ${k}, padding: same${bias})`;
        shape = [h, w, f];
        break;
      }
      case 'zero_padding': {
        if (!img) break;
        const [t, b, l, r] = [s.a % 2, s.b % 3, s.b % 2, s.a % 3];
        expr = `zero_padding2d([[${t}, ${b}], [${l}, ${r}]])`;
        shape = [h + t + b, w + l + r, c];
        break;
      }
      case 'pointwise':
        if (!img) break;
        expr = `conv2d(${1 + (s.a % 5)}, 1${bias})`;
        shape = [h, w, 1 + (s.a % 5)];
        break;
      case 'pointwise_blocked': {
        if (!img) break;
        const f = 1 + (s.a % 4);
        if (s.b % 2) {
          expr = `conv2d(${f}, 1, padding: 1)`;
          shape = [h + 2, w + 2, f];
        } else {
          expr = `conv2d(${f}, 1, strides: 2)`;
          shape = [Math.ceil(h / 2), Math.ceil(w / 2), f];
        }
        break;
      }
      case 'depthwise': {
        if (!img) break;
        const dm = c <= 3 ? 1 + (s.a % 2) : 1;
        expr = `depthwise_conv2d(${1 + (s.b % 3)}, padding: same, depth_multiplier: ${dm}${bias})`;
        shape = [h, w, c * dm];
        break;
      }
      case 'separable': {
        if (!img) break;
        const f = 1 + (s.a % 4);
        expr = `separable_conv2d(${f}, ${1 + (s.b % 3)}, padding: same, depth_multiplier: ${1 + (s.b % 2)}${bias})`;
        shape = [h, w, f];
        break;
      }
      case 'transpose': {
        if (!img) break;
        const f = 1 + (s.a % 3);
        const st = h <= 4 && w <= 4 ? 2 : 1;
        expr = `conv2d_transpose(${f}, ${1 + (s.b % 3)}, strides: ${st}, padding: same${bias})`;
        shape = [h * st, w * st, f];
        break;
      }
      case 'dense': {
        // In channels_first a dense layer on an image reads the user layout: keep to vectors there.
        if (img && cf) break;
        const u = 1 + (s.a % 5);
        expr = `dense(${u}${bias})`;
        shape = [...sh.slice(0, -1), u];
        break;
      }
      case 'bn': {
        const opts = [
          '',
          '(epsilon: 0.01)',
          '(center: false)',
          '(scale: false)',
          img && !cf ? '(axis: 2)' : '(axis: -1)',
        ];
        expr = `batch_normalization${opts[s.a % opts.length]}`;
        break;
      }
      case 'act':
        expr = ACTS[s.a % ACTS.length]!;
        break;
      case 'add': {
        const others = tensors.filter((t) => t !== from && t.shape.join() === sh.join());
        if (!others.length) break;
        expr = `add(${from.name}, ${others[s.a % others.length]!.name})`;
        break;
      }
      case 'flatten':
        if (!img) break;
        expr = s.flag ? 'flatten' : 'global_average_pooling2d';
        shape = s.flag ? [h * w * c] : [c];
        break;
      case 'rescale': {
        // Numbers or one per channel (the channel axis: last, or the first in channels_first
        // for ranks other than 3); an offset only sometimes (it blocks folds into padding).
        const ch = cf && !img ? sh[0]! : sh[sh.length - 1]!;
        const list = (k: number): string =>
          `[${Array.from({ length: ch }, (_, j) => ((j + k) % 3) - 0.75).join(', ')}]`;
        const scale = s.flag ? list(s.a) : String(0.5 + (s.a % 3));
        expr = `rescaling(${scale}${s.b % 2 ? `, offset: ${s.b % 4 === 1 ? list(s.b) : '0.25'}` : ''})`;
        break;
      }
    }
    if (expr === null) return;
    const name = `t${i}`;
    lines.push(expr.startsWith('add(') ? `${name} = ${expr}` : `${name} = ${from.name} -> ${expr}`);
    tensors.push({ name, shape });
  });
  const outs = new Set([tensors.length - 1, ...extraOutputs.map((k) => 1 + (k % tensors.length))]);
  [...outs]
    .filter((k) => k >= 1 && k < tensors.length)
    .forEach((k, j) => lines.push(`output o${j} = ${tensors[k]!.name}`));
  if (tensors.length === 1) lines.push('output o0 = x -> relu');
  const dims = `[${userInput.join(', ')}]`;
  return `network r${cf ? '(data_format: channels_first)' : ''} {\n  input x: ${dims}\n  ${lines.join('\n  ')}\n}\n`;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  op: fc.nat(OPS.length - 1),
  src: fc.nat(20),
  // Mostly chains (the folds' patterns), sometimes branches from an earlier tensor.
  latest: fc.nat(3).map((k) => k > 0),
  a: fc.nat(20),
  b: fc.nat(20),
  flag: fc.boolean(),
});

describe('metamorphic: every pass preserves what random graphs compute', () => {
  it('run(pass(g)) == run(g) within the tolerance, and the graph verifies after every pass', () => {
    let folded = 0;
    fc.assert(
      fc.property(
        fc.array(stepArb, { minLength: 1, maxLength: 10 }),
        fc.boolean(),
        fc.tuple(
          fc.integer({ min: 2, max: 5 }),
          fc.integer({ min: 2, max: 5 }),
          fc.integer({ min: 1, max: 4 }),
        ),
        fc.array(fc.nat(20), { maxLength: 3 }),
        fc.nat(1000),
        (steps, cf, input, extra, seed) => {
          const text = randomNetwork(steps, cf, input, extra);
          const g = net(text);
          const f = expectSameOutputs(g, seed, 2);
          if (f.notes.some((t) => !t.includes('removed'))) folded++;
        },
      ),
      { numRuns: Number(process.env['FC_NUM_RUNS'] ?? 200), seed: 20240601 },
    );
    expect(folded).toBeGreaterThan(40);
  });
});
