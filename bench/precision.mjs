// Download size and output error per weight precision (`netc build --weight-precision`), for
// every example network, and for trained models given by their files:
//   npm run build && node bench/precision.mjs [NAME...] [MODEL.json|MODEL.onnx|MODEL.h5|MODEL.keras ...]
// e.g. node bench/precision.mjs test/.cache/human-models/package/models/selfie.json
//
// Each network is built for wasm with --external-weights at f32, f16 and int8 (an example's
// weights from seed 0, Keras's initializers; a model's are its trained ones, through
// `netc import`), and the download is what a page fetches:
// NAME.js + NAME.wasm + NAME.safetensors, each gzipped (level 6, as web servers do). The error is
// of one run on a seeded input in [0, 1), against the f32 build: the largest |y - y_f32| over
// all outputs, and that over the largest |y_f32|, measured before a final softmax.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(import.meta.dirname, '..');
const { buildNetwork } = await import(pathToFileURL(path.join(root, 'dist/src/driver.js')).href);
const { compileSource } = await import(
  pathToFileURL(path.join(root, 'dist/src/frontend/index.js')).href
);
const { Rng } = await import(pathToFileURL(path.join(root, 'dist/src/weights/random.js')).href);

const isModel = (a) => /\.(json|onnx|h5|keras)$/.test(a);
const wanted = process.argv.slice(2).filter((a) => !isModel(a));
const models = process.argv.slice(2).filter(isModel);
const examples = ['mnist', 'autoencoder', 'dcgan', 'separable', 'mobilenet_v1', 'resnet50'].filter(
  (n) => (wanted.length === 0 && models.length === 0) || wanted.includes(n),
);
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-precision-'));

/** The networks to measure: [source text, trained weights (safetensors bytes) or undefined]. */
function* sources() {
  for (const name of examples) {
    // The error is measured before a final softmax (on the logits): on initialized weights
    // the probabilities are all near 1/classes, which hides differences.
    const text = readFileSync(path.join(root, 'examples', `${name}.net`), 'utf8')
      .replace(/ -> softmax$/m, '')
      .replace(/, activation: softmax\)$/m, ')');
    yield [text, undefined];
  }
  for (const model of models) {
    const base = path.join(tmp, path.basename(model).replace(/\.\w+$/, ''));
    execFileSync(process.execPath, [
      path.join(root, 'bin/netc.js'),
      'import',
      model,
      '-o',
      `${base}.net`,
      '--weights',
      `${base}.safetensors`,
    ]);
    yield [readFileSync(`${base}.net`, 'utf8'), readFileSync(`${base}.safetensors`)];
  }
}
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;

console.log(
  '| network | precision | download (gzipped) | of which weights | max abs error | relative to max abs output |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
try {
  for (const [source, trained] of sources()) {
    for (const graph of compileSource(source).graphs) {
      const rng = Rng.fromSeed(1);
      const feeds = Object.fromEntries(
        graph.inputs.map((p) => [
          p.name,
          Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () =>
            rng.uniform(0, 1),
          ),
        ]),
      );
      let base;
      for (const precision of ['f32', 'f16', 'int8']) {
        const built = await buildNetwork(graph, {
          target: 'wasm',
          seed: 0,
          weights: trained,
          format: false,
          externalWeights: true,
          weightPrecision: precision,
        });
        if (!built.ok) throw new Error(built.error);
        const dir = path.join(tmp, `${graph.name}-${precision}`);
        mkdirSync(dir, { recursive: true });
        let total = 0;
        let weights = 0;
        for (const f of built.files) {
          writeFileSync(path.join(dir, f.name), f.data);
          if (f.name.endsWith('.d.ts')) continue;
          const z = gzipSync(f.data, { level: 6 }).length;
          total += z;
          if (f.name.endsWith('.safetensors')) weights += z;
        }
        const mod = await import(pathToFileURL(path.join(dir, `${graph.name}.js`)).href);
        const net = await mod.load();
        const out = net.run(feeds);
        let err = 'exact';
        let rel = '';
        if (precision === 'f32') base = out;
        else {
          let maxErr = 0;
          let maxOut = 0;
          for (const k of Object.keys(base)) {
            const a = base[k];
            const b = out[k];
            for (let i = 0; i < a.length; i++) {
              maxErr = Math.max(maxErr, Math.abs(a[i] - b[i]));
              maxOut = Math.max(maxOut, Math.abs(a[i]));
            }
          }
          err = maxErr.toExponential(2);
          rel = (maxErr / maxOut).toExponential(2);
        }
        console.log(
          `| ${graph.name} | ${precision} | ${mb(total)} | ${mb(weights)} | ${err} | ${rel} |`,
        );
      }
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
