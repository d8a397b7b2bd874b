// netc import of Keras models: TF.js layers-models built here with @tensorflow/tfjs's tf.layers
// and saved through tf.io.withSaveHandler (the real tool's format), Keras-3-style configs, and
// .h5 / .keras files written here in Keras's layouts with h5wasm; imported, built on both
// targets, and compared with TF.js's model.predict.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main } from '../../src/cli/main.js';
import { compileSource } from '../../src/frontend/index.js';
import { importKerasFile, importLayersModel } from '../../src/import/keras/index.js';
import { readManifest } from '../../src/import/tfjs_weights.js';
import { parseSafetensors } from '../../src/runtime/safetensors.js';
import { runSource } from '../helpers/module.js';
import { rng } from '../helpers/random.js';
import {
  dataset,
  h5,
  keras2H5,
  save,
  setWeights,
  toKeras3,
  type Json,
  type Saved,
} from '../helpers/keras.js';
import { expectCloseToFramework } from '../helpers/tolerance.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'netc-keras-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await tf.setBackend('cpu');
});

let seed = 1000;

const reader =
  (files: Record<string, Uint8Array>) =>
  (p: string): Uint8Array | string =>
    files[p] ?? `no shard '${p}'`;

/** Random inputs, `batch` examples of each input shape. */
function feedsFor(model: tf.LayersModel, batch: number): Float32Array[] {
  const r = rng(seed++);
  return model.inputs.map((i) => {
    const n = (i.shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
    return Float32Array.from({ length: batch * n }, () => r() * 1.5);
  });
}

/** TF.js's predict, each output flattened. */
function predict(model: tf.LayersModel, feeds: Float32Array[], batch: number): Float32Array[] {
  const xs = model.inputs.map((inp, i) =>
    tf.tensor(feeds[i]!, [batch, ...(inp.shape.slice(1) as number[])]),
  );
  const y = model.predict(xs.length === 1 ? xs[0]! : xs);
  return (Array.isArray(y) ? y : [y]).map((t) => t.dataSync() as Float32Array);
}

let dirs = 0;

/** Builds an imported source on `target` with its weights; runs it on `feeds` (input order). */
const run = (
  source: string,
  weights: Uint8Array,
  feeds: Float32Array[],
  target: 'wasm' | 'ts',
): Promise<Float32Array[]> =>
  runSource(path.join(tmp, `m${dirs++}`), source, weights, feeds, target);

/** Imports a saved model, checks the feed/result names, builds both targets, compares with predict. */
async function check(
  model: tf.LayersModel,
  saved: Saved,
  batch = 2,
  targets: readonly ('wasm' | 'ts')[] = ['wasm', 'ts'],
): Promise<{ source: string; weights: Uint8Array }> {
  const r = importLayersModel(saved.json, reader({ 'group1-shard1of1.bin': saved.shard }), {
    name: 'imported',
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  const g = compileSource(r.source).graphs[0]!;
  expect(g.inputs.map((p) => p.name)).toEqual(model.inputNames);
  expect(g.outputs.map((p) => p.name)).toEqual(model.outputNames.map((n) => n.replace(/\/.*/, '')));
  const feeds = feedsFor(model, batch);
  const want = predict(model, feeds, batch);
  for (const target of targets) {
    const got = await run(r.source, r.weights, feeds, target);
    want.forEach((w, i) => expectCloseToFramework(got[i]!, w, `${target} ${model.outputNames[i]}`));
  }
  return { source: r.source, weights: r.weights };
}

// ------------------------------------------------------------------------------- models

/** MobileNetV1-style: a Sequential model of depthwise separable blocks. */
function mobilenetV1(): tf.Sequential {
  const L = tf.layers;
  return tf.sequential({
    name: 'mobilenet_v1',
    layers: [
      L.rescaling({ inputShape: [12, 12, 3], scale: 1 / 127.5, offset: -1, name: 'rescale' }),
      L.zeroPadding2d({
        padding: [
          [0, 1],
          [0, 1],
        ],
        name: 'conv1_pad',
      }),
      L.conv2d({ filters: 8, kernelSize: 3, strides: 2, useBias: false, name: 'conv1' }),
      L.batchNormalization({ name: 'conv1_bn' }),
      L.reLU({ maxValue: 6, name: 'conv1_relu' }),
      L.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'conv_dw_1' }),
      L.batchNormalization({ name: 'conv_dw_1_bn', epsilon: 1e-3 }),
      L.reLU({ maxValue: 6, name: 'conv_dw_1_relu' }),
      L.conv2d({ filters: 12, kernelSize: 1, useBias: false, name: 'conv_pw_1' }),
      L.batchNormalization({ name: 'conv_pw_1_bn' }),
      L.reLU({ maxValue: 6, name: 'conv_pw_1_relu' }),
      L.separableConv2d({
        filters: 16,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        name: 'sep',
        activation: 'relu',
      }),
      L.globalAveragePooling2d({ name: 'global_pool' }),
      L.dropout({ rate: 0.001, name: 'dropout' }),
      L.dense({ units: 5, activation: 'softmax', name: 'predictions' }),
    ],
  });
}

/** MobileNetV2-style: inverted residual blocks with Add, keras.applications' names. */
function mobilenetV2(): tf.LayersModel {
  const L = tf.layers;
  const inp = tf.input({ shape: [10, 10, 4], name: 'input_1' });
  let x = L.conv2d({
    filters: 8,
    kernelSize: 3,
    strides: 2,
    padding: 'same',
    useBias: false,
    name: 'Conv1',
  }).apply(inp) as tf.SymbolicTensor;
  x = L.batchNormalization({ name: 'bn_Conv1', epsilon: 1e-3, momentum: 0.999 }).apply(
    x,
  ) as tf.SymbolicTensor;
  x = L.reLU({ maxValue: 6, name: 'Conv1_relu' }).apply(x) as tf.SymbolicTensor;
  for (const b of [1, 2]) {
    const p = `block_${b}_`;
    let y = L.conv2d({ filters: 24, kernelSize: 1, useBias: false, name: `${p}expand` }).apply(
      x,
    ) as tf.SymbolicTensor;
    y = L.batchNormalization({ name: `${p}expand_BN` }).apply(y) as tf.SymbolicTensor;
    y = L.reLU({ maxValue: 6, name: `${p}expand_relu` }).apply(y) as tf.SymbolicTensor;
    y = L.depthwiseConv2d({
      kernelSize: 3,
      padding: 'same',
      useBias: false,
      name: `${p}depthwise`,
    }).apply(y) as tf.SymbolicTensor;
    y = L.batchNormalization({ name: `${p}depthwise_BN` }).apply(y) as tf.SymbolicTensor;
    y = L.reLU({ maxValue: 6, name: `${p}depthwise_relu` }).apply(y) as tf.SymbolicTensor;
    y = L.conv2d({ filters: 8, kernelSize: 1, useBias: false, name: `${p}project` }).apply(
      y,
    ) as tf.SymbolicTensor;
    y = L.batchNormalization({ name: `${p}project_BN` }).apply(y) as tf.SymbolicTensor;
    x = L.add({ name: `${p}add` }).apply([x, y]) as tf.SymbolicTensor;
  }
  const out = L.dense({ units: 3, name: 'logits' }).apply(
    L.globalAveragePooling2d({ name: 'pool' }).apply(x),
  ) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out, name: 'mobilenetv2_tiny' });
}

