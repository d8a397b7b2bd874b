// netc import: ONNX models (built here and the ONNX project's backend tests) imported, built, run against onnxruntime.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { importCommand } from '../../src/cli/import.js';
import { main } from '../../src/cli/main.js';
import { buildNetwork, type Target } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import {
  decodeTensor,
  float,
  graph,
  int,
  int64Tensor,
  ints,
  model,
  node,
  str,
  tensor,
  valueInfo,
  type NodeProto,
  type TensorProto,
} from '../../src/onnx/model.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { importOnnx } from '../../src/onnx/import.js';
import { runSource } from '../helpers/module.js';
import { runOnnx } from '../helpers/ort.js';
import { rng } from '../helpers/random.js';
import { expectClose } from '../helpers/tolerance.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'netc-import-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const prod = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);
let seedCounter = 100;
/** A random float initializer. */
const rand = (name: string, dims: number[], scale = 0.5): TensorProto =>
  tensor(
    name,
    dims,
    Float32Array.from({ length: prod(dims) }, rng(seedCounter++)).map((v) => v * scale),
  );
/** A positive random initializer (variances, scales). */
const pos = (name: string, dims: number[]): TensorProto =>
  tensor(
    name,
    dims,
    Float32Array.from({ length: prod(dims) }, rng(seedCounter++)).map((v) => 0.5 + Math.abs(v)),
  );

let dirCounter = 0;

/** Builds an imported network for `target` with its weights and runs it (NCHW feeds). */
const runImported = (
  source: string,
  weights: Uint8Array,
  feeds: Float32Array[],
  target: Target,
): Promise<Float32Array[]> =>
  runSource(path.join(tmp, `m${dirCounter++}`), source, weights, feeds, target);

interface Built {
  nodes: NodeProto[];
  inputs: [string, number[]][];
  outputs: [string, number[]][];
  inits: TensorProto[];
  opset?: number;
}

/** Imports a model built here, builds both targets, and compares each with onnxruntime. */
async function roundTrip(m: Built, batch = 2): Promise<string> {
  const bytes = model(
    graph(
      m.nodes,
      m.inputs.map(([n, s]) => valueInfo(n, ['N', ...s])),
      m.outputs.map(([n, s]) => valueInfo(n, ['N', ...s])),
      m.inits,
    ),
    m.opset ?? 14,
  );
  const r = rng(seedCounter++);
  const feeds = m.inputs.map(([, s]) =>
    Float32Array.from({ length: batch * prod(s) }, () => r() * 2),
  );
  // onnxruntime has no opset-6 BatchNormalization or Gemm kernels: it runs the model restamped
  // to opset 7, without is_test and broadcast (removed in 7 with no change of meaning here).
  const oldAttrs = new Set(['is_test', 'broadcast']);
  const ortBytes =
    (m.opset ?? 14) < 7
      ? model(
          graph(
            m.nodes.map((n) => ({
              ...n,
              attributes: n.attributes.filter((a) => !oldAttrs.has(a.name)),
            })),
            m.inputs.map(([n, s]) => valueInfo(n, ['N', ...s])),
            m.outputs.map(([n, s]) => valueInfo(n, ['N', ...s])),
            m.inits,
          ),
          7,
        )
      : bytes;
  const want = await runOnnx(
    ortBytes,
    Object.fromEntries(m.inputs.map(([n, s], i) => [n, { dims: [batch, ...s], data: feeds[i]! }])),
  );
  const imported = importOnnx(bytes, { name: 'built' });
  if (!imported.ok) throw new Error(imported.errors.join('\n'));
  for (const target of ['wasm', 'ts'] as const) {
    const got = await runImported(imported.source, imported.weights, feeds, target);
    m.outputs.forEach(([name, shape], i) => {
      expect(want[name]!.dims).toEqual([batch, ...shape]);
      expectClose(got[i]!, want[name]!.data, `${target} ${name}`);
    });
  }
  return imported.source;
}

