// examples/web: the sample picture from make-sample.mjs, segment.net built, the page served by
// serve.mjs and opened in Chromium; a screenshot of its result must be the picture the reference
// interpreter's mask gives (each channel within one level: see below).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { runReference } from '../../src/reference/run.js';
import { browserSkipReason, launchChromium } from '../helpers/browser.js';
import { buildInto } from '../helpers/module.js';
import { decodePng, type Picture } from '../helpers/png.js';

const root = path.resolve(import.meta.dirname, '../..');
const web = path.join(root, 'examples/web');
const skip = browserSkipReason();
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-web-'));
let browser: Browser | undefined;
let server: ChildProcess | undefined;
let url = '';

beforeAll(async () => {
  if (skip) return;
  execFileSync(process.execPath, [path.join(web, 'make-sample.mjs'), tmp]);
  for (const f of ['index.html', 'main.js']) copyFileSync(path.join(web, f), path.join(tmp, f));
  const g = compileSource(readFileSync(path.join(web, 'segment.net'), 'utf8')).graphs[0]!;
  await buildInto(path.join(tmp, 'build'), g, { target: 'wasm', seed: 0, format: false });
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
}, 120_000);
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
  test('the page shows the picture and the reference mask applied to it', async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await page.goto(url);
      const done = (await page.evaluate('window.netcDone')) as { width: number; height: number };
      expect(errors).toEqual([]);
      expect(await page.evaluate('crossOriginIsolated')).toBe(true); // serve.mjs's headers
      expect(await page.locator('#status').textContent()).toMatch(
        /^segment\.js: image \[144,256,3\] -> mask \[144,256,1\] in [\d.]+ ms$/,
      );

      // The picture: the screenshot of the input canvas is the sample, exactly (so screenshots
      // carry the canvas's pixels unchanged).
      const sample = decodePng(readFileSync(path.join(tmp, 'sample.png')));
      const shown = await screenshot(page, 'input');
      expect([shown.width, shown.height]).toEqual([sample.width, sample.height]);
      expect([done.width, done.height]).toEqual([sample.width, sample.height]);
      expect(Buffer.from(shown.rgba).equals(Buffer.from(sample.rgba))).toBe(true);

      // The expected result, from the reference interpreter's float64 mask on the same input.
      const g = compileSource(readFileSync(path.join(web, 'segment.net'), 'utf8')).graphs[0]!;
      const n = sample.width * sample.height;
      const image = new Float32Array(3 * n);
      for (let i = 0; i < n; i++)
        for (let k = 0; k < 3; k++) image[3 * i + k] = sample.rgba[4 * i + k]! / 255;
      const values = initialValues(g, 0);
      const params = new Map(g.params.map((p, i) => [p.key, values[i]!]));
      const mask = runReference(g, params, { image }, 1)['mask']!;
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
      // The mask is not constant, so the comparison sees the network's output.
      expect(hi - lo).toBeGreaterThan(0.1);
    } finally {
      await page.close();
    }
  });
});
