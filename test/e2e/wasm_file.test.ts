// The built .wasm file: a valid module whose weights sit in a trailing "netc.weights" custom
// section, read by the generated loader straight into each instance's memory; a .wasm that is
// not the one built with the module makes load() reject, naming the file.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { buildNetwork } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netc-wasmfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function build(source: string, sub: string, seed: number): Promise<string> {
  const [graph] = compileSource(source).graphs;
  const built = await buildNetwork(graph!, { target: 'wasm', seed, format: false });
  if (!built.ok) throw new Error(built.error);
  const out = path.join(dir, sub);
  mkdirSync(out, { recursive: true });
  for (const f of built.files) writeFileSync(path.join(out, f.name), f.data);
  return out;
}

const tiny = (units: number): string =>
  `network tiny {\n  input x: [4]\n  output y = x -> dense(${units}, activation: relu) -> dense(3)\n}\n`;

/** Runs a module script in a fresh Node process; returns what it prints (JSON). */
const node = (script: string): unknown =>
  JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  );

it('the .wasm is one module, weights in a trailing custom section; loads do not share memory', async () => {
  const out = await build(tiny(5), 'a', 2);
  const bytes = readFileSync(path.join(out, 'tiny.wasm'));
  const module = new WebAssembly.Module(bytes);
  const [section] = WebAssembly.Module.customSections(module, 'netc.weights');
  expect(section).toBeDefined();
  // The weight area ends the file.
  expect(bytes.subarray(bytes.length - section!.byteLength).equals(Buffer.from(section!))).toBe(
    true,
  );
  const res = node(`
const mod = await import(${JSON.stringify(path.join(out, 'tiny.js'))});
const x = Float32Array.from([1, -2, 3, 0.5]);
const a = await mod.load();
const b = await mod.load();
const ya = [...a.run({ x }).y];
const yb = [...b.run({ x }).y];
process.stdout.write(JSON.stringify({ ya, yb, nonzero: ya.some((v) => v !== 0) }));
`) as { ya: number[]; yb: number[]; nonzero: boolean };
  expect(res.yb).toEqual(res.ya);
  expect(res.nonzero).toBe(true);
}, 60_000);

it("later loads copy a live net's weights; once every net is dropped, the file is read again", async () => {
  const out = await build(tiny(5), 'gc', 4);
  const script = `
import fs from 'node:fs';
// Count the reads of the .wasm file (the loader reads through this same module object).
let reads = 0;
const readSync = fs.readSync;
fs.readSync = (...args) => (reads++, readSync(...args));
const mod = await import(${JSON.stringify(path.join(out, 'tiny.js'))});
const x = Float32Array.from([1, -2, 3, 0.5]);
const collect = async () => {
  for (let i = 0; i < 6; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 5)); }
};
let a = await mod.load();
const ya = [...a.run({ x }).y];
const first = reads;
let b = await mod.load();
const yb = [...b.run({ x }).y];
const whileAlive = reads - first;
a = null;
b = null;
await collect();
const c = await mod.load();
const yc = [...c.run({ x }).y];
process.stdout.write(JSON.stringify({ ya, yb, yc, first, whileAlive, afterDrop: reads - first - whileAlive }));
`;
  const res = JSON.parse(
    execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    }),
  ) as {
    ya: number[];
    yb: number[];
    yc: number[];
    first: number;
    whileAlive: number;
    afterDrop: number;
  };
  expect(res.first).toBeGreaterThan(0);
  expect(res.whileAlive).toBe(0);
  expect(res.afterDrop).toBeGreaterThan(0);
  expect(res.yb).toEqual(res.ya);
  expect(res.yc).toEqual(res.ya);
}, 60_000);

it('load() rejects when the .wasm is missing, truncated or from another build', async () => {
  const a = await build(tiny(5), 'b', 2);
  const other = await build(tiny(6), 'c', 2);
  const wasm = path.join(a, 'tiny.wasm');
  const good = readFileSync(wasm);
  writeFileSync(path.join(dir, 'good.wasm'), good);
  const attempt = (): { error: boolean; message: string } =>
    node(`
try { await (await import(${JSON.stringify(path.join(a, 'tiny.js'))})).load(); process.stdout.write('{"error":false,"message":""}'); }
catch (e) { process.stdout.write(JSON.stringify({ error: e instanceof Error, message: String(e.message) })); }
`) as { error: boolean; message: string };
  writeFileSync(wasm, good.subarray(0, good.length - 7));
  expect(attempt()).toEqual({
    error: true,
    message: expect.stringMatching(/tiny\.wasm is not the \.wasm file built with this module/),
  });
  copyFileSync(path.join(other, 'tiny.wasm'), wasm);
  expect(attempt().message).toMatch(/tiny\.wasm is not the \.wasm file built with this module/);
  rmSync(wasm);
  expect(attempt()).toEqual({ error: true, message: expect.stringMatching(/ENOENT/) });
  // A failed load() is not remembered: once the file is back, the next load() in the same
  // process succeeds.
  const res = node(`
const mod = await import(${JSON.stringify(path.join(a, 'tiny.js'))});
const fs = await import('node:fs');
let first = '';
try { await mod.load(); } catch (e) { first = String(e.message); }
fs.writeFileSync(${JSON.stringify(wasm)}, fs.readFileSync(${JSON.stringify(path.join(dir, 'good.wasm'))}));
const net = await mod.load();
process.stdout.write(JSON.stringify({ first, y: [...net.run({ x: Float32Array.from([1, 2, 3, 4]) }).y] }));
`) as { first: string; y: number[] };
  expect(res.first).toMatch(/ENOENT/);
  expect(res.y).toHaveLength(3);
}, 60_000);