describe('importOnnx: models built here, against onnxruntime-node', () => {
  test('convolutions: plain, padded asymmetric, strided, dilated, grouped, depthwise', async () => {
    const src = await roundTrip({
      inputs: [['x', [3, 11, 9]]],
      nodes: [
        node('Conv', ['x', 'w1', 'b1'], ['c1'], {
          kernel_shape: ints([3, 3]),
          pads: ints([1, 0, 2, 1]),
          strides: ints([2, 1]),
        }),
        node('Relu', ['c1'], ['r1']),
        node('Conv', ['r1', 'w2', 'b2'], ['c2'], { group: int(6), auto_pad: str('SAME_UPPER') }),
        node('BatchNormalization', ['c2', 'g', 'be', 'mu', 'var'], ['bn'], {
          epsilon: float(1e-3),
        }),
        node('Clip', ['bn', 'zero', 'six'], ['r6']),
        node('Conv', ['r6', 'w3'], ['c3'], { group: int(2), dilations: ints([2, 1]) }),
        node('LeakyRelu', ['c3'], ['y'], { alpha: float(0.2) }),
        node('Conv', ['x', 'w4', 'b4'], ['c4'], { group: int(3), pads: ints([1, 1, 1, 1]) }),
        node('Elu', ['c4'], ['z'], { alpha: float(0.7) }),
      ],
      inits: [
        rand('w1', [6, 3, 3, 3]),
        rand('b1', [6]),
        rand('w2', [12, 1, 3, 2]),
        rand('b2', [12]),
        rand('g', [12]),
        rand('be', [12]),
        rand('mu', [12]),
        pos('var', [12]),
        tensor('zero', [], [0]),
        tensor('six', [], [6]),
        rand('w3', [4, 6, 3, 1]),
        rand('w4', [3, 1, 3, 3]),
        rand('b4', [3]),
      ],
      outputs: [
        ['y', [4, 2, 8]],
        ['z', [3, 11, 9]],
      ],
    });
    expect(src).toContain('network built(data_format: channels_first)');
    expect(src).toMatch(/depthwise_conv2d\(\[3, 2\], padding: same, depth_multiplier: 2\)/);
    expect(src).toContain('conv2d(6, 3, strides: [2, 1], padding: [[1, 2], [0, 1]])');
    expect(src).toContain('groups: 2');
    expect(src).toContain('relu6');
  });

  test('transposed convolutions: PyTorch padding, output_padding, output_shape, SAME_UPPER', async () => {
    const ct = (name: string, x: string, attrs: Parameters<typeof node>[3], bias = true) =>
      node('ConvTranspose', bias ? [x, `${name}_w`, `${name}_b`] : [x, `${name}_w`], [name], attrs);
    const src = await roundTrip({
      inputs: [['x', [3, 5, 4]]],
      nodes: [
        // DCGAN: k4 s2 p1 doubles the size.
        ct('a', 'x', { strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) }),
        node('Sigmoid', ['a'], ['ya']),
        // k3 s2 p1 output_padding 1: doubles with an odd kernel.
        ct('b', 'x', {
          strides: ints([2, 2]),
          pads: ints([1, 1, 1, 1]),
          output_padding: ints([1, 1]),
        }),
        node('Tanh', ['b'], ['yb']),
        // valid, asymmetric strides and kernel.
        ct('c', 'x', { strides: ints([3, 2]), kernel_shape: ints([2, 3]) }, false),
        ct('d', 'x', { strides: ints([2, 2]), output_shape: ints([9, 8]) }),
        ct('e', 'x', { strides: ints([2, 3]), auto_pad: str('SAME_UPPER') }),
        // stride 1, pads 2 on a 5x5 kernel: PyTorch's "same".
        ct('f', 'x', { pads: ints([2, 2, 2, 2]) }),
      ],
      inits: [
        rand('a_w', [3, 2, 4, 4]),
        rand('a_b', [2]),
        rand('b_w', [3, 2, 3, 3]),
        rand('b_b', [2]),
        rand('c_w', [3, 2, 2, 3]),
        rand('d_w', [3, 2, 3, 3]),
        rand('d_b', [2]),
        rand('e_w', [3, 2, 3, 3]),
        rand('e_b', [2]),
        rand('f_w', [3, 2, 5, 5]),
        rand('f_b', [2]),
      ],
      outputs: [
        ['ya', [2, 10, 8]],
        ['yb', [2, 10, 8]],
        ['c', [2, 14, 9]],
        ['d', [2, 9, 8]],
        ['e', [2, 10, 12]],
        ['f', [2, 5, 4]],
      ],
    });
    expect(src).toContain('conv2d_transpose(2, 4, strides: 2, padding: same)');
  });

  test('pooling, padding, dense layers, activations and merges', async () => {
    await roundTrip({
      inputs: [['x', [4, 7, 6]]],
      nodes: [
        node('Sigmoid', ['x'], ['q']),
        node('Pad', ['x', 'pads'], ['p'], { mode: str('constant') }),
        // (a Relu between: onnxruntime fuses Pad into MaxPool and then rejects pads >= kernel)
        node('Relu', ['p'], ['pr']),
        node('MaxPool', ['pr'], ['mp'], {
          kernel_shape: ints([3, 3]),
          strides: ints([2, 2]),
          pads: ints([1, 1, 1, 1]),
        }),
        node('AveragePool', ['x'], ['ap'], {
          kernel_shape: ints([2, 3]),
          strides: ints([1, 2]),
          pads: ints([0, 0, 1, 1]),
          count_include_pad: int(0),
        }),
        node('AveragePool', ['q'], ['apc'], {
          kernel_shape: ints([3, 3]),
          pads: ints([1, 1, 1, 1]),
          count_include_pad: int(1),
        }),
        node('Add', ['x', 'q'], ['s']),
        node('Mul', ['s', 'q'], ['m']),
        node('HardSwish', ['m'], ['hs']),
        node('Concat', ['hs', 'x'], ['cat'], { axis: int(1) }),
        node('Dropout', ['cat'], ['dr']),
        node('Identity', ['dr'], ['id']),
        node('GlobalAveragePool', ['id'], ['gap']),
        node('Flatten', ['gap'], ['fl'], { axis: int(1) }),
        node('Gemm', ['fl', 'gw', 'gb'], ['gm'], {
          transB: int(1),
          alpha: float(0.5),
          beta: float(2),
        }),
        node('HardSigmoid', ['gm'], ['hsg'], { alpha: float(1 / 6), beta: float(0.5) }),
        node('MatMul', ['hsg', 'mw'], ['mm']),
        node('Add', ['mm', 'mb'], ['mmb']),
        node('Softmax', ['mmb'], ['probs'], { axis: int(-1) }),
        node('Reshape', ['ap', 'shape'], ['rs']),
        node('Sum', ['rs', 'rs'], ['rs2']),
        node('Softmax', ['rs2'], ['sm'], { axis: int(1) }),
      ],
      inits: [
        int64Tensor('pads', [8], [0, 0, 1, 0, 0, 0, 2, 1]),
        rand('gw', [5, 8]),
        rand('gb', [5]),
        rand('mw', [5, 3]),
        rand('mb', [3]),
        int64Tensor('shape', [4], [0, 2, -1, 0]),
      ],
      outputs: [
        ['mp', [4, 5, 4]],
        ['probs', [3]],
        ['sm', [2, 14, 3]],
        ['apc', [4, 7, 6]],
      ],
    });
  });

  test('two NCHW graph inputs: Add, Mul, Concat', async () => {
    await roundTrip({
      inputs: [
        ['x', [3, 5, 4]],
        ['q', [3, 5, 4]],
      ],
      nodes: [
        node('Add', ['x', 'q'], ['s']),
        node('Mul', ['s', 'x'], ['m']),
        node('Concat', ['m', 'q'], ['y'], { axis: int(1) }),
      ],
      inits: [],
      outputs: [['y', [6, 5, 4]]],
    });
  });

  test('broadcasting merges, PRelu, InstanceNormalization, constants as rescaling', async () => {
    const src = await roundTrip({
      inputs: [
        ['x', [4, 5, 6]],
        ['v', [4, 1, 6]],
      ],
      nodes: [
        node('GlobalAveragePool', ['x'], ['g']),
        node('Sub', ['x', 'g'], ['centered']),
        node('Max', ['centered', 'v', 'x'], ['hi']),
        node('Min', ['v', 'g'], ['lo']),
        node('Mean', ['x', 'v', 'g'], ['mean']),
        node('Mul', ['g', 'hi'], ['gated']),
        node('PRelu', ['gated', 'slope_c'], ['pc']),
        node('PRelu', ['x', 'slope_1'], ['p1']),
        node('PRelu', ['x', 'slope_full'], ['pf']),
        node('InstanceNormalization', ['pc', 'in_scale', 'in_b'], ['inorm'], {
          epsilon: float(1e-3),
        }),
        node('Mul', ['inorm', 'per_channel'], ['sc']),
        node('Add', ['sc', 'half'], ['sh']),
        node('Sub', ['two', 'sh'], ['flip']),
        node('Div', ['flip', 'per_channel_4'], ['dv']),
        node('Sub', ['dv', 'per_channel'], ['out']),
      ],
      inits: [
        rand('slope_c', [4, 1, 1]),
        rand('slope_1', [1]),
        rand('slope_full', [4, 5, 6]),
        rand('in_scale', [4]),
        rand('in_b', [4]),
        rand('per_channel', [1, 4, 1, 1]),
        tensor('per_channel_4', [4, 1, 1], [0.5, 2, -4, 8]),
        tensor('half', [], [0.5]),
        tensor('two', [1], [2]),
      ],
      outputs: [
        ['lo', [4, 1, 6]],
        ['mean', [4, 5, 6]],
        ['p1', [4, 5, 6]],
        ['pf', [4, 5, 6]],
        ['out', [4, 5, 6]],
      ],
    });
    expect(src).toContain('subtract(');
    expect(src).toContain('prelu(shared_axes: [2, 3])');
    expect(src).toContain('prelu(shared_axes: [1, 2, 3])');
    expect(src).toContain('group_normalization(-1, epsilon: 0.001)');
    expect(src).toMatch(/rescaling\(-1, offset: 2\)/);
  });

  test('merges that do not broadcast per example, and constants that are not per channel', () => {
    const refused = (nodes: NodeProto[], inits: TensorProto[], inputs: [string, number[]][]) => {
      const bytes = model(
        graph(
          nodes,
          inputs.map(([n, s]) => valueInfo(n, ['N', ...s])),
          [{ name: 'y' }],
          inits,
        ),
        13,
      );
      const r = importOnnx(bytes);
      return r.ok ? [] : r.errors;
    };
    expect(
      refused(
        [node('Sub', ['x', 'v'], ['y'])],
        [],
        [
          ['x', [4, 5, 6]],
          ['v', [6]],
        ],
      )[0],
    ).toMatch(/different ranks; netc broadcasts per example/);
    expect(
      refused(
        [node('Max', ['x', 'v'], ['y'])],
        [],
        [
          ['x', [4, 5, 6]],
          ['v', [4, 2, 6]],
        ],
      )[0],
    ).toMatch(/do not broadcast/);
    expect(
      refused([node('Add', ['x', 'c'], ['y'])], [rand('c', [5, 6])], [['x', [4, 5, 6]]])[0],
    ).toMatch(/netc takes a number or one per channel \(rescaling\)/);
    expect(
      refused([node('PRelu', ['x', 's'], ['y'])], [rand('s', [3, 1, 1])], [['x', [4, 5, 6]]])[0],
    ).toMatch(/the slope \[3, 1, 1\] does not fit/);
  });

  test('an opset 6 model (is_test, broadcast, Softmax over flattened axes, Reshape to [N, -1])', async () => {
    const src = await roundTrip(
      {
        opset: 6,
        inputs: [['x', [2, 3, 3]]],
        nodes: [
          node('BatchNormalization', ['x', 'g', 'b', 'm', 'v'], ['bn'], {
            is_test: int(1),
            epsilon: float(1e-5),
          }),
          node('Softmax', ['bn'], ['sm'], { axis: int(1) }),
          node('Reshape', ['sm', 'shape'], ['fl']),
          node('Gemm', ['fl', 'w', 'c'], ['y'], { broadcast: int(1), transB: int(1) }),
        ],
        inits: [
          rand('g', [2]),
          rand('b', [2]),
          rand('m', [2]),
          pos('v', [2]),
          int64Tensor('shape', [2], [-1, 18]),
          rand('w', [4, 18]),
          rand('c', [4]),
        ],
        outputs: [
          ['sm', [2, 3, 3]],
          ['y', [4]],
        ],
      },
      3,
    );
    expect(src).toContain('reshape([18])');
  });

  test('DepthToSpace (DCR, CRD), SpaceToDepth, Transpose, Pad modes and values, negative Pad', async () => {
    const src = await roundTrip({
      inputs: [['x', [8, 5, 3]]],
      nodes: [
        node('DepthToSpace', ['x'], ['dcr'], { blocksize: int(2) }),
        node('DepthToSpace', ['x'], ['crd'], { blocksize: int(2), mode: str('CRD') }),
        node('SpaceToDepth', ['crd'], ['s2d'], { blocksize: int(2) }),
        node('Transpose', ['x'], ['tr'], { perm: ints([0, 2, 3, 1]) }),
        node('Pad', ['x', 'pads', 'value'], ['pc'], { mode: str('constant') }),
        node('Pad', ['x', 'pads'], ['pr'], { mode: str('reflect') }),
        node('Pad', ['x', 'wide'], ['pe'], { mode: str('edge') }),
        node('Pad', ['x', 'crop'], ['cr'], { mode: str('constant') }),
      ],
      inits: [
        int64Tensor('pads', [8], [0, 0, 2, 1, 0, 0, 1, 2]),
        tensor('value', [], [-1.5]),
        int64Tensor('wide', [8], [0, 0, 6, 0, 0, 0, 1, 5]),
        int64Tensor('crop', [8], [0, 0, -1, 0, 0, 0, -2, -1]),
      ],
      outputs: [
        ['dcr', [2, 10, 6]],
        ['crd', [2, 10, 6]],
        ['s2d', [8, 5, 3]],
        ['tr', [5, 3, 8]],
        ['pc', [8, 8, 6]],
        ['pr', [8, 8, 6]],
        ['pe', [8, 12, 8]],
        ['cr', [8, 2, 2]],
      ],
    });
    expect(src).toContain('depth_to_space(2)');
    expect(src).toContain('depth_to_space(2, mode: crd)');
    expect(src).toContain('space_to_depth(2)');
    expect(src).toContain('permute([2, 3, 1])');
    expect(src).toContain('padding2d([[2, 1], [1, 2]], constant_value: -1.5)');
    expect(src).toContain('padding2d([[2, 1], [1, 2]], mode: reflect)');
    expect(src).toContain('padding2d([[6, 1], [0, 5]], mode: edge)');
    expect(src).toContain('cropping2d([[1, 2], [0, 1]])');
  });

  test('Resize: linear and nearest in each coordinate mode netc places samples as', async () => {
    const resize = (out: string, sizes: string, attrs: Parameters<typeof node>[3]) =>
      node('Resize', ['x', '', '', sizes], [out], attrs);
    const src = await roundTrip({
      inputs: [['x', [3, 5, 7]]],
      nodes: [
        resize('lin', 's84', { mode: str('linear') }),
        resize('lin_pt', 's84', {
          mode: str('linear'),
          coordinate_transformation_mode: str('pytorch_half_pixel'),
        }),
        resize('lin_ac', 's84', {
          mode: str('linear'),
          coordinate_transformation_mode: str('align_corners'),
        }),
        resize('lin_asym', 's311', {
          mode: str('linear'),
          coordinate_transformation_mode: str('asymmetric'),
        }),
        // No rounding tie between these sizes: round_prefer_floor is round_prefer_ceil here.
        resize('near', 's84', { mode: str('nearest') }),
        resize('near_ac', 's84', {
          mode: str('nearest'),
          coordinate_transformation_mode: str('align_corners'),
        }),
        resize('near_asym', 's311', {
          mode: str('nearest'),
          coordinate_transformation_mode: str('asymmetric'),
          nearest_mode: str('floor'),
        }),
        // tf_half_pixel_for_nn with floor is tf.image.resize's half_pixel nearest.
        resize('near_tf', 's311', {
          mode: str('nearest'),
          coordinate_transformation_mode: str('tf_half_pixel_for_nn'),
          nearest_mode: str('floor'),
        }),
        node('Resize', ['x', '', 'scales'], ['scaled'], { mode: str('linear') }),
      ],
      inits: [
        int64Tensor('s84', [4], [2, 3, 8, 4]),
        int64Tensor('s311', [4], [2, 3, 3, 11]),
        tensor('scales', [4], [1, 1, 2, 3]),
      ],
      outputs: [
        ['lin', [3, 8, 4]],
        ['lin_pt', [3, 8, 4]],
        ['lin_ac', [3, 8, 4]],
        ['lin_asym', [3, 3, 11]],
        ['near', [3, 8, 4]],
        ['near_ac', [3, 8, 4]],
        ['near_asym', [3, 3, 11]],
        ['near_tf', [3, 3, 11]],
        ['scaled', [3, 10, 21]],
      ],
    });
    expect(src).toContain('resizing(8, 4)');
    expect(src).toContain('resizing(8, 4, coordinates: align_corners)');
    expect(src).toContain('resizing(3, 11, nearest, coordinates: asymmetric)');
    expect(src).toContain('resizing(3, 11, nearest)');
    expect(src).toContain('resizing(10, 21)');
  });

  test('Resize refusals name the attribute netc cannot express', () => {
    const refused = (attrs: Parameters<typeof node>[3], sizes = [1, 2, 3, 4], ins = 4) => {
      const bytes = model(
        graph(
          [node('Resize', ['x', '', '', 'sizes'].slice(0, ins), ['y'], attrs, 'rs')],
          [valueInfo('x', ['N', 2, 5, 4])],
          [{ name: 'y' }],
          [int64Tensor('sizes', [4], sizes), tensor('scales', [4], [1, 1, 1.7, 1.5])],
        ),
        13,
      );
      const r = importOnnx(bytes);
      expect(r.ok).toBe(false);
      return r.ok ? '' : r.errors.join('\n');
    };
    expect(refused({ mode: str('cubic') })).toMatch(/Resize node 'rs': mode 'cubic'/);
    expect(
      refused({ mode: str('linear'), coordinate_transformation_mode: str('tf_crop_and_resize') }),
    ).toMatch(/coordinate_transformation_mode 'tf_crop_and_resize'/);
    // 5 -> 3: half_pixel samples 1/3, 2 and 11/3, floored to 0, 2, 3; tf.image.resize reads
    // 0, 2, 4 (half_pixel), 0, 2, 4 (align_corners) or 0, 1, 3 (asymmetric).
    expect(refused({ mode: str('nearest'), nearest_mode: str('floor') })).toMatch(
      /coordinate_transformation_mode 'half_pixel' with nearest_mode 'floor' samples 5x4 -> 3x4/,
    );
    expect(refused({ mode: str('linear') }, [1, 3, 3, 4])).toMatch(
      /sizes change the channel count/,
    );
  });

  test('shape arithmetic folded (symbolic batch), decomposed LayerNorm and GELU, Split, ReduceMean, Expand, Slice', async () => {
    const src = await roundTrip({
      opset: 13,
      inputs: [['x', [4, 6, 5]]],
      nodes: [
        // LayerNorm over the channels, as PyTorch writes it out before opset 17.
        node('ReduceMean', ['x'], ['m'], { axes: ints([1]) }),
        node('Sub', ['x', 'm'], ['d']),
        node('Pow', ['d', 'two'], ['p']),
        node('ReduceMean', ['p'], ['v'], { axes: ints([1]) }),
        node('Add', ['v', 'eps'], ['e']),
        node('Sqrt', ['e'], ['s']),
        node('Div', ['d', 's'], ['nrm']),
        node('Mul', ['nrm', 'gamma'], ['g']),
        node('Add', ['g', 'beta'], ['ln']),
        // GELU with Erf.
        node('Div', ['ln', 'sqrt2'], ['a']),
        node('Erf', ['a'], ['er']),
        node('Add', ['er', 'one'], ['a1']),
        node('Mul', ['ln', 'a1'], ['mm']),
        node('Mul', ['mm', 'half'], ['ge']),
        // chunk and swap the halves (ShuffleNet's split).
        node('Split', ['ge', 'parts'], ['s1', 's2'], { axis: int(1) }),
        node('Concat', ['s2', 's1'], ['cat'], { axis: int(1) }),
        // x.mean([2, 3]) kept, sigmoid, expand_as(x), multiply (squeeze-and-excitation).
        node('ReduceMean', ['cat'], ['gap'], { axes: ints([2, 3]), keepdims: int(1) }),
        node('Sigmoid', ['gap'], ['sg']),
        node('Shape', ['cat'], ['catshape']),
        node('Expand', ['sg', 'catshape'], ['ex']),
        node('Mul', ['cat', 'ex'], ['se']),
        // x.view(x.size(0), -1): Shape, Gather, Unsqueeze, Concat on the symbolic batch.
        node('Shape', ['se'], ['sh']),
        node('Gather', ['sh', 'zero'], ['nb'], { axis: int(0) }),
        node('Unsqueeze', ['nb', 'axes0'], ['nb1']),
        node('Concat', ['nb1', 'minus1'], ['target'], { axis: int(0) }),
        node('Reshape', ['se', 'target'], ['flat']),
        // rows 1..4 of the image, and a channel slice.
        node('Slice', ['se', 'starts', 'ends', 'axes'], ['rows']),
        node('Slice', ['se', 'c0', 'c1', 'axes1'], ['chan']),
      ],
      inits: [
        tensor('two', [], [2]),
        tensor('eps', [], [1e-5]),
        rand('gamma', [4, 1, 1]),
        rand('beta', [4, 1, 1]),
        tensor('sqrt2', [], [Math.SQRT2]),
        tensor('one', [], [1]),
        tensor('half', [], [0.5]),
        int64Tensor('parts', [2], [1, 3]),
        int64Tensor('zero', [], [0]),
        int64Tensor('axes0', [1], [0]),
        int64Tensor('minus1', [1], [-1]),
        int64Tensor('starts', [1], [1]),
        int64Tensor('ends', [1], [-1]),
        int64Tensor('axes', [1], [2]),
        int64Tensor('c0', [1], [1]),
        int64Tensor('c1', [1], [3]),
        int64Tensor('axes1', [1], [1]),
      ],
      outputs: [
        ['flat', [120]],
        ['rows', [4, 4, 5]],
        ['chan', [2, 6, 5]],
      ],
    });
    expect(src).toContain('layer_normalization(1, epsilon: 0.00001)');
    expect(src).toContain('gelu');
    expect(src).toContain('global_average_pooling2d(keepdims: true)');
    expect(src).toContain('cropping2d([1, 0])');
    expect(src).not.toMatch(/Shape|Gather|Erf/);
  });

  test("PyTorch's F.normalize (ReduceL2, Clip, Expand, Div; or Max) as unit_normalization, Div of activations as divide", async () => {
    const src = await roundTrip({
      opset: 13,
      inputs: [['x', [4, 6, 5]]],
      nodes: [
        // F.normalize(x, dim=1) as torch.onnx.export writes it.
        node('ReduceL2', ['x'], ['n1'], { axes: ints([1]), keepdims: int(1) }),
        node('Clip', ['n1', 'eps'], ['c1']),
        node('Shape', ['x'], ['xshape']),
        node('Expand', ['c1', 'xshape'], ['e1']),
        node('Div', ['x', 'e1'], ['l2c']),
        // Over rows and columns, bounded with Max, no Expand.
        node('ReduceL2', ['x'], ['n2'], { axes: ints([2, 3]), keepdims: int(1) }),
        node('Max', ['n2', 'big'], ['m2']),
        node('Div', ['x', 'm2'], ['l2s']),
        // Divisions of activations: elementwise, and by an expanded per-channel gate.
        node('Sigmoid', ['x'], ['sg']),
        node('Div', ['x', 'sg'], ['ratio']),
        node('ReduceMean', ['x'], ['gap'], { axes: ints([2, 3]), keepdims: int(1) }),
        node('Sigmoid', ['gap'], ['gate']),
        node('Expand', ['gate', 'xshape'], ['ge']),
        node('Div', ['x', 'ge'], ['gated']),
      ],
      inits: [tensor('eps', [], [1e-12]), tensor('big', [], [2])],
      outputs: [
        ['l2c', [4, 6, 5]],
        ['l2s', [4, 6, 5]],
        ['ratio', [4, 6, 5]],
        ['gated', [4, 6, 5]],
      ],
    });
    expect(src).toContain('unit_normalization(axis: 1, epsilon: ');
    expect(src).toContain('unit_normalization(axis: [2, 3], epsilon: 4)');
    expect(src).toMatch(/divide\(x, /);
    expect(src).not.toMatch(/ReduceL2|Clip|Expand/);
  });

  test('unit_normalization and divide survive netc export -> import (ReduceSumSquare, Max, Sqrt, Div)', async () => {
    const compiled = compileSource(`network t(data_format: channels_first) {
  input x: [4, 6, 5]
  input y: [4, 6, 5]
  output u = x -> unit_normalization(axis: 1)
  output s = x -> unit_normalization(axis: [2, 3], epsilon: 0.5)
  output d = divide(x, y -> sigmoid)
}`);
    expect(compiled.diagnostics).toEqual([]);
    const bytes = exportOnnx(compiled.graphs[0]!, new Map());
    const imported = importOnnx(bytes, { name: 'back' });
    if (!imported.ok) throw new Error(imported.errors.join('\n'));
    expect(imported.source).toContain('unit_normalization(axis: 1, epsilon: 1e-12)');
    expect(imported.source).toContain('unit_normalization(axis: [2, 3], epsilon: 0.5)');
    expect(imported.source).toMatch(/divide\(x, /);
    expect(imported.source).not.toMatch(/ReduceSumSquare|Sqrt/);
    const r = rng(seedCounter++);
    const feeds = [0, 1].map(() => Float32Array.from({ length: 2 * 120 }, () => r() * 2));
    const want = await runOnnx(bytes, {
      x: { dims: [2, 4, 6, 5], data: feeds[0]! },
      y: { dims: [2, 4, 6, 5], data: feeds[1]! },
    });
    const got = await runImported(imported.source, imported.weights, feeds, 'wasm');
    ['u', 's', 'd'].forEach((name, i) => expectClose(got[i]!, want[name]!.data, name));
  });

  test('a refusal names its first cause only, not the nodes it feeds', () => {
    const bytes = model(
      graph(
        [
          node('Hardmax', ['x'], ['a'], {}, 'hardmax1'),
          node('Relu', ['a'], ['b']),
          node('Shape', ['b'], ['bs']),
          node('LRN', ['b'], ['c'], { size: int(3) }),
          node('Reshape', ['c', 'bs'], ['y']),
        ],
        [valueInfo('x', [1, 2, 6, 6])],
        [{ name: 'y' }],
        [],
      ),
      13,
    );
    const r = importOnnx(bytes);
    expect(r.ok ? [] : r.errors).toEqual([
      "Hardmax node 'hardmax1': netc has no layer for ONNX operator Hardmax",
    ]);
  });

  test('every unsupported node is listed by op_type and name, and nothing is imported', () => {
    const bytes = model(
      graph(
        [
          node('Hardmax', ['x'], ['a'], {}, 'hardmax1'),
          node('Pad', ['x', 'pads'], ['b'], { mode: str('wrap') }, 'pad1'),
          node('Clip', ['x', 'x', 'hi'], ['c'], {}, 'clip1'),
          node('HardSigmoid', ['x'], ['d'], {}, 'hsig'),
          node('Pad', ['x', 'cpads', 'one'], ['e'], {}, 'pad2'),
          node(
            'MaxPool',
            ['x'],
            ['f'],
            { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) },
            'maxp',
          ),
          node('Transpose', ['x'], ['g'], { perm: ints([1, 0, 2, 3]) }, 'tr'),
          node('LRN', ['x'], ['h'], { size: int(3) }, 'lrn'),
        ],
        [valueInfo('x', [1, 2, 6, 6])],
        ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((name) => ({ name })),
        [
          tensor('slope', [1], [0.1]),
          int64Tensor('pads', [8], [0, 0, 1, 1, 0, 0, 1, 1]),
          int64Tensor('cpads', [8], [0, 1, 1, 1, 0, 0, 1, 1]),
          tensor('lo', [], [-1]),
          tensor('hi', [], [1]),
          tensor('one', [], [1]),
        ],
      ),
      13,
    );
    const r = importOnnx(bytes);
    expect(r.ok).toBe(false);
    const errors = r.ok ? [] : r.errors;
    expect(errors).toHaveLength(8);
    expect(errors[0]).toMatch(/Hardmax node 'hardmax1'.*no layer/);
    expect(errors[1]).toMatch(/Pad node 'pad1'.*mode 'wrap'/);
    expect(errors[2]).toMatch(/Clip node 'clip1'/);
    expect(errors[3]).toMatch(/HardSigmoid node 'hsig': alpha 0.2, beta 0.5/);
    expect(errors[4]).toMatch(/Pad node 'pad2': pads the batch or channel axis/);
    expect(errors[5]).toMatch(/MaxPool node 'maxp': pads \[1, 1, 1, 1\] .*may be negative/);
    expect(errors[6]).toMatch(/Transpose node 'tr': perm \[1, 0, 2, 3\] moves the batch axis/);
    expect(errors[7]).toMatch(/LRN node 'lrn': netc has no layer for ONNX operator LRN/);
  });
});

