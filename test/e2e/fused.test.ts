// Layers fused into the bands of the layer before (src/lower/index.ts fusedBands): a pointwise
// conv2d after a depthwise one, and one with a residual (conv2d_add) after a 3x3 conv2d (the
// residual keeps the 3x3 layer's input alive, so the arena does not put the pointwise output
// over it), each band run in the part that computed its rows. Split however small the layers are, run on 1 to 4 threads: the same bits as one
// thread, and the reference's values. (The examples' softmax outputs are nearly uniform with
// their random weights, so a wrong row there can go unseen: this network ends in a map.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { runReference } from '../../src/reference/run.js';
import { buildInto, runModule } from '../helpers/module.js';
import { randomFeeds } from '../helpers/random.js';
import { expectClose } from '../helpers/tolerance.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netc-fused-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOURCE = `network fused {
  input x: [12, 10, 8]
  a = x -> depthwise_conv2d(3, padding: same, activation: relu) -> conv2d(16, 1, activation: relu)
  b = a -> conv2d(16, 3, padding: same, activation: relu) -> conv2d(16, 1)
  output y = relu(add(a, b))
}
`;

it('runs a pointwise conv2d in the bands of the layer before, the same bits on 1-4 threads', async () => {
  const [graph] = compileSource(SOURCE).graphs;
  const built = await buildInto(dir, graph!, {
    target: 'wasm',
    seed: 5,
    format: false,
    parallel: { maxParts: 4, minPartMacs: 0 },
  });
  // Both pointwise layers run in the parts of the layer before them.
  const fused = built.program.parallel!.phases.filter(
    (p) => p.parts.length > 1 && new Set(p.parts[0]!.map((c) => c.layer)).size === 2,
  );
  expect(fused).toHaveLength(2);
  const feeds = randomFeeds(graph!, 1, 777);
  const threads = [1, 2, 3, 4];
  const got = await runModule(built.module, feeds, { fresh: true, threads });
  const values = initialValues(graph!, 5);
  const weights = new Map(graph!.params.map((p, i) => [p.key, values[i]!]));
  const want = runReference(graph!, weights, feeds, 1);
  const one = got['y@1']!;
  expectClose(one, want['y']!, 'fused.y');
  for (const t of threads.slice(1)) {
    const y = got[`y@${t}`]!;
    expect(
      y.every((v, i) => Object.is(v, one[i])),
      `fused.y on ${t} threads, bit for bit`,
    ).toBe(true);
  }
  expect([...got['@threads']!]).toEqual(threads);
}, 120_000);
