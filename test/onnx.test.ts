// Tests for the ONNX protobuf codec (src/onnx), with onnxruntime-node as the external oracle.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  DataType,
  DecodeError,
  decodeModel,
  decodeTensor,
  encodeModel,
  encodeTensor,
  float,
  getAttribute,
  graph,
  graphAttr,
  int,
  int64Tensor,
  ints,
  model,
  modelProto,
  node,
  str,
  tensor,
  valueInfo,
} from '../src/onnx/model.js';
import type { ModelProto, TensorProto } from '../src/onnx/model.js';
import { ProtoWriter } from '../src/onnx/proto.js';
import { runOnnx } from './helpers/ort.js';
import type { FloatTensor } from './helpers/ort.js';
import { randomFloats } from './helpers/random.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const size = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let m = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs((actual[i] ?? NaN) - (expected[i] ?? NaN));
    m = Math.max(m, Number.isNaN(d) ? Infinity : d);
  }
  return m;
}

function at(a: ArrayLike<number>, i: number): number {
  const v = a[i];
  if (v === undefined) throw new Error(`index ${i} out of range`);
  return v;
}

/** Bitwise equality of two typed arrays (fast, unlike a deep toEqual on millions of elements). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return x.equals(y);
}

/** Run a model with a single input 'x' and return its single output. */
async function runSingle(bytes: Uint8Array, x: FloatTensor): Promise<FloatTensor> {
  const out = await runOnnx(bytes, { x });
  const y = Object.values(out);
  expect(y).toHaveLength(1);
  return y[0] as FloatTensor;
}

// ---------------------------------------------------------------------------------------------
// Naive float64 reference operators (NCHW activations, OIHW weights)

type Dims4 = [number, number, number, number];

interface Conv2dParams {
  pads: [number, number, number, number]; // top, left, bottom, right (ONNX order)
  strides: [number, number];
  dilations: [number, number];
  group: number;
}

function refConv2d(
  x: Float32Array,
  [N, C, H, W]: Dims4,
  w: Float32Array,
  [M, Cg, KH, KW]: Dims4,
  b: Float32Array | null,
  { pads: [pt, pl, pb, pr], strides: [sh, sw], dilations: [dh, dw], group }: Conv2dParams,
): { dims: number[]; data: Float64Array } {
  const OH = Math.floor((H + pt + pb - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + pl + pr - dw * (KW - 1) - 1) / sw) + 1;
  const Mg = M / group;
  const out = new Float64Array(N * M * OH * OW);
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++) {
      const g = Math.floor(m / Mg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = b ? at(b, m) : 0;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * sh - pt + kh * dh;
                const iw = ow * sw - pl + kw * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc +=
                  at(x, ((n * C + g * Cg + c) * H + ih) * W + iw) *
                  at(w, ((m * Cg + c) * KH + kh) * KW + kw);
              }
          out[((n * M + m) * OH + oh) * OW + ow] = acc;
        }
    }
  return { dims: [N, M, OH, OW], data: out };
}

/** ConvTranspose; weights are [C, M/group, KH, KW]. */
function refConvTranspose2d(
  x: Float32Array,
  [N, C, H, W]: Dims4,
  w: Float32Array,
  [, Mg, KH, KW]: Dims4,
  b: Float32Array | null,
  p: Conv2dParams & { outputPadding: [number, number] },
): { dims: number[]; data: Float64Array } {
  const [pt, pl, pb, pr] = p.pads;
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilations;
  const Cg = C / p.group;
  const M = Mg * p.group;
  const OH = sh * (H - 1) + p.outputPadding[0] + (KH - 1) * dh + 1 - pt - pb;
  const OW = sw * (W - 1) + p.outputPadding[1] + (KW - 1) * dw + 1 - pl - pr;
  const out = new Float64Array(N * M * OH * OW);
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++)
      for (let i = 0; i < OH * OW; i++) out[(n * M + m) * OH * OW + i] = b ? at(b, m) : 0;
  for (let n = 0; n < N; n++)
    for (let g = 0; g < p.group; g++)
      for (let c = 0; c < Cg; c++)
        for (let ih = 0; ih < H; ih++)
          for (let iw = 0; iw < W; iw++) {
            const xv = at(x, ((n * C + g * Cg + c) * H + ih) * W + iw);
            for (let m = 0; m < Mg; m++)
              for (let kh = 0; kh < KH; kh++)
                for (let kw = 0; kw < KW; kw++) {
                  const oh = ih * sh + kh * dh - pt;
                  const ow = iw * sw + kw * dw - pl;
                  if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                  const o = ((n * M + g * Mg + m) * OH + oh) * OW + ow;
                  out[o] = at(out, o) + xv * at(w, (((g * Cg + c) * Mg + m) * KH + kh) * KW + kw);
                }
          }
  return { dims: [N, M, OH, OW], data: out };
}