/** ResNet-style: conv/BN/relu with Add shortcuts, Activation layers, pooling of both kinds. */
function resnet(): tf.LayersModel {
  const L = tf.layers;
  const inp = tf.input({ shape: [11, 9, 3], name: 'image' });
  let x = L.zeroPadding2d({ padding: 1, name: 'conv1_pad' }).apply(inp) as tf.SymbolicTensor;
  x = L.conv2d({ filters: 8, kernelSize: 3, name: 'conv1_conv' }).apply(x) as tf.SymbolicTensor;
  x = L.batchNormalization({ epsilon: 1.001e-5, name: 'conv1_bn' }).apply(x) as tf.SymbolicTensor;
  x = L.activation({ activation: 'relu', name: 'conv1_relu' }).apply(x) as tf.SymbolicTensor;
  x = L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'pool1_pool' }).apply(
    x,
  ) as tf.SymbolicTensor;
  const short = L.conv2d({ filters: 12, kernelSize: 1, name: 'conv2_0_conv' }).apply(
    x,
  ) as tf.SymbolicTensor;
  let y = L.conv2d({
    filters: 12,
    kernelSize: 3,
    padding: 'same',
    dilationRate: 2,
    name: 'conv2_1_conv',
  }).apply(x) as tf.SymbolicTensor;
  y = L.batchNormalization({ name: 'conv2_1_bn' }).apply(y) as tf.SymbolicTensor;
  y = L.activation({ activation: 'relu', name: 'conv2_1_relu' }).apply(y) as tf.SymbolicTensor;
  y = L.conv2d({ filters: 12, kernelSize: [3, 1], padding: 'same', name: 'conv2_2_conv' }).apply(
    y,
  ) as tf.SymbolicTensor;
  x = L.add({ name: 'conv2_add' }).apply([short, y]) as tf.SymbolicTensor;
  x = L.activation({ activation: 'relu', name: 'conv2_out' }).apply(x) as tf.SymbolicTensor;
  const avg = L.averagePooling2d({ poolSize: 2, padding: 'same', name: 'avg_pool' }).apply(
    x,
  ) as tf.SymbolicTensor;
  const gmax = L.globalMaxPooling2d({ name: 'max_pool' }).apply(avg) as tf.SymbolicTensor;
  const out = L.dense({ units: 4, activation: 'sigmoid', name: 'probs' }).apply(
    gmax,
  ) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out, name: 'resnet_tiny' });
}

