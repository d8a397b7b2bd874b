// One measurement in a fresh process: `node bench/child.mjs CONFIG.json`. Loads one runtime and
// one network, prints `FIRST` at its first result (the parent times the cold start), then
// warms up, times the runs and prints `RESULT {json}`; outputs go to files for the agreement check.
import fs from 'node:fs';
import { median } from './stats.mjs';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

// Record which .wasm files the runtime reads (is it the SIMD build?).
const wasmFiles = [];
for (const key of ['readFileSync', 'readFile']) {
  const orig = fs[key];
  fs[key] = function (p, ...rest) {
    if (String(p).endsWith('.wasm')) wasmFiles.push(String(p).replace(/^.*\//, ''));
    return orig.call(this, p, ...rest);
  };
}
{
  const orig = fs.promises.readFile;
  fs.promises.readFile = function (p, ...rest) {
    if (String(p).endsWith('.wasm')) wasmFiles.push(String(p).replace(/^.*\//, ''));
    return orig.call(this, p, ...rest);
  };
}

const readF32 = (file) => {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

/** Times `fn` (sync or async): warm-up, then until enough runs or time; per-run wall and CPU ms. */
async function timeRuns(fn, { minRuns, minMs, maxMs, maxRuns, warmupRuns, warmupMs }) {
  let t0 = performance.now();
  // Await only what returns a promise (the onnxruntimes): a synchronous run costs no tick.
  const probe = fn();
  const sync = !(probe && typeof probe.then === 'function');
  if (!sync) await probe;
  for (let i = 0; i < warmupRuns || performance.now() - t0 < warmupMs; i++) {
    if (sync) fn();
    else await fn();
    if (i > 1000) break;
  }
  const wall = [];
  const cpu = [];
  const c0 = process.cpuUsage();
  t0 = performance.now();
  let elapsed = 0;
  while (wall.length < maxRuns && elapsed < maxMs && (wall.length < minRuns || elapsed < minMs)) {
    const c = process.cpuUsage();
    const s = performance.now();
    if (sync) fn();
    else await fn();
    const e = performance.now();
    const cd = process.cpuUsage(c);
    wall.push(e - s);
    cpu.push((cd.user + cd.system) / 1000);
    elapsed = e - t0;
  }
  const cd = process.cpuUsage(c0);
  const sorted = [...wall].sort((a, b) => a - b);
  return {
    n: wall.length,
    median: median(wall),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    cpuMedian: median(cpu),
    // CPU time over wall time of the timed loop: below 1 means the process was waiting
    // (another process had the core); above 1 means it used more than one thread.
    cpuRatio: (cd.user + cd.system) / 1000 / elapsed,
    load: (await import('node:os')).loadavg()[0],
  };
}

async function main() {
  const inputs = {};
  for (const i of config.inputs ?? []) inputs[i.name] = readF32(i.file);
  const result = { runtime: config.runtime, network: config.network };
  let run;
  let runInto = null;
  switch (config.runtime) {
    case 'noop':
      // Node's own start-up: the floor under every cold start.
      process.stdout.write(`FIRST ${performance.now()}\n`);
      process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
      return;
    case 'peak':
    case 'peak-relaxed': {
      const { measurePeak } = await import('./peak.mjs');
      const out = {};
      for (const a of [4, 8, 12]) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        out[a] = await measurePeak({
          accumulators: a,
          ms: config.quick ? 50 : 200,
          relaxed: config.runtime === 'peak-relaxed',
        });
        const c = process.cpuUsage(c0);
        out[`cpuRatio${a}`] = (c.user + c.system) / 1000 / (performance.now() - t0);
      }
      process.stdout.write(`RESULT ${JSON.stringify({ ...result, peak: out })}\n`);
      return;
    }
    case 'layers': {
      const { timeLayers } = await import('./layers.mjs');
      const rows = await timeLayers(config);
      process.stdout.write(`RESULT ${JSON.stringify({ ...result, layers: rows })}\n`);
      return;
    }
    case 'netc':
    case 'netc-relaxed': {
      const mod = await import(new URL(`file://${config.module}`).href);
      const net = await mod.load({ threads: config.threads ?? 1 });
      result.threads = net.threads;
      run = () => net.run(inputs);
      runInto = (into) => net.run(inputs, into);
      break;
    }
    case 'tfjs-wasm': {
      const tf = await import('@tensorflow/tfjs');
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setThreadsCount(config.threads ?? 1);
      await tf.setBackend('wasm');
      await tf.ready();
      result.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      result.threads = wasm.getThreadsCount();
      const { tfjsModel } = await import('./tfjs.mjs');
      const plan = JSON.parse(fs.readFileSync(config.plan, 'utf8'));
      const predict = tfjsModel(tf, plan, readF32(config.planWeights));
      run = () => {
        const outs = predict(inputs);
        return Object.fromEntries(plan.outputs.map((o, i) => [o.name, outs[i]]));
      };
      break;
    }
    case 'ort-web':
    case 'ort-node': {
      const web = config.runtime === 'ort-web';
      const ort = web ? await import('onnxruntime-web') : await import('onnxruntime-node');
      const threads = config.threads ?? 1;
      if (web) {
        ort.env.wasm.numThreads = threads;
        ort.env.wasm.proxy = false;
      }
      // What was asked: onnxruntime reports no count of its own (CPU/wall shows what it used).
      result.threads = threads;
      const session = await ort.InferenceSession.create(fs.readFileSync(config.onnx), {
        executionProviders: [web ? 'wasm' : 'cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
      const feeds = () => {
        const f = {};
        for (const i of config.inputs)
          f[i.name] = new ort.Tensor('float32', inputs[i.name], [1, ...i.shape]);
        return f;
      };
      run = async () => {
        const r = await session.run(feeds());
        return Object.fromEntries(config.outputs.map((o) => [o.name, r[o.name].data]));
      };
      runInto = async (into) => {
        const fetches = {};
        for (const o of config.outputs)
          fetches[o.name] = new ort.Tensor('float32', into[o.name], [1, ...o.shape]);
        await session.run(feeds(), fetches);
        return into;
      };
      break;
    }
    default:
      throw new Error(`unknown runtime ${config.runtime}`);
  }
  const first = await run();
  process.stdout.write(`FIRST ${performance.now()}\n`);
  if (config.coldOnly) {
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    return;
  }
  for (const o of config.outputs) {
    const d = first[o.name];
    fs.writeFileSync(
      `${config.outDir}/${config.runtime}.${o.name}.f32`,
      new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
    );
  }
  result.wasmFiles = [...new Set(wasmFiles)];
  result.fresh = await timeRuns(run, config.timing);
  if (config.into && runInto) {
    const into = Object.fromEntries(config.outputs.map((o) => [o.name, new Float32Array(o.size)]));
    const r = await runInto(into);
    const d = r[config.outputs[0].name];
    let same = true;
    const f0 = first[config.outputs[0].name];
    for (let i = 0; i < d.length && same; i++)
      same = d[i] === f0[i] || (Number.isNaN(d[i]) && Number.isNaN(f0[i]));
    result.intoAgrees = same && d === into[config.outputs[0].name];
    result.into = await timeRuns(() => runInto(into), config.timing);
  }
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stdout.write(`ERROR ${JSON.stringify(String(e?.stack ?? e))}\n`);
    process.exit(1);
  },
);
