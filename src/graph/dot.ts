// `netc graph`: a network as a Graphviz picture: a box per layer, arrows for data, block calls as groups.
//
// Every visible layer is a box holding its name, its kind, its output shape (as the user writes
// shapes, batch excluded) and its parameter count. Inputs are boxes too; outputs are ovals named
// after the output. Layers made inside a block call are drawn inside a cluster for that call,
// nested as the calls nest (from the node's scope, `stage_1/conv_block`). Hidden nodes (the layout
// transposes netc adds) are left out, and the arrows through them drawn straight. Labels are
// Graphviz HTML-like labels: every piece of text is entity-escaped, so a name may hold anything.
import { size, type Graph, type Node } from '../ir/graph.js';

/** The DOT text of one network. */
export function toDot(graph: Graph): string {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const visible = graph.nodes.filter((n) => !n.hidden);

  /** The visible nodes a node's value comes from: itself, or through hidden nodes. */
  const sources = (id: number, seen = new Set<number>()): number[] => {
    const n = byId.get(id);
    if (n === undefined || seen.has(id)) return [];
    seen.add(id);
    if (!n.hidden) return [id];
    return n.inputs.flatMap((i) => sources(i, seen));
  };

  // The cluster tree: one cluster per block call path.
  interface Cluster {
    readonly label: string;
    readonly nodes: Node[];
    readonly children: Map<string, Cluster>;
  }
  const root: Cluster = { label: '', nodes: [], children: new Map() };
  for (const n of visible) {
    let c = root;
    for (const part of n.scope === '' ? [] : n.scope.split('/')) {
      let next = c.children.get(part);
      if (next === undefined) {
        next = { label: part, nodes: [], children: new Map() };
        c.children.set(part, next);
      }
      c = next;
    }
    c.nodes.push(n);
  }

  const out: string[] = [];
  out.push('digraph network {');
  out.push('  graph [rankdir=TB, fontname="Helvetica", labelloc=t, nodesep=0.3, ranksep=0.35];');
  out.push(`  label=<network <b>${html(graph.name)}</b>>;`);
  out.push(
    '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", color="#5b7db1", fontname="Helvetica", fontsize=11, margin="0.15,0.06"];',
  );
  out.push('  edge [color="#4a4a4a", arrowsize=0.7];');

  let clusterCount = 0;
  const emit = (c: Cluster, indent: string): void => {
    for (const n of c.nodes) out.push(`${indent}${nodeId(n.id)} ${nodeAttrs(graph, n)};`);
    for (const child of c.children.values()) {
      out.push(`${indent}subgraph cluster_${clusterCount++} {`);
      out.push(`${indent}  label=<${html(child.label)}>;`);
      out.push(
        `${indent}  style="rounded,filled"; fillcolor="#f7f7f2"; color="#a9a98f"; fontsize=11; labeljust=l;`,
      );
      emit(child, indent + '  ');
      out.push(`${indent}}`);
    }
  };
  emit(root, '  ');

  graph.outputs.forEach((port, i) => {
    out.push(
      `  out_${i} [shape=ellipse, style=filled, fillcolor="#e8f5e9", color="#5f9e62", label=<<b>${html(port.name)}</b><br/>output ${html(shapeText(port.shape))}>];`,
    );
  });
  for (const n of visible) {
    for (const input of n.inputs) {
      for (const s of sources(input)) out.push(`  ${nodeId(s)} -> ${nodeId(n.id)};`);
    }
  }
  graph.outputs.forEach((port, i) => {
    for (const s of sources(port.node)) out.push(`  ${nodeId(s)} -> out_${i};`);
  });
  out.push('}');
  return out.join('\n') + '\n';
}

function nodeId(id: number): string {
  return `n${id}`;
}

function nodeAttrs(graph: Graph, n: Node): string {
  const rows = [`<b>${html(n.name)}</b>`, html(n.layer.kind), html(shapeText(n.userShape))];
  const params = n.weights.reduce((s, w) => s + size(w.shape), 0);
  if (params > 0) rows.push(`${params.toLocaleString('en-US')} params`);
  const isInput = graph.inputs.some((p) => p.node === n.id);
  const style = isInput ? ', fillcolor="#fff4e0", color="#c08a2e"' : '';
  return `[label=<${rows.join('<br/>')}>${style}]`;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Text for an HTML-like label: XML entities for the markup characters, and control characters
 * (which XML cannot hold) shown as `\xNN`. Braces, pipes, quotes and backslashes mean nothing
 * inside an HTML-like label, but quotes are escaped all the same.
 */
export function html(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&#39;';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

let viz: Promise<{ render(dot: string, opts: { format: string }): RenderResult }> | undefined;

type RenderResult =
  | { status: 'success'; output: string }
  | { status: 'failure'; errors: readonly { message: string }[] };

/** Renders DOT to SVG with the WebAssembly Graphviz build (no system install needed). */
export async function renderSvg(dot: string): Promise<string> {
  viz ??= import('@viz-js/viz').then((m) => m.instance());
  const result = (await viz).render(dot, { format: 'svg' });
  if (result.status !== 'success') {
    throw new Error(`graphviz failed: ${result.errors.map((e) => e.message).join('; ')}`);
  }
  return result.output;
}
