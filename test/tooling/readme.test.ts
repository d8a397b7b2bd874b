// Every netc command the README shows runs: its code blocks, as a newcomer would type them.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { kerasFile, save, setWeights } from '../helpers/keras.js';
import { attr, GraphBuilder } from '../helpers/tfjs_graph.js';

const root = path.resolve(import.meta.dirname, '../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const work = mkdtempSync(path.join(tmpdir(), 'netc-readme-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
cpSync(path.join(root, 'examples'), path.join(work, 'examples'), { recursive: true });

/** The `npx netc ...` lines of the README's shell blocks, comments dropped. */
const commands = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1]!.split('\n'))
  .map((l) => l.replace(/\s+#.*$/, '').trim())
  .filter((l) => l.startsWith('npx netc '));

const netc = (args: string[]): string =>
  execFileSync(process.execPath, [path.join(root, 'bin/netc.js'), ...args], {
    cwd: work,
    encoding: 'utf8',
  });

describe('README', () => {
  it('shows the commands this test runs', () => {
    expect(commands.length).toBeGreaterThanOrEqual(4);
  });

  it('runs every npx netc command it shows, in order', async () => {
    // The PyTorch step happens in the user's own project; here model.onnx, NCHW as PyTorch
    // exports it, comes from netc export of a channels_first network.
    writeFileSync(
      path.join(work, 'torch.net'),
      `network torch(data_format: channels_first) {
  input x: [1, 28, 28]
  output y = x -> conv2d(8, 3, padding: same, activation: relu) -> max_pooling2d(2)
               -> flatten -> dense(10) -> softmax
}`,
    );
    netc(['export', 'torch.net', '--onnx', 'model.onnx']);
    // The Keras and TF.js steps: a small trained-like model saved as model.keras and as a
    // TF.js layers-model in web_model/.
    const keras = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [12, 12, 1],
          filters: 4,
          kernelSize: 3,
          activation: 'relu',
        }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    setWeights(keras);
    const saved = await save(keras);
    writeFileSync(path.join(work, 'model.keras'), await kerasFile(keras, saved));
    mkdirSync(path.join(work, 'web_model'));
    writeFileSync(path.join(work, 'web_model', 'model.json'), JSON.stringify(saved.json));
    writeFileSync(path.join(work, 'web_model', 'group1-shard1of1.bin'), saved.shard);
    // The TF.js graph-models come from tensorflowjs_converter; here ones in its format: the
    // README's own (graph_model/) and a stand-in for the web example's selfie segmentation
    // model (examples/web/build.mjs fetches the real one; test/tooling/web_example.test.ts).
    const graphModel = (dir: string, file: string): void => {
      const g = new GraphBuilder();
      g.input('image', [-1, 8, 8, 3]);
      g.const(
        'w',
        [3, 3, 3, 4],
        Array.from({ length: 108 }, (_, i) => Math.sin(i)),
      );
      g.const('b', [4], [0.1, 0.2, 0.3, 0.4], 'float16');
      g.op('_FusedConv2D', 'model/conv/Relu', ['image', 'w', 'b'], {
        padding: attr.s('SAME'),
        strides: attr.ints([1, 1, 1, 1]),
        dilations: attr.ints([1, 1, 1, 1]),
        fused_ops: attr.strs(['BiasAdd', 'Relu']),
        num_args: attr.i(1),
      });
      g.op('Identity', 'Identity', ['model/conv/Relu']);
      const { json, shard } = g.build({
        inputs: { image: 'image:0' },
        outputs: { scores: 'Identity:0' },
      });
      mkdirSync(path.join(work, dir), { recursive: true });
      writeFileSync(path.join(work, dir, file), JSON.stringify(json));
      writeFileSync(path.join(work, dir, 'group1-shard1of1.bin'), shard);
    };
    graphModel('graph_model', 'model.json');
    graphModel('examples/web/model', 'selfie.json');
    for (const line of commands) {
      const args = line.split(/\s+/).slice(2);
      netc(args);
      const out = args[args.indexOf('--out') + 1];
      if (args[0] === 'build') expect(existsSync(path.join(work, out!)), line).toBe(true);
    }
    expect(existsSync(path.join(work, 'model.net'))).toBe(true);
    expect(existsSync(path.join(work, 'build', 'model.wasm'))).toBe(true);
    expect(existsSync(path.join(work, 'build', 'detector.wasm'))).toBe(true);
    expect(existsSync(path.join(work, 'build', 'mnist.js'))).toBe(true);
    expect(existsSync(path.join(work, 'build', 'classifier.wasm'))).toBe(true);
    expect(existsSync(path.join(work, 'web.safetensors'))).toBe(true);
  }, 120_000);

  it('runs the app it shows (examples/app.mjs) on the module built above', () => {
    const out = execFileSync(process.execPath, [path.join(work, 'examples', 'app.mjs')], {
      cwd: work,
      encoding: 'utf8',
    });
    expect(out).toMatch(/most likely class: \d/);
  }, 60_000);
});
