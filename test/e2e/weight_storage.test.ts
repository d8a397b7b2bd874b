// Where and how a module stores its weights (language.md section 5; issue 19):
// `--external-weights` writes them beside the module as NAME.safetensors (unfolded), which
// load() reads (the file system in Node here; fetch in browsers: tooling/browser.test.ts), and
// `--weight-precision f16|int8` stores them rounded to F16 or quantized to int8 with one scale
// per output channel, dequantized at load.
//
// The tests' own rounding (below, independent of src/weights/precision.ts) gives the weights a
// module must compute with: its outputs match the float64 reference on those weights within
// the usual tolerance. Against the f32 weights, a one-layer network bounds the error:
//   y = b + sum_t w_t x_t, and each stored weight is off by at most
//   int8: s_c / 2 = max_c |w| / 254 (c the output channel), f16: 2^-11 |w| (+ 2^-25 below
//   F16's normal range), so |y_stored - y_f32| <= sum_t |dw_t| |x_t| (plus f32 rounding).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialValues, initWeights, type BuildOptions } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import type { Graph } from '../../src/ir/graph.js';
import { runReference } from '../../src/reference/run.js';
import { loadWeights } from '../../src/weights/index.js';
import { buildInto, runModule } from '../helpers/module.js';
import { randomFeeds } from '../helpers/random.js';
import { close, expectClose } from '../helpers/tolerance.js';

