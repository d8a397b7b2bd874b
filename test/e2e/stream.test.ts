// Streamed outputs end to end: the wasm target computes a large output a slice of rows at a
// time after the other kernels, and the generated module copies each slice out while it is in
// cache. Built here with tiny slices, so that small networks stream too (top and bottom border
// slices, alike interior slices in one group, a short last slice), and run in a plain Node
// process with fresh and caller-owned outputs, batch 2, against the float64 reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { size } from '../../src/ir/graph.js';
import { convRuns, sliceRuns } from '../../src/lower/kernels/spatial.js';
import type { KernelProgram } from '../../src/lower/program.js';
import { runReference } from '../../src/reference/run.js';
import { buildInto, runModule } from '../helpers/module.js';
import { randomFeeds } from '../helpers/random.js';
import { expectClose } from '../helpers/tolerance.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netc-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;

/** Builds `source` streaming outputs in slices of `rows` rows (of output 'y'), runs it with
 * fresh and with caller-owned outputs and checks both against the reference; returns the
 * program. */
async function check(source: string, rows: number): Promise<KernelProgram> {
  const graph = compileSource(source).graphs[0]!;
  const y = graph.nodes[graph.outputs.find((o) => o.name === 'y')!.node]!;
  const rowBytes = (size(y.shape) / y.shape[0]!) * 4;
  const built = await buildInto(path.join(dir, String(count++)), graph, {
    target: 'wasm',
    seed: 5,
    stream: { minBytes: 1, sliceBytes: rows * rowBytes },
    format: false,
  });

  const batch = 2;
  const feeds = randomFeeds(graph, batch, 7);
  const values = initialValues(graph, 5);
  const expected = runReference(
    graph,
    new Map(graph.params.map((p, i) => [p.key, values[i]!])),
    feeds,
    batch,
  );
  for (const into of [false, true]) {
    const got = await runModule(built.module, feeds, { into });
    for (const o of graph.outputs)
      expectClose(got[o.name]!, expected[o.name]!, `${o.name} (${into ? 'into' : 'fresh'})`);
  }
  return built.program;
}

describe('streamed outputs', () => {
  it('slices with borders, alike interior slices and a short last slice', async () => {
    const p = await check(
      'network t { input x: [11, 9, 8]  output y = x -> separable_conv2d(12, 3, padding: same, activation: relu) }',
      2,
    );
    expect(p.streams.map((st) => st.output)).toEqual(['y']);
    // Rows 0-1 (top border), 2-3 .. 8-9 (interior: one group), 10 (bottom border, short).
    expect(p.streams[0]!.groups.map((g) => g.count)).toEqual([1, 4, 1]);
    expect(p.steps.some((st) => st.kernel.startsWith('separable'))).toBe(false);
  }, 60_000);

  it('strides, a non-square kernel, depth multiplier and dilation', async () => {
    await check(
      'network t { input x: [15, 13, 6]  output y = x -> separable_conv2d(10, [3, 2], strides: 2, depth_multiplier: 2) }',
      2,
    );
    await check(
      'network t { input x: [12, 10, 4]  output y = x -> separable_conv2d(8, 3, dilation_rate: 2, padding: same) }',
      3,
    );
  }, 60_000);

  it('one output streamed beside others; an output another layer reads is not', async () => {
    const p = await check(
      `network t {
        input x: [10, 8, 8]
        h = x -> conv2d(8, 3, padding: same, activation: relu)
        output y = h -> separable_conv2d(16, 3, padding: same)
        output z = h -> global_average_pooling2d
      }`,
      3,
    );
    expect(p.streams.map((st) => st.output)).toEqual(['y']);
    const q = await check(
      `network t {
        input x: [10, 8, 8]
        output y = x -> separable_conv2d(8, 3, padding: same)
        output z = y -> global_max_pooling2d
      }`,
      3,
    );
    expect(q.streams).toEqual([]);
  }, 60_000);

  it('random separable layers and slice heights', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          h: fc.integer({ min: 3, max: 14 }),
          w: fc.integer({ min: 3, max: 12 }),
          c: fc.integer({ min: 1, max: 9 }),
          f: fc.integer({ min: 1, max: 12 }),
          k: fc.integer({ min: 1, max: 3 }),
          s: fc.integer({ min: 1, max: 2 }),
          same: fc.boolean(),
          rows: fc.integer({ min: 1, max: 5 }),
        }),
        async (o) => {
          const p = await check(
            `network t { input x: [${o.h}, ${o.w}, ${o.c}]  output y = x -> separable_conv2d(${o.f}, ${o.k}, strides: ${o.s}, padding: ${o.same ? 'same' : 'valid'}) }`,
            o.rows,
          );
          expect(p.streams.length).toBe(1);
        },
      ),
      { numRuns: 8, seed: 20261202 },
    );
  }, 120_000);
});

describe('sliceRuns', () => {
  it('slices cover every output once, with its taps and input rows moved by the shift', () => {
    fc.assert(
      fc.property(
        fc.record({
          size: fc.integer({ min: 1, max: 30 }),
          k: fc.integer({ min: 1, max: 7 }),
          s: fc.integer({ min: 1, max: 3 }),
          d: fc.integer({ min: 1, max: 3 }),
          pad: fc.integer({ min: 0, max: 4 }),
          rows: fc.integer({ min: 1, max: 8 }),
        }),
        (o) => {
          const out = Math.floor((o.size + 2 * o.pad - o.d * (o.k - 1) - 1) / o.s) + 1;
          if (out < 1) return;
          const all = convRuns(out, o.size, o.k, o.s, o.d, o.pad);
          /** Per output: [t0, n, first input] (n = 0: no input). */
          const expand = (runs: ReturnType<typeof convRuns>, shift: number): number[][] =>
            runs.flatMap((r) =>
              Array.from({ length: r.count }, (_, j) => [
                r.o0 + j,
                r.n ? r.t0 : 0,
                r.n,
                r.n ? r.i0 + j * r.istep + shift : 0,
              ]),
            );
          const whole = expand(all, 0);
          const pieces: number[][] = [];
          for (let from = 0; from < out; from += o.rows) {
            const cut = sliceRuns(all, from, Math.min(o.rows, out - from));
            for (const r of cut.runs) if (r.n) expect(r.i0).toBeGreaterThanOrEqual(0);
            pieces.push(
              ...expand(cut.runs, cut.shift).map(([oo, ...rest]) => [oo! + from, ...rest]),
            );
          }
          expect(pieces).toEqual(whole);
        },
      ),
      { numRuns: 300 },
    );
  });
});
