// Limits: absurd sizes are refused with the size before anything is allocated; 10,000-layer chains and 100-deep blocks compile in sane time; generated modules keep memory flat over 100,000 runs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNetwork } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { runPasses } from '../../src/passes/pipeline.js';
import { cpuMs } from '../helpers/fuzz.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'netc-limits-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const diag = (src: string): string[] =>
  compileSource(src).diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.message}`);

describe('absurd sizes', () => {
  it('an input of [100000, 100000, 3] is refused with its size, without allocating', () => {
    const before = process.memoryUsage().rss;
    const d = diag('network n {\n  input x: [100000, 100000, 3]\n  output y = x -> relu\n}');
    expect(d).toEqual([
      "2:9 input 'x' would hold 3.00e+10 values per example (111.8 GiB), more than netc allows (2^28 values, 1 GiB)",
    ]);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
  });

  it('a layer output too large is refused with its size', () => {
    expect(
      diag('network n {\n  input x: [4, 4, 1]\n  output y = x -> up_sampling2d(99999)\n}')[0],
    ).toMatch(
      /^3:\d+ the output of up_sampling2d 'up_sampling2d' would hold 1\.60e\+11 values per example \(596\.0 GiB\)/,
    );
  });

  it('a weight too large is refused with its size', () => {
    expect(diag('network n {\n  input x: [20000]\n  output y = x -> dense(20000)\n}')).toEqual([
      "3:19 the weight 'dense/kernel' would hold 4.00e+8 values (1.5 GiB), more than netc allows (2^28 values, 1 GiB)",
    ]);
  });

  it('weights too large together are refused with the total', () => {
    const d = diag(
      'network n {\n  input x: [16000]\n  output y = x -> dense(16000) -> dense(16000) -> dense(16000)\n}',
    );
    expect(d).toHaveLength(1);
    expect(d[0]).toMatch(
      /^3:35 with the weight 'dense_1\/kernel', the network's weights would hold 5\.12e\+8 values \(1\.9 GiB\), more than netc allows in one network/,
    );
  });

  it('huge numbers anywhere are diagnosed, never overflow', () => {
    for (const [src, want] of [
      ['input x: [1e308, 2]', /positive integers, got 1e\+308/],
      ['input x: [4]\n  output y = x -> dense(1e400)', /got Infinity, which is too large/],
      ['input x: [4]\n  output y = x -> dense(1e200 * 1e200)', /too large/],
      ['input x: [-0, 4]', /positive integers, got 0/],
      ['input x: [99999999999]', /would hold 1\.00e\+11 values/],
    ] as const)
      expect(diag(`network n {\n  ${src}\n}`).join('\n')).toMatch(want);
  });

  it('expansion bombs stop at the work limit with one diagnostic', () => {
    const t = cpuMs();
    const d = diag(
      'network n {\n  input x: [4]\n  repeat 100000 { repeat 100000 { x = x -> relu } }\n  output y = x\n}',
    );
    expect(cpuMs() - t).toBeLessThan(5000);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatch(/expands to too many layers and statements/);
  });
});

describe('large programs', () => {
  it('a chain of 10,000 layers compiles, and the passes run, in sane time', () => {
    const calls = Array.from({ length: 10_000 }, (_, i) => (i % 2 ? 'relu' : 'dense(8)'));
    const src = `network chain {\n  input x: [8]\n  output y = x -> ${calls.join(' -> ')}\n}`;
    const t = cpuMs();
    const r = compileSource(src);
    expect(r.diagnostics).toEqual([]);
    expect(r.graphs[0]!.nodes.length).toBe(10_001);
    runPasses(r.graphs[0]!);
    expect(cpuMs() - t).toBeLessThan(15_000);
  });

  it('blocks nested 100 deep compile', () => {
    const blocks = ['block b0(x) { return x -> dense(4) }'];
    for (let i = 1; i <= 100; i++) blocks.push(`block b${i}(x) { return b${i - 1}(x) -> relu }`);
    const src = `${blocks.join('\n')}\nnetwork deep {\n  input x: [4]\n  output y = b100(x)\n}`;
    const t = cpuMs();
    const r = compileSource(src);
    expect(r.diagnostics).toEqual([]);
    const names = r.graphs[0]!.nodes.map((n) => n.name);
    // The innermost layer sits under 101 block-call prefixes: b100/b99/.../b0/dense.
    expect(names).toContain(
      `${Array.from({ length: 101 }, (_, i) => `b${100 - i}`).join('/')}/dense`,
    );
    expect(cpuMs() - t).toBeLessThan(5000);
  });
});

describe('memory over 100,000 runs', () => {
  const SRC =
    'network small {\n  input image: [28, 28, 1]\n  output probs = image -> conv2d(2, 3, strides: 4) -> flatten -> dense(10) -> softmax\n}';
  const RUNNER = `
const mod = await import(process.argv[1]);
const useInto = process.argv[2] === 'into';
const net = await mod.load();
const x = new Float32Array(784).fill(0.5);
const into = { probs: new Float32Array(10) };
const step = () => (useInto ? net.run({ image: x }, into) : net.run({ image: x }));
for (let i = 0; i < 5000; i++) step();
globalThis.gc(); globalThis.gc();
const a = process.memoryUsage();
for (let i = 0; i < 100000; i++) step();
globalThis.gc(); globalThis.gc();
const b = process.memoryUsage();
process.stdout.write(JSON.stringify({ heap: b.heapUsed - a.heapUsed, rss: b.rss - a.rss, ext: b.external - a.external }));
`;
  for (const target of ['ts', 'wasm'] as const)
    it(`${target}: heap and rss stay flat, with and without into`, async () => {
      const g = compileSource(SRC).graphs[0]!;
      const built = await buildNetwork(g, { target, seed: 1, format: false });
      if (!built.ok) throw new Error(built.error);
      const dir = path.join(tmp, target);
      mkdirSync(dir, { recursive: true });
      for (const f of built.files) writeFileSync(path.join(dir, f.name), f.data);
      for (const mode of ['into', 'fresh']) {
        const out = execFileSync(
          process.execPath,
          ['--expose-gc', '--input-type=module', '-e', RUNNER, path.join(dir, 'small.js'), mode],
          { encoding: 'utf8' },
        );
        const m = JSON.parse(out);
        expect(m.heap, `${target} ${mode} heap`).toBeLessThan(1 * 2 ** 20);
        expect(m.rss, `${target} ${mode} rss`).toBeLessThan(16 * 2 ** 20);
        expect(m.ext, `${target} ${mode} external`).toBeLessThan(1 * 2 ** 20);
      }
    }, 120_000);
});