function refMaxPool2d(
  x: Float32Array,
  [N, C, H, W]: Dims4,
  [KH, KW]: [number, number],
  [pt, pl, pb, pr]: [number, number, number, number],
  [sh, sw]: [number, number],
): { dims: number[]; data: Float64Array } {
  const OH = Math.floor((H + pt + pb - KH) / sh) + 1;
  const OW = Math.floor((W + pl + pr - KW) / sw) + 1;
  const out = new Float64Array(N * C * OH * OW);
  for (let nc = 0; nc < N * C; nc++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        let m = -Infinity;
        for (let kh = 0; kh < KH; kh++)
          for (let kw = 0; kw < KW; kw++) {
            const ih = oh * sh - pt + kh;
            const iw = ow * sw - pl + kw;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            m = Math.max(m, at(x, (nc * H + ih) * W + iw));
          }
        out[(nc * OH + oh) * OW + ow] = m;
      }
  return { dims: [N, C, OH, OW], data: out };
}

/** Y = alpha * A * B^T + beta * C, with A [M, K], B [N, K], C [N]. */
function refGemmTransB(
  a: Float32Array,
  M: number,
  K: number,
  bm: Float32Array,
  N: number,
  c: Float32Array,
  alpha: number,
  beta: number,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += at(a, i * K + k) * at(bm, j * K + k);
      out[i * N + j] = alpha * acc + beta * at(c, j);
    }
  return out;
}

// ---------------------------------------------------------------------------------------------
// (a) The encoder: hand-built one-node models run in onnxruntime and match naive loops

