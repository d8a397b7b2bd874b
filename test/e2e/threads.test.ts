// The module API of section 6, Threads: load({ threads }) checked (an integer from 1 to 16 or
// 'auto'), net.threads, net.dispose() after which run() throws, on both targets; modules run in
// a fresh Node process, as an app runs them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNetwork, initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import type { KernelProgram } from '../../src/lower/program.js';
import { runReference } from '../../src/reference/run.js';
import { writeSafetensors } from '../../src/weights/index.js';
import { expectClose } from '../helpers/tolerance.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netc-threads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOURCE = `network tiny {
  input x: [6, 6, 2]
  output y = x -> conv2d(4, 3, padding: same, activation: relu) -> flatten -> dense(3)
}
`;

/** The module file of each target, and the wasm target's split however small its layers. */
const modules: Record<'ts' | 'wasm' | 'split', string> = { ts: '', wasm: '', split: '' };

beforeAll(async () => {
  const [graph] = compileSource(SOURCE).graphs;
  for (const target of ['ts', 'wasm', 'split'] as const) {
    const built = await buildNetwork(graph!, {
      target: target === 'ts' ? 'ts' : 'wasm',
      seed: 3,
      format: false,
      ...(target === 'split' ? { parallel: { maxParts: 8, minPartMacs: 0 } } : {}),
    });
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

describe('a module whose layers are split between threads', () => {
  it('runs on the threads asked for, bit for bit as on one; auto takes the cores', () => {
    const res = node(`
import os from 'node:os';
const mod = await import(${JSON.stringify(modules.split)});
const x = new Float32Array(144).map((_, i) => Math.cos(i * 0.3));
const out = {};
for (const threads of [1, 2, 3, 4, 'auto']) {
  const net = await mod.load({ threads });
  out[threads] = { threads: net.threads, y: [...net.run({ x }).y] };
  net.dispose();
}
process.stdout.write(JSON.stringify({ out, cores: os.availableParallelism() }));
`) as { out: Record<string, { threads: number; y: number[] }>; cores: number };
    for (const t of ['2', '3', '4', 'auto']) expect(res.out[t]!.y, t).toEqual(res.out['1']!.y);
    expect([1, 2, 3, 4].map((t) => res.out[t]!.threads)).toEqual([1, 2, 3, 4]);
    expect(res.out['auto']!.threads).toBe(Math.min(res.cores, 8));
    expect(res.out['1']!.y.every(Number.isFinite)).toBe(true);
  });

  it('dispose() ends its workers; a process that never disposes exits on its own', () => {
    // Linux counts a process's threads in /proc/self/status; workers are threads.
    const res = node(`