const out = mkdtempSync(path.join(tmpdir(), 'netc-storage-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const [graph] = compileSource(`
network store {
  input x: [6, 6, 3]
  h = x -> conv2d(8, 3, padding: same) -> batch_normalization -> relu
        -> depthwise_conv2d(3, padding: same, depth_multiplier: 2)
        -> conv2d_transpose(4, 3, strides: 2, padding: same)
  output y = h -> flatten -> dense(5)
}`).graphs as [Graph];
const SEED = 5;
const values = initialValues(graph, SEED);
const feeds = randomFeeds(graph, 2, 99);

/** The F16 nearest to x (ties to even), by arithmetic on doubles. */
function toF16(x: number): number {
  if (x === 0) return 0;
  const e = Math.max(Math.floor(Math.log2(Math.abs(x))), -14);
  const ulp = 2 ** (e - 10);
  const r = x / ulp;
  const n = Math.abs(r % 1) === 0.5 ? 2 * Math.round(r / 2) : Math.round(r);
  return n * ulp;
}

/** The output-channel axes of each weight: the last; a depthwise kernel's two last;
 * conv2d_transpose's kernel [kh, kw, out, in] its third. */
function channelAxes(key: string, rank: number): number[] {
  if (key.endsWith('/depthwise_kernel')) return [rank - 2, rank - 1];
  if (key.startsWith('conv2d_transpose') && key.endsWith('/kernel')) return [rank - 2];
  return [rank - 1];
}

/** Symmetric int8 per output channel: q = round(w / s), s = max |w| / 127 over the channel. */
function toInt8(w: Float32Array, shape: readonly number[], axes: number[]): Float64Array {
  const channelOf = (k: number): number => {
    let c = 0;
    for (let i = shape.length - 1, rest = k; i >= 0; i--) {
      const idx = rest % shape[i]!;
      rest = Math.floor(rest / shape[i]!);
      if (axes.includes(i)) c = c * 1000 + idx; // a key per channel (dims < 1000)
    }
    return c;
  };
  const max = new Map<number, number>();
  w.forEach((v, k) => max.set(channelOf(k), Math.max(max.get(channelOf(k)) ?? 0, Math.abs(v))));
  return Float64Array.from(w, (v, k) => {
    const s = Math.fround(max.get(channelOf(k))! / 127);
    return s === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(v / s))) * s;
  });
}

/** The weights a module stored at `precision` computes with (rank < 2 stays f32). */
function stored(precision: 'f32' | 'f16' | 'int8'): Map<string, ArrayLike<number>> {
  return new Map(
    graph.params.map((p, i): [string, ArrayLike<number>] => {
      const w = values[i]!;
      if (precision === 'f32' || p.shape.length < 2) return [p.key, w];
      if (precision === 'f16') return [p.key, Float64Array.from(w, toF16)];
      return [p.key, toInt8(w, p.shape, channelAxes(p.key, p.shape.length))];
    }),
  );
}

const build = (sub: string, opts: Partial<BuildOptions>) =>
  buildInto(path.join(out, sub), graph, {
    target: 'wasm',
    seed: SEED,
    format: false,
    ...opts,
  });

describe('--external-weights', () => {
  for (const target of ['wasm', 'ts'] as const)
    it(`${target}: the module holds only code; load() reads NAME.safetensors beside it`, async () => {
      const built = await build(`ext-${target}`, { target, externalWeights: true });
      const dir = path.dirname(built.module);
      const file = path.join(dir, 'store.safetensors');
      // The file is the unfolded weights, as load({ weights }) takes them, exactly.
      const inFile = loadWeights(
        new Uint8Array(readFileSync(file)),
        graph.params.map((p) => ({ name: p.key, shape: [...p.shape] })),
      );
      inFile.forEach((v, i) => expect(v).toEqual(values[i]));
      if (target === 'wasm') {
        const wasm = new WebAssembly.Module(readFileSync(path.join(dir, 'store.wasm')));
        expect(WebAssembly.Module.customSections(wasm, 'netc.weights')[0]!.byteLength).toBe(0);
      } else {
        expect(readFileSync(path.join(dir, 'store.js'), 'utf8')).toContain(
          'const BUILTIN_WEIGHTS = "";',
        );
      }
      const want = runReference(graph, stored('f32'), feeds, 2);
      expectClose((await runModule(built.module, feeds)).y!, want.y!, `${target} load()`);

      // Without the file: load() rejects naming it; load({ weights }) still works.
      renameSync(file, file + '.away');
      const script = `
const mod = await import(${JSON.stringify(built.module)});
try { await mod.load(); console.log('loaded'); } catch (e) { console.log(e.message); }`;
      const message = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
      });
      expect(message).toMatch(
        /^cannot read the weights store\.safetensors beside the module \(file:.*store\.safetensors\): no such file\. Keep the store\.safetensors .* or pass load\(\{ weights \}\)/,
      );
      const given = await runModule(built.module, feeds, { weights: initWeights(graph, SEED) });
      expectClose(given.y!, want.y!, `${target} load({ weights })`);
      expect(existsSync(file)).toBe(false);
    }, 60_000);
});

describe('--weight-precision', () => {
  // Each precision once per target, built in or beside the module.
  const cases = [
    ['wasm', 'f16', false],
    ['wasm', 'int8', true],
    ['ts', 'int8', false],
    ['ts', 'f16', true],
  ] as const;
  for (const [target, precision, externalWeights] of cases)
    it(`${target}, ${precision}${externalWeights ? ', external' : ''}: computes with the rounded weights`, async () => {
      const built = await build(`${precision}-${target}-${externalWeights}`, {
        target,
        weightPrecision: precision,
        externalWeights,
      });
      const got = await runModule(built.module, feeds);
      expectClose(got.y!, runReference(graph, stored(precision), feeds, 2).y!, precision);
      // And they are not the f32 weights' outputs (the rounding happened).
      const f32 = runReference(graph, stored('f32'), feeds, 2).y!;
      expect(got.y!.some((v, i) => v !== Math.fround(f32[i]!))).toBe(true);
    }, 60_000);

  it('the stored weights are smaller: f16 half, int8 about a quarter', async () => {
    const sizes: Record<string, number> = {};
    for (const precision of ['f32', 'f16', 'int8'] as const) {
      const built = await build(`size-${precision}`, {
        weightPrecision: precision,
        externalWeights: true,
      });
      sizes[precision] = readFileSync(
        path.join(path.dirname(built.module), 'store.safetensors'),
      ).length;
    }
    const floats = values.reduce((n, v) => n + v.length, 0);
    expect(sizes['f32']!).toBeGreaterThan(floats * 4);
    expect(sizes['f16']!).toBeLessThan(sizes['f32']! * 0.6);
    expect(sizes['int8']!).toBeLessThan(sizes['f32']! * 0.35);
  }, 60_000);

  it('one conv2d: the error against f32 weights stays within the derived bound', async () => {
    const [one] = compileSource(`
network one {
  input x: [7, 7, 16]
  output y = x -> conv2d(12, 3, padding: valid)
}`).graphs as [Graph];
    const w = initialValues(one, 3);
    const kernel = w[0]!; // [3, 3, 16, 12]
    const x = randomFeeds(one, 1, 4, -2, 2).x!;
    const run = async (precision: 'f32' | 'f16' | 'int8') =>
      (
        await runModule(
          (
            await buildInto(path.join(out, `one-${precision}`), one, {
              target: 'wasm',
              seed: 3,
              format: false,
              weightPrecision: precision,
            })
          ).module,
          { x },
        )
      ).y!;
    const [f32, f16, int8] = await Promise.all([run('f32'), run('f16'), run('int8')]);
    const maxW = Array.from({ length: 12 }, (_, c) => {
      let m = 0;
      for (let k = c; k < kernel.length; k += 12) m = Math.max(m, Math.abs(kernel[k]!));
      return m;
    });
    let worst = { f16: 0, int8: 0 };
    for (let oy = 0; oy < 5; oy++)
      for (let ox = 0; ox < 5; ox++)
        for (let c = 0; c < 12; c++) {
          let sumX = 0; // sum |x| over the taps
          let sumWX = 0; // sum |w| |x|
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++)
              for (let i = 0; i < 16; i++) {
                const xv = Math.abs(x[((oy + ky) * 7 + ox + kx) * 16 + i]!);
                sumX += xv;
                sumWX += Math.abs(kernel[((ky * 3 + kx) * 16 + i) * 12 + c]!) * xv;
              }
          const at = (oy * 5 + ox) * 12 + c;
          const ref = f32[at]!;
          const b16 = 2 ** -11 * sumWX + 2 ** -25 * sumX;
          const b8 = (maxW[c]! / 254) * sumX;
          const e16 = Math.abs(f16[at]! - ref);
          const e8 = Math.abs(int8[at]! - ref);
          // The bound plus f32 rounding (the tolerance of one f32 computation).
          expect(close(ref + Math.max(0, e16 - b16), ref), `f16 at ${at}: ${e16} > ${b16}`).toBe(
            true,
          );
          expect(close(ref + Math.max(0, e8 - b8), ref), `int8 at ${at}: ${e8} > ${b8}`).toBe(true);
          worst = { f16: Math.max(worst.f16, e16 / b16), int8: Math.max(worst.int8, e8 / b8) };
        }
    // The bound is not vacuous: errors reach a visible part of it.
    expect(worst.int8).toBeGreaterThan(0.01);
    expect(worst.f16).toBeGreaterThan(0.001);
  }, 60_000);
});