describe('encoder: one-node models run in onnxruntime and match naive loops', () => {
  const convCases: {
    name: string;
    x: [number, number, number, number];
    w: [number, number, number, number];
    bias: boolean;
    p: Conv2dParams;
  }[] = [
    {
      name: 'plain 3x3',
      x: [1, 3, 8, 8],
      w: [4, 3, 3, 3],
      bias: true,
      p: { pads: [0, 0, 0, 0], strides: [1, 1], dilations: [1, 1], group: 1 },
    },
    {
      name: 'asymmetric pads, strides 2x1, no bias',
      x: [2, 3, 9, 7],
      w: [5, 3, 3, 2],
      bias: false,
      p: { pads: [1, 0, 2, 1], strides: [2, 1], dilations: [1, 1], group: 1 },
    },
    {
      name: 'grouped (2), dilated',
      x: [1, 4, 10, 9],
      w: [6, 2, 3, 3],
      bias: true,
      p: { pads: [2, 2, 2, 2], strides: [1, 2], dilations: [2, 2], group: 2 },
    },
    {
      name: 'depthwise, multiplier 2',
      x: [1, 3, 6, 6],
      w: [6, 1, 3, 3],
      bias: true,
      p: { pads: [1, 1, 1, 1], strides: [1, 1], dilations: [1, 1], group: 3 },
    },
  ];

  test.each(convCases)('Conv: $name', async ({ x: xd, w: wd, bias, p }) => {
    const x = randomFloats(size(xd), 1);
    const w = randomFloats(size(wd), 2);
    const b = bias ? randomFloats(wd[0], 3) : null;
    const inits: TensorProto[] = [tensor('W', wd, w)];
    if (b) inits.push(tensor('B', [wd[0]], b));
    const g = graph(
      [
        node(
          'Conv',
          b ? ['x', 'W', 'B'] : ['x', 'W'],
          ['y'],
          {
            kernel_shape: ints([wd[2], wd[3]]),
            pads: ints(p.pads),
            strides: ints(p.strides),
            dilations: ints(p.dilations),
            group: int(p.group),
          },
          'conv0',
        ),
      ],
      [valueInfo('x', xd)],
      [valueInfo('y', [null, null, null, null])],
      inits,
    );
    const expected = refConv2d(x, xd, w, wd, b, p);
    const y = await runSingle(model(g), { dims: xd, data: x });
    expect(y.dims).toEqual(expected.dims);
    expect(maxAbsDiff(y.data, expected.data)).toBeLessThan(1e-4);
  });

  test('Gemm: transB, float alpha/beta, bias broadcast', async () => {
    const [M, K, N] = [3, 7, 5];
    const a = randomFloats(M * K, 4);
    const bm = randomFloats(N * K, 5);
    const c = randomFloats(N, 6);
    const g = graph(
      [
        node('Gemm', ['x', 'B', 'C'], ['y'], {
          alpha: float(0.5),
          beta: float(2),
          transB: int(1),
        }),
      ],
      [valueInfo('x', [M, K])],
      [valueInfo('y', [M, N])],
      [tensor('B', [N, K], bm), tensor('C', [N], c)],
    );
    const y = await runSingle(model(g), { dims: [M, K], data: a });
    expect(y.dims).toEqual([M, N]);
    expect(maxAbsDiff(y.data, refGemmTransB(a, M, K, bm, N, c, 0.5, 2))).toBeLessThan(1e-4);
  });

  test('MaxPool: 3x3 kernel, stride 2, asymmetric pads', async () => {
    const xd = [2, 3, 9, 8] as Dims4;
    const x = randomFloats(size(xd), 7);
    const pads: [number, number, number, number] = [1, 0, 1, 1];
    const g = graph(
      [
        node('MaxPool', ['x'], ['y'], {
          kernel_shape: ints([3, 3]),
          pads: ints(pads),
          strides: ints([2, 2]),
        }),
      ],
      [valueInfo('x', xd)],
      [valueInfo('y', ['N', 'C', 'H', 'W'])],
    );
    const expected = refMaxPool2d(x, xd, [3, 3], pads, [2, 2]);
    const y = await runSingle(model(g), { dims: xd, data: x });
    expect(y.dims).toEqual(expected.dims);
    expect(maxAbsDiff(y.data, expected.data)).toBe(0);
  });

  test.each([
    {
      name: 'stride 2, pads 1, output_padding 1',
      group: 1,
      C: 3,
      Mg: 4,
      op: [1, 1] as [number, number],
    },
    { name: 'grouped (2), stride 2', group: 2, C: 4, Mg: 3, op: [0, 0] as [number, number] },
  ])('ConvTranspose: $name', async ({ group, C, Mg, op }) => {
    const xd = [1, C, 5, 4] as Dims4;
    const wd = [C, Mg, 3, 3] as Dims4;
    const x = randomFloats(size(xd), 8);
    const w = randomFloats(size(wd), 9);
    const b = randomFloats(Mg * group, 10);
    const p = {
      pads: [1, 1, 1, 1] as Dims4,
      strides: [2, 2] as [number, number],
      dilations: [1, 1] as [number, number],
      group,
      outputPadding: op,
    };
    const g = graph(
      [
        node('ConvTranspose', ['x', 'W', 'B'], ['y'], {
          kernel_shape: ints([3, 3]),
          pads: ints(p.pads),
          strides: ints(p.strides),
          output_padding: ints(op),
          group: int(group),
        }),
      ],
      [valueInfo('x', xd)],
      [valueInfo('y', [null, null, null, null])],
      [tensor('W', wd, w), tensor('B', [Mg * group], b)],
    );
    const expected = refConvTranspose2d(x, xd, w, wd, b, p);
    const y = await runSingle(model(g), { dims: xd, data: x });
    expect(y.dims).toEqual(expected.dims);
    expect(maxAbsDiff(y.data, expected.data)).toBeLessThan(1e-4);
  });

  test('negative ints: Reshape by an INT64 initializer [0, -1], Softmax axis -1', async () => {
    const xd = [2, 3, 2, 2];
    const x = randomFloats(size(xd), 11);
    const g = graph(
      [node('Reshape', ['x', 'shape'], ['r']), node('Softmax', ['r'], ['y'], { axis: int(-1) })],
      [valueInfo('x', xd)],
      [valueInfo('y', [2, 12])],
      [int64Tensor('shape', [2], [0, -1])],
    );
    const y = await runSingle(model(g, 13), { dims: xd, data: x });
    expect(y.dims).toEqual([2, 12]);
    const expected = new Float64Array(24);
    for (let r = 0; r < 2; r++) {
      let max = -Infinity;
      for (let i = 0; i < 12; i++) max = Math.max(max, at(x, r * 12 + i));
      let sum = 0;
      for (let i = 0; i < 12; i++) sum += Math.exp(at(x, r * 12 + i) - max);
      for (let i = 0; i < 12; i++) expected[r * 12 + i] = Math.exp(at(x, r * 12 + i) - max) / sum;
    }
    expect(maxAbsDiff(y.data, expected)).toBeLessThan(1e-6);
    // And the same values come back out of the bytes.
    const m = decodeModel(model(g, 13));
    expect(m.graph.initializers[0]?.data).toEqual([0, -1]);
    expect(getAttribute(m.graph.nodes[1]!, 'axis')).toEqual({
      name: 'axis',
      type: 'int',
      value: -1,
    });
    expect(m.opsetImports).toEqual([{ domain: '', version: 13 }]);
    expect(m.irVersion).toBe(7);
  });

  test('builders refuse ambiguous or invalid values with a clear Error', () => {
    expect(() => node('LeakyRelu', ['x'], ['y'], { alpha: 0.1 as never })).toThrow(/float\(\)/);
    expect(() =>
      encodeModel(modelProto(graph([node('X', [], [], { k: ints([1.5]) })], [], []))),
    ).toThrow(/not an integer/);
    expect(() =>
      encodeTensor({
        name: 't',
        dims: [2, 2],
        dataType: DataType.FLOAT,
        data: new Float32Array(3),
      }),
    ).toThrow(/need 4 elements/);
  });
});

