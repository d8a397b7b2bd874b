// The IR as text, one line per node (for `netc build --dump-ir after:PASS` and for tests).
import { formatShape, type AttrValue, type Graph, type Node, type WeightExpr } from './graph.js';

/** A recipe in short form: `@conv/kernel`, `scale(@conv/kernel, bn_scale(...), 9x4x1)`. */
export function printExpr(e: WeightExpr): string {
  switch (e.op) {
    case 'param':
      return `@${e.key}`;
    case 'zeros':
      return `zeros(${e.size})`;
    case 'fill':
      return `fill(${e.size}, ${e.value})`;
    case 'values':
      return `values(${e.values.join(', ')})`;
    case 'scale':
      return `scale(${printExpr(e.x)}, ${printExpr(e.s)}, ${e.outer}x${e.channels}x${e.inner})`;
    case 'bn_scale':
      return `bn_scale(${e.gamma ? printExpr(e.gamma) : '1'}, ${printExpr(e.variance)}, eps=${e.epsilon})`;
    case 'bn_shift':
      return `bn_shift(${printExpr(e.bias)}, ${printExpr(e.mean)}, ${printExpr(e.scale)}, ${e.beta ? printExpr(e.beta) : '0'})`;
    case 'matvec_add':
      return `matvec_add(${printExpr(e.bias)}, ${printExpr(e.w)}[${e.rows}x${e.cols}], ${printExpr(e.v)})`;
    case 'add':
      return `add(${printExpr(e.a)}, ${printExpr(e.b)})`;
  }
}

function printValue(v: AttrValue): string {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    // An activation: relu, leaky_relu(negative_slope=0.1).
    const { fn, ...rest } = v as { readonly [k: string]: AttrValue };
    if (typeof fn === 'string') {
      const params = Object.entries(rest).map(([k, x]) => `${k}=${printValue(x)}`);
      return params.length ? `${fn}(${params.join(', ')})` : fn;
    }
  }
  return JSON.stringify(v);
}

/** Attributes worth showing: those not at the layer's default (initializers and unused ones
 * left out), and everything the shape rule resolved (pads, axes). */
function keyAttrs(n: Node): string[] {
  const specs = new Map(n.layer.attrs.map((s) => [s.name, s]));
  const out: string[] = [];
  for (const [k, v] of Object.entries(n.attrs)) {
    const spec = specs.get(k);
    if (spec) {
      if (spec.unused || spec.kind.type === 'initializer') continue;
      if (spec.default !== undefined && JSON.stringify(spec.default) === JSON.stringify(v))
        continue;
      if (k === 'activation' && printValue(v) === 'linear') continue;
    }
    out.push(`${k}=${printValue(v)}`);
  }
  return out;
}

/** The graph, one line per node (`%3 conv1 = conv2d(%2) [24, 24, 8] ...`), then its weights,
 * ports and notes. */
export function printGraph(graph: Graph): string {
  const lines: string[] = [];
  const batch = graph.batch === null ? 'free' : String(graph.batch);
  lines.push(`network ${graph.name} (${graph.dataFormat}, batch ${batch})`);
  for (const p of graph.inputs)
    lines.push(`  input ${p.name} = %${p.node} ${formatShape(p.shape)}`);
  for (const n of graph.nodes) {
    const args = n.inputs.map((i) => `%${i}`).join(', ');
    const attrs = keyAttrs(n);
    const hidden = n.hidden ? ' hidden' : '';
    lines.push(
      `  %${n.id} ${n.name} = ${n.layer.kind}(${args}) ${formatShape(n.shape)}` +
        (attrs.length ? ` ${attrs.join(' ')}` : '') +
        hidden,
    );
    for (const w of n.weights) {
      const plain = w.value.op === 'param' && w.value.key === `${n.name}/${w.name}`;
      lines.push(
        `      ${w.name} ${formatShape(w.shape)}${plain ? '' : ` = ${printExpr(w.value)}`}`,
      );
    }
  }
  for (const p of graph.outputs)
    lines.push(`  output ${p.name} = %${p.node} ${formatShape(p.shape)}`);
  for (const note of graph.notes) lines.push(`  note: ${note}`);
  return lines.join('\n') + '\n';
}