/** U-Net-style: down with pooling, up with Conv2DTranspose and UpSampling2D, skips by Concatenate. */
function unet(): tf.LayersModel {
  const L = tf.layers;
  const inp = tf.input({ shape: [8, 8, 2], name: 'x' });
  const e1 = L.conv2d({
    filters: 6,
    kernelSize: 3,
    padding: 'same',
    activation: 'relu',
    name: 'enc1',
  }).apply(inp) as tf.SymbolicTensor;
  const p1 = L.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(e1) as tf.SymbolicTensor;
  const e2 = L.conv2d({
    filters: 8,
    kernelSize: 3,
    padding: 'same',
    activation: 'elu',
    name: 'enc2',
  }).apply(p1) as tf.SymbolicTensor;
  const p2 = L.maxPooling2d({ poolSize: 2, name: 'pool2' }).apply(e2) as tf.SymbolicTensor;
  const mid = L.conv2d({
    filters: 8,
    kernelSize: 3,
    padding: 'same',
    activation: 'relu',
    name: 'mid',
  }).apply(p2) as tf.SymbolicTensor;
  const u2 = L.conv2dTranspose({
    filters: 8,
    kernelSize: 2,
    strides: 2,
    padding: 'same',
    name: 'up2',
  }).apply(mid) as tf.SymbolicTensor;
  const c2 = L.concatenate({ name: 'cat2' }).apply([u2, e2]) as tf.SymbolicTensor;
  const d2 = L.conv2d({
    filters: 6,
    kernelSize: 3,
    padding: 'same',
    activation: 'relu',
    name: 'dec2',
  }).apply(c2) as tf.SymbolicTensor;
  const u1 = L.upSampling2d({ size: [2, 2], name: 'up1' }).apply(d2) as tf.SymbolicTensor;
  const c1 = L.concatenate({ axis: -1, name: 'cat1' }).apply([e1, u1]) as tf.SymbolicTensor;
  const d1 = L.conv2dTranspose({
    filters: 4,
    kernelSize: 3,
    padding: 'valid',
    name: 'dec1',
    activation: 'tanh',
  }).apply(c1) as tf.SymbolicTensor;
  const crop = L.cropping2D({
    cropping: [
      [1, 1],
      [1, 1],
    ],
    name: 'crop',
  }).apply(d1) as tf.SymbolicTensor;
  const mask = L.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', name: 'mask' }).apply(
    crop,
  ) as tf.SymbolicTensor;
  const side = L.conv2d({ filters: 2, kernelSize: 1, name: 'side' }).apply(
    mid,
  ) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: [mask, side], name: 'unet_tiny' });
}

/** The other supported classes and activations, on two inputs. */
function everything(): tf.LayersModel {
  const L = tf.layers;
  const a = tf.input({ shape: [6, 6, 4], name: 'a' });
  const b = tf.input({ shape: [6, 6, 4], name: 'b' });
  const st = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor =>
    l.apply(x) as tf.SymbolicTensor;
  let x = st(L.multiply({ name: 'mul' }), [a, b]);
  x = st(L.leakyReLU({ alpha: 0.2, name: 'leaky' }), x);
  const m1 = st(L.maximum({ name: 'max' }), [x, b]);
  const m2 = st(L.minimum({ name: 'min' }), [x, a]);
  x = st(L.average({ name: 'avg' }), [m1, m2, a]);
  x = st(L.prelu({ sharedAxes: [1, 2], name: 'prelu' }), x);
  x = st(L.elu({ name: 'elu' }), x);
  x = st(
    L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'swish', name: 'c_swish' }),
    x,
  );
  x = st(L.conv2d({ filters: 8, kernelSize: 1, activation: 'hardSigmoid', name: 'c_hsig' }), x);
  x = st(
    L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, activation: 'selu', name: 'dw2' }),
    x,
  );
  x = st(L.thresholdedReLU({ theta: 0.1, name: 'thr' }), x);
  x = st(L.layerNormalization({ name: 'ln' }), x);
  x = st(L.conv2d({ filters: 6, kernelSize: 2, activation: 'softplus', name: 'c_softplus' }), x);
  x = st(L.activation({ activation: 'softsign', name: 'act_softsign' }), x);
  x = st(L.activation({ activation: 'mish', name: 'act_mish' }), x);
  x = st(L.activation({ activation: 'gelu', name: 'act_gelu' }), x);
  x = st(L.activation({ activation: 'hardSigmoid', name: 'act_hsig' }), x);
  x = st(L.permute({ dims: [2, 1, 3], name: 'perm' }), x);
  x = st(L.reshape({ targetShape: [3, 3 * 6], name: 'reshape' }), x);
  x = st(L.dense({ units: 5, activation: 'tanh', name: 'dense_rank2' }), x);
  x = st(L.softmax({ axis: -1, name: 'softmax' }), x);
  x = st(L.gaussianNoise({ stddev: 0.5, name: 'noise' }), x);
  x = st(L.gaussianDropout({ rate: 0.5, name: 'gdrop' }), x);
  x = st(L.flatten({ name: 'flat' }), x);
  x = st(L.dense({ units: 4, activation: 'relu6', name: 'd_relu6' }), x);
  x = st(L.dense({ units: 3, activation: 'linear', useBias: false, name: 'out' }), x);
  return tf.model({ inputs: [a, b], outputs: x, name: 'every_layer' });
}

/** A Functional encoder used as a layer, twice (a nested model with shared weights), and a
 * conv shared between two branches. */