// ---------------------------------------------------------------------------------------------
// TensorProto decoding paths not used by the backend test files (which all use raw_data)

describe('decodeTensor data encodings', () => {
  test('float_data, packed and unpacked, equals raw_data', () => {
    const values = [1.5, -2.25, 0, 3e-8, 1e30, -0];
    const packed = new ProtoWriter()
      .int64(1, 2)
      .int64(1, 3)
      .int64(2, DataType.FLOAT)
      .string(8, 'f');
    packed.packedFloats(4, values);
    const unpacked = new ProtoWriter()
      .int64(1, 2)
      .int64(1, 3)
      .int64(2, DataType.FLOAT)
      .string(8, 'f');
    for (const v of values) unpacked.float(4, v);
    const fromRaw = decodeTensor(encodeTensor(tensor('f', [2, 3], values)));
    for (const bytes of [packed.finish(), unpacked.finish()]) {
      const t = decodeTensor(bytes);
      expect(t).toEqual(fromRaw);
      expect(t.data).toBeInstanceOf(Float32Array);
      expect(Array.from(t.data)).toEqual(values.map((v) => Math.fround(v)));
    }
  });

  test('int64_data (packed and unpacked) and raw int64, including negatives and sentinels', () => {
    const values = [0, -1, 1, 127, 128, -129, 2 ** 40, -(2 ** 40), 2 ** 53 - 1];
    const packed = new ProtoWriter().int64(1, values.length).int64(2, DataType.INT64);
    packed.packedInt64s(7, values);
    const unpacked = new ProtoWriter().int64(1, values.length).int64(2, DataType.INT64);
    for (const v of values) unpacked.int64(7, v);
    for (const bytes of [
      packed.finish(),
      unpacked.finish(),
      encodeTensor(int64Tensor('', [values.length], values)),
    ]) {
      expect(decodeTensor(bytes)).toEqual({
        name: '',
        dims: [values.length],
        dataType: DataType.INT64,
        data: values,
      });
    }
    // INT64_MAX / INT64_MIN (Slice's "to the end" sentinels) saturate rather than wrap.
    const sentinels = decodeTensor(encodeTensor(int64Tensor('s', [2], [2 ** 63, -(2 ** 63)])));
    expect(sentinels.data).toEqual([2 ** 63, -(2 ** 63)]);
  });

  test('double_data and raw doubles', () => {
    const values = [Math.PI, -1e300, 5e-324];
    const w = new ProtoWriter().int64(1, 3).int64(2, DataType.DOUBLE).packedDoubles(10, values);
    const t = decodeTensor(w.finish());
    expect(t.data).toBeInstanceOf(Float64Array);
    expect(Array.from(t.data)).toEqual(values);
    const back = decodeTensor(encodeTensor(t));
    expect(back).toEqual(t);
  });

  test('a scalar has dims [] and one element', () => {
    const t = decodeTensor(encodeTensor(tensor('s', [], [42])));
    expect(t.dims).toEqual([]);
    expect(Array.from(t.data)).toEqual([42]);
  });
});

