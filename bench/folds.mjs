// What the folding passes buy: layers and parameters removed, and the TypeScript build's speed
// with and without them (resnet50, mobilenet_v1). Run after `npx tsc -p tsconfig.json`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildNetwork } from '../dist/src/driver.js';
import { compileSource } from '../dist/src/frontend/index.js';
import { runPasses } from '../dist/src/passes/pipeline.js';
import { summarize } from '../dist/src/summary/summary.js';

const root = path.resolve(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'netc-folds-'));
const nets = process.argv.slice(2).length ? process.argv.slice(2) : ['mobilenet_v1', 'resnet50'];

async function timeBuild(graph, noFold, tag) {
  const built = await buildNetwork(graph, { target: 'ts', seed: 1, noFold });
  const sub = path.join(dir, `${graph.name}-${tag}`);
  const fs = await import('node:fs');
  fs.mkdirSync(sub, { recursive: true });
  for (const f of built.files) writeFileSync(path.join(sub, f.name), f.data);
  const mod = await import(pathToFileURL(path.join(sub, `${graph.name}.js`)).href);
  const net = await mod.load();
  const feeds = {};
  for (const [k, shape] of Object.entries(mod.inputs))
    feeds[k] = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5);
  net.run(feeds);
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    net.run(feeds);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { median: times[2], steps: built.program.steps.length };
}

for (const name of nets) {
  const { graphs } = compileSource(
    readFileSync(path.join(root, 'examples', `${name}.net`), 'utf8'),
  );
  const g = graphs[0];
  const folded = runPasses(g);
  const s = summarize(g, folded);
  const visible = (gr) => gr.nodes.filter((n) => !n.hidden && n.layer.kind !== 'input').length;
  const unf = await timeBuild(g, true, 'unfolded');
  const fol = await timeBuild(g, false, 'folded');
  console.log(
    `${name}: layers ${visible(g)} -> ${visible(folded)} (${visible(g) - visible(folded)} removed), ` +
      `params ${s.params} -> ${s.params_folded} (${s.params - s.params_folded} removed), ` +
      `kernel steps ${unf.steps} -> ${fol.steps}; TypeScript run ${unf.median.toFixed(0)} ms -> ` +
      `${fol.median.toFixed(0)} ms (${(unf.median / fol.median).toFixed(2)}x)`,
  );
}
rmSync(dir, { recursive: true, force: true });
