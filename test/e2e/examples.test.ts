// Every example, built for both targets, imported and run; outputs against the reference.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNetwork, initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { size, type Graph } from '../../src/ir/graph.js';
import { runReference } from '../../src/reference/run.js';
import { summarize } from '../../src/summary/summary.js';
import { runPasses } from '../../src/passes/pipeline.js';
import { expectClose } from '../helpers/tolerance.js';

const root = path.resolve(import.meta.dirname, '../..');
const examples = readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.net'));
const out = mkdtempSync(path.join(tmpdir(), 'netc-e2e-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Runs a built module in a fresh Node process, as an app would (and fast: Vitest's module
 * transform is slow on modules with large built-in weights). */
function runInNode(
  dir: string,
  graph: Graph,
  feeds: Record<string, Float32Array>,
): Record<string, Float32Array> {
  const inputs: Record<string, string> = {};
  const outputs: Record<string, string> = {};
  for (const p of graph.inputs) {
    inputs[p.name] = path.join(dir, `in-${Object.keys(inputs).length}.bin`);
    writeFileSync(inputs[p.name]!, feeds[p.name]!);
  }
  graph.outputs.forEach((p, i) => (outputs[p.name] = path.join(dir, `out-${i}.bin`)));
  const spec = path.join(dir, 'spec.json');
  writeFileSync(
    spec,
    JSON.stringify({ module: path.join(dir, `${graph.name}.js`), inputs, outputs }),
  );
  execFileSync(process.execPath, [path.join(root, 'test/helpers/run-module.mjs'), spec], {
    stdio: ['ignore', 'inherit', 'inherit'],
    maxBuffer: 1 << 20,
  });
  const got: Record<string, Float32Array> = {};
  for (const [name, file] of Object.entries(outputs)) {
    const b = readFileSync(file);
    got[name] = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  return got;
}

/** Deterministic inputs in [-1, 1). */
function feedsFor(graph: Graph, batch: number): Record<string, Float32Array> {
  let s = 12345;
  const next = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const feeds: Record<string, Float32Array> = {};
  for (const p of graph.inputs)
    feeds[p.name] = Float32Array.from({ length: batch * size(p.shape) }, next);
  return feeds;
}

describe.each(examples)('examples/%s', (file) => {
  const { graphs, diagnostics } = compileSource(
    readFileSync(path.join(root, 'examples', file), 'utf8'),
  );
  it('compiles without diagnostics', () => expect(diagnostics).toEqual([]));
  for (const graph of graphs) {
    const macs = summarize(graph, runPasses(graph)).macs;
    // Large networks run one example (the float64 reference costs seconds per example).
    const batch = macs > 5e7 ? 1 : 2;
    const values = initialValues(graph, 7);
    const weights = new Map(graph.params.map((p, i) => [p.key, values[i]!]));
    const feeds = feedsFor(graph, batch);
    let expected: Record<string, Float64Array> | undefined;
    for (const target of ['wasm', 'ts'] as const) {
      it(`${graph.name}: ${target} build matches the reference`, async () => {
        const built = await buildNetwork(graph, { target, seed: 7 });
        if (!built.ok) throw new Error(built.error);
        const dir = path.join(out, `${graph.name}-${target}`);
        rmSync(dir, { recursive: true, force: true });
        for (const f of built.files) {
          const p = path.join(dir, f.name);
          mkdirSync(dir, { recursive: true });
          writeFileSync(p, f.data);
        }
        const got = runInNode(dir, graph, feeds);
        expected ??= runReference(graph, weights, feeds, batch);
        for (const o of graph.outputs)
          expectClose(got[o.name]!, expected[o.name]!, `${graph.name}.${o.name}`);
      }, 300_000);
    }
  }
});
