// The module API of section 6, Threads: load({ threads }) checked (an integer from 1 to 16 or
// 'auto'), net.threads, net.dispose() after which run() throws, on both targets; modules run in
// a fresh Node process, as an app runs them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNetwork } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netc-threads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOURCE = `network tiny {
  input x: [6, 6, 2]
  output y = x -> conv2d(4, 3, padding: same, activation: relu) -> flatten -> dense(3)
}
`;

/** The module file of each target. */
const modules: Record<'ts' | 'wasm', string> = { ts: '', wasm: '' };

beforeAll(async () => {
  const [graph] = compileSource(SOURCE).graphs;
  for (const target of ['ts', 'wasm'] as const) {
    const built = await buildNetwork(graph!, { target, seed: 3, format: false });
    if (!built.ok) throw new Error(built.error);
    const out = path.join(dir, target);
    mkdirSync(out, { recursive: true });
    for (const f of built.files) writeFileSync(path.join(out, f.name), f.data);
    modules[target] = path.join(out, 'tiny.js');
  }
}, 60_000);

/** Runs a module script in a fresh Node process; returns what it prints (JSON). */
const node = (script: string): unknown =>
  JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  );

describe.each(['ts', 'wasm'] as const)('the %s target', (target) => {
  it('rejects a threads option that is not an integer from 1 to 16 or "auto", saying so', () => {
    const res = node(`
const mod = await import(${JSON.stringify(modules[target])});
const out = [];
for (const threads of [0, -1, 2.5, 'x', 17, NaN, null]) {
  try { await mod.load({ threads }); out.push({ threads: String(threads), ok: true }); }
  catch (e) { out.push({ threads: String(threads), name: e.name, message: e.message }); }
}
process.stdout.write(JSON.stringify(out));
`) as { threads: string; ok?: boolean; name?: string; message?: string }[];
    expect(res).toHaveLength(7);
    for (const r of res) {
      expect(r.ok, r.threads).toBeUndefined();
      expect(r.name, r.threads).toBe('RangeError');
      expect(r.message).toMatch(/threads.*integer from 1 to 16 or 'auto'/);
    }
    expect(res[3]!.message).toContain('got "x"');
    expect(res[2]!.message).toContain('got 2.5');
  });

  it('reports its threads, runs alike at every count, and throws from run() once disposed', () => {
    const res = node(`
const mod = await import(${JSON.stringify(modules[target])});
const x = new Float32Array(72).map((_, i) => Math.sin(i));
const nets = [await mod.load(), await mod.load({ threads: 'auto' }), await mod.load({ threads: 1 })];
const ys = nets.map((n) => [...n.run({ x }).y]);
const threads = nets.map((n) => n.threads);
nets[2].dispose();
nets[2].dispose();
let error = null;
try { nets[2].run({ x }); } catch (e) { error = { name: e.name, message: e.message }; }
const still = [...nets[0].run({ x }).y];
for (const n of nets) n.dispose();
process.stdout.write(JSON.stringify({ ys, threads, error, still }));
`) as {
      ys: number[][];
      threads: number[];
      error: { name: string; message: string } | null;
      still: number[];
    };
    expect(res.ys[1]).toEqual(res.ys[0]);
    expect(res.ys[2]).toEqual(res.ys[0]);
    expect(res.still).toEqual(res.ys[0]);
    expect(res.ys[0]!.every(Number.isFinite)).toBe(true);
    // A network this small runs on the calling thread alone, whatever 'auto' finds.
    expect(res.threads).toEqual([1, 1, 1]);
    expect(res.error).toEqual({
      name: 'Error',
      message: expect.stringMatching(/disposed.*load\(\) the module again/),
    });
  });
});
