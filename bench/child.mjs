// One measurement in a fresh process: `node bench/child.mjs CONFIG.json`. Loads one runtime and
// one network, prints `FIRST` at its first result (the parent times the cold start), then
// warms up, times the runs and prints `RESULT {json}`; outputs go to files for the agreement check.
import fs from 'node:fs';
import os from 'node:os';
import { median, nodeCpuMicros, ortRunners, timeRuns } from './stats.mjs';

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

/** `timeRuns` with CPU times, and the load average when the loop ended. */
const time = async (fn, timing) => ({
  ...(await timeRuns(fn, timing, nodeCpuMicros)),
  load: os.loadavg()[0],
});

async function main() {
  const inputs = {};
  for (const i of config.inputs ?? []) inputs[i.name] = readF32(i.file);
  const result = { runtime: config.runtime, network: config.network };
  let run;
  let runInto = null;
  let alternate = null;
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
      if (net.threads > 1 && config.runtime === 'netc')
        alternate = async () => {
          // netc's own speed-up: the module at one thread and at N, loaded in this process and
          // run in alternate blocks, so a slower spell of the machine slows both alike.
          const one = await mod.load({ threads: 1 });
          const times = [[], []];
          const t0 = performance.now();
          const { minRuns, minMs, maxMs } = config.timing;
          while (
            performance.now() - t0 < maxMs &&
            (times[0].length < minRuns || performance.now() - t0 < minMs)
          )
            [one, net].forEach((n, i) => {
              n.run(inputs);
              for (let k = 0; k < 4; k++) {
                const s = performance.now();
                n.run(inputs);
                times[i].push(performance.now() - s);
              }
            });
          one.dispose();
          return { one: median(times[0]), many: median(times[1]), n: times[0].length };
        };
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
      ({ run, runInto } = ortRunners(ort, session, config, inputs));
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
  result.fresh = await time(run, config.timing);
  if (config.into && runInto) {
    const into = Object.fromEntries(config.outputs.map((o) => [o.name, new Float32Array(o.size)]));
    const r = await runInto(into);
    const d = r[config.outputs[0].name];
    let same = true;
    const f0 = first[config.outputs[0].name];
    for (let i = 0; i < d.length && same; i++)
      same = d[i] === f0[i] || (Number.isNaN(d[i]) && Number.isNaN(f0[i]));
    result.intoAgrees = same && d === into[config.outputs[0].name];
    result.into = await time(() => runInto(into), config.timing);
  }
  if (alternate) result.alternate = await alternate();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stdout.write(`ERROR ${JSON.stringify(String(e?.stack ?? e))}\n`);
    process.exit(1);
  },
);