function nested(): tf.LayersModel {
  const L = tf.layers;
  const ein = tf.input({ shape: [7, 7, 3], name: 'enc_in' });
  let e = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c1' }).apply(
    ein,
  ) as tf.SymbolicTensor;
  e = L.batchNormalization({ name: 'bn' }).apply(e) as tf.SymbolicTensor;
  e = L.reLU({ name: 'r' }).apply(e) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: ein, outputs: e, name: 'encoder' });
  const left = tf.input({ shape: [7, 7, 3], name: 'left' });
  const right = tf.input({ shape: [7, 7, 3], name: 'right' });
  const shared = L.conv2d({ filters: 4, kernelSize: 1, name: 'shared_conv' });
  const l = shared.apply(encoder.apply(left) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const r = shared.apply(encoder.apply(right) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const out = L.concatenate({ name: 'join' }).apply([l, r]) as tf.SymbolicTensor;
  const seq = tf.sequential({
    name: 'head',
    layers: [
      L.conv2d({ inputShape: [7, 7, 8], filters: 2, kernelSize: 3, name: 'head_conv' }),
      L.globalAveragePooling2d({ name: 'head_pool' }),
    ],
  });
  return tf.model({
    inputs: [left, right],
    outputs: seq.apply(out) as tf.SymbolicTensor,
    name: 'siamese',
  });
}

// ------------------------------------------------------------------------------- tests

describe('TF.js layers-models built with tf.layers, against model.predict', () => {
  test('MobileNetV1-style Sequential', async () => {
    const m = mobilenetV1();
    setWeights(m);
    const { source } = await check(m, await save(m));
    expect(source).toContain('input rescale_input: [12, 12, 3]');
    expect(source).toContain('-> conv2d(8, 3, strides: 2, use_bias: false, name: "conv1")');
    expect(source).toContain(
      '-> separable_conv2d(16, 3, strides: 2, padding: same, activation: relu, name: "sep")',
    );
    expect(source).toContain('output predictions = ');
  });

  test('MobileNetV2-style: inverted residuals, keras.applications names kept', async () => {
    const m = mobilenetV2();
    setWeights(m);
    const { source, weights } = await check(m, await save(m));
    expect(source).toContain('block_1_add = add(');
    const names = [...parseSafetensors(weights).tensors.keys()];
    expect(names).toContain('block_1_expand/kernel');
    expect(names).toContain('bn_Conv1/moving_variance');
  });

  test('ResNet-style: Add shortcuts, Activation layers, dilation, both poolings', async () => {
    const m = resnet();
    setWeights(m);
    const { source } = await check(m, await save(m));
    expect(source).toContain('dilation_rate: 2');
    expect(source).toContain('relu(name: "conv1_relu")');
  });

  test('U-Net-style: Conv2DTranspose, UpSampling2D, Concatenate, Cropping2D, two outputs', async () => {
    const m = unet();
    setWeights(m);
    const { source } = await check(m, await save(m));
    expect(source).toMatch(/output mask = /);
    expect(source).toMatch(/output side = /);
  });

  test('every other supported class and activation', async () => {
    const m = everything();
    setWeights(m);
    const { source } = await check(m, await save(m));
    // Keras 2's and TF.js's hard_sigmoid is 0.2 x + 0.5, clipped: not netc's (Keras 3's).
    expect(source).toContain('rescaling(0.2, offset: 0.5');
    expect(source).not.toContain('noise');
  });

  test('a nested Functional model used twice and a shared conv become a block and copies', async () => {
    const m = nested();
    setWeights(m);
    const saved = await save(m);
    const { source, weights } = await check(m, saved);
    expect(source).toMatch(/block encoder\(enc_in\) \{/);
    expect(source).toContain('left -> encoder(name: "encoder")');
    expect(source).toContain('right -> encoder(name: "encoder_1")');
    expect(source).toContain('shares the weights of');
    const w = parseSafetensors(weights).tensors;
    expect([...w.keys()]).toEqual(
      expect.arrayContaining([
        'encoder/c1/kernel',
        'encoder_1/bn/gamma',
        'shared_conv_1/kernel',
        'head/head_conv/kernel',
      ]),
    );
    expect(w.get('encoder_1/c1/kernel')!.data).toEqual(w.get('encoder/c1/kernel')!.data);
  });
});

test('UpSampling2D bilinear and Resizing follow Keras (tf.image.resize), not TF.js layers', async () => {
  // TF.js's UpSampling2D bilinear samples asymmetrically and its Resizing passes
  // !crop_to_aspect_ratio as align_corners; Keras (where the weights were trained) resizes
  // with half-pixel centers. The expected values are Keras's formula: TF.js's own
  // tf.image.resizeBilinear / resizeNearestNeighbor with halfPixelCenters, applied to what
  // the model computes before the resize.
  const L = tf.layers;
  const inp = tf.input({ shape: [5, 4, 3], name: 'img' });
  const pre = L.conv2d({ filters: 3, kernelSize: 1, name: 'pre' }).apply(inp) as tf.SymbolicTensor;
  const up = L.upSampling2d({ size: [2, 3], interpolation: 'bilinear', name: 'up' }).apply(pre);
  const rb = L.resizing({ height: 7, width: 5, name: 'resize_bilinear' }).apply(pre);
  const rn = L.resizing({
    height: 3,
    width: 7,
    interpolation: 'nearest',
    name: 'resize_nearest',
  }).apply(pre);
  const m = tf.model({
    inputs: inp,
    outputs: [up, rb, rn] as tf.SymbolicTensor[],
    name: 'resizes',
  });
  setWeights(m);
  const saved = await save(m);
  const r = importLayersModel(saved.json, reader({ 'group1-shard1of1.bin': saved.shard }), {
    name: 'imported',
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  expect(r.source).toContain('up_sampling2d([2, 3], interpolation: bilinear, name: "up")');
  const feeds = feedsFor(m, 2);
  const before = tf
    .model({ inputs: inp, outputs: pre })
    .predict(tf.tensor(feeds[0]!, [2, 5, 4, 3])) as tf.Tensor4D;
  const want = [
    tf.image.resizeBilinear(before, [10, 12], false, true),
    tf.image.resizeBilinear(before, [7, 5], false, true),
    tf.image.resizeNearestNeighbor(before, [3, 7], false, true),
  ].map((t) => t.dataSync() as Float32Array);
  for (const target of ['wasm', 'ts'] as const) {
    const got = await run(r.source, r.weights, feeds, target);
    want.forEach((w, i) => expectCloseToFramework(got[i]!, w, `${target} output ${i}`));
  }
});

describe('Keras 3 configs and Keras files', () => {
  test('a Keras-3-style config of the same models gives the same outputs', async () => {
    for (const make of [mobilenetV2, nested]) {
      const m = make();
      setWeights(m);
      const saved = await save(m);
      const k3 = {
        ...saved,
        json: { ...saved.json, modelTopology: toKeras3(saved.json['modelTopology'] as Json) },
      };
      await check(m, k3, 2, ['ts']);
    }
  });

  test('a Keras 2 .h5 file (model_config, model_weights) with a nested model', async () => {
    const m = nested();
    setWeights(m);
    const saved = await save(m);
    const bytes = await keras2H5(m, saved.json['modelTopology'] as Json);
    const fromH5 = await importKerasFile(bytes, { name: 'imported' });
    if (!fromH5.ok) throw new Error(fromH5.errors.join('\n'));
    const feeds = feedsFor(m, 2);
    const want = predict(m, feeds, 2);
    const got = await run(fromH5.source, fromH5.weights, feeds, 'ts');
    expectCloseToFramework(got[0]!, want[0]!, 'h5');
    expect(fromH5.source).toContain('Keras 2.15.0 .h5');
  });

  test('a Keras 3 .keras file: config.json and model.weights.h5 by class-based names', async () => {
    const L = tf.layers;
    const inp = tf.input({ shape: [6, 6, 3], name: 'pixels' });
    const stem = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'stem' });
    const bn = L.batchNormalization({ name: 'bn' });
    const dw = L.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' });
    const proj = L.conv2d({ filters: 4, kernelSize: 1, name: 'proj', useBias: false });
    const head = L.dense({ units: 3, name: 'head' });
    const s = stem.apply(inp) as tf.SymbolicTensor;
    let x = L.reLU({ name: 'relu' }).apply(bn.apply(s)) as tf.SymbolicTensor;
    x = proj.apply(dw.apply(x)) as tf.SymbolicTensor;
    x = L.add({ name: 'add' }).apply([s, x]) as tf.SymbolicTensor;
    const out = head.apply(L.globalAveragePooling2d({ name: 'gap' }).apply(x)) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: out, name: 'k3' });
    setWeights(m);
    const saved = await save(m);
    const config = toKeras3(saved.json['modelTopology'] as Json);
    // Keras 3 stores each layer under its class's snake-case name, numbered per class in
    // the model's layer order, and its variables by index (DepthwiseConv2D: kernel, bias).
    const stored: [tf.layers.Layer, string][] = [
      [stem, 'conv2d'],
      [bn, 'batch_normalization'],
      [dw, 'depthwise_conv2d'],
      [proj, 'conv2d_1'],
      [head, 'dense'],
    ];
    const weightsH5 = await h5((f) => {
      const layers = f.create_group('layers');
      for (const [l, n] of stored) {
        const vars = layers.create_group(n).create_group('vars');
        l.weights.forEach((w, i) => dataset(vars, String(i), w));
      }
      f.create_group('optimizer').create_group('vars');
    });
    const enc = new TextEncoder();
    const zip = zipSync(
      {
        'metadata.json': enc.encode(
          JSON.stringify({ keras_version: '3.5.0', date_saved: '2024-01-01@00:00:00' }),
        ),
        'config.json': enc.encode(JSON.stringify(config)),
        'model.weights.h5': weightsH5,
      },
      { level: 0 },
    );
    const r = await importKerasFile(zip, { name: 'imported' });
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const feeds = feedsFor(m, 3);
    const got = await run(r.source, r.weights, feeds, 'wasm');
    expectCloseToFramework(got[0]!, predict(m, feeds, 3)[0]!, 'keras');
  });

  test('classes TF.js lacks (Subtract, GroupNormalization, SpatialDropout2D, Identity, Normalization, UnitNormalization), by hand in Keras 3 form', async () => {
    // A Keras 3 config written as Keras 3 writes it; expected values from Keras's formulas
    // in TF.js ops: (a - b), then group normalization over 2 groups of 3 channels.
    const kt = (layer: string): Json => ({
      class_name: '__keras_tensor__',
      config: { shape: [null, 4, 5, 6], dtype: 'float32', keras_history: [layer, 0, 0] },
    });
    const layer = (cls: string, name: string, config: Json, args: unknown[]): Json => ({
      module: 'keras.layers',
      class_name: cls,
      config: {
        name,
        trainable: true,
        dtype: {
          module: 'keras',
          class_name: 'DTypePolicy',
          config: { name: 'float32' },
          registered_name: null,
        },
        ...config,
      },
      registered_name: null,
      build_config: { input_shape: [null, 4, 5, 6] },
      name,
      inbound_nodes: args.length ? [{ args, kwargs: {} }] : [],
    });
    const input = (name: string): Json => ({
      module: 'keras.layers',
      class_name: 'InputLayer',
      config: { batch_shape: [null, 4, 5, 6], dtype: 'float32', sparse: false, name },
      registered_name: null,
      name,
      inbound_nodes: [],
    });
    const config = {
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      config: {
        name: 'by_hand',
        trainable: true,
        layers: [
          input('a'),
          input('b'),
          layer('Subtract', 'diff', {}, [[kt('a'), kt('b')]]),
          layer('SpatialDropout2D', 'sdrop', { rate: 0.5 }, [kt('diff')]),
          layer('Identity', 'same', {}, [kt('sdrop')]),
          layer(
            'GroupNormalization',
            'gn',
            { groups: 2, axis: -1, epsilon: 0.001, center: true, scale: true },
            [kt('same')],
          ),
          layer('Normalization', 'norm', { axis: -1, invert: false }, [kt('gn')]),
          layer('UnitNormalization', 'unit', { axis: [2, 3] }, [kt('norm')]),
        ],
        input_layers: [
          ['a', 0, 0],
          ['b', 0, 0],
        ],
        output_layers: ['unit', 0, 0],
      },
      registered_name: 'Functional',
    };
    const r0 = rng(seed++);
    const gamma = Float32Array.from({ length: 6 }, () => 1 + 0.3 * r0());
    const beta = Float32Array.from({ length: 6 }, () => 0.2 * r0());
    const mean = Float32Array.from({ length: 6 }, () => 0.5 * r0());
    const variance = Float32Array.from({ length: 6 }, () => 0.5 + Math.abs(r0()));
    const weightsH5 = await h5((f) => {
      const vars = f
        .create_group('layers')
        .create_group('group_normalization')
        .create_group('vars');
      vars.create_dataset({ name: '0', data: gamma, shape: [6] });
      vars.create_dataset({ name: '1', data: beta, shape: [6] });
      const nv = f.create_group('layers/normalization').create_group('vars');
      nv.create_dataset({ name: '0', data: mean, shape: [6] });
      nv.create_dataset({ name: '1', data: variance, shape: [6] });
      nv.create_dataset({ name: '2', data: Float32Array.of(100), shape: [] });
    });
    const enc = new TextEncoder();
    const r = await importKerasFile(
      zipSync({
        'metadata.json': enc.encode(JSON.stringify({ keras_version: '3.6.0' })),
        'config.json': enc.encode(JSON.stringify(config)),
        'model.weights.h5': weightsH5,
      }),
      { name: 'imported' },
    );
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.source).toContain('subtract(a, b, name: "diff")');
    expect(r.source).toContain('unit_normalization(axis: [2, 3], name: "unit")');
    const rf = rng(seed++);
    const feeds = [0, 1].map(() => Float32Array.from({ length: 2 * 120 }, () => rf() * 2));
    const d = tf.sub(tf.tensor(feeds[0]!, [2, 4, 5, 6]), tf.tensor(feeds[1]!, [2, 4, 5, 6]));
    const g = d.reshape([2, 4, 5, 2, 3]);
    const moments = tf.moments(g, [1, 2, 4], true);
    const norm = tf
      .div(tf.sub(g, moments.mean), tf.sqrt(tf.add(moments.variance, 0.001)))
      .reshape([2, 4, 5, 6]);
    const gn = tf.add(tf.mul(norm, tf.tensor(gamma)), tf.tensor(beta));
    // Keras's Normalization: (x - mean) / max(sqrt(variance), 1e-7).
    const normalized = tf.div(tf.sub(gn, tf.tensor(mean)), tf.sqrt(tf.tensor(variance)));
    // UnitNormalization over columns and channels: x / sqrt(max(sum(x^2), 1e-12)).
    const ss = tf.sum(tf.square(normalized), [2, 3], true);
    const want = tf.div(normalized, tf.sqrt(tf.maximum(ss, 1e-12))).dataSync() as Float32Array;
    const got = await run(r.source, r.weights, feeds, 'wasm');
    expectCloseToFramework(got[0]!, want, 'gn');
  });

  test('Keras 2.13 .keras stores: weighted layers are counted twice', async () => {
    // Keras 2.13-2.15's saving_lib walks _layer_checkpoint_dependencies, where each layer with
    // weights appears twice (layer_with_weights-N and layer-N), so names advance by two.
    const m = mobilenetV1();
    setWeights(m);
    const saved = await save(m);
    const names: Record<string, string> = {
      conv1: 'conv2d',
      conv1_bn: 'batch_normalization',
      conv_dw_1: 'depthwise_conv2d',
      conv_dw_1_bn: 'batch_normalization_2',
      conv_pw_1: 'conv2d_2',
      conv_pw_1_bn: 'batch_normalization_4',
      sep: 'separable_conv2d',
      predictions: 'dense',
    };
    const weightsH5 = await h5((f) => {
      const root = f.create_group('_layer_checkpoint_dependencies');
      for (const l of m.layers) {
        if (!names[l.name]) continue;
        const vars = root.create_group(names[l.name]!).create_group('vars');
        l.weights.forEach((w, i) => dataset(vars, String(i), w));
      }
    });
    const enc = new TextEncoder();
    const zip = zipSync({
      'metadata.json': enc.encode(JSON.stringify({ keras_version: '2.13.1' })),
      'config.json': enc.encode(JSON.stringify(saved.json['modelTopology'])),
      'model.weights.h5': weightsH5,
    });
    const r = await importKerasFile(zip, { name: 'imported' });
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const feeds = feedsFor(m, 2);
    const got = await run(r.source, r.weights, feeds, 'ts');
    expectCloseToFramework(got[0]!, predict(m, feeds, 2)[0]!, 'keras 2.13');
  });
});

