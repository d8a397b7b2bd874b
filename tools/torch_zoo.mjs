// PyTorch's model zoo through `netc import`: exports torchvision networks and small app networks
// with random weights (tools/torch_zoo.py, Debian's python3-torch), imports each, builds it,
// runs it, and compares with onnxruntime-node and PyTorch in float64.
//
//   npm run build && node tools/torch_zoo.mjs [--time] [--ts] [--no-build] [NAME[@SIZE][:OPSET] ...]
//
// Without names, every model at its default size. Prints a table: parameters, whether it
// imports (else the first reason), builds, the largest error against PyTorch float64 (relative
// to max(1, |expected|), as test/helpers/tolerance.ts measures) of netc and of onnxruntime-node,
// and with --time netc wasm and onnxruntime-web warm milliseconds, both one thread, timed
// alternately run for run in one fresh process (median); then each model's ONNX operators.
// --ts builds the TypeScript target too; --no-build stops after the import.
// Exports are cached in .cache/torch_zoo/HASH (HASH: the exporter script's), or $NETC_ZOO_CACHE.
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
export const EXPORTER = path.join(here, 'torch_zoo.py');

let pythonCache;
/** A Python with torch and torchvision (Debian's /usr/bin/python3 first), or null. */
export function torchPython() {
  if (pythonCache !== undefined) return pythonCache;
  pythonCache = null;
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch, torchvision'], { stdio: 'ignore' });
    if (r.status === 0) {
      pythonCache = py;
      break;
    }
  }
  return pythonCache;
}

/** What to say when torch is missing. */
export const NO_TORCH =
  'python3-torch and python3-torchvision are not installed (apt-get install -y python3-torch python3-torchvision; .ci/run does)';

/** The cache folder for the current exporter script. */
export function zooDir() {
  const hash = createHash('sha256').update(fs.readFileSync(EXPORTER)).digest('hex').slice(0, 12);
  return path.join(process.env.NETC_ZOO_CACHE ?? path.join(root, '.cache', 'torch_zoo'), hash);
}

/** The model names the exporter knows. */
export function zooNames() {
  const py = torchPython();
  if (!py) throw new Error(NO_TORCH);
  return execFileSync(py, [EXPORTER, '--list'], { encoding: 'utf8' }).trim().split('\n');
}

/**
 * Exports `specs` (NAME[@SIZE][:OPSET]) unless cached; returns each one's description:
 * { key, name, opset, params, input, outputs?, error?, dir }.
 */
export function exportModels(specs) {
  const py = torchPython();
  if (!py) throw new Error(NO_TORCH);
  const dir = zooDir();
  fs.mkdirSync(dir, { recursive: true });
  const out = execFileSync(py, [EXPORTER, dir, ...specs], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 24,
  });
  return out
    .trim()
    .split('\n')
    .map((key) => ({ ...JSON.parse(fs.readFileSync(path.join(dir, `${key}.json`), 'utf8')), dir }));
}

/** A model's files: the ONNX bytes, the input, and PyTorch's float64 outputs (as f32). */
export function modelFiles(info) {
  const f32 = (file) => {
    const b = fs.readFileSync(file);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  const base = path.join(info.dir, info.key);
  return {
    onnx: new Uint8Array(fs.readFileSync(`${base}.onnx`)),
    input: f32(`${base}.in.f32`),
    torch: (info.outputs ?? []).map((_, i) => f32(`${base}.out${i}.f32`)),
  };
}

/** The ONNX operator counts of a model, most frequent first. */
export async function opCounts(bytes) {
  const { decodeModel } = await import(
    pathToFileURL(path.join(root, 'dist/src/onnx/model.js')).href
  );
  const counts = new Map();
  for (const n of decodeModel(bytes).graph.nodes)
    counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/** max |a - b| / max(1, |b|): the tolerance's measure (test/helpers/tolerance.ts). */
export function maxError(a, b) {
  if (a.length !== b.length) return Infinity;
  let e = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(d <= e)) e = Number.isNaN(d) ? Infinity : d;
  }
  return e;
}

