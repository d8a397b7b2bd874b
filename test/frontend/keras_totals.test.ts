// The examples against Keras: parameter totals of applications.ResNet50 and MobileNet, the MNIST
// network's first layer, and every file in examples/ compiling cleanly.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../src/frontend/index.js';
import { runPasses } from '../../src/passes/pipeline.js';
import { summarize, type NetworkSummary } from '../../src/summary/summary.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const exampleFiles = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.net'))
  .sort();

/** The summary of the one network of an example file. */
function summary(file: string): NetworkSummary {
  const r = compileSource(readFileSync(join(EXAMPLES, file), 'utf8'));
  expect(r.diagnostics).toEqual([]);
  expect(r.graphs).toHaveLength(1);
  const g = r.graphs[0]!;
  return summarize(g, runPasses(g));
}

const count = (s: NetworkSummary, kind: string): number =>
  s.layers.filter((l) => l.kind === kind).length;
const layer = (s: NetworkSummary, name: string) => {
  const l = s.layers.find((x) => x.name === name);
  if (!l) throw new Error(`no layer ${name}`);
  return l;
};
const last = (s: NetworkSummary) => s.layers[s.layers.length - 1]!;

describe('examples/', () => {
  it('holds the documented examples', () => {
    expect(exampleFiles).toEqual(
      expect.arrayContaining([
        'autoencoder.net',
        'dcgan.net',
        'mnist.net',
        'mobilenet_v1.net',
        'resnet50.net',
        'separable.net',
      ]),
    );
  });

  for (const f of exampleFiles) {
    it(`${f} compiles with no diagnostics and opens with a comment`, () => {
      const src = readFileSync(join(EXAMPLES, f), 'utf8');
      expect(src.startsWith('#')).toBe(true);
      const r = compileSource(src);
      expect(r.diagnostics).toEqual([]);
      expect(r.graphs.length).toBeGreaterThan(0);
    });
  }
});

describe('keras.applications.ResNet50 (include_top, 224x224x3)', () => {
  const s = summary('resnet50.net');

  it('has exactly 25,636,712 params, as Keras reports', () => {
    expect(s.params).toBe(25_636_712);
  });

  it('has 53 convolutions with biases, 53 batch normalizations and the 1000-way dense', () => {
    expect(count(s, 'conv2d')).toBe(53);
    expect(count(s, 'batch_normalization')).toBe(53);
    expect(layer(s, 'conv2d')).toMatchObject({ output_shape: [112, 112, 64], params: 9_472 });
    expect(layer(s, 'dense')).toMatchObject({ output_shape: [1000], params: 2_049_000 });
    expect(layer(s, 'max_pooling2d').output_shape).toEqual([56, 56, 64]);
    expect(layer(s, 'global_average_pooling2d').output_shape).toEqual([2048]);
  });

  it('strides in the first 1x1 convolution of each stage after the first (v1)', () => {
    // Stage 3's conv_block: the shortcut, then the strided 1x1 of the main path.
    expect(layer(s, 'stage_1/conv_block/conv2d')).toMatchObject({ output_shape: [28, 28, 512] });
    expect(layer(s, 'stage_1/conv_block/conv2d_1')).toMatchObject({
      output_shape: [28, 28, 128],
      params: 256 * 128 + 128,
    });
  });

  it('counts multiply-accumulates by the contract (about 3.86 G)', () => {
    expect(s.macs).toBe(3_857_973_248);
  });
});

describe('keras.applications.MobileNet (alpha 1.0, 224x224x3)', () => {
  const s = summary('mobilenet_v1.net');

  it('has exactly 4,253,864 params, as Keras reports', () => {
    expect(s.params).toBe(4_253_864);
  });

  it('has 13 depthwise blocks, bias-free convolutions and a conv2d classifier with bias', () => {
    expect(count(s, 'depthwise_conv2d')).toBe(13);
    expect(count(s, 'conv2d')).toBe(15);
    expect(count(s, 'batch_normalization')).toBe(27);
    expect(count(s, 'relu6')).toBe(27);
    const classifier = s.layers.filter((l) => l.kind === 'conv2d').at(-1)!;
    expect(classifier).toMatchObject({ output_shape: [1, 1, 1000], params: 1_025_000 });
    expect(last(s)).toMatchObject({ kind: 'softmax', output_shape: [1000] });
  });

  it('counts multiply-accumulates by the contract (about 569 M, as the paper says)', () => {
    expect(s.macs).toBe(568_740_352);
  });
});

describe('the MNIST network of the language description', () => {
  const s = summary('mnist.net');

  it('first conv2d: 5*5*1*32 + 32 = 832 params, 28*28*32*5*5*1 = 627,200 MACs', () => {
    expect(layer(s, 'conv2d')).toEqual({
      name: 'conv2d',
      kind: 'conv2d',
      output_shape: [28, 28, 32],
      params: 832,
      macs: 627_200,
    });
  });

  it('ends in 10 probabilities', () => {
    expect(last(s)).toMatchObject({ kind: 'softmax', output_shape: [10] });
    expect(layer(s, 'flatten').output_shape).toEqual([3136]);
  });
});

describe('the other examples', () => {
  it('separable: 5*5*10 + 10*100 + 100 = 1,350 params', () => {
    const s = summary('separable.net');
    expect(s.params).toBe(1_350);
    expect(last(s).output_shape).toEqual([412, 412, 100]);
  });

  it('dcgan: 100 noise values to a 64x64x3 image', () => {
    const s = summary('dcgan.net');
    expect(s.layers[0]).toMatchObject({ kind: 'input', output_shape: [100] });
    expect(last(s)).toMatchObject({ kind: 'conv2d_transpose', output_shape: [64, 64, 3] });
    expect(count(s, 'conv2d_transpose')).toBe(4);
  });

  it('autoencoder: back to the 27x27 input, which needs output_shape', () => {
    const s = summary('autoencoder.net');
    expect(s.layers[0]!.output_shape).toEqual([27, 27, 1]);
    expect(last(s).output_shape).toEqual([27, 27, 1]);
    // Without output_shape, Keras's default sizes go 4 -> 8 -> 16 -> 32.
    const src = readFileSync(join(EXAMPLES, 'autoencoder.net'), 'utf8').replace(
      /,\s*output_shape: \[\d+, \d+\]/g,
      '',
    );
    const r = compileSource(src);
    expect(r.diagnostics).toEqual([]);
    const g = r.graphs[0]!;
    expect(g.nodes.filter((n) => !n.hidden).at(-1)!.userShape).toEqual([32, 32, 1]);
  });
});
