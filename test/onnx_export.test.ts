// Tests for src/onnx/export.ts: exported models run in onnxruntime-node agree with the reference interpreter.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { initialValues } from '../src/driver.js';
import { compileSource } from '../src/frontend/index.js';
import { size, type Graph } from '../src/ir/graph.js';
import { decodeModel } from '../src/onnx/model.js';
import { exportOnnx } from '../src/onnx/export.js';
import { evaluateWeights } from '../src/runtime/evaluate.js';
import { runPasses } from '../src/passes/pipeline.js';
import { runReference } from '../src/reference/run.js';
import { runOnnx, type FloatTensor } from './helpers/ort.js';
import { rng } from './helpers/random.js';
import { expectClose } from './helpers/tolerance.js';

function compile(src: string): Graph {
  const r = compileSource(src);
  expect(r.diagnostics.map((d) => d.message)).toEqual([]);
  return r.graphs[0]!;
}

/**
 * Seeded weights: kernels from their (glorot) initializers; biases and batch normalization
 * parameters random, so a wrong channel order or a dropped term shows.
 */
function weightsFor(graph: Graph, seed: number): Map<string, Float32Array> {
  const values = initialValues(graph, seed);
  const r = rng(seed + 1);
  const out = new Map<string, Float32Array>();
  graph.params.forEach((p, i) => {
    let v = values[i]!;
    const slot = p.key.slice(p.key.lastIndexOf('/') + 1);
    if (slot === 'moving_variance') v = v.map(() => 0.5 + Math.abs(r()));
    else if (slot === 'gamma') v = v.map(() => 0.5 + r() * 0.4);
    else if (slot === 'alpha') v = v.map(() => r());
    else if (slot === 'bias' || slot === 'beta' || slot === 'moving_mean')
      v = v.map(() => r() * 0.5);
    out.set(p.key, v);
  });
  return out;
}

/** Exports `graph`, runs it in onnxruntime-node and compares every output with the reference. */
async function check(graph: Graph, params: Map<string, Float32Array>, batch: number, seed = 7) {
  const r = rng(seed);
  const feeds: Record<string, Float32Array> = {};
  const ortFeeds: Record<string, FloatTensor> = {};
  for (const p of graph.inputs) {
    const shape = graph.nodes[p.node]!.shape;
    const data = new Float32Array(batch * size(shape)).map(() => r() * 2);
    feeds[p.name] = data;
    ortFeeds[p.name] = { dims: [batch, ...shape], data };
  }
  const model = exportOnnx(graph, params);
  const got = await runOnnx(model, ortFeeds);
  const want = runReference(graph, evaluateWeights(graph, params), feeds, batch);
  for (const p of graph.outputs) {
    const g = got[p.name];
    expect(g, `output ${p.name}`).toBeDefined();
    expect(g!.dims).toEqual([batch, ...p.shape]);
    expectClose(g!.data, want[p.name]!, `${graph.name}.${p.name}`);
  }
  return model;
}

const formats = ['channels_last', 'channels_first'] as const;
/** [H, W, C] written in the network's data format. */
const img = (fmt: (typeof formats)[number], h: number, w: number, c: number): string =>
  fmt === 'channels_last' ? `[${h}, ${w}, ${c}]` : `[${c}, ${h}, ${w}]`;

const convs = (fmt: (typeof formats)[number]): string => `
network convs(data_format: ${fmt}) {
  input image: ${img(fmt, 11, 10, 4)}
  output a = image
    -> conv2d(6, 3, padding: same, activation: relu)
    -> conv2d(6, [3, 2], strides: [2, 1], padding: [[1, 0], [2, 1]], dilation_rate: [1, 2],
              groups: 2, activation: leaky_relu)
  output b = image -> depthwise_conv2d(3, strides: 2, padding: same, depth_multiplier: 2,
                                       activation: elu)
  output c = image -> separable_conv2d(5, 3, padding: same, depth_multiplier: 2,
                                       activation: sigmoid)
  output d = image -> conv2d(3, 1, use_bias: false, activation: hard_sigmoid)
    -> conv2d_transpose(4, 3, strides: 2, padding: same, activation: tanh)
  output e = image -> conv2d_transpose(3, [3, 4], strides: [2, 3], output_padding: [1, 2],
                                       activation: swish)
  output f = image -> conv2d_transpose(2, 5, strides: 2, padding: same, output_shape: [21, 19],
                                       activation: hard_swish)
  output g = image -> conv2d(5, 3, strides: 2, dilation_rate: 2, activation: gelu)
  output h = image -> conv2d_transpose(2, 4, strides: 2, padding: same, activation: relu6)
  output i = image -> conv2d_transpose(3, 3, dilation_rate: 2, padding: same, use_bias: false)
  output j = image -> conv2d_transpose(2, 1, strides: 3, padding: same)
  output k = image -> depthwise_conv2d([2, 3], padding: [[0, 1], [1, 1]], use_bias: false)
}`;

