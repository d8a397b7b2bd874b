// The space and layout layers in whole networks, built for both targets in both data formats:
// views of ranks 4 and 5 between kernels, layout transposes around permute and reshape,
// scratch for resizing; outputs against the float64 reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderDiagnostic } from '../../src/diag/diagnostics.js';
import { initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { size } from '../../src/ir/graph.js';
import { runReference } from '../../src/reference/run.js';
import { buildInto, runModule } from '../helpers/module.js';
import { randomFeeds } from '../helpers/random.js';
import { expectClose } from '../helpers/tolerance.js';

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
      const feeds = randomFeeds(graph, batch, 99);
      const dir = path.join(out, `${name.replace(/ /g, '_')}-${target}`);
      const { module } = await buildInto(dir, graph, { target, seed: 3, format: false });
      const got = await runModule(module, feeds);
      const want = runReference(graph, weights, feeds, batch);
      for (const o of graph.outputs) {
        expect(got[o.name]!.length, o.name).toBe(batch * size(o.shape));
        expectClose(got[o.name]!, want[o.name]!, `${graph.name}.${o.name}`);
      }
    }, 120_000);
});