// ---------------------------------------------------------------------------------------------
// (b), (c) ONNX's own backend tests (/work/shared/onnx-backend): decode, run, round-trip

const BACKEND = '/work/shared/onnx-backend';

/**
 * The op_types of every backend model, as decoded. All are ir_version 3, opset 6 (PixelShuffle:
 * opset 9), exported by PyTorch 0.3. Listing them here keeps the decoder and the data honest: a
 * model added or changed in the folder fails the test until this table says so.
 */
const BACKEND_OPS: Record<string, string[]> = {
  test_AvgPool2d: ['AveragePool'],
  test_AvgPool2d_stride: ['AveragePool'],
  test_BatchNorm2d_eval: ['BatchNormalization'],
  test_BatchNorm2d_momentum_eval: ['BatchNormalization'],
  test_ConstantPad2d: ['Pad'],
  test_Conv2d: ['Conv'],
  test_Conv2d_depthwise: ['Conv'],
  test_Conv2d_depthwise_padded: ['Conv'],
  test_Conv2d_depthwise_strided: ['Conv'],
  test_Conv2d_depthwise_with_multiplier: ['Conv'],
  test_Conv2d_dilated: ['Conv'],
  test_Conv2d_groups: ['Conv'],
  test_Conv2d_groups_thnn: ['Conv'],
  test_Conv2d_no_bias: ['Conv'],
  test_Conv2d_padding: ['Conv'],
  test_Conv2d_strided: ['Conv'],
  test_ConvTranspose2d: ['ConvTranspose'],
  test_ConvTranspose2d_no_bias: ['ConvTranspose'],
  test_ELU: ['Elu'],
  test_LeakyReLU: ['LeakyRelu'],
  test_LeakyReLU_with_negval: ['LeakyRelu'],
  test_Linear: ['Gemm'],
  test_Linear_no_bias: ['Transpose', 'MatMul'],
  test_MaxPool2d: ['MaxPool'],
  test_PReLU_2d: ['PRelu'],
  test_PixelShuffle: ['Constant', 'Reshape', 'Transpose', 'Constant', 'Reshape'],
  test_ReLU: ['Relu'],
  test_ReflectionPad2d: ['Pad'],
  test_Sigmoid: ['Sigmoid'],
  test_Softmax: ['Softmax'],
  test_Tanh: ['Tanh'],
  test_ZeroPad2d: ['Pad'],
  test_operator_clip: ['Clip'],
  test_operator_concat2: ['Concat'],
  test_operator_conv: ['Conv'],
  test_operator_convtranspose: ['ConvTranspose'],
  test_operator_flatten: ['Flatten'],
  test_operator_maxpool: ['MaxPool'],
  test_operator_pad: ['Pad'],
  test_softmax_lastdim: ['Softmax'],
};

