// PyTorch networks through ONNX: exported by tools/torch_zoo.py (random weights, cached), imported
// by netc, built, run, and compared with onnxruntime-node and PyTorch's float64 run. The whole
// zoo at full size is `node tools/torch_zoo.mjs` (it prints the table); here, the app networks
// and a few representative torchvision networks at small input sizes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { compileSource } from '../../src/frontend/index.js';
import { decodeModel } from '../../src/onnx/model.js';
import { importOnnx } from '../../src/onnx/import.js';
import { buildInto, runModule } from '../helpers/module.js';
import { runOnnx } from '../helpers/ort.js';
import { expectClose } from '../helpers/tolerance.js';
// @ts-expect-error: a plain ES module script without types
import * as zoo from '../../tools/torch_zoo.mjs';

interface ZooInfo {
  key: string;
  name: string;
  opset: number;
  input: number[];
  outputs?: number[][];
  error?: string;
  dir: string;
}
interface ZooFiles {
  onnx: Uint8Array;
  input: Float32Array;
  torch: Float32Array[];
}
const { torchPython, exportModels, modelFiles, NO_TORCH } = zoo as {
  torchPython: () => string | null;
  exportModels: (specs: string[]) => ZooInfo[];
  modelFiles: (info: ZooInfo) => ZooFiles;
  NO_TORCH: string;
};

/** Each case: the model, its input size and opset, what it exercises, the targets built. */
const CASES: { spec: string; why: string; targets: ('wasm' | 'ts')[] }[] = [
  { spec: 'unet', why: 'ConvTranspose, MaxPool, skip Concat', targets: ['wasm'] },
  { spec: 'espcn', why: 'PixelShuffle as DepthToSpace CRD', targets: ['wasm', 'ts'] },
  {
    spec: 'style_transfer',
    why: 'reflection Pad (folded pads), InstanceNorm, nearest Resize',
    targets: ['wasm', 'ts'],
  },
  {
    spec: 'tiny_yolo',
    why: 'LeakyRelu, ZeroPad + stride-1 MaxPool, Resize, two outputs',
    targets: ['wasm'],
  },
  {
    spec: 'se_resnet',
    why: 'x.mean([2, 3]), view(b, c, 1, 1) via Shape, Expand, SE multiply',
    targets: ['wasm', 'ts'],
  },
  {
    spec: 'prelu_net:14',
    why: 'PRelu per channel and shared, HardSwish op',
    targets: ['wasm', 'ts'],
  },
  {
    spec: 'convnext_mini',
    why: 'permutes, decomposed LayerNorm, Erf GELU, layer scale',
    targets: ['wasm', 'ts'],
  },
  { spec: 'convnext_mini:17', why: 'LayerNormalization (opset 17)', targets: ['wasm'] },
  { spec: 'shufflenet_v2_x0_5@32', why: 'chunk as Split, channel shuffle', targets: ['wasm'] },
  { spec: 'squeezenet1_1@64', why: 'ceil_mode MaxPool, fire Concat', targets: ['wasm'] },
  {
    spec: 'mobilenet_v3_small@32',
    why: 'SE blocks (HardSigmoid gate, broadcast Mul), HardSwish, depthwise',
    targets: ['wasm', 'ts'],
  },
];

const python = torchPython();
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-zoo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!python)(
  `PyTorch networks through netc import${python ? '' : ` (skipped: ${NO_TORCH})`}`,
  () => {
    let infos: Map<string, ZooInfo> | undefined;
    const info = (spec: string): ZooInfo => {
      // One exporter run for every case (cached across runs by the script's hash).
      infos ??= new Map(exportModels(CASES.map((c) => c.spec)).map((m, k) => [CASES[k]!.spec, m]));
      return infos.get(spec)!;
    };

    test.each(CASES)('$spec: $why', { timeout: 240_000 }, async ({ spec, targets }) => {
      const m = info(spec);
      expect(m.error).toBeUndefined();
      const files = modelFiles(m);
      const r = importOnnx(files.onnx);
      if (!r.ok) throw new Error(r.errors.join('\n'));
      const g = decodeModel(files.onnx).graph;
      const feedName = g.inputs[0]!.name;
      const want = await runOnnx(files.onnx, {
        [feedName]: { dims: [1, ...m.input], data: files.input },
      });
      const compiled = compileSource(r.source);
      expect(compiled.diagnostics).toEqual([]);
      const net = compiled.graphs[0]!;
      for (const target of targets) {
        const built = await buildInto(path.join(tmp, `${m.key}-${target}`), net, {
          target,
          seed: 0,
          weights: r.weights,
          format: false,
        });
        const got = await runModule(built.module, { [net.inputs[0]!.name]: files.input });
        net.outputs.forEach((p, k) => {
          const name = g.outputs[k]!.name;
          // PyTorch in float64 is the oracle; onnxruntime too, except where its own optimizer
          // changes the model (it fuses tiny_yolo's ZeroPad into the MaxPool, padding with -inf
          // where PyTorch pads with zeros: 0.15 off PyTorch, netc 3e-6).
          expectClose(got[p.name]!, files.torch[k]!, `${spec} ${target} ${name} vs PyTorch`);
          if (m.name !== 'tiny_yolo')
            expectClose(got[p.name]!, want[name]!.data, `${spec} ${target} ${name} vs onnxruntime`);
        });
      }
    });
  },
);
