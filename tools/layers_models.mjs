// Keras-style TF.js layers-models at real sizes (MobileNetV1, MobileNetV2, ResNet-18, U-Net),
// built with @tensorflow/tfjs's tf.layers, saved through tf.io.withSaveHandler (the real
// tool's format), imported by `netc import`, built for wasm, checked against TF.js's wasm
// backend on the same input and timed against it (one thread each, SIMD).
//
//   node tools/layers_models.mjs [NAME ...]      # prints a table (names: see MODELS)
//
// The small versions of these models are what test/tooling/keras_import.test.ts checks; this
// is the speed table of issue 17 for layers-models. Each runtime runs in a fresh process and
// reports its median wall ms and median CPU ms (process user + system time, which a shared
// machine's waits for a core leave out).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readF32, tfjsHandler, timeRuns } from './human_models.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');

/** A seeded uniform generator in [-1, 1). */
function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 31 - 1;
}

/** Weights of a trained network's scale (batch-norm statistics included). */
function setWeights(tf, model, seed = 7) {
  const r = rng(seed);
  model.setWeights(
    model.weights.map((w) => {
      const shape = w.shape;
      const n = shape.reduce((a, b) => a * b, 1);
      const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
      const name = w.originalName ?? w.name;
      let f;
      if (/moving_variance/.test(name)) f = () => 0.5 + Math.abs(r());
      else if (/gamma/.test(name)) f = () => 1 + 0.3 * r();
      else if (shape.length === 1) f = () => 0.2 * r();
      else f = () => r() * Math.sqrt(3 / fanIn);
      return tf.tensor(Float32Array.from({ length: n }, f), shape);
    }),
  );
}

/** keras.applications.MobileNet (alpha 1) at 224. */
function mobilenetV1(tf) {
  const L = tf.layers;
  const inp = tf.input({ shape: [224, 224, 3], name: 'input_1' });
  const bnRelu = (x, name) =>
    L.reLU({ maxValue: 6, name: `${name}_relu` }).apply(
      L.batchNormalization({ name: `${name}_bn` }).apply(x),
    );
  let x = L.conv2d({
    filters: 32,
    kernelSize: 3,
    strides: 2,
    padding: 'same',
    useBias: false,
    name: 'conv1',
  }).apply(inp);
  x = bnRelu(x, 'conv1');
  const blocks = [
    [64, 1],
    [128, 2],
    [128, 1],
    [256, 2],
    [256, 1],
    [512, 2],
    [512, 1],
    [512, 1],
    [512, 1],
    [512, 1],
    [512, 1],
    [1024, 2],
    [1024, 1],
  ];
  blocks.forEach(([f, s], i) => {
    const b = i + 1;
    x = L.depthwiseConv2d({
      kernelSize: 3,
      strides: s,
      padding: 'same',
      useBias: false,
      name: `conv_dw_${b}`,
    }).apply(x);
    x = bnRelu(x, `conv_dw_${b}`);
    x = L.conv2d({ filters: f, kernelSize: 1, useBias: false, name: `conv_pw_${b}` }).apply(x);
    x = bnRelu(x, `conv_pw_${b}`);
  });
  x = L.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x);
  x = L.dense({ units: 1000, activation: 'softmax', name: 'predictions' }).apply(x);
  return tf.model({ inputs: inp, outputs: x, name: 'mobilenet_1_00_224' });
}

/** keras.applications.MobileNetV2 (alpha 1) at 224. */
function mobilenetV2(tf) {
  const L = tf.layers;
  const inp = tf.input({ shape: [224, 224, 3], name: 'input_1' });
  let x = L.conv2d({
    filters: 32,
    kernelSize: 3,
    strides: 2,
    padding: 'same',
    useBias: false,
    name: 'Conv1',
  }).apply(inp);
  x = L.batchNormalization({ name: 'bn_Conv1' }).apply(x);
  x = L.reLU({ maxValue: 6, name: 'Conv1_relu' }).apply(x);
  let c = 32;
  let b = 0;
  const settings = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ];
  for (const [t, out, n, s] of settings)
    for (let i = 0; i < n; i++) {
      const p = b === 0 ? 'expanded_conv_' : `block_${b}_`;
      let y = x;
      if (t !== 1) {
        y = L.conv2d({ filters: c * t, kernelSize: 1, useBias: false, name: `${p}expand` }).apply(
          y,
        );
        y = L.batchNormalization({ name: `${p}expand_BN` }).apply(y);
        y = L.reLU({ maxValue: 6, name: `${p}expand_relu` }).apply(y);
      }
      y = L.depthwiseConv2d({
        kernelSize: 3,
        strides: i === 0 ? s : 1,
        padding: 'same',
        useBias: false,
        name: `${p}depthwise`,
      }).apply(y);
      y = L.batchNormalization({ name: `${p}depthwise_BN` }).apply(y);
      y = L.reLU({ maxValue: 6, name: `${p}depthwise_relu` }).apply(y);
      y = L.conv2d({ filters: out, kernelSize: 1, useBias: false, name: `${p}project` }).apply(y);
      y = L.batchNormalization({ name: `${p}project_BN` }).apply(y);
      x = i > 0 && c === out ? L.add({ name: `${p}add` }).apply([x, y]) : y;
      c = out;
      b++;
    }
  x = L.conv2d({ filters: 1280, kernelSize: 1, useBias: false, name: 'Conv_1' }).apply(x);
  x = L.batchNormalization({ name: 'Conv_1_bn' }).apply(x);
  x = L.reLU({ maxValue: 6, name: 'out_relu' }).apply(x);
  x = L.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x);
  x = L.dense({ units: 1000, activation: 'softmax', name: 'predictions' }).apply(x);
  return tf.model({ inputs: inp, outputs: x, name: 'mobilenetv2_1_00_224' });
}