/**
 * onnxruntime 1.30 has no kernels for these ops at the opset-6 versions the files use
 * (AveragePool-1, BatchNormalization-6, Gemm-6, PRelu-6). Models holding them are restamped to
 * opset 7 first: BatchNormalization loses `is_test` and Gemm loses `broadcast` (both removed in
 * opset 7, with no change of meaning for these models); AveragePool-7 adds count_include_pad
 * (default 0), irrelevant here as the pools are unpadded; PRelu's slope is [1], which broadcasts
 * the same under either version.
 */
const NEEDS_OPSET_7 = new Set(['AveragePool', 'BatchNormalization', 'Gemm', 'PRelu']);

function toOpset7(m: ModelProto): ModelProto {
  const drop: Record<string, string> = { BatchNormalization: 'is_test', Gemm: 'broadcast' };
  return {
    ...m,
    opsetImports: m.opsetImports.map((o) =>
      o.domain === '' && o.version < 7 ? { ...o, version: 7 } : o,
    ),
    graph: {
      ...m.graph,
      nodes: m.graph.nodes.map((n) => ({
        ...n,
        attributes: n.attributes.filter((a) => a.name !== drop[n.opType]),
      })),
    },
  };
}

interface BackendCase {
  dir: string;
  bytes: Uint8Array;
  inputs: Uint8Array[];
  output: Uint8Array;
}

/** A file's bytes as a plain Uint8Array (not a Buffer, so byte comparisons are like for like). */
function read(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function loadCase(dir: string): BackendCase {
  const data = join(BACKEND, dir, 'test_data_set_0');
  const inputs: Uint8Array[] = [];
  for (let i = 0; existsSync(join(data, `input_${i}.pb`)); i++) {
    inputs.push(read(join(data, `input_${i}.pb`)));
  }
  return {
    dir,
    bytes: read(join(BACKEND, dir, 'model.onnx')),
    inputs,
    output: read(join(data, 'output_0.pb')),
  };
}

/** Feeds for a decoded model: input_i.pb goes to the i-th graph input that is not an initializer. */
function feedsFor(m: ModelProto, c: BackendCase): Record<string, FloatTensor> {
  const inits = new Set(m.graph.initializers.map((t) => t.name));
  const inputs = m.graph.inputs.filter((v) => !inits.has(v.name));
  expect(inputs).toHaveLength(c.inputs.length);
  const feeds: Record<string, FloatTensor> = {};
  inputs.forEach((v, i) => {
    const t = decodeTensor(c.inputs[i] as Uint8Array);
    expect(t.dataType).toBe(DataType.FLOAT);
    expect(t.dims).toEqual(v.shape);
    feeds[v.name] = { dims: t.dims, data: t.data as Float32Array };
  });
  return feeds;
}

/** The bytes onnxruntime is given for a backend model: the file itself unless it needs opset 7. */
function runnable(m: ModelProto, original: Uint8Array): Uint8Array {
  return m.graph.nodes.some((n) => NEEDS_OPSET_7.has(n.opType))
    ? encodeModel(toOpset7(m))
    : original;
}

const backendDirs = existsSync(BACKEND)
  ? readdirSync(BACKEND)
      .filter((d) => d.startsWith('test_'))
      .sort()
  : [];

describe.skipIf(backendDirs.length === 0)('ONNX backend test models', () => {
  test('the op table lists exactly the models in the folder', () => {
    expect(backendDirs).toEqual(Object.keys(BACKEND_OPS).sort());
  });

  const cases = backendDirs.map((dir) => ({ dir, ops: (BACKEND_OPS[dir] ?? ['?']).join(', ') }));

  test.each(cases)(
    '$dir [$ops]: decodes, runs in onnxruntime, reproduces output_0',
    async ({ dir }) => {
      const c = loadCase(dir);
      const m = decodeModel(c.bytes);
      expect(m.graph.nodes.map((n) => n.opType)).toEqual(BACKEND_OPS[dir]);
      expect(m.opsetImports.length).toBeGreaterThan(0);
      const expected = decodeTensor(c.output);
      expect(expected.dataType).toBe(DataType.FLOAT);
      expect(expected.dims).toEqual(m.graph.outputs[0]?.shape);

      const out = await runOnnx(runnable(m, c.bytes), feedsFor(m, c));
      const y = out[m.graph.outputs[0]?.name ?? ''];
      expect(y).toBeDefined();
      expect(y!.dims).toEqual(expected.dims);
      expect(maxAbsDiff(y!.data, expected.data)).toBeLessThan(1e-4);
    },
  );

  test.each(cases)(
    '$dir: encode(decode(model)) is stable and runs identically',
    async ({ dir }) => {
      const c = loadCase(dir);
      const m = decodeModel(c.bytes);
      const bytes2 = encodeModel(m);
      const m2 = decodeModel(bytes2);
      expect(m2).toEqual(m);
      expect(encodeModel(m2)).toEqual(bytes2);
      for (const input of c.inputs)
        expect(sameBytes(encodeTensor(decodeTensor(input)), input)).toBe(true);

      const feeds = feedsFor(m, c);
      const original = await runOnnx(runnable(m, c.bytes), feeds);
      const roundTripped = await runOnnx(runnable(m2, bytes2), feeds);
      expect(Object.keys(roundTripped)).toEqual(Object.keys(original));
      for (const [name, t] of Object.entries(original)) {
        expect(roundTripped[name]?.dims).toEqual(t.dims);
        expect(sameBytes(roundTripped[name]!.data, t.data), `output ${name} bitwise equal`).toBe(
          true,
        );
      }
    },
  );
});

// ---------------------------------------------------------------------------------------------
// (d) The reader: malformed bytes give a clear DecodeError, never a hang or another error

/** Decode, returning the error (a DecodeError, else the test fails) or null on success. */
function decodeError(f: () => unknown): DecodeError | null {
  try {
    f();
    return null;
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`expected a DecodeError, got ${String(e)}`);
    expect(e.message).toMatch(/^(malformed protobuf at byte \d+|invalid ONNX): /);
    return e;
  }
}