const pools = (fmt: (typeof formats)[number]): string => `
network pools(data_format: ${fmt}) {
  input image: ${img(fmt, 9, 8, 3)}
  x = image -> batch_normalization -> relu
  output a = x -> max_pooling2d(3, strides: 2, padding: same)
  output b = x -> average_pooling2d(3, strides: 2, padding: same)
  output c = x -> max_pooling2d(2)
  output d = x -> average_pooling2d([2, 3], strides: [1, 2])
  output e = x -> global_average_pooling2d
  output f = x -> global_max_pooling2d(keepdims: true)
  output g = x -> zero_padding2d([[1, 2], [0, 3]]) -> up_sampling2d([2, 3])
  output h = x -> up_sampling2d(2, interpolation: bilinear)
  output i = image -> batch_normalization(center: false, scale: false, epsilon: 0.01)
  output j = image -> batch_normalization(axis: 1)
  output k = x -> global_max_pooling2d -> batch_normalization -> sigmoid
  output l = x -> global_average_pooling2d(keepdims: true) -> elu(alpha: 0.5)
  output m = x -> max_pooling2d(2, strides: 1, padding: same) -> zero_padding2d(2)
}`;

const merge = (fmt: (typeof formats)[number]): string => `
network merge(data_format: ${fmt}) {
  input p: ${img(fmt, 6, 5, 4)}
  input q: ${img(fmt, 6, 5, 4)}
  s = add(p, q, p)
  m = multiply(s, q) -> relu6
  output c = concatenate(s, m, axis: -1) -> softmax
  output d = concatenate(p, q, m, axis: 1) -> softmax(axis: 2)
  output e = m -> dropout(0.5) -> flatten -> dense(7, activation: relu) -> dense(5) -> softmax
  output f = m -> reshape([30, 4]) -> dense(3) -> leaky_relu(negative_slope: 0.1)
  output g = p -> dense(3, activation: tanh) -> linear
  output h = m -> reshape([5, 4, 6]) -> conv2d(2, 2) -> hard_swish
  output k = q -> flatten -> dense(24, use_bias: false) -> reshape([2, 3, 4])
    -> batch_normalization -> gelu
  output n = add(p -> conv2d(4, 1), q) -> swish -> multiply(p) -> global_average_pooling2d
    -> dense(3, activation: softmax)
}`;

const space = (fmt: (typeof formats)[number]): string => `
network space(data_format: ${fmt}) {
  input image: ${img(fmt, 7, 5, 8)}
  output up_dcr = image -> depth_to_space(2)
  output up_crd = image -> depth_to_space(2, mode: crd)
  output back_dcr = image -> depth_to_space(2, crd) -> space_to_depth(2)
  output back_crd = image -> depth_to_space(2) -> space_to_depth(2, mode: crd)
  output shuffled = image -> reshape([7, 5, 2, 4]) -> permute([1, 2, 4, 3]) -> reshape([7, 5, 8])
    -> conv2d(3, 1)
  output permuted = image -> permute([3, 1, 2])
  output columns = image -> permute([2, 1, 3]) -> reshape([5, -1])
  output deep = image -> reshape([7, 5, 2, 2, 2]) -> permute([5, 4, 3, 2, 1])
  output cropped = image -> cropping2d([[1, 2], [0, 3]])
  output center = image -> cropping2d(1) -> conv2d(2, 1)
}`;

const pads = (fmt: (typeof formats)[number]): string => `
network pads(data_format: ${fmt}) {
  input image: ${img(fmt, 5, 4, 3)}
  output pad_constant = image -> padding2d([[2, 0], [1, 3]], constant_value: -1.5)
  output zeros = image -> padding2d(1)
  output pad_reflect = image -> padding2d([2, 3], mode: reflect)
  output reflect_wide = image -> padding2d([[6, 1], [4, 9]], mode: reflect)
  output pad_symmetric = image -> padding2d([[2, 6], [5, 1]], mode: symmetric)
  output pad_edge = image -> padding2d([[3, 1], [0, 7]], mode: edge)
}`;

