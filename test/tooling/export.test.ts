// netc export: the exported ONNX model run in onnxruntime-node agrees with netc's own built module.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { exportCommand } from '../../src/cli/export.js';
import { buildNetwork, initWeights, type Target } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { size } from '../../src/ir/graph.js';
import { decodeModel } from '../../src/onnx/model.js';
import { runOnnx } from '../helpers/ort.js';
import { expectClose } from '../helpers/tolerance.js';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
};

const CF = `# a channels_first network with two outputs
network cf(data_format: channels_first) {
  input image: [3, 12, 10]
  x = image -> conv2d(8, 3, padding: same) -> batch_normalization -> relu
  output pooled = x -> max_pooling2d(2) -> depthwise_conv2d(3, padding: same)
  output up = x -> conv2d_transpose(4, 3, strides: 2, padding: same, activation: sigmoid)
}
network other {
  input v: [5]
  output w = v -> dense(2)
}
`;

/** Builds `name` from `file` with `weights` (or seed 0), runs it in a fresh Node process. */
function runNetc(
  file: string,
  name: string,
  target: Target,
  feeds: Record<string, Float32Array>,
  weights?: Uint8Array,
): Promise<Record<string, Float32Array>> {
  return (async () => {
    const g = compileSource(readFileSync(file, 'utf8')).graphs.find((x) => x.name === name)!;
    const built = await buildNetwork(g, { target, seed: 0, ...(weights ? { weights } : {}) });
    if (!built.ok) throw new Error(built.error);
    const dir = path.join(tmp, `${name}-${target}-${weights ? 'w' : 's'}`);
    mkdirSync(dir, { recursive: true });
    for (const f of built.files) writeFileSync(path.join(dir, f.name), f.data);
    const inputs: Record<string, string> = {};
    const outputs: Record<string, string> = {};
    g.inputs.forEach((p, i) => {
      inputs[p.name] = path.join(dir, `in-${i}.bin`);
      writeFileSync(inputs[p.name]!, feeds[p.name]!);
    });
    g.outputs.forEach((p, i) => (outputs[p.name] = path.join(dir, `out-${i}.bin`)));
    const spec = path.join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ module: path.join(dir, `${name}.js`), inputs, outputs }));
    execFileSync(process.execPath, [path.join(root, 'test/helpers/run-module.mjs'), spec], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const got: Record<string, Float32Array> = {};
    for (const [k, f] of Object.entries(outputs)) {
      const b = readFileSync(f);
      got[k] = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    }
    return got;
  })();
}

/** Exports with the CLI, runs both in onnxruntime and as netc modules, compares. */
async function check(file: string, network: string, batch: number, weightsFile?: string) {
  const onnx = path.join(tmp, `${network}${weightsFile ? '-w' : ''}.onnx`);
  const c = capture();
  const code = await exportCommand(
    file,
    { network, onnx, ...(weightsFile ? { weights: weightsFile } : {}) },
    c.io,
  );
  expect(c.err).toEqual([]);
  expect(code).toBe(0);
  const g = compileSource(readFileSync(file, 'utf8')).graphs.find((x) => x.name === network)!;
  let s = 99;
  const next = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const feeds: Record<string, Float32Array> = {};
  for (const p of g.inputs)
    feeds[p.name] = Float32Array.from({ length: batch * size(p.shape) }, next);
  const want = await runOnnx(
    new Uint8Array(readFileSync(onnx)),
    Object.fromEntries(
      g.inputs.map((p) => [p.name, { dims: [batch, ...p.shape], data: feeds[p.name]! }]),
    ),
  );
  const weights = weightsFile ? new Uint8Array(readFileSync(weightsFile)) : undefined;
  for (const target of ['wasm', 'ts'] as const) {
    const got = await runNetc(file, network, target, feeds, weights);
    for (const p of g.outputs) {
      expect(want[p.name]!.dims).toEqual([batch, ...p.shape]);
      expectClose(got[p.name]!, want[p.name]!.data, `${network}.${p.name} (${target})`);
    }
  }
  return decodeModel(readFileSync(onnx));
}

describe('netc export', () => {
  test('examples/mnist.net with seeded weights', async () => {
    const m = await check(path.join(root, 'examples/mnist.net'), 'mnist', 2);
    expect(m.opsetImports[0]!.version).toBe(13);
    expect(m.graph.inputs.map((i) => i.name)).toEqual(['image']);
  });

  test('a channels_first network with --weights, chosen with --network', async () => {
    const file = path.join(tmp, 'cf.net');
    writeFileSync(file, CF);
    const g = compileSource(CF).graphs[0]!;
    const w = path.join(tmp, 'cf.safetensors');
    writeFileSync(w, initWeights(g, 7));
    const m = await check(file, 'cf', 3, w);
    expect(m.graph.inputs[0]!.shape).toEqual(['N', 3, 12, 10]);
  });

  test('several networks need --network; a missing --onnx is bad usage', async () => {
    const file = path.join(tmp, 'cf2.net');
    writeFileSync(file, CF);
    const c = capture();
    expect(await exportCommand(file, { onnx: path.join(tmp, 'x.onnx') }, c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/choose one with --network/);
    expect(await exportCommand(file, { network: 'cf' }, c.io)).toBe(2);
    expect(
      await exportCommand(file, { network: 'nope', onnx: path.join(tmp, 'y.onnx') }, c.io),
    ).toBe(2);
    expect(existsSync(path.join(tmp, 'x.onnx'))).toBe(false);
  });

  test('weights that do not fit: exit 1 naming the tensor, nothing written', async () => {
    const file = path.join(tmp, 'cf3.net');
    writeFileSync(file, CF);
    const other = compileSource(CF).graphs[1]!;
    const w = path.join(tmp, 'other.safetensors');
    writeFileSync(w, initWeights(other, 1));
    const onnx = path.join(tmp, 'bad.onnx');
    const c = capture();
    expect(await exportCommand(file, { network: 'cf', onnx, weights: w }, c.io)).toBe(1);
    expect(c.err.join('\n')).toMatch(/conv2d\/kernel|dense\/kernel/);
    expect(existsSync(onnx)).toBe(false);
  });

  test('a source with errors: exit 1 with diagnostics', async () => {
    const file = path.join(tmp, 'bad.net');
    writeFileSync(file, 'network n {\n  input x: [4]\n  output y = x -> dense(units: -1)\n}\n');
    const c = capture();
    expect(await exportCommand(file, { onnx: path.join(tmp, 'z.onnx') }, c.io)).toBe(1);
    expect(c.err.join('\n')).toMatch(/bad\.net:3:/);
  });
});