function smallModel(): Uint8Array {
  return model(
    graph(
      [
        node('Conv', ['x', 'W'], ['c'], { kernel_shape: ints([1, 1]), pads: ints([0, 0, 0, 0]) }),
        node('LeakyRelu', ['c'], ['y'], { alpha: float(0.1) }),
        node('Pad', ['y', 'pads'], ['z'], { mode: str('constant') }),
      ],
      [valueInfo('x', [1, 2, 3, 3])],
      [valueInfo('z', [1, 2, 5, 5])],
      [tensor('W', [2, 2, 1, 1], [1, 2, 3, 4]), int64Tensor('pads', [8], [0, 0, 1, 1, 0, 0, 1, 1])],
    ),
    13,
  );
}

/** Every length below 16 KiB; for bigger files the first 4096 and ~500 spread over the rest. */
function prefixLengths(len: number): number[] {
  if (len <= 16384) return Array.from({ length: len }, (_, i) => i);
  const out = Array.from({ length: 4096 }, (_, i) => i);
  const step = Math.ceil((len - 4096) / 500);
  for (let n = 4096; n < len; n += step) out.push(n);
  out.push(len - 1);
  return out;
}

describe('reader robustness', () => {
  test('every strict prefix of a model is rejected', () => {
    const bytes = smallModel();
    expect(decodeError(() => decodeModel(bytes))).toBeNull();
    for (let n = 0; n < bytes.length; n++) {
      expect(
        decodeError(() => decodeModel(bytes.subarray(0, n))),
        `prefix of ${n} bytes`,
      ).not.toBeNull();
    }
  });

  test.skipIf(backendDirs.length === 0)(
    'every strict prefix of every backend model and tensor file is rejected',
    () => {
      for (const dir of backendDirs) {
        const c = loadCase(dir);
        for (const [bytes, decode] of [
          [c.bytes, decodeModel],
          [c.inputs[0] as Uint8Array, decodeTensor],
          [c.output, decodeTensor],
        ] as const) {
          for (const n of prefixLengths(bytes.length)) {
            expect(
              decodeError(() => decode(bytes.subarray(0, n))),
              `${dir}: ${n} bytes`,
            ).not.toBeNull();
          }
        }
      }
    },
  );

  test('specific malformations give specific messages', () => {
    const cases: [number[], RegExp][] = [
      [[0x08], /truncated varint/],
      [
        [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        /longer than 10 bytes/,
      ],
      [[0x3a, 0x05, 0x0a], /truncated length-delimited field/],
      [[0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f], /truncated length-delimited field/],
      [[0x3a, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /varint exceeds 32 bits/],
      [[0x00, 0x01], /field number 0/],
      [[0x0b], /unsupported wire type 3/],
      [[0x0e], /unsupported wire type 6/],
      [[0x7d, 0x00, 0x00], /truncated fixed32/],
      [[0x79, 0, 0, 0, 0, 0, 0, 0], /truncated fixed64/],
      [[0x0a, 0x00], /ir_version.* wire type 2/],
      [[0x08, 0x07], /no graph/],
      [[0x08, 0x07, 0x3a, 0x00], /no opset_import/],
      [[0x08, 0x07, 0x3a, 0x02, 0x0a, 0x00, 0x42, 0x02, 0x10, 0x0d], /node #0 has no op_type/],
      [[0x08, 0x07, 0x3a, 0x02, 0x7a, 0x00], /sparse initializers are not supported/],
    ];
    for (const [bytes, re] of cases) {
      const e = decodeError(() => decodeModel(new Uint8Array(bytes)));
      expect(e?.message, `bytes ${bytes.map((b) => b.toString(16))}`).toMatch(re);
    }
    const tensorCases: [number[], RegExp][] = [
      [[0x08, 0x02, 0x10, 0x01, 0x4a, 0x04, 0, 0, 0, 0], /dims \[2\] need 2 elements, data has 1/],
      [[0x08, 0x01, 0x10, 0x01, 0x4a, 0x03, 0, 0, 0], /not a multiple of 4/],
      [[0x08, 0x01, 0x10, 0x08], /unsupported data type STRING/],
      [[0x08, 0x7f, 0x10, 0x01, 0x22, 0x00], /dims \[127\] need 127 elements, data has 0/],
      [
        [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x10, 0x01],
        /invalid dimension -1/,
      ],
      [[0x10, 0x01, 0x70, 0x01], /external data is not supported/],
      [[0x10, 0x01, 0x22, 0x03, 0, 0, 0], /not a multiple of 4/],
    ];
    for (const [bytes, re] of tensorCases) {
      const e = decodeError(() => decodeTensor(new Uint8Array(bytes)));
      expect(e?.message, `bytes ${bytes.map((b) => b.toString(16))}`).toMatch(re);
    }
  });

  test('deeply nested subgraphs are refused, not a stack overflow', () => {
    let g = graph([node('Identity', ['a'], ['b'])], [valueInfo('a', [1])], [valueInfo('b', [1])]);
    for (let i = 0; i < 40; i++) {
      g = graph([node('If', ['c'], ['b'], { then_branch: graphAttr(g) })], [], []);
    }
    const e = decodeError(() => decodeModel(model(g)));
    expect(e?.message).toMatch(/nested more than 32 deep/);
  });

  test('random bytes never decode to anything but a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        decodeError(() => decodeModel(bytes));
        decodeError(() => decodeTensor(bytes));
      }),
      { seed: 20240601, numRuns: 5000 },
    );
  });

  test('corrupted models either decode or give a DecodeError', () => {
    const base = smallModel();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          const bytes = base.slice();
          for (const [i, v] of edits) bytes[i] = v;
          decodeError(() => decodeModel(bytes));
        },
      ),
      { seed: 7, numRuns: 5000 },
    );
  });
});