describe('weight manifests', () => {
  test('float16 and uint8/uint16 quantized weights dequantize as TF.js decodes them', () => {
    const r = rng(77);
    const values = Float32Array.from({ length: 40 }, () => r() * 3);
    const specs: tf.io.WeightsManifestEntry[] = [];
    const parts: Uint8Array[] = [];
    // As tensorflowjs_converter quantizes: q = round((v - min) / scale), scale = (max - min) / (2^bits - 1).
    for (const [dtype, bits] of [
      ['uint8', 8],
      ['uint16', 16],
    ] as const) {
      const min = Math.min(...values);
      const scale = (Math.max(...values) - min) / (2 ** bits - 1);
      const q = values.map((v) => Math.round((v - min) / scale));
      parts.push(
        new Uint8Array((dtype === 'uint8' ? Uint8Array.from(q) : Uint16Array.from(q)).buffer),
      );
      specs.push({
        name: `${dtype}/kernel`,
        shape: [5, 8],
        dtype: 'float32',
        quantization: { dtype, min, scale },
      });
    }
    const halves = new Uint16Array(tf.tensor(values).asType('float32').dataSync().length);
    // float16 bits of each value (round to nearest even), via a Float32 bit pattern.
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    values.forEach((v, i) => {
      f32[0] = v;
      const x = u32[0]!;
      const sign = (x >>> 16) & 0x8000;
      const e = ((x >>> 23) & 0xff) - 127 + 15;
      let m = (x >>> 13) & 0x3ff;
      const rest = x & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && m & 1)) m++;
      halves[i] = sign | ((e << 10) + m);
    });
    parts.push(new Uint8Array(halves.buffer));
    specs.push({
      name: 'half/kernel',
      shape: [5, 8],
      dtype: 'float32',
      quantization: { dtype: 'float16' },
    });
    parts.push(new Uint8Array(new Uint16Array(halves).buffer));
    specs.push({ name: 'half2/kernel', shape: [40], dtype: 'float16' as 'float32' });
    const total = parts.reduce((a, p) => a + p.length, 0);
    const shard = new Uint8Array(total);
    let at = 0;
    for (const p of parts) (shard.set(p, at), (at += p.length));
    const ours = readManifest([{ paths: ['a.bin'], weights: specs }], reader({ 'a.bin': shard }));
    expect(ours.errors).toEqual([]);
    const theirs = tf.io.decodeWeights(shard.buffer, specs.slice(0, 3));
    for (const t of ours.tensors.slice(0, 3)) {
      const want = theirs[t.name]!.dataSync();
      expect(Array.from(t.data)).toEqual(Array.from(want));
      // and each is within its quantization step of the original values
      values.forEach((v, i) => expect(Math.abs(t.data[i]! - v)).toBeLessThan(0.02));
    }
    expect(Array.from(ours.tensors[3]!.data)).toEqual(Array.from(ours.tensors[2]!.data));
  });

  test("tensorflowjs_converter's model.json (model_config, several shards) imports the same", async () => {
    // The converter writes modelTopology {keras_version, backend, model_config} and splits
    // the weights into shards of a fixed size; the tensors run across shard boundaries.
    const m = mobilenetV2();
    setWeights(m);
    const saved = await save(m);
    const direct = importLayersModel(saved.json, reader({ 'group1-shard1of1.bin': saved.shard }));
    const cut = [0, 1000, 2001, saved.shard.length];
    const files = Object.fromEntries(
      cut
        .slice(1)
        .map((end, i) => [`group1-shard${i + 1}of3.bin`, saved.shard.subarray(cut[i], end)]),
    );
    const converted = {
      format: 'layers-model',
      generatedBy: 'keras v2.15.0',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: {
        keras_version: '2.15.0',
        backend: 'tensorflow',
        model_config: saved.json['modelTopology'],
        training_config: { loss: 'categorical_crossentropy' },
      },
      weightsManifest: [{ paths: Object.keys(files), weights: saved.specs }],
    };
    const r = importLayersModel(converted, reader(files));
    if (!r.ok || !direct.ok) throw new Error('import failed');
    expect(r.source).toEqual(direct.source);
    expect(r.weights).toEqual(direct.weights);
  });

  test('int32 tensors quantized to uint8 round as TF.js does; string tensors are stepped over', () => {
    // One reader serves layers-models and graph-models (src/import/tfjs_weights.ts).
    const q = Uint8Array.from([0, 1, 2, 3, 250, 255]);
    const str = new TextEncoder().encode('abc');
    const strBytes = new Uint8Array(4 + str.length);
    new DataView(strBytes.buffer).setUint32(0, str.length, true);
    strBytes.set(str, 4);
    const f = Float32Array.from([1.5, -2.25]);
    const shard = new Uint8Array([...q, ...strBytes, ...new Uint8Array(f.buffer)]);
    const specs: tf.io.WeightsManifestEntry[] = [
      {
        name: 'ints',
        shape: [6],
        dtype: 'int32',
        quantization: { dtype: 'uint8', min: -3, scale: 0.7 },
      },
      { name: 'label', shape: [1], dtype: 'string' },
      { name: 'after', shape: [2], dtype: 'float32' },
    ];
    const ours = readManifest([{ paths: ['a.bin'], weights: specs }], reader({ 'a.bin': shard }));
    expect(ours.errors).toEqual([]);
    const theirs = tf.io.decodeWeights(shard.buffer, specs);
    expect(ours.tensors.map((t) => t.name)).toEqual(['ints', 'after']);
    for (const t of ours.tensors)
      expect(Array.from(t.data)).toEqual(Array.from(theirs[t.name]!.dataSync() as Float32Array));
  });

  test('a manifest that runs past its shards names the tensor', () => {
    const r = readManifest(
      [{ paths: ['a.bin'], weights: [{ name: 'conv/kernel', shape: [3, 3], dtype: 'float32' }] }],
      reader({ 'a.bin': new Uint8Array(20) }),
    );
    expect(r.errors.join()).toMatch(
      /weight 'conv\/kernel': its 36 bytes at offset 0 run past the 20 bytes/,
    );
  });
});

