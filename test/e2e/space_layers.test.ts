// The space and layout layers in whole networks, built for both targets in both data formats:
// views of ranks 4 and 5 between kernels, layout transposes around permute and reshape,
// scratch for resizing; outputs against the float64 reference.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderDiagnostic } from '../../src/diag/diagnostics.js';
import { buildNetwork, initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { size, type Graph } from '../../src/ir/graph.js';
import { runReference } from '../../src/reference/run.js';
import { expectClose } from '../helpers/tolerance.js';

const root = path.resolve(import.meta.dirname, '../..');
const out = mkdtempSync(path.join(tmpdir(), 'netc-space-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** [H, W, C] in the network's data format. */
const img = (cf: boolean, h: number, w: number, c: number): string =>
  cf ? `[${c}, ${h}, ${w}]` : `[${h}, ${w}, ${c}]`;

const source = (cf: boolean): string => `
network space${cf ? '(data_format: channels_first)' : ''} {
  input x: ${img(cf, 7, 6, 3)}
  f = x -> padding2d([[2, 1], [0, 3]], mode: reflect) -> conv2d(8, 3, activation: relu)
  output sr = f -> depth_to_space(2, mode: crd) -> conv2d(4, 3, padding: same)
    -> space_to_depth(2) -> cropping2d([[1, 0], [2, 1]])
  output shuffle = f -> reshape([2, 4, 56]) -> permute([2, 1, 3]) -> reshape(${img(cf, 7, 8, 8)})
    -> depthwise_conv2d(3, padding: same)
  output deep = f -> reshape([2, 2, 2, 7, 8]) -> permute([5, 3, 1, 4, 2]) -> flatten -> dense(5)
  output sized = f -> resizing(11, 5, crop_to_aspect_ratio: true) -> padding2d(2, symmetric)
    -> resizing(4, 9, nearest, coordinates: align_corners)
  output edges = x -> padding2d([[9, 0], [1, 8]], mode: edge)
    -> resizing(5, 5, coordinates: asymmetric) -> padding2d(1, constant_value: 0.25)
}`;

/** Tensors of ranks 4 and 5 through the layers that take any rank. */
const ranks = `
network ranks {
  input x: [4, 6, 8]
  t = x -> reshape([4, 6, 2, 4])
  u = t -> relu -> dense(3) -> softmax(axis: 2)
  v = concatenate(t, t -> sigmoid, axis: 3) -> batch_normalization
  output a = u
  output b = add(v, v) -> permute([4, 3, 2, 1]) -> reshape([8, 4, -1]) -> global_average_pooling2d
  output c = x -> reshape([2, 2, 6, 2, 4]) -> dropout(0.5) -> multiply(x -> reshape([2, 2, 6, 2, 4]))
}`;

function runInNode(
  dir: string,
  graph: Graph,
  feeds: Record<string, Float32Array>,
): Record<string, Float32Array> {
  const inputs: Record<string, string> = {};
  const outputs: Record<string, string> = {};
  graph.inputs.forEach((p, i) => {
    inputs[p.name] = path.join(dir, `in-${i}.bin`);
    writeFileSync(inputs[p.name]!, feeds[p.name]!);
  });
  graph.outputs.forEach((p, i) => (outputs[p.name] = path.join(dir, `out-${i}.bin`)));
  const spec = path.join(dir, 'spec.json');
  writeFileSync(
    spec,
    JSON.stringify({ module: path.join(dir, `${graph.name}.js`), inputs, outputs }),
  );
  execFileSync(process.execPath, [path.join(root, 'test/helpers/run-module.mjs'), spec], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const got: Record<string, Float32Array> = {};
  for (const [name, file] of Object.entries(outputs)) {
    const b = readFileSync(file);
    got[name] = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  return got;
}

describe.each([
  ['channels_last', source(false)],
  ['channels_first', source(true)],
  ['ranks 4 and 5', ranks],
])('%s', (name, src) => {
  const { graphs, diagnostics } = compileSource(src);
  for (const target of ['wasm', 'ts'] as const)
    it(`${target} build matches the reference`, async () => {
      expect(diagnostics.map((d) => renderDiagnostic('space.net', src, d))).toEqual([]);
      const graph = graphs[0]!;
      const batch = 2;
      const values = initialValues(graph, 3);
      const weights = new Map(graph.params.map((p, i) => [p.key, values[i]!]));
      let s = 99;
      const next = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
      const feeds: Record<string, Float32Array> = {};
      for (const p of graph.inputs)
        feeds[p.name] = Float32Array.from({ length: batch * size(p.shape) }, next);
      const built = await buildNetwork(graph, { target, seed: 3 });
      if (!built.ok) throw new Error(built.error);
      const dir = path.join(out, `${name.replace(/ /g, '_')}-${target}`);
      mkdirSync(dir, { recursive: true });
      for (const f of built.files) writeFileSync(path.join(dir, f.name), f.data);
      const got = runInNode(dir, graph, feeds);
      const want = runReference(graph, weights, feeds, batch);
      for (const o of graph.outputs) {
        expect(got[o.name]!.length, o.name).toBe(batch * size(o.shape));
        expectClose(got[o.name]!, want[o.name]!, `${graph.name}.${o.name}`);
      }
    }, 120_000);
});
