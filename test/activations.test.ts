// Every activation of the table, as a layer and as a convolution's epilogue: the float64
// reference against onnxruntime-node (through the ONNX exporter), and the kernels of both
// backends against the reference. A new activation is covered by being in ACTIVATIONS.
import { describe, expect, test } from 'vitest';
import { initialValues } from '../src/driver.js';
import { compileSource } from '../src/frontend/index.js';
import { size, type Graph } from '../src/ir/graph.js';
import { ACTIVATIONS, type ActivationDef } from '../src/layers/activations.js';
import { exportOnnx } from '../src/onnx/export.js';
import { evaluateWeights } from '../src/runtime/evaluate.js';
import { runReference } from '../src/reference/run.js';
import { runOnnx, type FloatTensor } from './helpers/ort.js';
import { randomFloats } from './helpers/random.js';
import { expectClose } from './helpers/tolerance.js';

/** The activation's declared sample calls: `relu(max_value: 2.5)`, `softsign`. */
const callsOf = (def: ActivationDef): readonly string[] =>
  (def.samples ?? ['']).map((args) => (args ? `${def.name}(${args})` : def.name));

/** Inputs spread over [-8, 8), led by the edges: zeros, +-1, the thresholds. */
function inputs(n: number): Float32Array {
  const out = randomFloats(n, 99, -8, 8);
  out.set([0, 1, -1, 0.5, 2.5, 6].slice(0, n));
  return out;
}

function network(def: ActivationDef): Graph {
  const outs = callsOf(def).map((c, i) => `  output y${i} = x -> ${c}`);
  // As an epilogue too, where the activation needs no parameter.
  if (!def.attrs.some((a) => a.default === undefined))
    outs.push(`  output e = x -> conv2d(3, 1, activation: ${def.name})`);
  const { graphs, diagnostics } = compileSource(
    `network t {\n  input x: [3, 4, 5]\n${outs.join('\n')}\n}`,
  );
  expect(diagnostics.map((d) => d.message)).toEqual([]);
  return graphs[0]!;
}

describe('every activation: the reference against onnxruntime-node', () => {
  for (const def of ACTIVATIONS) {
    test(def.name, async () => {
      const g = network(def);
      const values = initialValues(g, 3);
      const params = new Map(g.params.map((p, i) => [p.key, values[i]!]));
      const batch = 2;
      const x = inputs(batch * size(g.inputs[0]!.shape));
      const feeds: Record<string, FloatTensor> = { x: { dims: [batch, 3, 4, 5], data: x } };
      const got = await runOnnx(exportOnnx(g, params), feeds);
      const want = runReference(g, evaluateWeights(g, params), { x }, batch);
      for (const p of g.outputs)
        expectClose(got[p.name]!.data, want[p.name]!, `${def.name} ${p.name}`);
    });
  }
});
