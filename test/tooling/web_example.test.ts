// examples/web: build.mjs fetches the trained selfie segmentation model (once, cached in
// test/.cache), imports and builds it with the command line and writes the sample picture; the
// page is served by serve.mjs and opened in Chromium, and a screenshot of its result must be the
// picture the reference interpreter's mask gives (each channel within one level: see below).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compileSource } from '../../src/frontend/index.js';
import { runReference } from '../../src/reference/run.js';
import { loadWeights } from '../../src/weights/index.js';
import { browserSkipReason, launchChromium } from '../helpers/browser.js';
import { decodePng, type Picture } from '../helpers/png.js';

const root = path.resolve(import.meta.dirname, '../..');
const web = path.join(root, 'examples/web');
// The model's TF.js files: those of tools/human_models.mjs --install where it ran, else fetched
// by build.mjs into a cache of their own.
const installed = path.join(root, 'test/.cache/human-models/package/models');
const models = existsSync(path.join(installed, 'selfie.json'))
  ? installed
  : path.join(root, 'test/.cache/web-model');
const skip = browserSkipReason();
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-web-'));
let browser: Browser | undefined;
let server: ChildProcess | undefined;
let url = '';

beforeAll(async () => {
  if (skip) return;
  execFileSync(process.execPath, [path.join(web, 'build.mjs'), tmp, '--models', models], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (const f of ['index.html', 'main.js']) copyFileSync(path.join(web, f), path.join(tmp, f));
  server = spawn(process.execPath, [path.join(web, 'serve.mjs'), tmp, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server!.stdout!.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    server!.on('exit', (code) => reject(new Error(`serve.mjs exited (${code}): ${out}`)));
  });
  browser = await launchChromium();
}, 240_000);
afterAll(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
});

async function screenshot(page: Page, id: string): Promise<Picture> {
  const box = await page.locator(`#${id}`).boundingBox();
  // On whole pixels, the screenshot holds the canvas's pixels, not a blend of neighbours.
  expect([box!.x % 1, box!.y % 1]).toEqual([0, 0]);
  return decodePng(await page.locator(`#${id}`).screenshot());
}

describe.skipIf(skip !== null)(`examples/web in Chromium${skip ? ` (${skip})` : ''}`, () => {
  test("the page shows the picture and the trained model's mask applied to it", async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await page.goto(url);
      const done = (await page.evaluate('window.netcDone')) as { width: number; height: number };
      expect(errors).toEqual([]);
      expect(await page.evaluate('crossOriginIsolated')).toBe(true); // serve.mjs's headers
      expect(await page.locator('#status').textContent()).toMatch(
        /^selfie\.js: input_1:0 \[256,256,3\] -> activation_10:0 \[256,256,1\] in [\d.]+ ms$/,
      );

      // The picture: the screenshot of the input canvas is the sample, exactly (so screenshots
      // carry the canvas's pixels unchanged).
      const sample = decodePng(readFileSync(path.join(tmp, 'sample.png')));
      const shown = await screenshot(page, 'input');
      expect([shown.width, shown.height]).toEqual([sample.width, sample.height]);
      expect([done.width, done.height]).toEqual([sample.width, sample.height]);
      expect(Buffer.from(shown.rgba).equals(Buffer.from(sample.rgba))).toBe(true);

      // The expected result, from the reference interpreter's float64 mask on the same input,
      // with the imported network and its weights.
      const g = compileSource(readFileSync(path.join(tmp, 'model/selfie.net'), 'utf8')).graphs[0]!;
      const n = sample.width * sample.height;
      const image = new Float32Array(3 * n);
      for (let i = 0; i < n; i++)
        for (let k = 0; k < 3; k++) image[3 * i + k] = sample.rgba[4 * i + k]! / 255;
      const values = loadWeights(
        readFileSync(path.join(tmp, 'model/selfie.safetensors')),
        g.params.map((p) => ({ name: p.key, shape: [...p.shape] })),
      );
      const params = new Map(g.params.map((p, i) => [p.key, values[i]!]));
      const [input, output] = [g.inputs[0]!.name, g.outputs[0]!.name];
      const mask = runReference(g, params, { [input]: image }, 1)[output]!;
      const result = await screenshot(page, 'output');
      expect([result.width, result.height]).toEqual([sample.width, sample.height]);
      // Each channel is round(v * (0.25 + 0.75 m)), v <= 255: the module's float32 mask is
      // within the suite's 1e-4 tolerance of the reference (at most 0.02 of a level here), so a
      // channel can differ only where v * (0.25 + 0.75 m) is that close to a half: by one level.
      let worst = 0;
      let off = 0;
      let lo = 1;
      let hi = 0;
      for (let i = 0; i < n; i++) {
        const m = Math.min(1, Math.max(0, mask[i]!));
        lo = Math.min(lo, m);
        hi = Math.max(hi, m);
        for (let k = 0; k < 3; k++) {
          const want = Math.round(sample.rgba[4 * i + k]! * (0.25 + 0.75 * m));
          const d = Math.abs(result.rgba[4 * i + k]! - want);
          worst = Math.max(worst, d);
          if (d > 0) off++;
        }
      }
      expect(worst).toBeLessThanOrEqual(1);
      // And only that close to a half: within 0.02 on either side, at most 4 % of the channels
      // if their fractions spread evenly (a shift of every pixel, as a colour conversion of the
      // screenshot would give, fails here).
      expect(off).toBeLessThan(0.05 * 3 * n);
      // The mask is not constant, so the comparison sees the network's output; and it is the
      // trained model's: the person (face, shirt) is in it, the wall and its window are not.
      expect(hi - lo).toBeGreaterThan(0.1);
      const at = (x: number, y: number) => mask[y * sample.width + x]!;
      expect([at(128, 110), at(128, 230)].every((m) => m > 0.5)).toBe(true);
      expect([at(50, 70), at(230, 40), at(10, 150)].every((m) => m < 0.1)).toBe(true);
    } finally {
      await page.close();
    }
  });
});
