// The one layer harness: every layer of the registry, on each sample it declares (src/layers),
// lowered by the implementation the strategy table picks, on both backends (the TypeScript
// print with and without v128, the wasm module plain and relaxed), against the layer's float64
// reference. A new layer is covered by declaring its samples; a public layer without any fails.
import { describe, expect, test } from 'vitest';
import { compileSource } from '../src/frontend/index.js';
import type { LayerDef, LayerSample } from '../src/ir/op.js';
import { LAYERS } from '../src/layers/registry.js';
import { implementationsOf } from '../src/lower/strategy.js';
import { runPasses } from '../src/passes/pipeline.js';
import { checkTs, checkWasm } from './helpers/layer_check.js';

/** The sample as a one-network source: `output y = conv2d(x0, 6, 3)`. */
function sourceOf(def: LayerDef, s: LayerSample): string {
  if ('source' in s) return s.source;
  const inputs = s.inputs.map((shape, i) => `  input x${i}: [${shape.join(', ')}]`);
  const args = [...s.inputs.map((_, i) => `x${i}`), ...(s.args ? [s.args] : [])].join(', ');
  return `network t {\n${inputs.join('\n')}\n  output y = ${def.kind}(${args})\n}`;
}

const layers = LAYERS.filter((l) => l.kind !== 'input');

describe.each(layers.map((def) => ({ kind: def.kind, def })))('$kind', ({ def }) => {
  test.skipIf(def.internal)('declares samples', () =>
    expect(def.samples?.length ?? 0).toBeGreaterThan(0),
  );
  for (const [i, s] of (def.samples ?? []).entries()) {
    const what = `#${i} ${'source' in s ? '' : `[${s.inputs.map((x) => `[${x.join(', ')}]`).join(', ')}] ${s.args ?? ''}`}${s.why ? ` (${s.why})` : ''}`;
    test(what, async () => {
      const { graphs, diagnostics } = compileSource(sourceOf(def, s));
      expect(diagnostics.map((d) => d.message)).toEqual([]);
      // Internal layers exist after the passes; the others are tested as written.
      const g = def.internal ? runPasses(graphs[0]!) : graphs[0]!;
      const node = g.nodes.find((n) => n.layer.kind === def.kind);
      expect(node, `a ${def.kind} node`).toBeDefined();
      const shapes = node!.inputs.map((id) => g.nodes[id]!.shape);
      if (implementationsOf(node!).length === 0) {
        // No kernel: a view of its input, or nothing at inference.
        expect(def.traits.view === true || def.traits.identity === true).toBe(true);
        return;
      }
      for (const simd of [false, true]) checkTs(node!, shapes, simd, 7 + i);
      await checkWasm(node!, shapes, 7 + i);
    });
  }
});
