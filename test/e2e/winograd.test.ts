// Winograd F(2x2, 3x3) end to end: a network whose 3x3 stride-1 convolutions the wasm backend
// computes by Winograd (after batch normalization is folded into them), built with one set of
// weights and then loaded with another through `load({ weights })`, so the kernel transform
// runs inside the generated module too. Both against the float64 reference.
import { scheduleFor } from '../../src/lower/schedule.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { lowerGraph } from '../../src/lower/index.js';
import { runPasses } from '../../src/passes/pipeline.js';
import { runReference } from '../../src/reference/run.js';
import { writeSafetensors } from '../../src/weights/index.js';
import { buildInto, runModule } from '../helpers/module.js';
import { randomFeeds } from '../helpers/random.js';
import { expectClose } from '../helpers/tolerance.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netc-winograd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOURCE = `
network wino {
  input x: [13, 11, 16]
  h = x -> conv2d(24, 3, padding: same) -> batch_normalization -> relu
  h = h -> conv2d(32, 3, activation: relu6)
  output y = h -> conv2d(20, 3, padding: same, use_bias: false)
}`;

describe('Winograd convolutions', () => {
  it('is chosen where its larger weights repay: enough tiles, or weights that stay in cache', () => {
    const kernelOf = (source: string): string => {
      const graph = runPasses(compileSource(source).graphs[0]!);
      const p = lowerGraph(graph, { schedule: scheduleFor(true) });
      return p.kernels.find((k) => k.name.startsWith('conv2d'))!.name;
    };
    const wino = (name: string): boolean => name.includes('_winograd_');
    // DCGAN's first up-sampling: 4 tiles per phase, 33.5 MB of U against 13 MB of kernel.
    expect(
      wino(
        kernelOf(
          'network t { input x: [4, 4, 512]  output y = x -> conv2d_transpose(256, 5, strides: 2, padding: same) }',
        ),
      ),
    ).toBe(false);
    expect(
      wino(
        kernelOf(
          'network t { input x: [8, 8, 256]  output y = x -> conv2d_transpose(128, 5, strides: 2, padding: same) }',
        ),
      ),
    ).toBe(true);
    expect(
      wino(
        kernelOf(
          'network t { input x: [4, 4, 256]  output y = x -> conv2d(256, 3, padding: same) }',
        ),
      ),
    ).toBe(false);
    // Small weights stay in cache: Winograd however few the tiles.
    expect(
      wino(
        kernelOf('network t { input x: [4, 4, 32]  output y = x -> conv2d(32, 3, padding: same) }'),
      ),
    ).toBe(true);
  });

  it('built-in and loaded weights both match the reference', async () => {
    const graph = compileSource(SOURCE).graphs[0]!;
    const built = await buildInto(dir, graph, { target: 'wasm', seed: 3, format: false });
    const winograd = built.program.kernels.filter((k) => k.name.includes('_winograd_'));
    expect(winograd.length).toBe(3);

    const batch = 2;
    const { x } = randomFeeds(graph, batch, 99);
    const run = async (weights?: Uint8Array): Promise<Float32Array> =>
      (await runModule(built.module, { x: x! }, weights ? { weights } : {}))['y']!;
    const expected = (values: Float32Array[]): Float64Array =>
      runReference(
        graph,
        new Map(graph.params.map((p, i) => [p.key, values[i]!])),
        { x: x! },
        batch,
      )['y']!;

    expectClose(await run(), expected(initialValues(graph, 3)), 'built-in weights');

    // Other weights, with batch normalization statistics that do something.
    const other = initialValues(graph, 11).map((v, i) => {
      const key = graph.params[i]!.key;
      if (key.endsWith('moving_variance')) return v.map((_, j) => 0.5 + ((j * 7) % 5) / 4);
      if (key.endsWith('moving_mean') || key.endsWith('beta'))
        return v.map((_, j) => ((j % 7) - 3) / 10);
      return v;
    });
    const weights = writeSafetensors(
      graph.params.map((p, i) => ({ name: p.key, shape: [...p.shape], data: other[i]! })),
    );
    expectClose(await run(weights), expected(other), 'loaded weights');
  }, 120_000);
});