// ------------------------------------------------------------------------------------- script

const fmtErr = (e) => (e === undefined ? '' : e === Infinity ? 'NaN/size' : e.toExponential(1));
const fmtMs = (m) => (m === undefined ? '' : m < 10 ? m.toFixed(2) : m.toFixed(1));

/**
 * Times netc (wasm, one thread) and onnxruntime-web (wasm, one thread) on one model in one fresh
 * process, alternating run for run, so both see the same load on a shared machine; median warm
 * ms of each. `config`: { module, input: { name, file }, onnx, feed: { name, shape } }.
 */
function timeAlternating(config, tmp) {
  const file = path.join(tmp, 'alternate.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--alternate', file], {
    encoding: 'utf8',
    cwd: root,
    timeout: 900_000,
    maxBuffer: 1 << 26,
  });
  const m = /^RESULT (.*)$/m.exec(r.stdout ?? '');
  if (!m) console.error(`timing failed: ${(r.stderr ?? '').slice(-500)}`);
  return m ? JSON.parse(m[1]) : {};
}

/** The child of timeAlternating: warm-up, then pairs of runs until 5 pairs and 3 s (at most
 * 40 pairs or 30 s). */
async function alternate(file) {
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  const b = fs.readFileSync(config.input.file);
  const input = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const mod = await import(pathToFileURL(config.module).href);
  const net = await mod.load({ threads: 1 });
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  const session = await ort.InferenceSession.create(fs.readFileSync(config.onnx), {
    executionProviders: ['wasm'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feed = () => ({
    [config.feed.name]: new ort.Tensor('float32', input, [1, ...config.feed.shape]),
  });
  const netc = () => net.run({ [config.input.name]: input });
  const web = () => session.run(feed());
  for (let i = 0; i < 2; i++) {
    netc();
    await web();
  }
  const a = [];
  const w = [];
  const t0 = performance.now();
  while (a.length < 40 && (a.length < 5 || performance.now() - t0 < 3000)) {
    if (performance.now() - t0 > 30_000) break;
    let s = performance.now();
    netc();
    a.push(performance.now() - s);
    s = performance.now();
    await web();
    w.push(performance.now() - s);
  }
  const med = (v) => {
    const x = [...v].sort((p, q) => p - q);
    return x.length % 2 ? x[x.length >> 1] : (x[x.length / 2 - 1] + x[x.length / 2]) / 2;
  };
  process.stdout.write(
    `RESULT ${JSON.stringify({ netc: med(a), ortWeb: med(w), pairs: a.length })}\n`,
  );
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--alternate') return alternate(args[1]);
  const time = args.includes('--time');
  const ts = args.includes('--ts');
  const build = !args.includes('--no-build');
  let specs = args.filter((a) => !a.startsWith('--'));
  if (!torchPython()) {
    console.error(`tools/torch_zoo.mjs: ${NO_TORCH}`);
    process.exit(1);
  }
  if (specs.length === 0) specs = zooNames();
  const dist = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);
  const { importOnnx } = await dist('src/onnx/import.js');
  const { compileSource } = await dist('src/frontend/index.js');
  const { buildNetwork } = await dist('src/driver.js');
  const ort = await import('onnxruntime-node');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netc-zoo-'));
  const rows = [];
  // One exporter run for all (Python and torch start slowly).
  const infos = exportModels(specs);
  for (const info of infos) {
    const t0 = performance.now();
    const row = {
      model: `${info.name} ${info.input.join('x')} o${info.opset}`,
      params: info.params,
    };
    rows.push(row);
    if (info.error) {
      row.imported = info.error;
      print(row);
      continue;
    }
    try {
      const files = modelFiles(info);
      row.ops = (await opCounts(files.onnx)).map(([op, n]) => `${op} ${n}`).join(', ');
      const r = importOnnx(files.onnx, { name: 'zoo' });
      if (!r.ok) {
        row.imported = `no: ${r.errors[0]}${r.errors.length > 1 ? ` (+${r.errors.length - 1} more)` : ''}`;
        print(row);
        continue;
      }
      row.imported = 'yes';
      const session = await ort.InferenceSession.create(files.onnx, {
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
      });
      const feedName = session.inputNames[0];
      const want = await session.run({
        [feedName]: new ort.Tensor('float32', files.input, [1, ...info.input]),
      });
      const ortOut = session.outputNames.map((n) => want[n].data);
      await session.release();
      row.ortVsTorch = Math.max(...ortOut.map((o, i) => maxError(o, files.torch[i])));
      const graph = compileSource(r.source).graphs[0];
      for (const target of !build ? [] : ts ? ['wasm', 'ts'] : ['wasm']) {
        const dir = path.join(tmp, `${info.key}-${target}`);
        const built = await buildNetwork(graph, {
          target,
          seed: 0,
          weights: r.weights,
          format: false,
        });
        if (!built.ok) {
          row[`${target}Error`] = built.error;
          continue;
        }
        fs.mkdirSync(dir, { recursive: true });
        for (const f of built.files) fs.writeFileSync(path.join(dir, f.name), f.data);
        const modFile = path.join(dir, `${graph.name}.js`);
        const mod = await import(pathToFileURL(modFile).href);
        const net = await mod.load({ weights: r.weights });
        const got = net.run({ [graph.inputs[0].name]: files.input });
        const outs = graph.outputs.map((p) => got[p.name]);
        row[`${target}VsOrt`] = Math.max(...outs.map((o, i) => maxError(o, ortOut[i])));
        row[`${target}VsTorch`] = Math.max(...outs.map((o, i) => maxError(o, files.torch[i])));
        if (time && target === 'wasm') {
          const inFile = path.join(tmp, 'input.f32');
          fs.writeFileSync(inFile, files.input);
          fs.writeFileSync(path.join(tmp, 'model.onnx'), files.onnx);
          const t = timeAlternating(
            {
              module: modFile,
              input: { name: graph.inputs[0].name, file: inFile },
              onnx: path.join(tmp, 'model.onnx'),
              feed: { name: feedName, shape: info.input },
            },
            tmp,
          );
          row.netcMs = t.netc;
          row.ortWebMs = t.ortWeb;
        }
      }
    } catch (e) {
      // A crash of netc on one model is a row of the table, not the end of the run.
      row.crash = String(e?.stack ?? e)
        .split('\n')
        .slice(0, 3)
        .join(' ');
    }
    row.seconds = ((performance.now() - t0) / 1000).toFixed(0);
    print(row);
  }
  const built = (r, t) =>
    r[`${t}Error`] ? `no (${r[`${t}Error`]})` : r[`${t}VsTorch`] !== undefined ? 'yes' : '';
  console.log(
    '\n| model | params | imports | builds wasm / ts | max err vs PyTorch f64: wasm / ts | onnxruntime-node vs PyTorch | netc wasm ms | onnxruntime-web ms | ort-web / netc |',
  );
  console.log('| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows)
    console.log(
      `| ${r.model} | ${(r.params / 1e6).toFixed(2)}M | ${r.imported ?? ''}${r.crash ? ` CRASH: ${r.crash}` : ''} | ${built(r, 'wasm')} / ${built(r, 'ts')} | ${fmtErr(r.wasmVsTorch)} / ${fmtErr(r.tsVsTorch)} | ${fmtErr(r.ortVsTorch)} | ${fmtMs(r.netcMs)} | ${fmtMs(r.ortWebMs)} | ${r.netcMs && r.ortWebMs ? (r.ortWebMs / r.netcMs).toFixed(2) : ''} |`,
    );
  console.log('\nONNX operators per model:');
  for (const r of rows) if (r.ops) console.log(`- ${r.model}: ${r.ops}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

function print(row) {
  console.error(JSON.stringify(row));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