// ---------------------------------------------------------------------------------------------
// The ONNX project's backend tests (exported from PyTorch): each imports and reproduces its
// output, or is refused naming the operator netc does not support.

const BACKEND = '/work/shared/onnx-backend';

/** What netc does with each backend model, and why. */
const BACKEND_CASES: Record<string, { refuse?: RegExp; why: string }> = {
  test_AvgPool2d: { why: 'unpadded AveragePool -> average_pooling2d(2)' },
  test_AvgPool2d_stride: { why: 'AveragePool stride 2 -> average_pooling2d(2)' },
  test_BatchNorm2d_eval: { why: 'BatchNormalization (is_test) -> batch_normalization' },
  test_BatchNorm2d_momentum_eval: { why: 'momentum is unused at inference' },
  test_ConstantPad2d: { why: 'Pad with the value 2 -> padding2d(constant_value: 2)' },
  test_Conv2d: { why: 'Conv 3x2 kernel' },
  test_Conv2d_depthwise: { why: 'group == C_in -> depthwise_conv2d' },
  test_Conv2d_depthwise_padded: { why: 'depthwise with explicit padding 1' },
  test_Conv2d_depthwise_strided: { why: 'depthwise, strides 2' },
  test_Conv2d_depthwise_with_multiplier: { why: 'depthwise, depth_multiplier 2' },
  test_Conv2d_dilated: { why: 'dilation 2 with stride 2 and padding 1' },
  test_Conv2d_groups: { why: 'group 2 -> conv2d(groups: 2)' },
  test_Conv2d_groups_thnn: { why: 'group 2 -> conv2d(groups: 2)' },
  test_Conv2d_no_bias: { why: 'use_bias: false' },
  test_Conv2d_padding: { why: 'padding 1, stride 2' },
  test_Conv2d_strided: { why: 'stride 2' },
  test_ConvTranspose2d: {
    why: "PyTorch's pads 1 + output_padding 1: same padding, kernel padded with zero taps, output_shape",
  },
  test_ConvTranspose2d_no_bias: { why: 'as above, without bias' },
  test_ELU: { why: 'Elu alpha 2 on a [2, 5] example' },
  test_LeakyReLU: { why: 'LeakyRelu 0.01' },
  test_LeakyReLU_with_negval: { why: 'LeakyRelu 0.5' },
  test_Linear: { why: 'Gemm transB (opset 6 broadcast) -> dense' },
  test_Linear_no_bias: { why: 'Transpose of the weight folded at import; MatMul -> dense' },
  test_MaxPool2d: { why: 'pads 1 on 7x7, k3 s2 equal TensorFlow same' },
  test_PReLU_2d: { why: 'PRelu with a slope [1] -> prelu(shared_axes: [1, 2, 3])' },
  test_PixelShuffle: { why: 'Reshape, 6-D Transpose, Reshape -> reshape, permute, reshape' },
  test_ReLU: { why: 'Relu' },
  test_ReflectionPad2d: { why: "Pad mode 'reflect' -> padding2d(mode: reflect)" },
  test_Sigmoid: { why: 'Sigmoid' },
  test_Softmax: { why: 'Softmax axis 1 of [N, 20] -> softmax' },
  test_Tanh: { why: 'Tanh' },
  test_ZeroPad2d: { why: 'constant 0 Pad -> zero_padding2d([[3, 4], [1, 2]])' },
  test_operator_clip: { why: 'Clip(-0.5, 0.5) -> clip(-0.5, 0.5)' },
  test_operator_concat2: { why: 'Concat axis 1 of [N, 3] inputs' },
  test_operator_conv: { why: 'a large Conv (batch 20, 16 -> 13 channels)' },
  test_operator_convtranspose: {
    why: 'k3 s3 pads 1 output_padding 2: same padding with a 5x5 zero-padded kernel',
  },
  test_operator_flatten: { why: 'Flatten axis 1 (C, H, W order, as channels_first flatten)' },
  test_operator_maxpool: {
    refuse: /MaxPool node #0 .*2-D images only/,
    why: '1-D max pooling over [N, 16, 50]; netc pools 2-D images',
  },
  test_operator_pad: { why: "Pad mode 'reflect' -> padding2d(mode: reflect)" },
  test_softmax_lastdim: { why: 'Softmax over the last axis' },
};

