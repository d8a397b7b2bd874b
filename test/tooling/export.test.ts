// netc export: the exported ONNX model run in onnxruntime-node agrees with netc's own built module.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { exportCommand } from '../../src/cli/export.js';
import { initWeights, type Target } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { decodeModel } from '../../src/onnx/model.js';
import { buildInto, runModule } from '../helpers/module.js';
import { runOnnx } from '../helpers/ort.js';
import { randomFeeds } from '../helpers/random.js';
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

/** Builds `name` from `file` with `weights` (or seed 0), runs it in a separate Node process. */
async function runNetc(
  file: string,
  name: string,
  target: Target,
  feeds: Record<string, Float32Array>,
  weights?: Uint8Array,
): Promise<Record<string, Float32Array>> {
  const g = compileSource(readFileSync(file, 'utf8')).graphs.find((x) => x.name === name)!;
  const built = await buildInto(path.join(tmp, `${name}-${target}-${weights ? 'w' : 's'}`), g, {
    target,
    seed: 0,
    format: false,
    ...(weights ? { weights } : {}),
  });
  return runModule(built.module, feeds);
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
  const feeds = randomFeeds(g, batch, 99);
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