describe('refusals and the command line', () => {
  test('every untranslatable layer is listed with its name, class and reason', async () => {
    const L = tf.layers;
    const inp = tf.input({ shape: [8, 8, 3], name: 'img' });
    let x = L.conv2d({ filters: 4, kernelSize: 3, dataFormat: 'channelsFirst', name: 'cf' }).apply(
      inp,
    ) as tf.SymbolicTensor;
    x = L.conv2d({ filters: 4, kernelSize: 1, name: 'ok' }).apply(x) as tf.SymbolicTensor;
    x = L.reshape({ targetShape: [6 * 4, 6], name: 'rs' }).apply(x) as tf.SymbolicTensor;
    x = L.conv1d({ filters: 2, kernelSize: 3, name: 'c1d' }).apply(x) as tf.SymbolicTensor;
    x = L.upSampling2d({ name: 'ok2' }).apply(
      L.reshape({ targetShape: [11, 4, 1], name: 'rs2' }).apply(x),
    ) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: x });
    const saved = await save(m);
    const r = importLayersModel(saved.json, reader({ 'group1-shard1of1.bin': saved.shard }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      expect.stringMatching(/^layer 'cf' \(Conv2D\): data_format "channels_first"/),
      expect.stringMatching(/^layer 'c1d' \(Conv1D\): netc has no layer for Keras class Conv1D/),
    ]);
  });

  test('a shape netc cannot take is refused, naming the input', async () => {
    const inp = tf.input({ shape: [null, null, 3], name: 'any_size' });
    const m = tf.model({
      inputs: inp,
      outputs: tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(inp) as tf.SymbolicTensor,
    });
    const saved = await save(m);
    const r = importLayersModel(saved.json, reader({ 'group1-shard1of1.bin': saved.shard }));
    expect(r.ok ? [] : r.errors).toEqual([
      "input 'any_size' has shape [null,null,null,3]: netc needs every dimension but the batch fixed",
    ]);
  });

  test('names are data: quotes, newlines and slashes in Keras names do not reach the code', async () => {
    const m = resnet();
    setWeights(m);
    const saved = await save(m);
    const evil = 'conv1_conv"), x = 1\n  output pwned = image -> relu("/x';
    const text = JSON.stringify(saved.json).replaceAll(
      '"conv1_conv',
      JSON.stringify(evil).slice(0, -1),
    );
    const json = JSON.parse(text) as Json;
    const r = importLayersModel(json, reader({ 'group1-shard1of1.bin': saved.shard }), {
      name: 'imported',
    });
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const g = compileSource(r.source).graphs[0]!;
    expect(g.outputs.map((p) => p.name)).toEqual(['probs']);
    expect(g.params.map((p) => p.key)).toContain(
      'conv1_conv____x___1___output_pwned___image_-__relu___x/kernel',
    );
  });

  test("the module's keys are the model's input and output names, identifiers or not", async () => {
    const m = resnet();
    setWeights(m);
    const saved = await save(m);
    const input = 'input.1';
    const output = 'Identity:0 "\n\u2028 x';
    const text = JSON.stringify(saved.json)
      .replaceAll('"image"', JSON.stringify(input))
      .replaceAll('"probs', JSON.stringify(output).slice(0, -1));
    const json = JSON.parse(text) as Json;
    const r = importLayersModel(json, reader({ 'group1-shard1of1.bin': saved.shard }), {
      name: 'imported',
    });
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const g = compileSource(r.source).graphs[0]!;
    expect(g.inputs.map((p) => p.name)).toEqual([input]);
    expect(g.outputs.map((p) => p.name)).toEqual([output]);
  });

  test('netc import model.json writes the .net and weights; a missing shard writes nothing', async () => {
    const m = mobilenetV1();
    setWeights(m);
    const saved = await save(m);
    const dir = path.join(tmp, 'cli');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(saved.json));
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    const net = path.join(dir, 'mobilenet.net');
    expect(await main(['import', path.join(dir, 'model.json'), '-o', net], io)).toBe(1);
    expect(err.join('\n')).toMatch(
      /weight shard 'group1-shard1of1.bin' \(beside .*model.json\): no such file/,
    );
    expect(existsSync(net)).toBe(false);
    writeFileSync(path.join(dir, 'group1-shard1of1.bin'), saved.shard);
    expect(await main(['import', path.join(dir, 'model.json'), '-o', net], io)).toBe(0);
    expect(existsSync(net) && existsSync(path.join(dir, 'mobilenet.safetensors'))).toBe(true);
    const bad = path.join(dir, 'bad.keras');
    writeFileSync(bad, new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]));
    expect(await main(['import', bad, '-o', path.join(dir, 'bad.net')], io)).toBe(1);
    expect(existsSync(path.join(dir, 'bad.net'))).toBe(false);
    // A cut HDF5 file is refused too (no internal error).
    const h5bytes = await keras2H5(m, saved.json['modelTopology'] as Json);
    for (const cut of [8, 800, h5bytes.length >> 1]) {
      writeFileSync(path.join(dir, 'cut.h5'), h5bytes.subarray(0, cut));
      expect(
        await main(['import', path.join(dir, 'cut.h5'), '-o', path.join(dir, 'cut.net')], io),
      ).toBe(1);
    }
    expect(existsSync(path.join(dir, 'cut.net'))).toBe(false);
  });
});
