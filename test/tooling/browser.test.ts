// Both targets' modules for examples/mnist.net run in headless Chromium and give Node's outputs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildNetwork, initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { size } from '../../src/ir/graph.js';
import { runReference } from '../../src/reference/run.js';
import { browserSkipReason, launchChromium, runModuleInBrowser } from '../helpers/browser.js';
import { expectClose } from '../helpers/tolerance.js';

const root = path.resolve(import.meta.dirname, '../..');
const skip = browserSkipReason();
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-browser-'));
let browser: Browser | undefined;

beforeAll(async () => {
  if (!skip) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(skip !== null)(`generated modules in Chromium${skip ? ` (${skip})` : ''}`, () => {
  for (const target of ['wasm', 'ts'] as const) {
    test(`examples/mnist.net, target ${target}: the same outputs as in Node`, async () => {
      const g = compileSource(readFileSync(path.join(root, 'examples/mnist.net'), 'utf8'))
        .graphs[0]!;
      const built = await buildNetwork(g, { target, seed: 0 });
      if (!built.ok) throw new Error(built.error);
      const dir = path.join(tmp, target);
      mkdirSync(dir, { recursive: true });
      for (const f of built.files) writeFileSync(path.join(dir, f.name), f.data);

      const batch = 3;
      let s = 7;
      const next = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
      const feeds: Record<string, Float32Array> = {};
      for (const p of g.inputs)
        feeds[p.name] = Float32Array.from({ length: batch * size(p.shape) }, next);

      // Node, as an app would run it.
      const inputs: Record<string, string> = {};
      const outputs: Record<string, string> = {};
      g.inputs.forEach((p, i) => {
        inputs[p.name] = path.join(dir, `in-${i}.bin`);
        writeFileSync(inputs[p.name]!, feeds[p.name]!);
      });
      g.outputs.forEach((p, i) => (outputs[p.name] = path.join(dir, `out-${i}.bin`)));
      const spec = path.join(dir, 'spec.json');
      writeFileSync(
        spec,
        JSON.stringify({ module: path.join(dir, `${g.name}.js`), inputs, outputs }),
      );
      execFileSync(process.execPath, [path.join(root, 'test/helpers/run-module.mjs'), spec], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });

      const inBrowser = await runModuleInBrowser(browser!, dir, `${g.name}.js`, feeds);
      for (const p of g.outputs) {
        const b = readFileSync(outputs[p.name]!);
        const node = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
        expect(inBrowser[p.name]).toHaveLength(batch * size(p.shape));
        expectClose(inBrowser[p.name]!, node, `${target} ${p.name} (Chromium vs Node)`);
      }
    });
  }

  test('Chromium has relaxed SIMD: its wasm modules run the relaxed build (above, against Node)', async () => {
    const page = await browser!.newPage();
    try {
      // The generated loader's probe: a module computing f32x4.relaxed_madd.
      const probe = [
        0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32,
        0, 32, 0, 32, 0, 253, 133, 2, 11,
      ];
      expect(await page.evaluate((b) => WebAssembly.validate(new Uint8Array(b)), probe)).toBe(true);
    } finally {
      await page.close();
    }
  });

  test('a streamed output (wasm): slices copied out in the browser too', async () => {
    const g = compileSource(
      'network streamed { input x: [9, 7, 6]  output y = x -> separable_conv2d(8, 3, padding: same) }',
    ).graphs[0]!;
    // Slices of two rows: a top, an interior group and a bottom slice.
    const built = await buildNetwork(g, {
      target: 'wasm',
      seed: 4,
      stream: { minBytes: 1, sliceBytes: 2 * 7 * 8 * 4 },
    });
    if (!built.ok) throw new Error(built.error);
    expect(built.program.streams[0]!.groups.length).toBeGreaterThan(1);
    const dir = path.join(tmp, 'streamed');
    mkdirSync(dir, { recursive: true });
    for (const f of built.files) writeFileSync(path.join(dir, f.name), f.data);
    const batch = 2;
    let s = 3;
    const next = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
    const x = Float32Array.from({ length: batch * size(g.inputs[0]!.shape) }, next);
    const values = initialValues(g, 4);
    const expected = runReference(
      g,
      new Map(g.params.map((p, i) => [p.key, values[i]!])),
      { x },
      batch,
    )['y']!;
    const inBrowser = await runModuleInBrowser(browser!, dir, 'streamed.js', { x });
    expectClose(inBrowser['y']!, expected, 'streamed y (Chromium vs reference)');
  });
});