// No nearest sample on a rounding tie: ONNX Runtime computes coordinates in float32.
const resizes = (fmt: (typeof formats)[number]): string => `
network resizes(data_format: ${fmt}) {
  input image: ${img(fmt, 5, 7, 3)}
  output up_bilinear = image -> resizing(8, 4)
  output up_nearest = image -> resizing(8, 4, nearest)
  output bilinear_ac = image -> resizing(8, 4, coordinates: align_corners)
  output nearest_ac = image -> resizing(8, 4, nearest, coordinates: align_corners)
  output bilinear_asym = image -> resizing(3, 11, coordinates: asymmetric)
  output nearest_asym = image -> resizing(3, 11, nearest, coordinates: asymmetric)
  output down = image -> resizing(3, 11)
  output down_nearest = image -> resizing(3, 11, nearest)
  output cropped = image -> resizing(4, 4, crop_to_aspect_ratio: true)
  output wide = image -> resizing(2, 9, nearest, crop_to_aspect_ratio: true)
}`;

const broadcast = (fmt: (typeof formats)[number]): string => `
network broadcast(data_format: ${fmt}) {
  # [C] and [W, 1] line up with the last axes the user sees: C, or W in channels_first
  input a: ${img(fmt, 4, 6, 5)}
  input r: ${img(fmt, 1, 6, 5)}
  input c: ${img(fmt, 4, 1, 1)}
  input g: ${img(fmt, 4, 6, 1)}
  input v: [${fmt === 'channels_last' ? 5 : 6}]
  input m: [${fmt === 'channels_last' ? 6 : 4}, 1]
  output diff = subtract(a, r)
  output centered = a -> subtract(c)
  output hi = maximum(a, v, g)
  output lo = minimum(r, g)
  output mean3 = average(a, r, c)
  output sum = add(v, g, m)
  output gate = a -> global_average_pooling2d(keepdims: true) -> conv2d(5, 1, activation: sigmoid)
    -> multiply(a)
  output vec = subtract(v, average(v, v))
  output col = maximum(m, minimum(m, a -> global_average_pooling2d -> dense(5)))
  input q: [2, ${img(fmt, 4, 6, 5).slice(1, -1)}]
  output rank4 = subtract(q, a)
  output rank4b = maximum(r, q, g)
  output ratio = divide(a, r)
  output per_channel = a -> divide(v)
}`;

const prelus = (fmt: (typeof formats)[number]): string => `
network prelus(data_format: ${fmt}) {
  input x: ${img(fmt, 5, 4, 3)}
  input v: [6]
  output per_channel = x -> conv2d(4, 3, padding: same) -> prelu(shared_axes: ${fmt === 'channels_last' ? '[1, 2]' : '[2, 3]'})
  output full = x -> prelu
  output rows = x -> prelu(shared_axes: [1])
  output vector = v -> dense(6) -> prelu
}`;

const norms = (fmt: (typeof formats)[number]): string => `
network norms(data_format: ${fmt}) {
  input x: ${img(fmt, 5, 4, 8)}
  input v: [6, 10]
  output channels = x -> layer_normalization
  output all = x -> layer_normalization(axis: [1, 2, 3], epsilon: 0.01)
  output two = x -> layer_normalization(axis: [1, -1], center: false)
  output spatial = x -> layer_normalization(axis: [2, 3], scale: false)
  output rows = v -> layer_normalization(axis: 1)
  output instance = x -> group_normalization(-1)
  output grouped = x -> conv2d(8, 3, padding: same) -> group_normalization(4, epsilon: 0.1)
  output pairs = x -> group_normalization(groups: 4, center: false)
  output one = x -> group_normalization(1, scale: false)
  output vgroups = v -> group_normalization(5)
  output unit = x -> unit_normalization
  output unit_cols = x -> unit_normalization(axis: 2, epsilon: 0.5)
  output unit_v = v -> unit_normalization(axis: [1, 2])
}`;

const rescalings = (fmt: (typeof formats)[number]): string => `
network rescalings(data_format: ${fmt}) {
  input x: ${img(fmt, 5, 7, 3)}
  input v: [4, 6]
  output unit = x -> rescaling(1 / 127.5, -1)
  output imagenet = x -> rescaling([0.0171248, 0.0175070, 0.0174292], offset: [-2.1179, -2.03571, -1.80444])
  output features = x -> rescaling(1 / 255) -> conv2d(4, 3, padding: same)
  output shifted = x -> rescaling(2, offset: [0.5, -0.5, 1])
  output rows = v -> rescaling(${fmt === 'channels_last' ? '[1, 2, 3, 4, 5, 6]' : '[1, 2, 3, 4]'}, offset: [3])
}`;

