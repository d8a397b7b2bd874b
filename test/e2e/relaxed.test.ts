// Relaxed SIMD: the built .wasm carries its code twice, plain SIMD and with multiply-adds as
// f32x4.relaxed_madd (a delta against the plain code); the generated loader makes and compiles
// the relaxed one where the engine validates relaxed SIMD. Node 20 has it behind
// --experimental-wasm-relaxed-simd, so a process with the flag takes the relaxed code and one
// without it the plain code; both against the reference.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNetwork, initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { size } from '../../src/ir/graph.js';
import { runReference } from '../../src/reference/run.js';
import { applyDelta } from '../../src/runtime/delta.js';
import { randomFloats } from '../helpers/random.js';
import { expectClose } from '../helpers/tolerance.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netc-relaxed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Most kernels: direct, Winograd, channelwise, separable bands, transposed, dot product, dense.
const SOURCE = `
network relaxed {
  input x: [12, 11, 8]
  a = x -> conv2d(16, 3, padding: same, activation: relu)
  b = a -> conv2d(16, 3, padding: same) -> batch_normalization -> relu
  c = b -> depthwise_conv2d(3, activation: relu6)
  d = c -> separable_conv2d(12, 3, padding: same, activation: swish)
  output y = d -> conv2d_transpose(16, 5, strides: 2, padding: same) -> conv2d(3, 1, activation: tanh)
  output z = d -> global_average_pooling2d -> dense(5)
}`;

describe('relaxed SIMD', () => {
  it('is taken where the engine has it, plain SIMD elsewhere; both match the reference', async () => {
    const graph = compileSource(SOURCE).graphs[0]!;
    const built = await buildNetwork(graph, { target: 'wasm', seed: 6, format: false });
    if (!built.ok) throw new Error(built.error);
    for (const f of built.files) writeFileSync(path.join(dir, f.name), f.data);
    const wasm = readFileSync(path.join(dir, 'relaxed.wasm'));
    const custom = (name: string): Uint8Array[] =>
      WebAssembly.Module.customSections(new WebAssembly.Module(wasm), name).map(
        (b) => new Uint8Array(b),
      );
    const js = readFileSync(path.join(dir, 'relaxed.js'), 'utf8');
    const codeBytes = Number(/codeBytes\W*(\d+)/.exec(js)![1]);
    const [delta] = custom('netc.relaxed');
    expect(custom('netc.relaxed')).toHaveLength(1);
    const relaxedCode = applyDelta(wasm.subarray(0, codeBytes), delta!);
    const relaxedBytes = relaxedCode.length;
    // And its threads build, likewise in two (the network has layers worth splitting).
    const [threadsPlain] = custom('netc.threads');
    const [threadsDelta] = custom('netc.threads.relaxed');
    const threadsRelaxed = applyDelta(threadsPlain!, threadsDelta!);
    // The relaxed builds differ from the plain ones: their multiply-adds are relaxed_madd.
    const madd = Buffer.from([0xfd, 0x85, 0x02]);
    for (const [plain, relaxed] of [
      [wasm.subarray(0, codeBytes), relaxedCode],
      [threadsPlain!, threadsRelaxed],
    ]) {
      expect(WebAssembly.validate(new Uint8Array(plain!))).toBe(true);
      expect(Buffer.from(relaxed!).includes(madd)).toBe(true);
    }

    const batch = 2;
    const x = randomFloats(batch * size(graph.inputs[0]!.shape), 5);
    writeFileSync(path.join(dir, 'x.bin'), x);
    const values = initialValues(graph, 6);
    const expected = runReference(
      graph,
      new Map(graph.params.map((p, i) => [p.key, values[i]!])),
      { x },
      batch,
    );
    // Runs the module in a fresh process on one thread, then on two; returns the bytes each
    // load compiled and the outputs.
    const script = `
import { readFileSync, writeFileSync } from 'node:fs';
const compiled = [];
const Module = WebAssembly.Module;
WebAssembly.Module = function (bytes) { compiled.push(bytes.length); return new Module(bytes); };
const mod = await import(${JSON.stringify(path.join(dir, 'relaxed.js'))});
const net = await mod.load({ threads: 1 });
const b = readFileSync(${JSON.stringify(path.join(dir, 'x.bin'))});
const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const out = net.run({ x });
const one = compiled.splice(0);
const two = await mod.load({ threads: 2 });
const out2 = two.run({ x });
two.dispose();
const same = [...out.y, ...out.z].every((v, i) => Object.is(v, [...out2.y, ...out2.z][i]));
process.stdout.write(JSON.stringify({ compiled: one, threaded: compiled, same, y: [...out.y], z: [...out.z] }));
`;
    const run = (
      flags: string[],
    ): { compiled: number[]; threaded: number[]; same: boolean; y: number[]; z: number[] } =>
      JSON.parse(
        execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
          encoding: 'utf8',
        }),
      );
    const relaxed = run(['--experimental-wasm-relaxed-simd']);
    expect(relaxed.compiled).toEqual([relaxedBytes]);
    // Two threads: the relaxed threads build, with the one-thread results bit for bit.
    expect(relaxed.threaded).toEqual([threadsRelaxed.byteLength]);
    expect(relaxed.same).toBe(true);
    expectClose(relaxed.y, expected['y']!, 'y (relaxed SIMD)');
    expectClose(relaxed.z, expected['z']!, 'z (relaxed SIMD)');
    const plain = run([]);
    // Node 20 has relaxed SIMD only behind the flag.
    expect(plain.compiled).toHaveLength(1);
    expect(plain.compiled).not.toEqual([relaxedBytes]);
    expect(plain.threaded).toHaveLength(1);
    expect(plain.threaded).not.toEqual([threadsRelaxed.byteLength]);
    expect(plain.same).toBe(true);
    expectClose(plain.y, expected['y']!, 'y (plain SIMD)');
    expectClose(plain.z, expected['z']!, 'z (plain SIMD)');
  }, 120_000);
});