/** ResNet-18 (basic blocks, Keras naming) at 224. */
function resnet18(tf) {
  const L = tf.layers;
  const inp = tf.input({ shape: [224, 224, 3], name: 'input_1' });
  const convBn = (x, f, k, s, name, relu = true) => {
    let y = L.conv2d({ filters: f, kernelSize: k, strides: s, padding: 'same', name }).apply(x);
    y = L.batchNormalization({ epsilon: 1.001e-5, name: `${name}_bn` }).apply(y);
    return relu ? L.activation({ activation: 'relu', name: `${name}_relu` }).apply(y) : y;
  };
  let x = convBn(inp, 64, 7, 2, 'conv1_conv');
  x = L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'pool1_pool' }).apply(x);
  [64, 128, 256, 512].forEach((f, stage) => {
    for (let i = 0; i < 2; i++) {
      const name = `conv${stage + 2}_block${i + 1}`;
      const s = stage > 0 && i === 0 ? 2 : 1;
      const short = s !== 1 ? convBn(x, f, 1, s, `${name}_0_conv`, false) : x;
      let y = convBn(x, f, 3, s, `${name}_1_conv`);
      y = convBn(y, f, 3, 1, `${name}_2_conv`, false);
      x = L.add({ name: `${name}_add` }).apply([short, y]);
      x = L.activation({ activation: 'relu', name: `${name}_out` }).apply(x);
    }
  });
  x = L.globalAveragePooling2d({ name: 'avg_pool' }).apply(x);
  x = L.dense({ units: 1000, activation: 'softmax', name: 'predictions' }).apply(x);
  return tf.model({ inputs: inp, outputs: x, name: 'resnet18' });
}

/** U-Net at 256x256: 4 levels (16..128 channels), Conv2DTranspose up, Concatenate skips. */
function unet(tf) {
  const L = tf.layers;
  const inp = tf.input({ shape: [256, 256, 3], name: 'image' });
  const twice = (x, f, name) => {
    const a = L.conv2d({
      filters: f,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      name: `${name}_1`,
    }).apply(x);
    return L.conv2d({
      filters: f,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      name: `${name}_2`,
    }).apply(a);
  };
  const skips = [];
  let x = inp;
  [16, 32, 64].forEach((f, i) => {
    x = twice(x, f, `enc${i + 1}`);
    skips.push(x);
    x = L.maxPooling2d({ poolSize: 2, name: `pool${i + 1}` }).apply(x);
  });
  x = twice(x, 128, 'mid');
  [64, 32, 16].forEach((f, i) => {
    x = L.conv2dTranspose({
      filters: f,
      kernelSize: 2,
      strides: 2,
      padding: 'same',
      name: `up${3 - i}`,
    }).apply(x);
    x = L.concatenate({ name: `cat${3 - i}` }).apply([x, skips[2 - i]]);
    x = twice(x, f, `dec${3 - i}`);
  });
  x = L.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', name: 'mask' }).apply(x);
  return tf.model({ inputs: inp, outputs: x, name: 'unet' });
}

export const MODELS = {
  mobilenet_v1: mobilenetV1,
  mobilenet_v2: mobilenetV2,
  resnet18,
  unet,
};

