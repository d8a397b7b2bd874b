// Compile time against chain length (1k, 2k, 4k, 8k layers): front end, passes and lowering; shows the growth is linear. Run after `npx tsc -p tsconfig.json`: node bench/scaling.mjs [--build]
import { WASM_SIMD_X64 } from '../dist/src/lower/schedule.js';
import { compileSource } from '../dist/src/frontend/index.js';
import { runPasses } from '../dist/src/passes/pipeline.js';
import { lowerGraph } from '../dist/src/lower/index.js';
import { buildNetwork } from '../dist/src/driver.js';

const build = process.argv.includes('--build');
const LAYERS = ['dense(16)', 'relu', 'batch_normalization', 'dense(16, activation: tanh)'];

/** A chain of n layers on a [16] input. */
function chain(n) {
  const calls = Array.from({ length: n }, (_, i) => LAYERS[i % LAYERS.length]);
  return `network chain {\n  input x: [16]\n  output y = x\n    -> ${calls.join('\n    -> ')}\n}\n`;
}

const time = (f) => {
  const t = performance.now();
  const r = f();
  return [r, performance.now() - t];
};

const rows = [];
for (const n of [1000, 2000, 4000, 8000]) {
  const best = { front: Infinity, passes: Infinity, lower: Infinity, build: Infinity };
  for (let rep = 0; rep < 3; rep++) {
    const [r, front] = time(() => compileSource(chain(n)));
    if (r.diagnostics.length) throw new Error(r.diagnostics[0].message);
    const [folded, passes] = time(() => runPasses(r.graphs[0]));
    const [, lower] = time(() => lowerGraph(folded, { schedule: WASM_SIMD_X64 }));
    best.front = Math.min(best.front, front);
    best.passes = Math.min(best.passes, passes);
    best.lower = Math.min(best.lower, lower);
    if (build && rep === 0) {
      const t = performance.now();
      const b = await buildNetwork(r.graphs[0], { target: 'wasm', seed: 0 });
      if (!b.ok) throw new Error(b.error);
      best.build = performance.now() - t;
    }
  }
  rows.push({ layers: n, ...best });
}
const base = rows[0];
console.log(
  'layers  front(ms)  passes(ms)  lower(ms)' +
    (build ? '  build wasm(ms)' : '') +
    '  total/layer(us)  vs 1k',
);
for (const r of rows) {
  const total = r.front + r.passes + r.lower;
  const baseTotal = base.front + base.passes + base.lower;
  console.log(
    [
      String(r.layers).padStart(6),
      r.front.toFixed(0).padStart(9),
      r.passes.toFixed(0).padStart(10),
      r.lower.toFixed(0).padStart(9),
      ...(build ? [r.build.toFixed(0).padStart(14)] : []),
      ((total / r.layers) * 1000).toFixed(1).padStart(15),
      `${(total / baseTotal).toFixed(2)}x`.padStart(6),
    ].join('  '),
  );
}