import fs from 'node:fs';
const count = () => Number(/Threads:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
const mod = await import(${JSON.stringify(modules.split)});
const x = new Float32Array(144).fill(0.5);
const before = count();
const net = await mod.load({ threads: 4 });
net.run({ x });
const loaded = count();
net.dispose();
let after = count();
for (let i = 0; i < 50 && after > before; i++) {
  await new Promise((r) => setTimeout(r, 100));
  after = count();
}
// Left running, undisposed: the process must still exit once its work is done.
const kept = await mod.load({ threads: 3 });
kept.run({ x });
process.stdout.write(JSON.stringify({ before, loaded, after }));
`) as { before: number; loaded: number; after: number };
    expect(res.loaded).toBeGreaterThanOrEqual(res.before + 3);
    expect(res.after).toBeLessThanOrEqual(res.before);
  });

  it('keeps its memory flat over 10,000 runs on 2 threads', () => {
    const res = node(`
const mod = await import(${JSON.stringify(modules.split)});
const net = await mod.load({ threads: 2 });
const x = new Float32Array(72).fill(0.25);
const into = { y: new Float32Array(3) };
const rss = [];
for (let i = 0; i < 10000; i++) {
  net.run({ x }, into);
  if (i === 999 || i === 9999) { globalThis.gc?.(); rss.push(process.memoryUsage().rss); }
}
net.dispose();
process.stdout.write(JSON.stringify({ rss, y: [...into.y] }));
`) as { rss: number[]; y: number[] };
    expect(res.rss[1]! - res.rss[0]!).toBeLessThan(8 << 20);
    expect(res.y.every(Number.isFinite)).toBe(true);
  });

  it("without shared memory (a page not cross-origin isolated): 'auto' is 1, threads: 2 an Error saying how to serve it", () => {
    const res = node(`
delete globalThis.SharedArrayBuffer;
const mod = await import(${JSON.stringify(modules.split)});
const auto = await mod.load();
let error = null;
try { await mod.load({ threads: 2 }); } catch (e) { error = { name: e.name, message: e.message }; }
process.stdout.write(JSON.stringify({ threads: auto.threads, error }));
`) as { threads: number; error: { name: string; message: string } | null };
    expect(res.threads).toBe(1);
    expect(res.error?.name).toBe('Error');
    expect(res.error?.message).toMatch(
      /shared memory.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/,
    );
  });
});

describe("'auto' for a network too small to repay workers", () => {
  it('examples/mnist.net: load() runs on the calling thread alone; an explicit count still splits it', async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const [graph] = compileSource(
      readFileSync(path.join(root, 'examples/mnist.net'), 'utf8'),
    ).graphs;
    // The wasm target's own split (PARALLEL_LAYERS): mnist's convolutions are split in bands,
    // but its 3.5 M multiply-adds are under minAutoMacs.
    const built = await buildNetwork(graph!, { target: 'wasm', seed: 0, format: false });
    if (!built.ok) throw new Error(built.error);
    expect(built.program.parallel?.phases.some((p) => p.parts.length > 1)).toBe(true);
    expect(built.program.parallel?.autoOne).toBe(true);
    const out = path.join(dir, 'mnist');
    mkdirSync(out, { recursive: true });
    for (const f of built.files) writeFileSync(path.join(out, f.name), f.data);
    const res = node(`
const mod = await import(${JSON.stringify(path.join(out, 'mnist.js'))});
const image = new Float32Array(784).map((_, i) => Math.sin(i) * 0.5 + 0.5);
const nets = [await mod.load(), await mod.load({ threads: 'auto' }), await mod.load({ threads: 2 })];
const ys = nets.map((n) => [...n.run({ image }).probs]);
process.stdout.write(JSON.stringify({ threads: nets.map((n) => n.threads), ys }));
for (const n of nets) n.dispose();
`) as { threads: number[]; ys: number[][] };
    expect(res.threads).toEqual([1, 1, 2]);
    expect(res.ys[1]).toEqual(res.ys[0]);
    expect(res.ys[2]).toEqual(res.ys[0]);
  }, 60_000);
});

/**
 * Builds `source` (input x, output z) for the wasm target split however small its layers (up to
 * 4 parts each), checks that at least `minSplit` of its phases are split, and runs it on 1 to 4
 * threads: bit for bit as on one thread, and as the reference.
 */
async function checkSplit(source: string, minSplit: number): Promise<void> {
  const [graph] = compileSource(source).graphs;
  const built = await buildNetwork(graph!, {
    target: 'wasm',
    seed: 5,
    format: false,
    parallel: { maxParts: 4, minPartMacs: 100 },
  });
  if (!built.ok) throw new Error(built.error);
  const split = built.program.parallel!.phases.filter((p) => p.parts.length > 1).length;
  expect(split).toBeGreaterThanOrEqual(minSplit);
  const out = path.join(dir, graph!.name);
  mkdirSync(out, { recursive: true });
  for (const f of built.files) writeFileSync(path.join(out, f.name), f.data);
  const length = graph!.inputs[0]!.shape.reduce((a, b) => a * b, 1);
  const x = Array.from({ length }, (_, i) => Math.sin(i * 0.37) * 2);
  const res = node(`
const mod = await import(${JSON.stringify(path.join(out, `${graph!.name}.js`))});
const x = Float32Array.from(${JSON.stringify(x)});
const out = {};
for (const threads of [1, 2, 3, 4]) {
  const net = await mod.load({ threads });
  out[threads] = [...net.run({ x }).z];
  net.dispose();
}
process.stdout.write(JSON.stringify(out));
`) as Record<string, number[]>;
  for (const t of ['2', '3', '4']) expect(res[t], t).toEqual(res['1']);
  const values = initialValues(graph!, 5);
  const params = new Map(graph!.params.map((p, i) => [p.key, values[i]!]));
  const want = runReference(graph!, params, { x: Float32Array.from(x) }, 1)['z']!;
  expectClose(res['1']!, want, 'z');
}

describe('a module whose layers without multiply-adds are split too', () => {
  // Merges with broadcasting (a squeeze-and-excitation product), prelu, rescaling, padding,
  // up-sampling, cropping and activations: banded by output elements in the module.
  const ELEMENTWISE = `network rows {
  input x: [12, 10, 8]
  s = x -> global_average_pooling2d(keepdims: true) -> dense(8, activation: sigmoid)
  y = multiply(x, s) -> prelu -> rescaling(0.5, offset: 0.25)
    -> padding2d([[2, 2], [1, 1]], mode: reflect) -> up_sampling2d(2)
    -> cropping2d([[3, 1], [2, 2]])
  output z = add(y, y -> tanh) -> relu6
}
`;
  it('splits them between threads, bit for bit as on one thread, and as the reference', () =>
    checkSplit(ELEMENTWISE, 6));

  // Resizing (its bands interpolate the input rows they read, in their own scratch), the
  // transposes (permute, space_to_depth, depth_to_space, the layout transposes of
  // channels_first; a rank-4 permute), layer normalization within rows (over the channels;
  // over the columns), concatenate on the channels and on the rows, softmax over the channels
  // (bands of rows) and along the rows (bands of columns). The two group normalizations stay
  // whole in a module (their implementation's `pays`: measured slower on two threads); the
  // layer harness checks their bands of groups.
  const MOVES = `network moves {
  input x: [12, 10, 8]
  y = x -> resizing(16, 10) -> layer_normalization -> permute([2, 1, 3])
    -> space_to_depth(2) -> depth_to_space(2, mode: crd)
  g = concatenate(y -> group_normalization(4), y -> group_normalization(-1))
  c = concatenate(g, g -> relu, axis: 1) -> softmax -> softmax(axis: 1)
  output z = c -> reshape([20, 16, 4, 4]) -> permute([2, 1, 4, 3])
}
`;
  const LAYOUT = `network layout(data_format: channels_first) {
  input x: [8, 12, 10]
  output z = x -> resizing(14, 10) -> layer_normalization
}
`;
  it('splits resizing, transposes, layer normalization, concatenate and softmax too', async () => {
    await checkSplit(MOVES, 11);
    await checkSplit(LAYOUT, 4);
  });
});

describe('a module with prepare steps (Winograd), loaded on threads', () => {
  // Winograd layers (their transforms computed at load, in parts taken by every thread) and
  // 4 MB of weights: the weight read is split between the threads in several chunks.
  const WINO = `network wino {
  input x: [8, 8, 16]
  y = x -> conv2d(128, 3, padding: same, activation: relu) -> conv2d(256, 3, padding: same)
    -> conv2d(256, 3, padding: same, activation: relu)
  output z = y -> conv2d(32, 3, padding: same, activation: relu) -> global_average_pooling2d
}
`;
  let wasm = '';
  let js = '';
  let weightsFile = '';
  let want: ArrayLike<number>;
  let wantOther: ArrayLike<number>;
  let program: KernelProgram;
  const x = Array.from({ length: 8 * 8 * 16 }, (_, i) => Math.sin(i * 0.37));
  beforeAll(async () => {
    const [graph] = compileSource(WINO).graphs;
    const built = await buildNetwork(graph!, {
      target: 'wasm',
      seed: 7,
      format: false,
      parallel: { maxParts: 4, minPartMacs: 100 },
    });
    if (!built.ok) throw new Error(built.error);
    expect(built.program.prepare.length).toBe(4);
    expect(built.program.storedFloats * 4).toBeGreaterThan(3 << 20);
    program = built.program;
    const out = path.join(dir, 'wino');
    mkdirSync(out, { recursive: true });
    for (const f of built.files) writeFileSync(path.join(out, f.name), f.data);
    js = path.join(out, 'wino.js');
    wasm = path.join(out, 'wino.wasm');
    const values = initialValues(graph!, 7);
    const feeds = { x: Float32Array.from(x) };
    const params = (v: Float32Array[]) => new Map(graph!.params.map((p, i) => [p.key, v[i]!]));
    want = runReference(graph!, params(values), feeds, 1)['z']!;
    const other = values.map((v) => v.map((w, j) => (j % 2 ? w : -w)));
    wantOther = runReference(graph!, params(other), feeds, 1)['z']!;
    weightsFile = path.join(out, 'other.safetensors');
    writeFileSync(
      weightsFile,
      writeSafetensors(
        graph!.params.map((p, i) => ({ name: p.key, shape: [...p.shape], data: other[i]! })),
      ),
    );
  }, 120_000);

  it("gives one thread's bits at 1 to 4 threads: built-in weights read by every thread, load({ weights }), a second load", () => {
    // Each count in a fresh process (its first load reads the file), then a second load (a
    // copy from the first's memory) and one with other weights.
    const res = [1, 2, 3, 4].map(
      (threads) =>
        node(`
const mod = await import(${JSON.stringify(js)});
const fs = await import('node:fs');
const x = Float32Array.from(${JSON.stringify(x)});
const first = await mod.load({ threads: ${threads} });
const second = await mod.load({ threads: ${threads} });
const other = await mod.load({ threads: ${threads}, weights: fs.readFileSync(${JSON.stringify(weightsFile)}) });
const out = { threads: first.threads, ys: [first, second, other, first].map((n) => [...n.run({ x }).z]) };
for (const n of [first, second, other]) n.dispose();
process.stdout.write(JSON.stringify(out));
`) as { threads: number; ys: number[][] },
    );
    expect(res.map((r) => r.threads)).toEqual([1, 2, 3, 4]);
    const [one] = res;
    for (const r of res) {
      expect(r.ys[0], `${r.threads} threads`).toEqual(one!.ys[0]);
      expect(r.ys[1], `${r.threads} threads, second load`).toEqual(one!.ys[0]);
      expect(r.ys[3], `${r.threads} threads, first net again`).toEqual(one!.ys[0]);
      expect(r.ys[2], `${r.threads} threads, load({ weights })`).toEqual(one!.ys[2]);
    }
    expectClose(one!.ys[0]!, want, 'z');
    expectClose(one!.ys[2]!, wantOther, 'z with other weights');
  });

  it('lays the transforms over taps that only earlier prepare steps read', () => {
    // The largest taps are stored inside the transforms' region: the memory is smaller than
    // the stored weights and the transforms side by side.
    const p = program;
    expect(p.preparesInOrder).toBe(true);
    const taps = p.prepare.map((s) => {
      const seg = p.weights.find((w) => w.offset === s.args[1]);
      return { at: s.args[1]!, end: s.args[1]! + seg!.size };
    });
    const starts = p.prepare.map((s) => s.args[0]!).sort((a, b) => a - b);
    const us = p.prepare.map((s) => {
      const next = starts.find((u) => u > s.args[0]!) ?? p.weightFloats;
      return { at: s.args[0]!, end: next };
    });
    const preparedFloats = us.reduce((n, u) => n + u.end - u.at, 0);
    expect(p.weightFloats).toBeLessThan(p.storedFloats + preparedFloats);
    // Step k writes only where no later step's taps are (nor its own).
    us.forEach((u, k) => {
      for (const t of taps.slice(k)) expect(u.end <= t.at || t.end <= u.at, `step ${k}`).toBe(true);
    });
    // Nothing else the runs read lies under a transform.
    for (const w of p.weights)
      if (!taps.some((t) => t.at === w.offset))
        for (const u of us) expect(w.offset + w.size <= u.at || u.end <= w.offset).toBe(true);
  });

  it('shares independent prepare steps between the threads, bit for bit', async () => {
    // One Winograd layer: its taps stay apart, so its prepare is a part any thread takes.
    const [graph] = compileSource(`network one {
  input x: [8, 8, 16]
  output z = x -> conv2d(32, 3, padding: same) -> conv2d(32, 3, padding: same, activation: relu)
}
`).graphs;
    const built = await buildNetwork(graph!, {
      target: 'wasm',
      seed: 2,
      format: false,
      parallel: { maxParts: 4, minPartMacs: 100 },
    });
    if (!built.ok) throw new Error(built.error);
    expect(built.program.prepare.length).toBe(2);
    expect(built.program.preparesInOrder).toBeUndefined();
    const out = path.join(dir, 'one');
    mkdirSync(out, { recursive: true });
    for (const f of built.files) writeFileSync(path.join(out, f.name), f.data);
    const xs = x.slice(0, 8 * 8 * 16);
    const res = [1, 2, 4].map(
      (threads) =>
        node(`
const mod = await import(${JSON.stringify(path.join(out, 'one.js'))});
const net = await mod.load({ threads: ${threads} });
process.stdout.write(JSON.stringify([...net.run({ x: Float32Array.from(${JSON.stringify(xs)}) }).z]));
net.dispose();
`) as number[],
    );
    expect(res[1]).toEqual(res[0]);
    expect(res[2]).toEqual(res[0]);
    const values = initialValues(graph!, 2);
    const params = new Map(graph!.params.map((q, i) => [q.key, values[i]!]));
    const ref = runReference(graph!, params, { x: Float32Array.from(xs) }, 1)['z']!;
    expectClose(res[0]!, ref, 'z');
  }, 60_000);

  it('rejects load() when a worker cannot read its share, ending the workers; the next load works', () => {
    // The calling thread's reads are served from the file's bytes kept aside while the file
    // on disk is cut short: the workers' reads fail.
    const res = node(`
const fs = process.getBuiltinModule('node:fs');
const count = () => Number(/Threads:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
const file = ${JSON.stringify(wasm)};
const bytes = fs.readFileSync(file);
const layout = JSON.parse(/const WASM = (\\{.*?\\});/.exec(fs.readFileSync(${JSON.stringify(js)}, 'utf8'))[1]);
const mod = await import(${JSON.stringify(js)});
const x = Float32Array.from(${JSON.stringify(x)});
const before = count();
const readSync = fs.readSync;
let cut = false;
fs.readSync = (fd, into, offset, length, position) => {
  if (position >= layout.weightsAt) {
    if (!cut) { fs.truncateSync(file, 1 << 20); cut = true; }
    into.set(bytes.subarray(position, position + length), offset);
    return length;
  }
  return readSync(fd, into, offset, length, position);
};
let error = null;
try { await mod.load({ threads: 3 }); } catch (e) { error = e.message; }
fs.readSync = readSync;
fs.writeFileSync(file, bytes);
let after = count();
for (let i = 0; i < 50 && after > before; i++) {
  await new Promise((r) => setTimeout(r, 100));
  after = count();
}
const net = await mod.load({ threads: 3 });
const z = [...net.run({ x }).z];
net.dispose();
process.stdout.write(JSON.stringify({ cut, error, before, after, z }));
`) as { cut: boolean; error: string | null; before: number; after: number; z: number[] };
    expect(res.cut).toBe(true);
    expect(res.error).toMatch(/worker thread could not read the weights: .*wino\.wasm/);
    expect(res.after).toBeLessThanOrEqual(res.before);
    expectClose(res.z, want, 'z after a failed load');
  });
});
