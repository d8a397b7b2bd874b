// Every example, built for both targets, imported and run; outputs against the reference.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { runReference } from '../../src/reference/run.js';
import { summarize } from '../../src/summary/summary.js';
import { size } from '../../src/ir/types.js';
import type { Graph, Port } from '../../src/ir/graph.js';
import { runPasses } from '../../src/passes/pipeline.js';
import { buildInto, runModule } from '../helpers/module.js';
import { randomFeeds } from '../helpers/random.js';
import { expectClose } from '../helpers/tolerance.js';

const root = path.resolve(import.meta.dirname, '../..');
const examples = readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.net'));
const out = mkdtempSync(path.join(tmpdir(), 'netc-e2e-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/**
 * The network with one more output per output: the input of its last layer (a classifier's
 * features before the dense layer and softmax). With random weights a classifier's
 * probabilities can be nearly flat (MobileNetV1's are 0.001 each to float32 precision), which
 * would hide a wrong band or thread; the features are not.
 */
function withFeatures(graph: Graph): Graph {
  const extra: Port[] = [];
  for (const o of graph.outputs) {
    const last = graph.nodes[o.node]!;
    const before = graph.nodes[last.inputs[0]!];
    if (before === undefined || before.layer.kind === 'input') continue;
    if (graph.outputs.some((p) => p.node === before.id)) continue;
    extra.push({ name: `${o.name}_features`, node: before.id, shape: before.shape, span: o.span });
  }
  return { ...graph, outputs: [...graph.outputs, ...extra] };
}

// Formatting is not under test (format: false; determinism.test.ts and the command-line tests
// build formatted modules). Each module runs in a process of its own while the reference is
// computed here.
describe.each(examples)('examples/%s', (file) => {
  const { graphs, diagnostics } = compileSource(
    readFileSync(path.join(root, 'examples', file), 'utf8'),
  );
  it('compiles without diagnostics', () => expect(diagnostics).toEqual([]));
  for (const source of graphs) {
    const graph = withFeatures(source);
    const macs = summarize(graph, runPasses(graph)).macs;
    // Large networks run one example (the float64 reference costs seconds per example).
    const batch = macs > 5e7 ? 1 : 2;
    const feeds = randomFeeds(graph, batch, 12345);
    // The reference, computed once for both targets.
    let expected: Record<string, Float64Array> | undefined;
    const reference = (): Record<string, Float64Array> => {
      const values = initialValues(graph, 7);
      const weights = new Map(graph.params.map((p, i) => [p.key, values[i]!]));
      return (expected ??= runReference(graph, weights, feeds, batch));
    };
    for (const target of ['wasm', 'ts'] as const) {
      it(`${graph.name}: ${target} build matches the reference`, async () => {
        const dir = path.join(out, `${graph.name}-${target}`);
        // ResNet-50's 25 M weights as one base64 string cost Node ~25 s to parse: on the ts target
        // a network that large keeps its weights beside the module (--external-weights), as a
        // user would ship it. The built-in path is the other examples'.
        const external =
          target === 'ts' && graph.params.reduce((n, p) => n + size(p.shape), 0) > 1e7;
        const built = await buildInto(dir, graph, {
          target,
          seed: 7,
          format: false,
          ...(external ? { externalWeights: true } : {}),
        });
        // The wasm target on 1 to 4 threads (the calling thread and workers), whose results
        // are the same bit for bit.
        const threads = target === 'wasm' ? [1, 2, 3, 4] : [1];
        const running = runModule(built.module, feeds, { fresh: true, threads });
        const want = reference();
        const got = await running;
        for (const o of graph.outputs) {
          const one = got[`${o.name}@1`]!;
          // Relative to the output's largest value where that is below 1: with random weights
          // MobileNetV1's activations fade to ~1e-20, where the absolute bound would pass anything.
          const ref = want[o.name]!;
          const peak = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          const scale = peak > 0 && peak < 1 ? 1 / peak : 1;
          const scaled = (a: ArrayLike<number>): ArrayLike<number> =>
            scale === 1 ? a : Float64Array.from(a, (v) => v * scale);
          expectClose(
            scaled(one),
            scaled(ref),
            `${graph.name}.${o.name}${scale === 1 ? '' : ` (scaled by 1/${peak.toExponential(2)})`}`,
          );
          for (const t of threads.slice(1)) {
            const y = got[`${o.name}@${t}`]!;
            const same = y.length === one.length && y.every((v, i) => Object.is(v, one[i]));
            expect(same, `${graph.name}.${o.name} on ${t} threads, bit for bit`).toBe(true);
          }
        }
        // Networks with a layer worth splitting run on the threads asked for.
        const split = built.program.parallel?.phases.some((p) => p.parts.length > 1) ?? false;
        expect([...got['@threads']!]).toEqual(threads.map((t) => (split ? t : 1)));
      }, 300_000);
    }
  }
});
