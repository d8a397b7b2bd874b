// `netc summary`: per layer name, kind, output shape, params and MACs, as Keras's model.summary().
import { size, type Graph } from '../ir/graph.js';

export interface LayerRow {
  readonly name: string;
  readonly kind: string;
  readonly output_shape: readonly number[];
  readonly params: number;
  readonly macs: number;
}

export interface NetworkSummary {
  readonly name: string;
  readonly params: number;
  readonly params_folded: number;
  readonly macs: number;
  readonly layers: readonly LayerRow[];
  /** The folds applied, in words. */
  readonly folds: readonly string[];
}

/** Summarizes a graph as the source declares it; `folded` is the same network after the passes. */
export function summarize(graph: Graph, folded: Graph): NetworkSummary {
  const layers: LayerRow[] = [];
  let macs = 0;
  for (const n of graph.nodes) {
    if (n.hidden) continue;
    const m = n.layer.macs(
      n,
      n.inputs.map((i) => graph.nodes[i]!.shape),
    );
    macs += m;
    layers.push({
      name: n.name,
      kind: n.layer.kind,
      output_shape: [...n.userShape],
      params: n.weights.reduce((s, w) => s + size(w.shape), 0),
      macs: m,
    });
  }
  const params = graph.params.reduce((s, p) => s + size(p.shape), 0);
  const used = new Set<string>();
  let folded_ = 0;
  for (const n of folded.nodes)
    for (const w of n.weights) {
      const key = `${n.name}/${w.name}`;
      if (used.has(key)) continue;
      used.add(key);
      folded_ += size(w.shape);
    }
  return {
    name: graph.name,
    params,
    params_folded: folded_,
    macs,
    layers,
    folds: folded.notes,
  };
}

const group = (n: number): string => n.toLocaleString('en-US');

/** The human-readable table. */
export function renderSummary(s: NetworkSummary): string {
  const rows = s.layers.map((l) => [
    l.name,
    l.kind,
    `[${l.output_shape.join(', ')}]`,
    group(l.params),
    group(l.macs),
  ]);
  const head = ['Layer', 'Kind', 'Output shape', 'Params', 'MACs'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  const out = [
    `Network: ${s.name}`,
    rule,
    line(head),
    rule.replace(/-/g, '='),
    ...rows.map(line),
    rule,
  ];
  out.push(`Total params: ${group(s.params)}`);
  out.push(
    `Params after folding: ${group(s.params_folded)}` +
      (s.params_folded !== s.params ? ` (${group(s.params - s.params_folded)} folded away)` : ''),
  );
  out.push(`Total MACs: ${group(s.macs)} per example`);
  for (const f of s.folds) out.push(`  fold: ${f}`);
  return out.join('\n');
}
