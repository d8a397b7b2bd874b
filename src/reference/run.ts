// The reference interpreter: runs a graph example by example with each layer's float64
// reference semantics. The executable spec that kernels, passes and folds are tested against.
import { InternalError } from '../diag/diagnostics.js';
import { size, type Graph } from '../ir/graph.js';

/**
 * Runs `graph` on a batch. `weights` holds every node's weights by `${node.name}/${slot}` (what
 * `evaluateWeights` returns for the graph); `feeds` holds each input in the user's layout (the
 * graph's input nodes take the data as given), `batch` examples back to back. Returns each
 * graph output, in the user's layout, concatenated over the batch.
 */
export function runReference(
  graph: Graph,
  weights: ReadonlyMap<string, ArrayLike<number>>,
  feeds: Readonly<Record<string, ArrayLike<number>>>,
  batch: number,
): Record<string, Float64Array> {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch ${batch} is not positive`);
  const fed = new Map<number, { data: ArrayLike<number>; size: number }>();
  for (const port of graph.inputs) {
    const data = Object.prototype.hasOwnProperty.call(feeds, port.name)
      ? feeds[port.name]
      : undefined;
    const n = size(graph.nodes[port.node]!.shape);
    if (!data) throw new RangeError(`missing input '${port.name}'`);
    if (data.length !== n * batch)
      throw new RangeError(`input '${port.name}' needs ${batch} x ${n} values, got ${data.length}`);
    fed.set(port.node, { data, size: n });
  }
  const nodeWeights = graph.nodes.map((node) => {
    const w: Record<string, Float64Array> = {};
    for (const use of node.weights) {
      const key = `${node.name}/${use.name}`;
      const v = weights.get(key);
      if (!v) throw new Error(`missing weight '${key}'`);
      if (v.length !== size(use.shape))
        throw new RangeError(`weight '${key}' has ${v.length} values, needs ${size(use.shape)}`);
      w[use.name] = Float64Array.from(v);
    }
    return w;
  });
  const results: Record<string, Float64Array> = {};
  for (const port of graph.outputs) {
    const value = new Float64Array(batch * size(graph.nodes[port.node]!.shape));
    // NOTE: defineProperty, so an output named `__proto__` is a plain own key.
    Object.defineProperty(results, port.name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  for (let b = 0; b < batch; b++) {
    const values: Float64Array[] = [];
    for (const node of graph.nodes) {
      const input = fed.get(node.id);
      if (input) {
        const start = b * input.size;
        values.push(Float64Array.from({ length: input.size }, (_, i) => input.data[start + i]!));
        continue;
      }
      if (node.inputs.length === 0) throw new InternalError(`node '${node.name}' has no data`);
      const xs = node.inputs.map((i) => values[i]!);
      const shapes = node.inputs.map((i) => graph.nodes[i]!.shape);
      const y = node.layer.reference(node, xs, shapes, nodeWeights[node.id]!);
      if (y.length !== size(node.shape))
        throw new InternalError(
          `${node.layer.kind} '${node.name}' produced ${y.length} values, expected ${size(node.shape)}`,
        );
      values.push(y);
    }
    for (const port of graph.outputs) {
      const y = values[port.node]!;
      results[port.name]!.set(y, b * y.length);
    }
  }
  return results;
}