const backendDirs = existsSync(BACKEND)
  ? readdirSync(BACKEND)
      .filter((d) => d.startsWith('test_'))
      .sort()
  : [];

describe.skipIf(backendDirs.length === 0)('importOnnx: the ONNX backend test models', () => {
  test('the table states every model in the folder', () => {
    expect(backendDirs).toEqual(Object.keys(BACKEND_CASES).sort());
  });

  const cases = backendDirs.map((dir) => ({
    dir,
    what: BACKEND_CASES[dir]?.refuse ? 'refused' : 'imported',
    why: BACKEND_CASES[dir]?.why ?? '?',
  }));
  test.each(cases)('$dir: $what ($why)', async ({ dir }) => {
    const c = BACKEND_CASES[dir]!;
    const bytes = new Uint8Array(readFileSync(path.join(BACKEND, dir, 'model.onnx')));
    const r = importOnnx(bytes, { name: dir.slice(5) });
    if (c.refuse) {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.errors).toHaveLength(1);
        expect(r.errors[0]).toMatch(c.refuse);
      }
      return;
    }
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const data = path.join(BACKEND, dir, 'test_data_set_0');
    const feeds: Float32Array[] = [];
    for (let i = 0; existsSync(path.join(data, `input_${i}.pb`)); i++)
      feeds.push(decodeTensor(readFileSync(path.join(data, `input_${i}.pb`))).data as Float32Array);
    const want = decodeTensor(readFileSync(path.join(data, 'output_0.pb')));
    for (const target of ['wasm', 'ts'] as const) {
      const got = await runImported(r.source, r.weights, feeds, target);
      expectClose(got[0]!, want.data as Float32Array, `${dir} ${target}`);
    }
  });
});

