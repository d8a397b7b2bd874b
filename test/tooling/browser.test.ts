// Both targets' modules for examples/mnist.net run in headless Chromium and give Node's outputs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { size } from '../../src/ir/graph.js';
import { runReference } from '../../src/reference/run.js';
import {
  browserSkipReason,
  launchChromium,
  runModuleInBrowser,
  serveDir,
} from '../helpers/browser.js';
import { buildInto, runModule } from '../helpers/module.js';
import { randomFeeds, randomFloats } from '../helpers/random.js';
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
      const dir = path.join(tmp, target);
      const built = await buildInto(dir, g, { target, seed: 0, format: false });
      const batch = 3;
      const feeds = randomFeeds(g, batch, 7, 0, 1);
      // Node, as an app would run it.
      const node = await runModule(built.module, feeds);

      const inBrowser = await runModuleInBrowser(browser!, dir, `${g.name}.js`, feeds);
      for (const p of g.outputs) {
        expect(inBrowser[p.name]).toHaveLength(batch * size(p.shape));
        expectClose(inBrowser[p.name]!, node[p.name]!, `${target} ${p.name} (Chromium vs Node)`);
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

  for (const target of ['wasm', 'ts'] as const)
    test(`${target}, --external-weights at int8: load() fetches NAME.safetensors beside the module`, async () => {
      const g = compileSource(
        'network beside { input x: [6, 6, 3]  output y = x -> conv2d(8, 3, activation: relu) -> flatten -> dense(4) }',
      ).graphs[0]!;
      const dir = path.join(tmp, `beside-${target}`);
      const built = await buildInto(dir, g, {
        target,
        seed: 2,
        format: false,
        externalWeights: true,
        weightPrecision: 'int8',
      });
      const feeds = randomFeeds(g, 2, 5);
      const node = await runModule(built.module, feeds);
      const inBrowser = await runModuleInBrowser(browser!, dir, 'beside.js', feeds);
      expectClose(inBrowser['y']!, node['y']!, `${target} external int8 (Chromium vs Node)`);
    });

  test('wasm: load() reads the fetched .wasm in pieces (compiling its code meanwhile) and refuses one of another size', async () => {
    const g = compileSource(
      'network pieces { input x: [5, 5, 2]  output y = x -> conv2d(4, 3) -> flatten -> dense(3) }',
    ).graphs[0]!;
    const dir = path.join(tmp, 'pieces');
    const built = await buildInto(dir, g, { target: 'wasm', seed: 6, format: false });
    const feeds = randomFeeds(g, 1, 8);
    const node = await runModule(built.module, feeds);
    const inBrowser = await runModuleInBrowser(browser!, dir, 'pieces.js', feeds);
    expectClose(inBrowser['y']!, node['y']!, 'pieces (Chromium vs Node)');
    // The same file served a byte longer, then a byte shorter: refused, saying why.
    const wasm = readFileSync(path.join(dir, 'pieces.wasm'));
    const server = await serveDir(dir);
    const page = await browser!.newPage();
    try {
      await page.goto(`${server.url}/`);
      const messages: string[] = [];
      for (const bytes of [Buffer.concat([wasm, Buffer.from([0])]), wasm.subarray(0, -1)]) {
        writeFileSync(path.join(dir, 'pieces.wasm'), bytes);
        messages.push(
          (await page.evaluate(`(async () => {
            const mod = await import(${JSON.stringify(`${server.url}/pieces.js`)});
            try { await mod.load(); return 'loaded'; } catch (e) { return String(e.message); }
          })()`)) as string,
        );
      }
      for (const m of messages) expect(m).toMatch(/is not the \.wasm file built with this module/);
      expect(messages[0]).toContain(`${wasm.length + 1} bytes, expected ${wasm.length}`);
      expect(messages[1]).toContain(`${wasm.length - 1} bytes, expected ${wasm.length}`);
    } finally {
      writeFileSync(path.join(dir, 'pieces.wasm'), wasm);
      await page.close();
      await server.close();
    }
  });

  test('a streamed output (wasm): slices copied out in the browser too', async () => {
    const g = compileSource(
      'network streamed { input x: [9, 7, 6]  output y = x -> separable_conv2d(8, 3, padding: same) }',
    ).graphs[0]!;
    // Slices of two rows: a top, an interior group and a bottom slice.
    const dir = path.join(tmp, 'streamed');
    const built = await buildInto(dir, g, {
      target: 'wasm',
      seed: 4,
      stream: { minBytes: 1, sliceBytes: 2 * 7 * 8 * 4 },
      format: false,
    });
    expect(built.program.streams[0]!.groups.length).toBeGreaterThan(1);
    const batch = 2;
    const x = randomFloats(batch * size(g.inputs[0]!.shape), 3, -0.5, 0.5);
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

  test('threads: a cross-origin isolated page runs on workers, bit for bit; a plain page on one thread', async () => {
    const g = compileSource(
      'network split { input x: [8, 6, 4]  output y = x -> conv2d(8, 3, padding: same, activation: relu) -> max_pooling2d(2) }',
    ).graphs[0]!;
    const dir = path.join(tmp, 'threads');
    await buildInto(dir, g, {
      target: 'wasm',
      seed: 5,
      format: false,
      parallel: { maxParts: 8, minPartMacs: 0 },
    });
    const script = (url: string) => `(async () => {
      const mod = await import(${JSON.stringify(`${url}/split.js`)});
      const x = new Float32Array(192).map((_, i) => Math.sin(i));
      const out = { isolated: self.crossOriginIsolated };
      for (const threads of ['auto', 1, 2, 3]) {
        try {
          const net = await mod.load({ threads });
          out[threads] = { threads: net.threads, y: Array.from(net.run({ x }).y) };
          net.dispose();
        } catch (e) {
          out[threads] = { error: e.message };
        }
      }
      return out;
    })()`;
    type Res = Record<string, { threads?: number; y?: number[]; error?: string }> & {
      isolated: boolean;
    };
    const results: Res[] = [];
    for (const isolated of [true, false]) {
      const server = await serveDir(dir, { isolated });
      const page = await browser!.newPage();
      try {
        await page.goto(`${server.url}/`);
        results.push((await page.evaluate(script(server.url))) as Res);
      } finally {
        await page.close();
        await server.close();
      }
    }
    const [on, off] = results as [Res, Res];
    expect(on.isolated).toBe(true);
    expect([on['1']!.threads, on['2']!.threads, on['3']!.threads]).toEqual([1, 2, 3]);
    expect(on['auto']!.threads).toBeGreaterThanOrEqual(1);
    for (const t of ['2', '3', 'auto']) expect(on[t]!.y, t).toEqual(on['1']!.y);
    expect(off.isolated).toBe(false);
    expect(off['auto']!.threads).toBe(1);
    expect(off['1']!.y).toEqual(on['1']!.y);
    expect(off['2']!.error).toMatch(/Cross-Origin-Opener-Policy: same-origin/);
  });
});