/** Builds `name` with tf.layers and writes model.json + its shard into `dir`. */
async function writeModel(name, dir) {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const model = MODELS[name](tf);
  setWeights(tf, model);
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), new Uint8Array(a.weightData));
      fs.writeFileSync(
        path.join(dir, 'model.json'),
        JSON.stringify({
          modelTopology: a.modelTopology,
          format: a.format,
          generatedBy: a.generatedBy,
          convertedBy: a.convertedBy ?? null,
          weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return model.inputs[0].shape.slice(1);
}

/** One runtime in this (fresh) process: writes its first output, prints its times. */
async function child(config) {
  const c = JSON.parse(fs.readFileSync(config, 'utf8'));
  const input = readF32(c.input);
  if (c.runtime === 'netc') {
    const mod = await import(new URL(`file://${c.module}`).href);
    const net = await mod.load({ threads: 1 });
    const feeds = { [c.feed]: input };
    fs.writeFileSync(c.output, Object.values(net.run(feeds))[0]);
    process.stdout.write(JSON.stringify(await timeRuns(() => net.run(feeds))));
    return;
  }
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  const model = await tf.loadLayersModel(tfjsHandler(c.model).handler);
  const x = tf.tensor(input, [1, ...c.shape]);
  const once = () => {
    const y = model.predict(x);
    const first = Array.isArray(y) ? y[0] : y;
    const data = first.dataSync();
    tf.dispose(y);
    return data;
  };
  fs.writeFileSync(c.output, once());
  const t = await timeRuns(once);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  process.stdout.write(JSON.stringify({ ...t, simd }));
}

const netc = (args) =>
  execFileSync(process.execPath, [path.join(ROOT, 'bin/netc.js'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/** Writes, imports, builds, compares and times one model; returns its table row. */
async function checkModel(name) {
  const w = fs.mkdtempSync(path.join(os.tmpdir(), `lm-${name}-`));
  try {
    const file = path.join(w, 'model.json');
    // In a child, so TF.js's banner about tfjs-node stays out of the table.
    const shape = JSON.parse(
      execFileSync(process.execPath, [import.meta.filename, '--write', name, w], {
        encoding: 'utf8',
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .slice(-200)
        .split('\n')
        .filter(Boolean)
        .pop(),
    );
    const net = path.join(w, `${name}.net`);
    netc(['import', file, '-o', net]);
    const source = fs.readFileSync(net, 'utf8');
    const summary = JSON.parse(netc(['summary', net, '--json'])).networks[0];
    netc(['build', net, '--weights', net.replace(/\.net$/, '.safetensors'), '--out', w]);
    const netName = /network (\w+)/.exec(source)[1];
    const feed = /^ {2}input (\w+)/m.exec(source)[1];
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const input = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd);
    fs.writeFileSync(path.join(w, 'input.bin'), input);
    const run = (runtime) => {
      const c = {
        runtime,
        input: path.join(w, 'input.bin'),
        module: path.join(w, `${netName}.js`),
        feed,
        model: file,
        shape,
        output: path.join(w, `${runtime}.bin`),
      };
      const cf = path.join(w, `${runtime}.json`);
      fs.writeFileSync(cf, JSON.stringify(c));
      const r = JSON.parse(
        execFileSync(process.execPath, [import.meta.filename, '--child', cf], {
          encoding: 'utf8',
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'ignore'],
        }),
      );
      const o = fs.readFileSync(c.output);
      return { ...r, out: new Float32Array(o.buffer, o.byteOffset, o.byteLength / 4) };
    };
    const ref = run('tfjs-wasm');
    const got = run('netc');
    // The tolerance, against TF.js's own (wasm) result.
    let big = 1;
    for (const v of ref.out) big = Math.max(big, Math.abs(v));
    let ratio = ref.out.length === got.out.length ? 0 : Infinity;
    for (let j = 0; j < ref.out.length; j++)
      ratio = Math.max(
        ratio,
        Math.abs(got.out[j] - ref.out[j]) / (1e-4 * big + 1e-3 * Math.abs(ref.out[j])),
      );
    return {
      name,
      input: shape,
      layers: summary.layers.length,
      params: summary.params,
      macs: summary.macs,
      ratio,
      simd: ref.simd,
      netcMs: got.ms,
      tfjsMs: ref.ms,
      netcCpuMs: got.cpuMs,
      tfjsCpuMs: ref.cpuMs,
    };
  } finally {
    fs.rmSync(w, { recursive: true, force: true });
  }
}

async function mainCli() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1]);
  if (argv[0] === '--write') {
    process.stdout.write(`\n${JSON.stringify(await writeModel(argv[1], argv[2]))}\n`);
    return;
  }
  const names = argv.length ? argv : Object.keys(MODELS);
  console.log(
    '| model | input | netc layers | params | MACs | first output err/tol | netc ms | TF.js wasm ms | ratio | netc CPU ms | TF.js CPU ms | CPU ratio |',
  );
  console.log(
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const n of names) {
    if (!MODELS[n]) {
      console.log(`| ${n} | unknown: one of ${Object.keys(MODELS).join(', ')} |`);
      process.exitCode = 1;
      continue;
    }
    const r = await checkModel(n);
    const f = (v, d = 2) => v.toFixed(d);
    console.log(
      `| ${n} | ${r.input.join('x')} | ${r.layers} | ${r.params} | ${(r.macs / 1e6).toFixed(1)} M | ${f(r.ratio)} | ${f(r.netcMs)} | ${f(r.tfjsMs)} | ${f(r.netcMs / r.tfjsMs)} | ${f(r.netcCpuMs)} | ${f(r.tfjsCpuMs)} | ${f(r.netcCpuMs / r.tfjsCpuMs)} |`,
    );
    if (!(r.ratio <= 1) || r.simd !== true) process.exitCode = 1;
  }
}

if (import.meta.filename === path.resolve(process.argv[1] ?? '')) await mainCli();