describe('exportOnnx', () => {
  for (const fmt of formats) {
    test(`convolutions, ${fmt}`, async () => {
      const g = compile(convs(fmt));
      await check(g, weightsFor(g, 1), 2);
    });
    test(`pooling, padding, resizing and batch normalization, ${fmt}`, async () => {
      const g = compile(pools(fmt));
      await check(g, weightsFor(g, 2), 2);
    });
    test(`merges, reshapes, dense layers and activations, ${fmt}`, async () => {
      const g = compile(merge(fmt));
      await check(g, weightsFor(g, 3), 3);
    });
    test(`prelu with and without shared axes, ${fmt}`, async () => {
      const g = compile(prelus(fmt));
      await check(g, weightsFor(g, 9), 2);
    });
    test(`layer, group and unit normalization, ${fmt}`, async () => {
      const g = compile(norms(fmt));
      await check(g, weightsFor(g, 10), 2);
    });
    test(`rescaling by numbers and per-channel lists, ${fmt}`, async () => {
      const g = compile(rescalings(fmt));
      await check(g, weightsFor(g, 11), 2);
    });
    test(`broadcasting merges of every kind, ranks 1 to 3, ${fmt}`, async () => {
      const g = compile(broadcast(fmt));
      await check(g, weightsFor(g, 8), 2);
    });
  }

  for (const fmt of formats) {
    test(`depth_to_space, space_to_depth, permute, reshape and cropping2d, ${fmt}`, async () => {
      const g = compile(space(fmt));
      await check(g, weightsFor(g, 8), 2);
    });
    test(`padding2d in every mode (Pad, and Gather tables where Pad cannot), ${fmt}`, async () => {
      const g = compile(pads(fmt));
      await check(g, weightsFor(g, 9), 2);
    });
    test(`resizing in every coordinates mode (Resize), ${fmt}`, async () => {
      const g = compile(resizes(fmt));
      await check(g, weightsFor(g, 10), 2);
    });
  }

  test('a fixed batch size is the graph input and output batch', async () => {
    const g = compile(`network fixed(batch: 2) {
      input x: [4, 4, 2]
      output y = x -> conv2d(3, 3, padding: same) -> flatten -> dense(2)
    }`);
    const model = await check(g, weightsFor(g, 4), 2);
    const proto = decodeModel(model);
    expect(proto.graph.inputs[0]!.shape).toEqual([2, 4, 4, 2]);
    expect(proto.graph.outputs[0]!.shape).toEqual([2, 2]);
  });

  test('the model imports opset 13, names nodes after layers, and keeps user layouts', () => {
    const g = compile(convs('channels_last'));
    const proto = decodeModel(exportOnnx(g, weightsFor(g, 1)));
    expect(proto.opsetImports).toEqual([{ domain: '', version: 13 }]);
    expect(proto.graph.inputs.map((i) => i.shape)).toEqual([['N', 11, 10, 4]]);
    expect(proto.graph.nodes.map((n) => n.name)).toContain('conv2d');
    // One transpose in to NCHW, shared by every branch; one back out per output.
    const transposes = proto.graph.nodes.filter((n) => n.opType === 'Transpose').length;
    expect(transposes).toBe(1 + g.outputs.length);
  });

  test('channels_first networks need no transposes', () => {
    const g = compile(pools('channels_first'));
    const proto = decodeModel(exportOnnx(g, weightsFor(g, 1)));
    const transposes = proto.graph.nodes.filter((n) => n.opType === 'Transpose');
    // Only batch_normalization(axis: 1) on channels_first is per channel: none at all.
    expect(transposes.map((n) => n.name)).toEqual([]);
  });

  test('a folded graph exports the same function', async () => {
    const g = compile(`network folded {
      input x: [8, 8, 3]
      output y = x -> conv2d(4, 3, use_bias: false) -> batch_normalization -> relu
        -> depthwise_conv2d(3, padding: same) -> batch_normalization -> conv2d(5, 1)
        -> batch_normalization -> flatten -> dense(3)
    }`);
    const params = weightsFor(g, 5);
    await check(runPasses(g), params, 2);
  });

  test('a folded residual block exports the same function (conv2d_add: Conv, Add, Relu)', async () => {
    const g = compile(`network residual {
      input x: [6, 6, 8]
      h = x -> conv2d(8, 3, padding: same) -> batch_normalization
      output y = relu(add(x, h))
    }`);
    const folded = runPasses(g);
    expect(folded.nodes.map((n) => n.layer.kind)).toContain('conv2d_add');
    await check(folded, weightsFor(g, 5), 2);
  });

  for (const name of ['mnist', 'dcgan', 'autoencoder']) {
    test(`examples/${name}.net`, async () => {
      const g = compile(readFileSync(new URL(`../examples/${name}.net`, import.meta.url), 'utf8'));
      await check(g, weightsFor(g, 6), 1);
    });
  }
});
