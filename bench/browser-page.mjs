// The page side of `npm run bench -- --browser` (bench/browser.mjs serves it): in a fresh page of
// headless Chromium, loads one runtime (netc's module, TF.js wasm, onnxruntime-web; one thread)
// and one network, as bench/child.mjs does in Node: marks its first result (the cold start),
// sends the outputs back for the agreement check, then warms up and times the runs.
import { ortRunners, timeRuns } from './stats.mjs';

const REPO = '/repo/';

async function f32(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cannot fetch ${url}: ${r.status}`);
  return new Float32Array(await r.arrayBuffer());
}

function script(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}

/** Sends an output's bytes to the server, which writes them where the agreement check reads. */
async function sendOutput(name, data) {
  const r = await fetch(`/out/${encodeURIComponent(name)}`, {
    method: 'POST',
    body: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
  if (!r.ok) throw new Error(`cannot send output ${name}: ${r.status}`);
}

async function main(config, phase) {
  const inputs = {};
  for (const i of config.inputs ?? []) inputs[i.name] = await f32(i.url);
  const result = { runtime: config.runtime, network: config.network };
  let run;
  let runInto = null;
  switch (config.runtime) {
    case 'netc': {
      const mod = await import(config.moduleUrl);
      const net = await mod.load();
      run = () => net.run(inputs);
      runInto = (into) => net.run(inputs, into);
      break;
    }
    case 'tfjs-wasm': {
      await script(`${REPO}node_modules/@tensorflow/tfjs/dist/tf.min.js`);
      await script(`${REPO}node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js`);
      const tf = globalThis.tf;
      tf.wasm.setWasmPaths(`${REPO}node_modules/@tensorflow/tfjs-backend-wasm/dist/`);
      // The SIMD build without threads, as in Node (the page is cross-origin isolated, where
      // TF.js would otherwise pick its threaded build).
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      tf.wasm.setThreadsCount(1);
      await tf.setBackend('wasm');
      await tf.ready();
      result.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      result.threads = tf.wasm.getThreadsCount();
      const { tfjsModel } = await import('./tfjs.mjs');
      const plan = await (await fetch(config.planUrl)).json();
      const predict = tfjsModel(tf, plan, await f32(config.planWeightsUrl));
      run = () => {
        const outs = predict(inputs);
        return Object.fromEntries(plan.outputs.map((o, i) => [o.name, outs[i]]));
      };
      break;
    }
    case 'ort-web': {
      const ort = await import(`${REPO}node_modules/onnxruntime-web/dist/ort.wasm.min.mjs`);
      ort.env.wasm.wasmPaths = `${REPO}node_modules/onnxruntime-web/dist/`;
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.proxy = false;
      const model = new Uint8Array(await (await fetch(config.onnxUrl)).arrayBuffer());
      const session = await ort.InferenceSession.create(model, {
        executionProviders: ['wasm'],
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
      ({ run, runInto } = ortRunners(ort, session, config, inputs));
      break;
    }
    default:
      throw new Error(`unknown runtime in a page: ${config.runtime}`);
  }
  const first = await run();
  result.firstMs = performance.now();
  console.log('FIRST');
  if (phase === 'cold') return result;
  for (const o of config.outputs)
    await sendOutput(`${config.runtime}.${o.name}.f32`, first[o.name]);
  result.wasmFiles = performance
    .getEntriesByType('resource')
    .map((e) => e.name.replace(/^.*\//, ''))
    .filter((n) => n.endsWith('.wasm'));
  result.crossOriginIsolated = globalThis.crossOriginIsolated;
  // The parent reads the renderer's CPU time around this call (timing() below).
  globalThis.timing = async () => {
    result.fresh = await timeRuns(run, config.timing);
    if (config.into && runInto) {
      const into = Object.fromEntries(
        config.outputs.map((o) => [o.name, new Float32Array(o.size)]),
      );
      await runInto(into);
      result.into = await timeRuns(() => runInto(into), config.timing);
    }
    return result;
  };
  return result;
}

const params = new URLSearchParams(location.search);
globalThis.benchDone = fetch(params.get('config'))
  .then((r) => r.json())
  .then((config) => main(config, params.get('phase')));