describe('netc import (command line)', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
  };

  test.skipIf(backendDirs.length === 0)(
    'writes NAME.net and NAME.safetensors that build',
    async () => {
      const o = io();
      const net = path.join(tmp, 'cli', 'conv.net');
      const w = path.join(tmp, 'cli', 'conv.safetensors');
      const code = await importCommand(
        path.join(BACKEND, 'test_Conv2d_groups', 'model.onnx'),
        { out: net, weights: w },
        o.io,
      );
      expect(o.err).toEqual([]);
      expect(code).toBe(0);
      const source = readFileSync(net, 'utf8');
      expect(source).toContain('network conv(data_format: channels_first)');
      const g = compileSource(source).graphs[0]!;
      const built = await buildNetwork(g, {
        target: 'ts',
        seed: 0,
        weights: new Uint8Array(readFileSync(w)),
      });
      expect(built.ok).toBe(true);
    },
  );

  test.skipIf(backendDirs.length === 0)(
    'an unsupported model: exit 1, every reason, nothing written',
    async () => {
      const o = io();
      const net = path.join(tmp, 'cli', 'maxpool1d.net');
      const code = await importCommand(
        path.join(BACKEND, 'test_operator_maxpool', 'model.onnx'),
        { out: net },
        o.io,
      );
      expect(code).toBe(1);
      expect(o.err.join('\n')).toMatch(/MaxPool node #0 .*2-D images only/);
      expect(existsSync(net)).toBe(false);
      expect(existsSync(net.replace(/\.net$/, '.safetensors'))).toBe(false);
    },
  );

  test.skipIf(backendDirs.length === 0)(
    'netc import then netc export through the command line gives the model back',
    async () => {
      const o = io();
      const dir = path.join(tmp, 'main');
      const model = path.join(BACKEND, 'test_Conv2d_depthwise_padded', 'model.onnx');
      const net = path.join(dir, 'dw.net');
      expect(await main(['import', model, '-o', net], o.io)).toBe(0);
      const onnx = path.join(dir, 'dw.onnx');
      const w = path.join(dir, 'dw.safetensors');
      expect(await main(['export', net, '--onnx', onnx, '--weights', w], o.io)).toBe(0);
      expect(o.err).toEqual([]);
      const data = path.join(BACKEND, 'test_Conv2d_depthwise_padded', 'test_data_set_0');
      const x = decodeTensor(readFileSync(path.join(data, 'input_0.pb')));
      const want = decodeTensor(readFileSync(path.join(data, 'output_0.pb')));
      // The source's names come back: the module's keys are the ONNX model's ('0' in, '3' out).
      const got = await runOnnx(new Uint8Array(readFileSync(onnx)), {
        '0': { dims: x.dims, data: x.data as Float32Array },
      });
      expect(Object.keys(got)).toEqual(['3']);
      expectClose(got['3']!.data, want.data as Float32Array, 'exported import');
    },
  );

  test('a missing file or -o is bad usage (exit 2)', async () => {
    const o = io();
    expect(
      await importCommand(path.join(tmp, 'nope.onnx'), { out: path.join(tmp, 'x.net') }, o.io),
    ).toBe(2);
    expect(await importCommand(path.join(tmp, 'nope.onnx'), {}, o.io)).toBe(2);
  });

  test('a file that is not ONNX: exit 1 with the decoder message', async () => {
    const o = io();
    const f = path.join(tmp, 'junk.onnx');
    writeFileSync(f, 'not a model at all');
    expect(await importCommand(f, { out: path.join(tmp, 'junk.net') }, o.io)).toBe(1);
    expect(o.err[0]).toMatch(/junk\.onnx: error: /);
  });
});
