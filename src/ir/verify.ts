// The graph verifier: structural invariants every graph keeps through every pass (ids, topology,
// ports, shapes by re-running each layer's shape rule, weight recipes and their sizes).
import type { InferContext } from './op.js';
import { formatShape, size, type Graph, type Node, type Shape, type WeightExpr } from './graph.js';

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The problems found, in words; empty when the graph is well formed. */
export function verifyGraph(graph: Graph): string[] {
  const problems: string[] = [];
  const bad = (msg: string): void => void problems.push(msg);
  const params = new Map(graph.params.map((p) => [p.key, p.shape]));
  const names = new Set<string>();
  graph.nodes.forEach((n, i) => {
    const at = `node ${i} '${n.name}'`;
    if (n.id !== i) bad(`${at}: id ${n.id} is not its index`);
    if (names.has(n.name)) bad(`${at}: the name is used twice`);
    names.add(n.name);
    const { min, max } = n.layer.inputs;
    if (n.inputs.length < min || n.inputs.length > max)
      bad(`${at}: ${n.inputs.length} inputs, ${n.layer.kind} takes ${min} to ${max}`);
    for (const j of n.inputs)
      if (!Number.isInteger(j) || j < 0 || j >= i) bad(`${at}: input ${j} is not an earlier node`);
    if (n.inputs.some((j) => !(j >= 0 && j < i))) return;
    if (n.inputs.length > 0) checkInfer(graph, n, bad);
    const slots = new Set<string>();
    for (const w of n.weights) {
      if (slots.has(w.name)) bad(`${at}: weight ${w.name} appears twice`);
      slots.add(w.name);
      const got = exprSize(w.value, params, (msg) => bad(`${at}: weight ${w.name}: ${msg}`));
      if (got !== null && got !== size(w.shape))
        bad(`${at}: weight ${w.name} ${formatShape(w.shape)} is computed with ${got} values`);
    }
  });
  const ports = (kind: string, list: Graph['inputs']): void => {
    for (const p of list) {
      const n = graph.nodes[p.node];
      if (!n) bad(`${kind} '${p.name}': node ${p.node} does not exist`);
      else if (size(p.shape) !== size(n.shape))
        bad(
          `${kind} '${p.name}': ${formatShape(p.shape)} but node '${n.name}' is ${formatShape(n.shape)}`,
        );
    }
  };
  ports('input', graph.inputs);
  ports('output', graph.outputs);
  for (const p of graph.inputs)
    if (graph.nodes[p.node] && graph.nodes[p.node]!.inputs.length > 0)
      bad(`input '${p.name}': node ${p.node} is not an input node`);
  graph.nodes.forEach((n) => {
    if (n.inputs.length === 0 && !graph.inputs.some((p) => p.node === n.id))
      bad(`node ${n.id} '${n.name}' takes no input and is no graph input`);
  });
  return problems;
}

/** Re-runs the node's shape rule on its inputs' shapes: shape, resolved attrs and weights. */
function checkInfer(graph: Graph, n: Node, bad: (msg: string) => void): void {
  const at = `node ${n.id} '${n.name}'`;
  const inputs = n.inputs.map((j) => graph.nodes[j]!.shape);
  const errors: string[] = [];
  const cf = graph.dataFormat === 'channels_first';
  const ctx: InferContext = {
    inputs,
    attrs: n.attrs,
    dataFormat: graph.dataFormat,
    error: (message) => void errors.push(message),
    axis: (attr, rank) => {
      const user = n.attrs[attr] as number;
      const idx = user > 0 ? user - 1 : rank + user;
      if (idx < 0 || idx >= rank) return null;
      // As the front end: channels_first images are [C, H, W] to the user, [H, W, C] inside, except
      // for layout-sensitive layers, which see the user's layout.
      if (!cf || rank !== 3 || n.layer.traits.layoutSensitive) return idx;
      return [2, 0, 1][idx]!;
    },
    describe: (i) => formatShape(inputs[i] ?? []),
    given: () => false,
  };
  const r = n.layer.infer(ctx);
  if (!r || errors.length) {
    bad(`${at}: the shape rule fails: ${errors.join('; ') || 'no result'}`);
    return;
  }
  if (!same(r.shape, n.shape))
    bad(`${at}: shape ${formatShape(n.shape)}, the shape rule gives ${formatShape(r.shape)}`);
  for (const [k, v] of Object.entries(r.attrs ?? {}))
    if (!same(v, n.attrs[k]))
      bad(`${at}: attribute ${k} is ${JSON.stringify(n.attrs[k])}, not ${JSON.stringify(v)}`);
  const want = new Map((r.weights ?? []).map((w) => [w.name, w.shape] as const));
  const have = new Map(n.weights.map((w) => [w.name, w.shape] as const));
  for (const [k, s] of want) {
    const h = have.get(k);
    if (!h) bad(`${at}: weight ${k} is missing`);
    else if (!same(h, s))
      bad(`${at}: weight ${k} is ${formatShape(h)}, the layer needs ${formatShape(s)}`);
  }
  for (const k of have.keys())
    if (!want.has(k)) bad(`${at}: weight ${k} is not one of the layer's`);
}

/** The number of values a recipe computes, checking its operands agree; null after a problem. */
export function exprSize(
  e: WeightExpr,
  params: ReadonlyMap<string, Shape>,
  bad: (msg: string) => void,
): number | null {
  const sub = (x: WeightExpr): number | null => exprSize(x, params, bad);
  const need = (what: string, got: number | null, want: number): boolean => {
    if (got === null) return false;
    if (got !== want) bad(`${e.op}: ${what} has ${got} values, needs ${want}`);
    return got === want;
  };
  switch (e.op) {
    case 'param': {
      const s = params.get(e.key);
      if (!s) bad(`param '${e.key}' is not a declared weight`);
      return s ? size(s) : null;
    }
    case 'zeros':
    case 'fill':
      return e.size;
    case 'values':
      return e.values.length;
    case 'scale': {
      const n = e.outer * e.channels * e.inner;
      const ok = need('x', sub(e.x), n) && need('s', sub(e.s), e.channels);
      return ok ? n : null;
    }
    case 'bn_scale': {
      const n = sub(e.variance);
      if (n === null) return null;
      return e.gamma && !need('gamma', sub(e.gamma), n) ? null : n;
    }
    case 'bn_shift': {
      const n = sub(e.bias);
      if (n === null) return null;
      const ok =
        need('mean', sub(e.mean), n) &&
        need('scale', sub(e.scale), n) &&
        (!e.beta || need('beta', sub(e.beta), n));
      return ok ? n : null;
    }
    case 'matvec_add': {
      const ok =
        need('bias', sub(e.bias), e.cols) &&
        need('w', sub(e.w), e.rows * e.cols) &&
        need('v', sub(e.v), e.rows);
      return ok ? e.cols : null;
    }
    case 'add': {
      const n = sub(e.a);
      return n !== null && need('b', sub(e.b), n) ? n : null;
    }
  }
}
