// Imports an ONNX model (NCHW, OIHW) as a readable channels_first .net source and Keras-layout weights.
import {
  boundName,
  identifier,
  importedNetwork,
  keyOption,
  writeChains,
  type ChainStep,
  type ImportResult,
} from '../import/source.js';
import { ACTIVATIONS } from '../layers/activations.js';
import { resizeTaps as netcTaps } from '../layers/resizing.js';
import { FOLDABLE, FoldError, foldNode, isIntType, type Const } from './fold.js';
import {
  DataType,
  decodeModel,
  defaultOpset,
  getAttribute,
  type AttributeProto,
  type GraphProto,
  type NodeProto,
} from './model.js';

export interface ImportOptions {
  /** The network's name; defaults to the ONNX graph's name (made an identifier) or `imported`. */
  readonly name?: string;
}

export type { ImportResult };

/** A refusal of one node: the message names the node and its op_type. */
class Refusal extends Error {}

/** One layer call of the generated source. */
interface Call {
  readonly fn: string;
  /** Rendered attributes, after the tensor inputs ('' for none). */
  readonly args: string;
  /** ONNX values it takes (tensor inputs, in order). */
  readonly inputs: string[];
  /** ONNX value it produces. */
  readonly output: string;
  readonly comment?: string;
}

interface WeightOut {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The largest f32. */
const F32_MAX = 3.4028234663852886e38;

/** Activations without parameters that one ONNX node computes (Relu, Sigmoid, Softsign, ...),
 * by ONNX operator: as each activation declares it. */
const SIMPLE_ACTIVATIONS: ReadonlyMap<string, string> = new Map(
  ACTIVATIONS.filter((a) => a.attrs.every((s) => s.default !== undefined)).flatMap((a) => {
    const one = a.onnx?.({});
    return one && !one.attrs && !one.inputs ? [[one.op, a.name] as const] : [];
  }),
);

/** The shortest decimal that reads back as the same float32 value. */
export function formatFloat(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const s = Number(f.toPrecision(p));
    if (Math.fround(s) === f) return String(s);
  }
  return String(f);
}

const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** `p`, `[ph, pw]` or `[[t, b], [l, r]]`: the shortest form of explicit 2-D padding. */
function padText(t: number, b: number, l: number, r: number): string {
  if (t === b && l === r) return t === l ? String(t) : `[${t}, ${l}]`;
  return `[[${t}, ${b}], [${l}, ${r}]]`;
}

/** An int or `[h, w]`. */
const pairText = (h: number, w: number): string => (h === w ? String(h) : `[${h}, ${w}]`);

/**
 * Translates a serialized ONNX model to a .net source (`data_format: channels_first`, so the
 * network takes the ONNX model's NCHW input as it is) and its weights as a safetensors file.
 * Operators netc cannot express are all listed, each naming its node and op_type.
 */
export function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): ImportResult {
  let m;
  try {
    m = decodeModel(bytes);
  } catch (e) {
    return { ok: false, errors: [e instanceof Error ? e.message : String(e)] };
  }
  return new Importer(m.graph, defaultOpset(m) ?? 1, opts).run();
}

/** Each node's label in messages: its name, else its index and first output. */
function label(n: NodeProto, index: number): string {
  return n.name !== ''
    ? `${n.opType} node '${n.name}'`
    : `${n.opType} node #${index} (output '${n.outputs[0] ?? ''}')`;
}

class Importer {
  private readonly consts = new Map<string, Const>();
  /** Per-example shapes (ONNX order, batch dropped) of activation values. */
  private readonly shapes = new Map<string, number[]>();
  /** Values that are another value under a new name (Identity, Dropout, fused Add). */
  private readonly aliases = new Map<string, string>();
  private readonly calls: Call[] = [];
  private readonly weights: WeightOut[] = [];
  private readonly counters = new Map<string, number>();
  private readonly errors: string[] = [];
  private readonly skip = new Set<number>();
  private readonly consumers = new Map<string, number[]>();
  private batch: number | null = null;
  /** Expand outputs that stand unexpanded for the merges reading them: the expanded shape. */
  private readonly expanded = new Map<string, number[]>();
  /** Values known to be >= 0 (outputs of relu, relu6, sigmoid, ...). */
  private readonly nonNegative = new Set<string>();

  constructor(
    private readonly g: GraphProto,
    private readonly opset: number,
    private readonly opts: ImportOptions,
  ) {}

  run(): ImportResult {
    const g = this.g;
    for (const t of g.initializers)
      this.consts.set(t.name, { dims: t.dims, data: t.data, int: isIntType(t.dataType) });
    g.nodes.forEach((n, i) =>
      n.inputs.forEach((v) => {
        if (v === '') return;
        const list = this.consumers.get(v) ?? [];
        list.push(i);
        this.consumers.set(v, list);
      }),
    );
    const names = new Set<string>();
    const unique = (base: string): string => {
      let s = base;
      for (let i = 1; names.has(s); i++) s = `${base}_${i}`;
      names.add(s);
      return s;
    };
    const inputDecls: string[] = [];
    const refs = new Map<string, string>();
    for (const v of g.inputs) {
      if (this.consts.has(v.name)) continue;
      if (v.elemType !== undefined && v.elemType !== DataType.FLOAT) {
        this.errors.push(`graph input '${v.name}' is not float32`);
        continue;
      }
      const shape = v.shape;
      if (!shape || shape.length < 2) {
        this.errors.push(
          `graph input '${v.name}' needs a known shape with a batch axis and at least one more`,
        );
        continue;
      }
      const dims = shape.slice(1);
      if (!dims.every((d): d is number => typeof d === 'number' && d > 0)) {
        this.errors.push(
          `graph input '${v.name}' has shape [${shape.map((d) => d ?? '?').join(', ')}]: netc needs every dimension but the batch fixed`,
        );
        continue;
      }
      if (typeof shape[0] === 'number') this.batch = shape[0];
      const id = unique(identifier(v.name, 'input'));
      refs.set(v.name, id);
      this.shapes.set(v.name, dims);
      // A name that is not an identifier is the module's feed key through `name:`.
      inputDecls.push(`  input ${id}: [${dims.join(', ')}]${keyOption(id, v.name)}`);
    }
    if (this.errors.length) return { ok: false, errors: this.errors };

    const poisoned = new Set<string>();
    // Constant nodes first: the patterns read their numbers ahead of the nodes' order.
    g.nodes.forEach((n, i) => {
      if (n.opType !== 'Constant' || (n.domain !== '' && n.domain !== 'ai.onnx')) return;
      this.skip.add(i);
      try {
        this.constant(n, label(n, i));
      } catch (e) {
        if (!(e instanceof Refusal)) throw e;
        this.errors.push(e.message);
        for (const o of n.outputs) poisoned.add(o);
      }
    });
    g.nodes.forEach((n, i) => {
      if (this.skip.has(i)) return;
      if (n.inputs.some((v) => poisoned.has(v))) {
        // Fed by a refused node: not listed, so each refusal names its first cause only.
        for (const o of n.outputs) poisoned.add(o);
        return;
      }
      try {
        if (n.domain !== '' && n.domain !== 'ai.onnx')
          throw new Refusal(`${label(n, i)}: operators of domain '${n.domain}' are not supported`);
        if (this.fold(n, i)) return;
        this.node(n, i);
      } catch (e) {
        if (!(e instanceof Refusal)) throw e;
        this.errors.push(e.message);
        // Keep going so every unsupported node is listed.
        for (const o of n.outputs) poisoned.add(o);
      }
    });
    if (this.errors.length) return { ok: false, errors: this.errors };

    const outputs: { id: string; value: string; onnx: string }[] = [];
    for (const v of g.outputs) {
      const value = this.resolve(v.name);
      if (!this.shapes.has(value)) {
        this.errors.push(`graph output '${v.name}' is not computed from the inputs`);
        continue;
      }
      outputs.push({ id: unique(identifier(v.name, 'output')), value, onnx: v.name });
    }
    if (this.errors.length) return { ok: false, errors: this.errors };

    const source = this.render(inputDecls, outputs, refs, unique);
    return importedNetwork(source, this.weights);
  }

  // ------------------------------------------------------------------------------ rendering

  private render(
    inputDecls: string[],
    outputs: { id: string; value: string; onnx: string }[],
    refs: Map<string, string>,
    unique: (base: string) => string,
  ): string {
    const uses = new Map<string, number>();
    for (const c of this.calls) for (const v of c.inputs) uses.set(v, (uses.get(v) ?? 0) + 1);
    const isOutput = new Set(outputs.map((o) => o.value));
    for (const o of outputs) uses.set(o.value, (uses.get(o.value) ?? 0) + 1);
    // Outputs keep the ONNX order: one is written inline (`output y = ...`) only while every
    // earlier one has been; the rest are bound to a name and listed at the end.
    let next = 0;
    const lines: string[] = [];
    const close = (text: string, value: string): void => {
      const o = outputs[next];
      if (o && o.value === value && uses.get(value) === 1) {
        // The key goes on a line of its own: the chain may end in a comment.
        const key = keyOption(o.id, o.onnx);
        if (key) lines.push(`  ${o.id} = ${text}`, `  output ${o.id}${key}`);
        else lines.push(`  output ${o.id} = ${text}`);
        refs.set(value, o.id);
        next++;
      } else {
        const id = unique('x');
        lines.push(`  ${id} = ${text}`);
        refs.set(value, id);
      }
    };
    const step = (c: Call): ChainStep => ({
      inputs: c.inputs,
      output: c.output,
      text: c.args === '' ? c.fn : `${c.fn}(${c.args})`,
      merged: (names) => `${c.fn}(${[...names, ...(c.args === '' ? [] : [c.args])].join(', ')})`,
      note: c.comment ?? '',
    });
    writeChains(this.calls, step, uses, isOutput, refs, close);
    for (const o of outputs.slice(next))
      lines.push(`  output ${o.id} = ${boundName(refs, o.value)}${keyOption(o.id, o.onnx)}`);
    const name = identifier(this.opts.name ?? this.g.name, 'imported');
    const head = `# Imported from ONNX by netc import: NCHW in and out, as the original model.`;
    return `${head}\nnetwork ${name}(data_format: channels_first) {\n${inputDecls.join('\n')}\n${lines.join('\n')}\n}\n`;
  }

  // ------------------------------------------------------------------------------- helpers

  private resolve(v: string): string {
    let x = v;
    for (let a = this.aliases.get(x); a !== undefined; a = this.aliases.get(x)) x = a;
    return x;
  }

  /** The next Keras-style auto name of a layer kind. */
  private layerName(kind: string): string {
    const n = this.counters.get(kind) ?? 0;
    this.counters.set(kind, n + 1);
    return n === 0 ? kind : `${kind}_${n}`;
  }

  /** Adds a layer call; returns the layer's name. */
  private emit(
    fn: string,
    inputs: string[],
    output: string,
    shape: number[],
    args = '',
    weights: { slot: string; shape: number[]; data: Float32Array }[] = [],
    comment?: string,
  ): string {
    const name = this.layerName(fn);
    this.calls.push({
      fn,
      args,
      inputs: inputs.map((v) => this.resolve(v)),
      output,
      ...(comment ? { comment } : {}),
    });
    this.shapes.set(output, shape);
    for (const w of weights)
      this.weights.push({ name: `${name}/${w.slot}`, shape: w.shape, data: w.data });
    return name;
  }

  /** The per-example shape of an activation input. */
  private act(n: NodeProto, i: number, where: string, k = 0): number[] {
    const v = n.inputs[k];
    if (v === undefined || v === '') throw new Refusal(`${where}: input ${k} is missing`);
    if (this.consts.has(v))
      throw new Refusal(
        `${where}: input ${k} ('${v}') is a constant tensor; netc layers take constants only as weights`,
      );
    const s = this.shapes.get(this.resolve(v));
    if (!s) throw new Refusal(`${where}: input '${v}' is not produced by an earlier node`);
    void i;
    return s;
  }

  private constOf(n: NodeProto, k: number, where: string, what: string): Const {
    const v = n.inputs[k];
    const c = v === undefined || v === '' ? undefined : this.consts.get(v);
    if (!c) throw new Refusal(`${where}: ${what} (input ${k}) must be a constant tensor`);
    return c;
  }

  private optConst(n: NodeProto, k: number): Const | undefined {
    const v = n.inputs[k];
    return v === undefined || v === '' ? undefined : this.consts.get(v);
  }

  ints(n: NodeProto, name: string, dflt: number[]): number[] {
    const a = getAttribute(n, name);
    return a && a.type === 'ints' ? a.value : dflt;
  }

  int(n: NodeProto, name: string, dflt: number): number {
    const a = getAttribute(n, name);
    return a && a.type === 'int' ? a.value : dflt;
  }

  float(n: NodeProto, name: string, dflt: number): number {
    const a = getAttribute(n, name);
    return a && (a.type === 'float' || a.type === 'int') ? a.value : dflt;
  }

  str(n: NodeProto, name: string, dflt: string): string {
    const a = getAttribute(n, name);
    return a && a.type === 'string' ? a.value : dflt;
  }

  private out(n: NodeProto): string {
    return n.outputs[0]!;
  }

  /** Extra outputs (a BatchNormalization's running stats, a Dropout's mask) must be unused. */
  private onlyFirstOutput(n: NodeProto, where: string): void {
    for (const o of n.outputs.slice(1))
      if (o !== '' && (this.consumers.has(o) || this.g.outputs.some((v) => v.name === o)))
        throw new Refusal(`${where}: only its first output can be used (output '${o}' is used)`);
  }

  /** Spatial padding [t, l, b, r] of a Conv or pool from pads / auto_pad. */
  private pads2d(
    n: NodeProto,
    where: string,
    ih: number,
    iw: number,
    k: [number, number],
    s: [number, number],
    d: [number, number],
  ): { mode: 'explicit' | 'same'; pads: [number, number, number, number] } {
    const auto = this.str(n, 'auto_pad', 'NOTSET');
    if (auto === 'VALID') return { mode: 'explicit', pads: [0, 0, 0, 0] };
    if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
      const one = (i: number, kk: number, ss: number, dd: number): [number, number] => {
        const o = Math.ceil(i / ss);
        const total = Math.max((o - 1) * ss + (kk - 1) * dd + 1 - i, 0);
        const small = Math.floor(total / 2);
        return auto === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
      };
      const [t, b] = one(ih, k[0], s[0], d[0]);
      const [l, r] = one(iw, k[1], s[1], d[1]);
      return { mode: auto === 'SAME_UPPER' ? 'same' : 'explicit', pads: [t, l, b, r] };
    }
    if (auto !== 'NOTSET') throw new Refusal(`${where}: unknown auto_pad '${auto}'`);
    const p = this.ints(n, 'pads', [0, 0, 0, 0]);
    if (p.length !== 4) throw new Refusal(`${where}: pads must have 4 values, got ${p.length}`);
    if (p.some((x) => x < 0)) throw new Refusal(`${where}: negative pads [${p.join(', ')}]`);
    return { mode: 'explicit', pads: [p[0]!, p[1]!, p[2]!, p[3]!] };
  }

  private pair(n: NodeProto, name: string, dflt: number, where: string): [number, number] {
    const v = this.ints(n, name, [dflt, dflt]);
    if (v.length !== 2)
      throw new Refusal(`${where}: ${name} must have 2 values (2-D), got [${v.join(', ')}]`);
    return [v[0]!, v[1]!];
  }

  // --------------------------------------------------------------------------------- nodes

  private node(n: NodeProto, i: number): void {
    const where = label(n, i);
    if (this.pattern(n, i, where)) return;
    const simple = SIMPLE_ACTIVATIONS.get(n.opType);
    if (simple) return this.activation(n, i, where, simple);
    const handler = OPS[n.opType];
    if (!handler) throw new Refusal(`${where}: netc has no layer for ONNX operator ${n.opType}`);
    handler(this, n, i, where);
  }

  /** An activation layer on input 0. */
  activation(n: NodeProto, i: number, where: string, fn: string, args = ''): void {
    this.onlyFirstOutput(n, where);
    const out = this.out(n);
    this.emit(fn, [n.inputs[0]!], out, this.act(n, i, where), args);
    if (['relu', 'relu6', 'sigmoid', 'hard_sigmoid'].includes(fn)) this.nonNegative.add(out);
  }

  /** Identity and Dropout: the input under a new name. */
  identity(n: NodeProto, i: number, where: string): void {
    this.onlyFirstOutput(n, where);
    const x = n.inputs[0]!;
    const out = this.out(n);
    const c = this.consts.get(x);
    if (c) this.consts.set(out, c);
    else {
      this.act(n, i, where);
      this.aliases.set(out, x);
      this.shapes.set(out, this.shapes.get(this.resolve(x))!);
    }
  }

  /** Transpose of an activation: a permute of the per-example axes (NCHW order, as ONNX's). */
  transpose(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    const perm = this.ints(
      n,
      'perm',
      [0, ...s].map((_, k) => s.length - k),
    );
    if (perm[0] !== 0)
      throw new Refusal(
        `${where}: perm [${perm.join(', ')}] moves the batch axis; netc permutes the axes of each example`,
      );
    const dims = perm.slice(1);
    this.emit(
      'permute',
      [n.inputs[0]!],
      this.out(n),
      dims.map((d) => s[d - 1]!),
      `[${dims.join(', ')}]`,
    );
  }

  globalPool(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    if (s.length !== 3)
      throw new Refusal(`${where}: netc pools 2-D images only (input [N, ${s.join(', ')}])`);
    const fn = n.opType === 'GlobalMaxPool' ? 'global_max_pooling2d' : 'global_average_pooling2d';
    this.emit(fn, [n.inputs[0]!], this.out(n), [s[0]!, 1, 1], 'keepdims: true');
  }

  hardSigmoid(n: NodeProto, i: number, where: string): void {
    const a = this.float(n, 'alpha', 0.2);
    const b = this.float(n, 'beta', 0.5);
    if (Math.abs(a - 1 / 6) > 1e-6 || Math.abs(b - 0.5) > 1e-6)
      throw new Refusal(
        `${where}: alpha ${formatFloat(a)}, beta ${formatFloat(b)}; netc's hard_sigmoid is Keras 3's (alpha 1/6, beta 0.5)`,
      );
    return this.activation(n, i, where, 'hard_sigmoid');
  }

  selu(n: NodeProto, i: number, where: string): void {
    // Keras's selu has fixed constants; ONNX's defaults are the same numbers in f32.
    const a = this.float(n, 'alpha', 1.67326319217681884765625);
    const g = this.float(n, 'gamma', 1.05070102214813232421875);
    if (Math.abs(a - 1.6732632423543772) > 1e-6 || Math.abs(g - 1.0507009873554805) > 1e-6)
      throw new Refusal(
        `${where}: alpha ${formatFloat(a)}, gamma ${formatFloat(g)}; netc's selu has Keras's constants (alpha 1.67326, gamma 1.05070)`,
      );
    return this.activation(n, i, where, 'selu');
  }

  concat(n: NodeProto, i: number, where: string): void {
    const out = this.out(n);
    const shapes = n.inputs.map((_, k) => this.act(n, i, where, k));
    const s0 = shapes[0]!;
    let axis = this.int(n, 'axis', 1);
    if (axis < 0) axis += s0.length + 1;
    if (axis <= 0 || axis > s0.length)
      throw new Refusal(
        `${where}: axis ${this.int(n, 'axis', 1)} (netc concatenates per example, not along the batch)`,
      );
    const shape = [...s0];
    for (const s of shapes.slice(1)) {
      if (s.length !== s0.length || s.some((d, k) => k !== axis - 1 && d !== s0[k]))
        throw new Refusal(`${where}: input shapes do not agree off axis ${axis}`);
      shape[axis - 1]! += s[axis - 1]!;
    }
    if (n.inputs.length === 1) {
      this.aliases.set(out, n.inputs[0]!);
      this.shapes.set(out, s0);
      return;
    }
    this.emit('concatenate', n.inputs, out, shape, `axis: ${axis}`);
  }

  flatten(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    let axis = this.int(n, 'axis', 1);
    if (axis < 0) axis += s.length + 1;
    if (axis !== 1)
      throw new Refusal(`${where}: axis ${axis}; netc flattens each example (axis 1) only`);
    this.emit('flatten', [n.inputs[0]!], this.out(n), [product(s)]);
  }

  // ------------------------------------------------------------- shapes, reductions, patterns

  /** The node that alone reads value v (none when v is a graph output or read twice). */
  private soleUser(v: string): NodeProto | undefined {
    const users = this.consumers.get(v) ?? [];
    if (users.length !== 1 || this.g.outputs.some((o) => o.name === v)) return undefined;
    return this.g.nodes[users[0]!];
  }

  private indexOf(n: NodeProto): number {
    return this.g.nodes.indexOf(n);
  }

  /** The one number of a constant input (undefined when not a one-element constant). */
  private scalarIn(v: string | undefined): number | undefined {
    const c = v === undefined ? undefined : this.consts.get(v);
    return c && c.data.length === 1 ? Number(c.data[0]) : undefined;
  }

  /** The input of a two-input node other than v. */
  private other(n: NodeProto, v: string): string | undefined {
    if (n.inputs.length !== 2) return undefined;
    return n.inputs[0] === v ? n.inputs[1] : n.inputs[1] === v ? n.inputs[0] : undefined;
  }

  /** Emits `per` (per-example) as a reshape (or flatten) of input 0 into the node's output. */
  private reshapeEmit(n: NodeProto, per: number[]): void {
    if (per.length === 1) this.emit('flatten', [n.inputs[0]!], this.out(n), per);
    else this.emit('reshape', [n.inputs[0]!], this.out(n), per, `[${per.join(', ')}]`);
  }

  /** Squeeze and Unsqueeze of an activation: a reshape that keeps the batch. */
  squeeze(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    const rank = s.length + 1;
    const given = this.opset >= 13 ? this.optConst(n, 1) : undefined;
    const axes = given ? Array.from(given.data) : this.ints(n, 'axes', []);
    const full = [-1, ...s];
    let dims: number[];
    if (n.opType === 'Squeeze') {
      const norm = axes.length
        ? axes.map((a) => (a < 0 ? a + rank : a))
        : full.flatMap((d, k) => (d === 1 && k > 0 ? [k] : []));
      if (norm.includes(0)) throw new Refusal(`${where}: squeezes the batch axis`);
      dims = full.filter((_, k) => !norm.includes(k));
    } else {
      const out = rank + axes.length;
      const norm = axes.map((a) => (a < 0 ? a + out : a)).sort((a, b) => a - b);
      if (norm.includes(0)) throw new Refusal(`${where}: adds an axis before the batch`);
      dims = [...full];
      for (const a of norm) dims.splice(a, 0, 1);
    }
    const per = dims.slice(1);
    if (per.length === 0 || per.length > 5)
      throw new Refusal(`${where}: a per-example rank of ${per.length}; netc takes ranks 1 to 5`);
    if (sameShape(per, s)) {
      this.aliases.set(this.out(n), n.inputs[0]!);
      this.shapes.set(this.out(n), s);
      return;
    }
    this.reshapeEmit(n, per);
  }

  /**
   * Expand of an activation to a broadcast shape: netc's merges broadcast, so when every
   * reader is a merge the value stands as it is and the merge takes the expanded shape.
   */
  expand(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    const target = Array.from(this.constOf(n, 1, where, 'the shape').data);
    const per = target.length === s.length + 1 ? target.slice(1) : target;
    if (per.length !== s.length)
      throw new Refusal(
        `${where}: expands [N, ${s.join(', ')}] to rank ${target.length}; netc keeps the rank`,
      );
    const shape = s.map((d, k) => {
      const t = per[k]!;
      if (d !== 1 && t !== 1 && t !== d)
        throw new Refusal(
          `${where}: [N, ${s.join(', ')}] does not expand to [${target.join(', ')}]`,
        );
      return Math.max(d, t);
    });
    const out = this.out(n);
    this.aliases.set(out, n.inputs[0]!);
    this.shapes.set(out, s);
    if (sameShape(shape, s)) return;
    const users = this.consumers.get(out) ?? [];
    const merges = new Set(['Add', 'Sum', 'Mul', 'Sub', 'Max', 'Min', 'Mean', 'Div']);
    if (
      this.g.outputs.some((o) => o.name === out) ||
      !users.every((u) => merges.has(this.g.nodes[u]!.opType))
    )
      throw new Refusal(
        `${where}: expands an activation for a node that is not an elementwise merge; netc broadcasts inside merges only`,
      );
    this.expanded.set(out, shape);
  }

  /** Split (ShuffleNet's chunk): each part is a slice of the axis. */
  split(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    const rank = s.length + 1;
    let axis = this.int(n, 'axis', 0);
    if (axis < 0) axis += rank;
    if (axis === 0) throw new Refusal(`${where}: splits the batch axis`);
    const d = s[axis - 1]!;
    const given = this.opset >= 13 ? this.optConst(n, 1) : undefined;
    let sizes = given ? Array.from(given.data) : this.ints(n, 'split', []);
    if (sizes.length === 0) {
      const parts = this.int(n, 'num_outputs', n.outputs.length);
      const each = Math.ceil(d / parts);
      sizes = Array.from({ length: parts }, (_, k) => Math.min(each, d - k * each));
    }
    if (sizes.length !== n.outputs.length || sizes.reduce((a, b) => a + b, 0) !== d)
      throw new Refusal(`${where}: split sizes [${sizes.join(', ')}] do not cover ${d}`);
    let start = 0;
    sizes.forEach((size, k) => {
      const o = n.outputs[k]!;
      if (o !== '') this.sliceAxis(n.inputs[0]!, o, s, axis, start, start + size, where);
      start += size;
    });
  }

  /** Slice of an activation (steps of 1, not along the batch). */
  slice(n: NodeProto, i: number, where: string): void {
    let s = this.act(n, i, where);
    const rank = s.length + 1;
    const starts = Array.from(this.constOf(n, 1, where, 'starts').data);
    const ends = Array.from(this.constOf(n, 2, where, 'ends').data);
    const axes = this.optConst(n, 3)
      ? Array.from(this.optConst(n, 3)!.data)
      : starts.map((_, k) => k);
    const steps = this.optConst(n, 4) ? Array.from(this.optConst(n, 4)!.data) : starts.map(() => 1);
    if (steps.some((v) => v !== 1))
      throw new Refusal(`${where}: steps [${steps.join(', ')}]; netc slices with step 1`);
    let x = n.inputs[0]!;
    const cuts = axes
      .map((a, k) => {
        const ax = a < 0 ? a + rank : a;
        if (ax === 0) throw new Refusal(`${where}: slices the batch axis`);
        const dim = s[ax - 1]!;
        const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
        return { ax, lo: clamp(starts[k]!), hi: clamp(ends[k]!) };
      })
      .filter((c) => c.lo !== 0 || c.hi !== s[c.ax - 1]);
    if (cuts.length === 0) {
      this.aliases.set(this.out(n), x);
      this.shapes.set(this.out(n), s);
      return;
    }
    cuts.forEach((c, k) => {
      const o = k === cuts.length - 1 ? this.out(n) : `${this.out(n)}/~slice${k}`;
      this.sliceAxis(x, o, s, c.ax, c.lo, c.hi, where);
      s = this.shapes.get(o)!;
      x = o;
    });
  }

  /**
   * Elements [lo, hi) of ONNX axis `ax` of x (per-example shape s) into `out`: cropping2d on
   * the rows or columns of an image; any other axis is viewed (a reshape, no copy) as the rows
   * of a [1, before, after] image, cropped, and viewed back.
   */
  private sliceAxis(
    x: string,
    out: string,
    s: number[],
    ax: number,
    lo: number,
    hi: number,
    where: string,
  ): void {
    const d = s[ax - 1]!;
    if (hi <= lo) throw new Refusal(`${where}: an empty slice`);
    const shape = [...s];
    shape[ax - 1] = hi - lo;
    if (s.length === 3 && ax >= 2) {
      const crop = ax === 2 ? padText(lo, d - hi, 0, 0) : padText(0, 0, lo, d - hi);
      this.emit('cropping2d', [x], out, shape, crop);
      return;
    }
    const rows = product(s.slice(0, ax - 1)) * d;
    const cols = product(s.slice(ax));
    if (product(s.slice(0, ax - 1)) !== 1)
      throw new Refusal(
        `${where}: slices axis ${ax} of [N, ${s.join(', ')}]; netc slices the first axis of each example, or an image's rows and columns`,
      );
    const view = `${out}/~rows`;
    const cropped = `${out}/~cropped`;
    this.emit('reshape', [x], view, [1, rows, cols], `[1, ${rows}, ${cols}]`);
    this.emit('cropping2d', [view], cropped, [1, hi - lo, cols], padText(lo, d - hi, 0, 0));
    if (shape.length === 1) this.emit('flatten', [cropped], out, shape);
    else this.emit('reshape', [cropped], out, shape, `[${shape.join(', ')}]`);
  }

  /** ReduceMean / ReduceMax over an image's rows and columns: global pooling. */
  reduce(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    const rank = s.length + 1;
    const fromInput = this.opset >= 18;
    const axes = (
      fromInput ? Array.from(this.optConst(n, 1)?.data ?? []) : this.ints(n, 'axes', [])
    )
      .map((a) => (a < 0 ? a + rank : a))
      .sort((a, b) => a - b);
    const keep = this.int(n, 'keepdims', 1) !== 0;
    if (s.length !== 3 || axes.length !== 2 || axes[0] !== 2 || axes[1] !== 3)
      throw new Refusal(
        `${where}: axes [${axes.join(', ')}] of [N, ${s.join(', ')}]; netc reduces an image's rows and columns (global pooling) or normalizes (a layer norm's ReduceMean, Sub, Pow, Sqrt, Div)`,
      );
    const fn = n.opType === 'ReduceMax' ? 'global_max_pooling2d' : 'global_average_pooling2d';
    this.emit(
      fn,
      [n.inputs[0]!],
      this.out(n),
      keep ? [s[0]!, 1, 1] : [s[0]!],
      keep ? 'keepdims: true' : '',
    );
  }

  /** Gamma or beta over the normalized axes (`axes`, ONNX axes of [N, ...s]) from a constant
   * that broadcasts to the input: Keras's layout, one dimension per normalized axis. */
  private normParam(
    c: Const,
    s: number[],
    axes: number[],
    where: string,
  ): { shape: number[]; data: Float32Array } {
    const rank = s.length + 1;
    const dims = [...c.dims];
    while (dims.length < rank) dims.unshift(1);
    if (dims.length > rank) throw new Refusal(`${where}: a parameter of rank ${c.dims.length}`);
    const full = [1, ...s];
    dims.forEach((d, k) => {
      if (d !== 1 && (!axes.includes(k) || d !== full[k]))
        throw new Refusal(
          `${where}: a parameter of shape [${c.dims.join(', ')}] varies off the normalized axes`,
        );
    });
    const shape = axes.map((a) => full[a]!);
    const strides = dims.map((_, k) => product(dims.slice(k + 1)));
    const data = new Float32Array(product(shape));
    const idx = new Array<number>(axes.length).fill(0);
    for (let o = 0; o < data.length; o++) {
      let src = 0;
      axes.forEach((a, j) => {
        if (dims[a] !== 1) src += idx[j]! * strides[a]!;
      });
      data[o] = c.data[src]!;
      for (let j = axes.length - 1; j >= 0; j--) {
        if (++idx[j]! < shape[j]!) break;
        idx[j] = 0;
      }
    }
    return { shape, data };
  }

  private emitLayerNorm(
    x: string,
    out: string,
    s: number[],
    axes: number[],
    eps: number,
    gamma: Const | undefined,
    beta: Const | undefined,
    where: string,
  ): void {
    const weights: { slot: string; shape: number[]; data: Float32Array }[] = [];
    if (gamma) weights.push({ slot: 'gamma', ...this.normParam(gamma, s, axes, where) });
    if (beta) weights.push({ slot: 'beta', ...this.normParam(beta, s, axes, where) });
    const args = [
      axes.length === 1 ? String(axes[0]) : `[${axes.join(', ')}]`,
      `epsilon: ${formatFloat(eps)}`,
    ];
    if (!beta) args.push('center: false');
    if (!gamma) args.push('scale: false');
    this.emit('layer_normalization', [x], out, s, args.join(', '), weights);
  }

  /** LayerNormalization (opset 17): over the axes from `axis` on. */
  layerNorm(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    this.onlyFirstOutput(n, where);
    const rank = s.length + 1;
    let axis = this.int(n, 'axis', -1);
    if (axis < 0) axis += rank;
    if (axis === 0) throw new Refusal(`${where}: normalizes over the batch axis`);
    const axes = Array.from({ length: rank - axis }, (_, k) => axis + k);
    const gamma = this.constOf(n, 1, where, 'the scale');
    const beta = this.optConst(n, 2);
    this.emitLayerNorm(
      n.inputs[0]!,
      this.out(n),
      s,
      axes,
      this.float(n, 'epsilon', 1e-5),
      gamma,
      beta,
      where,
    );
  }

  /**
   * A layer normalization written out (PyTorch before opset 17): m = ReduceMean(x), d = x - m,
   * v = ReduceMean(d^2), y = d / Sqrt(v + eps) [* gamma] [+ beta]. True when node n (the first
   * ReduceMean) starts one; its nodes are then skipped.
   */
  private decomposedLayerNorm(n: NodeProto, i: number, where: string): boolean {
    const x = n.inputs[0]!;
    const s = this.shapes.get(this.resolve(x));
    if (!s || this.consts.has(x)) return false;
    const rank = s.length + 1;
    const axesOf = (r: NodeProto): string =>
      (this.opset >= 18 ? Array.from(this.optConst(r, 1)?.data ?? []) : this.ints(r, 'axes', []))
        .map((a) => (a < 0 ? a + rank : a))
        .sort((a, b) => a - b)
        .join(',');
    const axesKey = axesOf(n);
    if (axesKey === '' || this.int(n, 'keepdims', 1) !== 1) return false;
    const sub = this.soleUser(n.outputs[0]!);
    if (!sub || sub.opType !== 'Sub' || sub.inputs[0] !== x || sub.inputs[1] !== n.outputs[0])
      return false;
    const d = sub.outputs[0]!;
    const users = (this.consumers.get(d) ?? []).map((u) => this.g.nodes[u]!);
    if (users.length !== 2 || this.g.outputs.some((o) => o.name === d)) return false;
    const sq = users.find(
      (u) =>
        (u.opType === 'Pow' && this.scalarIn(u.inputs[1]) === 2) ||
        (u.opType === 'Mul' && u.inputs[0] === d && u.inputs[1] === d),
    );
    const div = users.find((u) => u.opType === 'Div' && u.inputs[0] === d);
    if (!sq || !div || sq.inputs[0] !== d) return false;
    const r2 = this.soleUser(sq.outputs[0]!);
    if (
      !r2 ||
      r2.opType !== 'ReduceMean' ||
      axesOf(r2) !== axesKey ||
      this.int(r2, 'keepdims', 1) !== 1
    )
      return false;
    const add = this.soleUser(r2.outputs[0]!);
    const eps =
      add && add.opType === 'Add' ? this.scalarIn(this.other(add, r2.outputs[0]!)) : undefined;
    if (!add || eps === undefined) return false;
    const sqrt = this.soleUser(add.outputs[0]!);
    if (
      !sqrt ||
      sqrt.opType !== 'Sqrt' ||
      div.inputs[1] !== sqrt.outputs[0] ||
      this.soleUser(sqrt.outputs[0]!) !== div
    )
      return false;
    const chain = [n, sub, sq, r2, add, sqrt, div];
    let y = div.outputs[0]!;
    let gamma: Const | undefined;
    let beta: Const | undefined;
    const mul = this.soleUser(y);
    if (mul && mul.opType === 'Mul') {
      const c = this.consts.get(this.other(mul, y) ?? '');
      if (c) {
        gamma = c;
        chain.push(mul);
        y = mul.outputs[0]!;
      }
    }
    const plus = this.soleUser(y);
    if (plus && plus.opType === 'Add') {
      const c = this.consts.get(this.other(plus, y) ?? '');
      if (c) {
        beta = c;
        chain.push(plus);
        y = plus.outputs[0]!;
      }
    }
    const axes = axesKey.split(',').map(Number);
    if (axes.includes(0)) return false;
    this.emitLayerNorm(x, y, s, axes, eps, gamma, beta, where);
    for (const c of chain) this.skip.add(this.indexOf(c));
    void i;
    return true;
  }

  /**
   * GELU written out (PyTorch before opset 20): x / sqrt(2) (or x * (1/sqrt(2))), Erf, + 1,
   * times x, times 0.5. True when node n (the Div or Mul) starts one.
   */
  private decomposedGelu(n: NodeProto): boolean {
    if (n.inputs.length !== 2) return false;
    const x = n.inputs[0]!;
    const s = this.shapes.get(this.resolve(x));
    const k = this.scalarIn(n.inputs[1]);
    if (!s || k === undefined) return false;
    const scaled = n.opType === 'Div' ? 1 / k : n.opType === 'Mul' ? k : NaN;
    if (!(Math.abs(scaled - Math.SQRT1_2) < 1e-6)) return false;
    const erf = this.soleUser(n.outputs[0]!);
    if (!erf || erf.opType !== 'Erf') return false;
    const add = this.soleUser(erf.outputs[0]!);
    if (!add || add.opType !== 'Add' || this.scalarIn(this.other(add, erf.outputs[0]!)) !== 1)
      return false;
    const a = add.outputs[0]!;
    const m1 = this.soleUser(a);
    if (!m1 || m1.opType !== 'Mul') return false;
    const chain = [n, erf, add, m1];
    let y: string;
    if (this.other(m1, a) === x) {
      const m2 = this.soleUser(m1.outputs[0]!);
      if (!m2 || m2.opType !== 'Mul' || this.scalarIn(this.other(m2, m1.outputs[0]!)) !== 0.5)
        return false;
      chain.push(m2);
      y = m2.outputs[0]!;
    } else {
      // (x * 0.5) * (1 + erf): the half is computed apart, and must be read only here.
      const h = this.g.nodes.find((m) => m.outputs[0] === this.other(m1, a));
      if (
        !h ||
        h.opType !== 'Mul' ||
        this.other(h, x) === undefined ||
        this.scalarIn(this.other(h, x)) !== 0.5
      )
        return false;
      if (this.soleUser(h.outputs[0]!) !== m1 || this.indexOf(h) < this.indexOf(n)) return false;
      chain.push(h);
      y = m1.outputs[0]!;
    }
    this.emit('gelu', [x], y, s);
    for (const c of chain) this.skip.add(this.indexOf(c));
    return true;
  }

  /** HardSigmoid(x) * x (PyTorch's hardswish before opset 14): hard_swish. */
  private fusedHardSwish(n: NodeProto, where: string): boolean {
    const x = n.inputs[0]!;
    const s = this.shapes.get(this.resolve(x));
    const mul = this.soleUser(n.outputs[0]!);
    if (!s || !mul || mul.opType !== 'Mul' || this.other(mul, n.outputs[0]!) !== x) return false;
    const a = this.float(n, 'alpha', 0.2);
    const b = this.float(n, 'beta', 0.5);
    if (Math.abs(a - 1 / 6) > 1e-6 || Math.abs(b - 0.5) > 1e-6) return false;
    void where;
    this.emit('hard_swish', [x], mul.outputs[0]!, s);
    this.skip.add(this.indexOf(mul));
    return true;
  }

  /**
   * PyTorch's F.normalize(x, dim): x / Expand(Clip(ReduceL2(x), min: eps)) (Max instead of
   * Clip, the Clip or the Expand absent): unit_normalization over the same axes, whose epsilon
   * bounds the sum of squares, so eps^2 (max(norm, eps) = sqrt(max(sum(x^2), eps^2))). Also
   * netc's own export, x / Sqrt(Max(ReduceSumSquare(x), eps)), with eps as it is. True when
   * node n (the ReduceL2 or ReduceSumSquare) starts one; its nodes are then skipped.
   */
  private l2Normalize(n: NodeProto): boolean {
    const x = n.inputs[0]!;
    const s = this.shapes.get(this.resolve(x));
    if (!s || this.consts.has(x) || this.int(n, 'keepdims', 1) !== 1) return false;
    const rank = s.length + 1;
    const axes = (
      this.opset >= 18 ? Array.from(this.optConst(n, 1)?.data ?? []) : this.ints(n, 'axes', [])
    )
      .map((a) => (a < 0 ? a + rank : a))
      .sort((a, b) => a - b);
    if (axes.length === 0 || axes.includes(0)) return false;
    const chain = [n];
    let v = n.outputs[0]!;
    let u = this.soleUser(v);
    let eps = 0;
    if (u && (u.opType === 'Clip' || u.opType === 'Max')) {
      const lo =
        u.opType === 'Max'
          ? this.scalarIn(this.other(u, v))
          : this.opset < 11
            ? this.float(u, 'min', NaN)
            : this.scalarIn(u.inputs[1]);
      const hi =
        u.opType === 'Clip'
          ? this.opset < 11
            ? this.float(u, 'max', Infinity)
            : (this.scalarIn(u.inputs[2]) ?? Infinity)
          : Infinity;
      if (u.inputs[0] !== v && u.opType === 'Clip') return false;
      if (lo === undefined || !(lo >= 0) || hi !== Infinity) return false;
      eps = lo;
      chain.push(u);
      v = u.outputs[0]!;
      u = this.soleUser(v);
    }
    const squares = n.opType === 'ReduceSumSquare';
    if (squares) {
      if (!u || u.opType !== 'Sqrt') return false;
      chain.push(u);
      v = u.outputs[0]!;
      u = this.soleUser(v);
    }
    if (u && u.opType === 'Expand') {
      chain.push(u);
      v = u.outputs[0]!;
      u = this.soleUser(v);
    }
    if (!u || u.opType !== 'Div' || u.inputs[0] !== x || u.inputs[1] !== v) return false;
    const args = [axes.length === 1 ? `axis: ${axes[0]}` : `axis: [${axes.join(', ')}]`];
    args.push(`epsilon: ${formatFloat(squares ? eps : eps * eps)}`);
    this.emit('unit_normalization', [x], u.outputs[0]!, s, args.join(', '));
    for (const c of [...chain, u]) this.skip.add(this.indexOf(c));
    return true;
  }

  /** The patterns that several ONNX nodes form for one netc layer; true when one matched at n. */
  private pattern(n: NodeProto, i: number, where: string): boolean {
    switch (n.opType) {
      case 'ReduceMean':
        return this.decomposedLayerNorm(n, i, where);
      case 'Div':
      case 'Mul':
        return this.decomposedGelu(n);
      case 'HardSigmoid':
        return this.fusedHardSwish(n, where);
      case 'ReduceL2':
      case 'ReduceSumSquare':
        return this.l2Normalize(n);
      default:
        return false;
    }
  }

  /**
   * Evaluates a node whose value is fixed for the model's input size (shape arithmetic, and
   * any operator on constants alone); true when it did. Its outputs become constants.
   */
  private fold(n: NodeProto, i: number): boolean {
    if (!FOLDABLE.has(n.opType)) return false;
    let outs: Const[] | null;
    try {
      outs = foldNode(n, {
        constant: (v) => this.consts.get(v),
        shape: (v) => {
          const s = this.shapes.get(this.resolve(v));
          return s ? [this.batch ?? NaN, ...s] : undefined;
        },
        opset: this.opset,
      });
    } catch (e) {
      if (e instanceof FoldError) throw new Refusal(`${label(n, i)}: ${e.message}`);
      throw e;
    }
    if (!outs) return false;
    outs.forEach((c, k) => {
      const o = n.outputs[k];
      if (o) this.consts.set(o, c);
    });
    return true;
  }

  constant(n: NodeProto, where: string): void {
    const a = n.attributes[0] as AttributeProto | undefined;
    let c: Const;
    if (!a) throw new Refusal(`${where}: no value`);
    switch (a.type) {
      case 'tensor':
        c = { dims: a.value.dims, data: a.value.data, int: isIntType(a.value.dataType) };
        break;
      case 'float':
      case 'int':
        c = { dims: [], data: [a.value], int: a.type === 'int' };
        break;
      case 'floats':
      case 'ints':
        c = { dims: [a.value.length], data: a.value, int: a.type === 'ints' };
        break;
      default:
        throw new Refusal(`${where}: constant of type ${a.type} is not supported`);
    }
    this.consts.set(this.out(n), c);
  }

  conv(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    if (s.length !== 3)
      throw new Refusal(`${where}: netc convolves 2-D images only (input [N, ${s.join(', ')}])`);
    const [C, H, W] = s as [number, number, number];
    const w = this.constOf(n, 1, where, 'the weight');
    if (w.dims.length !== 4)
      throw new Refusal(`${where}: weight of rank ${w.dims.length}, expected 4`);
    const [M, CG, KH, KW] = w.dims as [number, number, number, number];
    const G = this.int(n, 'group', 1);
    if (C % G !== 0 || M % G !== 0 || CG * G !== C)
      throw new Refusal(`${where}: group ${G} does not divide ${C} input and ${M} output channels`);
    const str = this.pair(n, 'strides', 1, where);
    const dil = this.pair(n, 'dilations', 1, where);
    const { mode, pads } = this.pads2d(n, where, H, W, [KH, KW], str, dil);
    const [t, l, b, r] = pads;
    const oh = Math.floor((H + t + b - (KH - 1) * dil[0] - 1) / str[0]) + 1;
    const ow = Math.floor((W + l + r - (KW - 1) * dil[1] - 1) / str[1]) + 1;
    if (oh < 1 || ow < 1) throw new Refusal(`${where}: output would be empty`);
    const bias = this.optConst(n, 2);
    if (n.inputs[2] && !bias)
      throw new Refusal(`${where}: the bias (input 2) must be a constant tensor`);
    const args: string[] = [];
    const depthwise = G === C && G > 1;
    if (!depthwise) args.push(String(M));
    args.push(pairText(KH, KW));
    if (str[0] !== 1 || str[1] !== 1) args.push(`strides: ${pairText(...str)}`);
    if (mode === 'same') args.push('padding: same');
    else if (t || l || b || r) args.push(`padding: ${padText(t, b, l, r)}`);
    if (dil[0] !== 1 || dil[1] !== 1) args.push(`dilation_rate: ${pairText(...dil)}`);
    const weights: { slot: string; shape: number[]; data: Float32Array }[] = [];
    if (depthwise) {
      const DM = M / C;
      if (DM !== 1) args.push(`depth_multiplier: ${DM}`);
      // [C*dm, 1, kh, kw] -> [kh, kw, C, dm]
      const k = new Float32Array(M * KH * KW);
      for (let ky = 0; ky < KH; ky++)
        for (let kx = 0; kx < KW; kx++)
          for (let c = 0; c < C; c++)
            for (let mm = 0; mm < DM; mm++)
              k[((ky * KW + kx) * C + c) * DM + mm] = w.data[((c * DM + mm) * KH + ky) * KW + kx]!;
      weights.push({ slot: 'depthwise_kernel', shape: [KH, KW, C, DM], data: k });
    } else {
      if (G !== 1) args.push(`groups: ${G}`);
      // OIHW [M, C/g, kh, kw] -> HWIO [kh, kw, C/g, M]
      const k = new Float32Array(M * CG * KH * KW);
      for (let f = 0; f < M; f++)
        for (let ci = 0; ci < CG; ci++)
          for (let ky = 0; ky < KH; ky++)
            for (let kx = 0; kx < KW; kx++)
              k[((ky * KW + kx) * CG + ci) * M + f] = w.data[((f * CG + ci) * KH + ky) * KW + kx]!;
      weights.push({ slot: 'kernel', shape: [KH, KW, CG, M], data: k });
    }
    if (bias) {
      if (bias.data.length !== M)
        throw new Refusal(`${where}: bias has ${bias.data.length} values, expected ${M}`);
      weights.push({ slot: 'bias', shape: [M], data: Float32Array.from(bias.data) });
    } else args.push('use_bias: false');
    this.emit(
      depthwise ? 'depthwise_conv2d' : 'conv2d',
      [n.inputs[0]!],
      this.out(n),
      [M, oh, ow],
      args.join(', '),
      weights,
    );
  }

  convTranspose(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    if (s.length !== 3)
      throw new Refusal(`${where}: netc convolves 2-D images only (input [N, ${s.join(', ')}])`);
    const [C, H, W] = s as [number, number, number];
    const w = this.constOf(n, 1, where, 'the weight');
    if (w.dims.length !== 4)
      throw new Refusal(`${where}: weight of rank ${w.dims.length}, expected 4`);
    const [WC, F, KH, KW] = w.dims as [number, number, number, number];
    if (this.int(n, 'group', 1) !== 1)
      throw new Refusal(
        `${where}: group ${this.int(n, 'group', 1)}; netc's conv2d_transpose has no groups`,
      );
    if (WC !== C) throw new Refusal(`${where}: weight has ${WC} input channels, input has ${C}`);
    const [SH, SW] = this.pair(n, 'strides', 1, where);
    const [DH, DW] = this.pair(n, 'dilations', 1, where);
    const opad = this.pair(n, 'output_padding', 0, where);
    const auto = this.str(n, 'auto_pad', 'NOTSET');
    const outShape = getAttribute(n, 'output_shape');
    // ONNX: input x and tap t land on x*s + t*d - pad_begin; the size is the full extent
    // s*(i-1) + output_padding + k_eff minus both pads (or output_shape, which sets the pads).
    const axis = (
      ax: 0 | 1,
      i0: number,
      k: number,
      st: number,
      d: number,
    ): { o: number; pb: number } => {
      const keff = (k - 1) * d + 1;
      const full = st * (i0 - 1) + opad[ax] + keff;
      if (outShape && outShape.type === 'ints') {
        const os = outShape.value;
        const o = os[os.length - 2 + ax]!;
        const total = full - o;
        if (total < 0)
          throw new Refusal(`${where}: output_shape ${o} exceeds the full extent ${full}`);
        const half = Math.floor(total / 2);
        return { o, pb: auto === 'SAME_UPPER' ? half : total - half };
      }
      if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
        const o = i0 * st;
        const total = Math.max(full - o, 0);
        const half = Math.floor(total / 2);
        return { o, pb: auto === 'SAME_UPPER' ? half : total - half };
      }
      if (auto === 'VALID') return { o: full, pb: 0 };
      const p = this.ints(n, 'pads', [0, 0, 0, 0]);
      if (p.some((x) => x < 0)) throw new Refusal(`${where}: negative pads`);
      return { o: full - p[ax]! - p[ax + 2]!, pb: p[ax]! };
    };
    const ay = axis(0, H, KH, SH, DH);
    const ax = axis(1, W, KW, SW, DW);
    if (ay.o < 1 || ax.o < 1) throw new Refusal(`${where}: output would be empty`);
    // netc (TensorFlow) places tap t at x*s + t*d - pad_before, pad_before 0 for valid and
    // floor(max((i-1)*s + k_eff - o, 0) / 2) for same. Zero taps added before (a) or after (z)
    // the kernel move that placement onto ONNX's when the pads differ.
    type Fit = { a: number; z: number };
    const fitSame = (
      i0: number,
      k: number,
      st: number,
      d: number,
      o: number,
      pb: number,
    ): Fit | null => {
      if (o < (i0 - 1) * st + 1 || o > i0 * st) return null;
      const check = (a: number, z: number): boolean => {
        const keff = (a + k + z - 1) * d + 1;
        return Math.floor(Math.max((i0 - 1) * st + keff - o, 0) / 2) === a + pb;
      };
      if (check(0, 0)) return { a: 0, z: 0 };
      if (d !== 1) return null;
      const D = o - (i0 - 1) * st - k + 2 * pb;
      const fit = D >= 0 ? { a: 0, z: D } : { a: -D - 1, z: 0 };
      return check(fit.a, fit.z) ? fit : null;
    };
    const fitValid = (
      i0: number,
      k: number,
      st: number,
      d: number,
      o: number,
      pb: number,
    ): Fit | null => {
      if (pb !== 0) return null;
      const keff = (k - 1) * d + 1;
      const lo = (i0 - 1) * st + keff;
      if (o < lo) return null;
      if (o <= lo + st - 1) return { a: 0, z: 0 };
      return d === 1 ? { a: 0, z: o - (lo + st - 1) } : null;
    };
    let mode: 'same' | 'valid' = 'same';
    let fy = fitSame(H, KH, SH, DH, ay.o, ay.pb);
    let fx = fitSame(W, KW, SW, DW, ax.o, ax.pb);
    if (!fy || !fx) {
      mode = 'valid';
      fy = fitValid(H, KH, SH, DH, ay.o, ay.pb);
      fx = fitValid(W, KW, SW, DW, ax.o, ax.pb);
    }
    if (!fy || !fx)
      throw new Refusal(
        `${where}: its output placement (size ${ay.o}x${ax.o}, leading pads ${ay.pb}, ${ax.pb}) cannot be matched by netc's conv2d_transpose (TensorFlow's placement)`,
      );
    const KH2 = fy.a + KH + fy.z;
    const KW2 = fx.a + KW + fx.z;
    // [C, F, kh, kw] -> [kh', kw', F, C], taps shifted by the leading zeros.
    const k = new Float32Array(KH2 * KW2 * F * C);
    for (let c = 0; c < C; c++)
      for (let f = 0; f < F; f++)
        for (let ky = 0; ky < KH; ky++)
          for (let kx = 0; kx < KW; kx++)
            k[(((ky + fy.a) * KW2 + kx + fx.a) * F + f) * C + c] =
              w.data[((c * F + f) * KH + ky) * KW + kx]!;
    const args = [String(F), pairText(KH2, KW2)];
    if (SH !== 1 || SW !== 1) args.push(`strides: ${pairText(SH, SW)}`);
    if (mode === 'same') args.push('padding: same');
    if (DH !== 1 || DW !== 1) args.push(`dilation_rate: ${pairText(DH, DW)}`);
    const keras = (i0: number, k2: number, st: number, d: number): number =>
      mode === 'same' ? i0 * st : i0 * st + Math.max((k2 - 1) * d + 1 - st, 0);
    if (ay.o !== keras(H, KH2, SH, DH) || ax.o !== keras(W, KW2, SW, DW))
      args.push(`output_shape: [${ay.o}, ${ax.o}]`);
    const weights = [{ slot: 'kernel', shape: [KH2, KW2, F, C], data: k }];
    const bias = this.optConst(n, 2);
    if (n.inputs[2] && !bias)
      throw new Refusal(`${where}: the bias (input 2) must be a constant tensor`);
    if (bias) weights.push({ slot: 'bias', shape: [F], data: Float32Array.from(bias.data) });
    else args.push('use_bias: false');
    const comment =
      KH2 !== KH || KW2 !== KW
        ? `ONNX kernel ${KH}x${KW} padded with zero taps to ${KH2}x${KW2}: PyTorch's placement`
        : undefined;
    this.emit(
      'conv2d_transpose',
      [n.inputs[0]!],
      this.out(n),
      [F, ay.o, ax.o],
      args.join(', '),
      weights,
      comment,
    );
  }

  /** A dense layer from a [K, N] kernel, with a bias fused from a following Add when there is one. */
  private dense(
    n: NodeProto,
    i: number,
    where: string,
    kernel: Float32Array,
    K: number,
    N: number,
    bias: Float32Array | null,
  ): void {
    const s = this.act(n, i, where);
    if (s[s.length - 1] !== K)
      throw new Refusal(`${where}: input [N, ${s.join(', ')}] does not end in ${K}`);
    let out = this.out(n);
    if (!bias) {
      // MatMul then Add of a [N] constant: one dense layer with its bias.
      const users = this.consumers.get(out) ?? [];
      const isOut = this.g.outputs.some((v) => v.name === out);
      if (users.length === 1 && !isOut) {
        const addIdx = users[0]!;
        const add = this.g.nodes[addIdx]!;
        if (add.opType === 'Add' && add.inputs.length === 2) {
          const other = add.inputs[0] === out ? add.inputs[1]! : add.inputs[0]!;
          const c = this.consts.get(other);
          if (c && (c.data.length === N || c.data.length === 1) && c.dims.length <= 2) {
            bias = Float32Array.from({ length: N }, (_, j) => c.data[c.data.length === 1 ? 0 : j]!);
            this.skip.add(addIdx);
            this.aliases.set(add.outputs[0]!, out);
          }
        }
      }
    }
    const weights = [{ slot: 'kernel', shape: [K, N], data: kernel }];
    if (bias) weights.push({ slot: 'bias', shape: [N], data: bias });
    out = this.out(n);
    this.emit(
      'dense',
      [n.inputs[0]!],
      out,
      [...s.slice(0, -1), N],
      bias ? String(N) : `${N}, use_bias: false`,
      weights,
    );
  }

  gemm(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    if (s.length !== 1)
      throw new Refusal(`${where}: Gemm takes a 2-D input, got [N, ${s.join(', ')}]`);
    if (this.int(n, 'transA', 0) !== 0)
      throw new Refusal(`${where}: transA 1 would transpose the batch into the features`);
    const b = this.constOf(n, 1, where, 'B');
    if (b.dims.length !== 2) throw new Refusal(`${where}: B must be 2-D`);
    const transB = this.int(n, 'transB', 0) !== 0;
    const [K, N] = transB ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
    const alpha = this.float(n, 'alpha', 1);
    const beta = this.float(n, 'beta', 1);
    const kernel = new Float32Array(K * N);
    for (let k = 0; k < K; k++)
      for (let j = 0; j < N; j++)
        kernel[k * N + j] = alpha * b.data[transB ? j * K + k : k * N + j]!;
    let bias: Float32Array | null = null;
    if (n.inputs[2]) {
      const c = this.constOf(n, 2, where, 'C');
      if (c.data.length !== N && c.data.length !== 1)
        throw new Refusal(`${where}: C of shape [${c.dims.join(', ')}] is not a per-unit bias`);
      bias = Float32Array.from(
        { length: N },
        (_, j) => beta * c.data[c.data.length === 1 ? 0 : j]!,
      );
    }
    this.dense(n, i, where, kernel, K, N, bias);
  }

  matmul(n: NodeProto, i: number, where: string): void {
    this.act(n, i, where);
    if (n.inputs[1] && !this.consts.has(n.inputs[1]))
      throw new Refusal(
        `${where}: multiplies two computed tensors (attention); netc multiplies by constant weights only (dense)`,
      );
    const b = this.constOf(n, 1, where, 'the second operand');
    if (b.dims.length !== 2)
      throw new Refusal(`${where}: the second operand must be a 2-D constant (a dense kernel)`);
    this.dense(n, i, where, Float32Array.from(b.data), b.dims[0]!, b.dims[1]!, null);
  }

  batchNorm(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    this.onlyFirstOutput(n, where);
    if (this.int(n, 'training_mode', 0) !== 0)
      throw new Refusal(`${where}: training_mode 1; netc runs inference only`);
    const C = s[0]!;
    const slots = ['gamma', 'beta', 'moving_mean', 'moving_variance'];
    const weights = slots.map((slot, k) => {
      const c = this.constOf(n, k + 1, where, slot);
      if (c.data.length !== C)
        throw new Refusal(`${where}: ${slot} has ${c.data.length} values, expected ${C}`);
      return { slot, shape: [C], data: Float32Array.from(c.data) };
    });
    const eps = this.float(n, 'epsilon', 1e-5);
    this.emit(
      'batch_normalization',
      [n.inputs[0]!],
      this.out(n),
      s,
      `epsilon: ${formatFloat(eps)}`,
      weights,
    );
  }

  pool(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    this.onlyFirstOutput(n, where);
    const k = this.ints(n, 'kernel_shape', []);
    if (s.length !== 3 || k.length !== 2)
      throw new Refusal(
        `${where}: netc pools 2-D images only (input [N, ${s.join(', ')}], kernel [${k.join(', ')}])`,
      );
    const [C, H, W] = s as [number, number, number];
    const [KH, KW] = k as [number, number];
    const str = this.pair(n, 'strides', 1, where);
    const dil = this.pair(n, 'dilations', 1, where);
    if (dil[0] !== 1 || dil[1] !== 1)
      throw new Refusal(`${where}: dilated pooling is not supported`);
    const { pads } = this.pads2d(n, where, H, W, [KH, KW], str, dil);
    const [t, l, b, r] = pads;
    const ceil = this.int(n, 'ceil_mode', 0) !== 0;
    const size = (i0: number, kk: number, st: number, p: number): number => {
      const q = (i0 + p - kk) / st;
      return (ceil ? Math.ceil(q) : Math.floor(q)) + 1;
    };
    const oh = size(H, KH, str[0], t + b);
    const ow = size(W, KW, str[1], l + r);
    const avg = n.opType === 'AveragePool';
    const padded = t || l || b || r;
    const includePad = avg && this.int(n, 'count_include_pad', 0) !== 0;
    let padding = '';
    let x = n.inputs[0]!;
    const validO = (i0: number, kk: number, st: number): number => Math.floor((i0 - kk) / st) + 1;
    const same = (i0: number, kk: number, st: number, o: number, pb: number): boolean => {
      if (o !== Math.ceil(i0 / st)) return false;
      return pb === Math.floor(Math.max((o - 1) * st + kk - i0, 0) / 2);
    };
    if (!padded && oh === validO(H, KH, str[0]) && ow === validO(W, KW, str[1])) padding = '';
    else if (!includePad && same(H, KH, str[0], oh, t) && same(W, KW, str[1], ow, l))
      padding = 'same';
    else {
      // Zero padding then a valid pool: exact for count_include_pad 1 (padded cells count as
      // zeros), and for max pooling of non-negative values (after relu), where a zero never
      // beats the window's real cells (pads are smaller than the kernel).
      const zeroOk = avg ? includePad : this.nonNegative.has(this.resolve(x));
      const ph = H + t + b;
      const pw = W + l + r;
      if (!zeroOk || oh !== validO(ph, KH, str[0]) || ow !== validO(pw, KW, str[1]))
        throw new Refusal(
          `${where}: pads [${pads.join(', ')}]${ceil ? ' with ceil_mode' : ''} are neither valid nor TensorFlow's same, ` +
            (avg
              ? 'and count_include_pad is 0: netc pools with valid or same only'
              : 'and the input may be negative, so zero padding would change the max'),
        );
      const padded2 = `${this.out(n)}/~pad`;
      this.emit('zero_padding2d', [x], padded2, [C, ph, pw], padText(t, b, l, r));
      x = padded2;
    }
    const args = [pairText(KH, KW)];
    if (str[0] !== KH || str[1] !== KW) args.push(`strides: ${pairText(...str)}`);
    if (padding) args.push(`padding: ${padding}`);
    this.emit(
      avg ? 'average_pooling2d' : 'max_pooling2d',
      [x],
      this.out(n),
      [C, oh, ow],
      args.join(', '),
    );
  }

  clip(n: NodeProto, i: number, where: string): void {
    const activation = (fn: string, args = ''): void => this.activation(n, i, where, fn, args);
    let lo: number;
    let hi: number;
    if (this.opset < 11) {
      lo = this.float(n, 'min', -Infinity);
      hi = this.float(n, 'max', Infinity);
    } else {
      const scalar = (k: number, dflt: number): number => {
        if (!n.inputs[k]) return dflt;
        const c = this.constOf(n, k, where, k === 1 ? 'min' : 'max');
        return c.data[0]!;
      };
      lo = scalar(1, -Infinity);
      hi = scalar(2, Infinity);
    }
    if (lo === 0 && hi === 6) return activation('relu6');
    if (lo === 0 && hi === Infinity) return activation('relu');
    if (lo === 0) return activation('relu', `max_value: ${formatFloat(hi)}`);
    // clip's bounds are finite numbers: an open side is the largest f32.
    const bound = (v: number): string => formatFloat(Math.max(-F32_MAX, Math.min(F32_MAX, v)));
    return activation('clip', `${bound(lo)}, ${bound(hi)}`);
  }

  softmax(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    const rank = s.length + 1;
    let axis = this.int(n, 'axis', this.opset < 13 ? 1 : -1);
    if (axis < 0) axis += rank;
    if (axis <= 0 || axis >= rank)
      throw new Refusal(`${where}: axis ${this.int(n, 'axis', 0)}; netc takes softmax per example`);
    const out = this.out(n);
    const x = n.inputs[0]!;
    const trailing = s.slice(axis - 1);
    if (this.opset >= 13 || trailing.filter((d) => d !== 1).length <= 1) {
      // One axis, or (before opset 13) the flattened trailing axes hold one non-trivial axis.
      const ax =
        this.opset >= 13
          ? axis
          : axis -
            1 +
            Math.max(
              0,
              trailing.findIndex((d) => d !== 1),
            ) +
            1;
      this.emit('softmax', [x], out, s, ax === s.length ? '' : `axis: ${ax}`);
      return;
    }
    // Opset < 13 takes softmax over all axes from `axis` on, flattened.
    const flat = `${out}/~flat`;
    const soft = `${out}/~softmax`;
    const lead = s.slice(0, axis - 1);
    this.emit(
      'reshape',
      [x],
      flat,
      [...lead, product(trailing)],
      `[${[...lead, product(trailing)].join(', ')}]`,
    );
    this.emit('softmax', [flat], soft, [...lead, product(trailing)]);
    this.emit('reshape', [soft], out, s, `[${s.join(', ')}]`);
  }

  merge(n: NodeProto, i: number, where: string): void {
    if (n.inputs.some((v) => this.consts.has(v))) return this.affine(n, i, where);
    const shapes = n.inputs.map((_, k) => this.act(n, i, where, k));
    for (const v of n.inputs) {
      const e = this.expanded.get(v);
      if (e) shapes.push(e);
    }
    const s0 = shapes[0]!;
    // Every activation has the batch first: equal ranks keep the batch on the batch, and the
    // per-example shapes then broadcast as netc's merges do (NumPy's rule).
    const shape = [...s0];
    for (const s of shapes.slice(1)) {
      if (s.length !== s0.length)
        throw new Refusal(
          `${where}: shapes [N, ${s0.join(', ')}] and [N, ${s.join(', ')}] have different ranks; netc broadcasts per example, with the batch on the batch`,
        );
      s.forEach((d, k) => {
        if (d !== shape[k] && d !== 1 && shape[k] !== 1)
          throw new Refusal(
            `${where}: shapes [N, ${s0.join(', ')}] and [N, ${s.join(', ')}] do not broadcast`,
          );
        shape[k] = Math.max(d, shape[k]!);
      });
    }
    if (n.inputs.length === 1) {
      this.aliases.set(this.out(n), n.inputs[0]!);
      this.shapes.set(this.out(n), s0);
      return;
    }
    const fn: Record<string, string> = {
      Add: 'add',
      Sum: 'add',
      Mul: 'multiply',
      Sub: 'subtract',
      Max: 'maximum',
      Min: 'minimum',
      Mean: 'average',
      Div: 'divide',
    };
    this.emit(fn[n.opType]!, n.inputs, this.out(n), shape);
  }

  /** Add, Sub, Mul or Div of an activation and a scalar or per-channel constant: rescaling. */
  private affine(n: NodeProto, i: number, where: string): void {
    const op = n.opType;
    const k = n.inputs.findIndex((v) => !this.consts.has(v));
    if (n.inputs.length !== 2 || k < 0)
      throw new Refusal(`${where}: netc takes one tensor and one constant here (a rescaling)`);
    const s = this.act(n, i, where, k);
    const c = this.consts.get(n.inputs[1 - k]!)!;
    // The constant aligned with [N, ...s] from the last axis; it must not vary along the batch.
    const dims = [...c.dims];
    if (dims.length > s.length + 1 || (dims.length === s.length + 1 && dims[0] !== 1))
      throw new Refusal(`${where}: the constant [${c.dims.join(', ')}] varies along the batch`);
    if (dims.length === s.length + 1) dims.shift();
    while (dims.length < s.length) dims.unshift(1);
    const channels = dims.every((d, j) => d === 1 || (j === 0 && d === s[0]));
    if (!channels || dims.some((d, j) => d !== 1 && d !== s[j]))
      throw new Refusal(
        `${where}: a constant of shape [${c.dims.join(', ')}]; netc takes a number or one per channel (rescaling)`,
      );
    const values = Array.from(c.data, Number);
    const show = (f: (v: number) => number): string =>
      values.length === 1
        ? formatFloat(f(values[0]!))
        : `[${values.map((v) => formatFloat(f(v))).join(', ')}]`;
    let args: string;
    if (op === 'Mul') args = show((v) => v);
    else if (op === 'Div' && k === 0) args = show((v) => 1 / v);
    else if (op === 'Add' || op === 'Sum') args = `1, offset: ${show((v) => v)}`;
    else if (op === 'Sub')
      args = k === 0 ? `1, offset: ${show((v) => -v)}` : `-1, offset: ${show((v) => v)}`;
    else
      throw new Refusal(
        `${where}: ${op === 'Div' ? 'a constant divided by a tensor' : `${op} with a constant`} has no netc layer`,
      );
    this.emit('rescaling', [n.inputs[k]!], this.out(n), s, args);
  }

  /** PRelu: the slope broadcast to the example is alpha; its axes of size 1 are shared. */
  prelu(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    const c = this.constOf(n, 1, where, 'the slope');
    const dims = [...c.dims];
    if (dims.length > s.length + 1 || (dims.length === s.length + 1 && dims[0] !== 1))
      throw new Refusal(`${where}: the slope [${c.dims.join(', ')}] varies along the batch`);
    if (dims.length === s.length + 1) dims.shift();
    while (dims.length < s.length) dims.unshift(1);
    if (dims.some((d, j) => d !== 1 && d !== s[j]))
      throw new Refusal(
        `${where}: the slope [${c.dims.join(', ')}] does not fit [N, ${s.join(', ')}]`,
      );
    const shared = dims.flatMap((d, j) => (d === 1 && s[j] !== 1 ? [j + 1] : []));
    const alpha = s.map((d, j) => (shared.includes(j + 1) ? 1 : d));
    this.emit(
      'prelu',
      [n.inputs[0]!],
      this.out(n),
      s,
      shared.length ? `shared_axes: [${shared.join(', ')}]` : '',
      [{ slot: 'alpha', shape: alpha, data: Float32Array.from(c.data) }],
    );
  }

  /** InstanceNormalization: group_normalization with one group per channel (axis 1). */
  instanceNorm(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    if (s.length < 2)
      throw new Refusal(`${where}: input [N, ${s.join(', ')}] has no axis to normalize over`);
    const C = s[0]!;
    const weights = (['gamma', 'beta'] as const).map((slot, k) => {
      const c = this.constOf(n, k + 1, where, slot === 'gamma' ? 'scale' : 'B');
      if (c.data.length !== C)
        throw new Refusal(`${where}: ${slot} has ${c.data.length} values, expected ${C}`);
      return { slot, shape: [C], data: Float32Array.from(c.data) };
    });
    const eps = this.float(n, 'epsilon', 1e-5);
    // Rank 3 (images): the channel axis is the default; otherwise name axis 1.
    const axis = s.length === 3 ? '' : ', axis: 1';
    this.emit(
      'group_normalization',
      [n.inputs[0]!],
      this.out(n),
      s,
      `-1${axis}, epsilon: ${formatFloat(eps)}`,
      weights,
    );
  }

  reshape(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    let target: number[];
    const attr = getAttribute(n, 'shape');
    if (attr && attr.type === 'ints') target = attr.value;
    else target = Array.from(this.constOf(n, 1, where, 'the shape').data);
    const full = [this.batch ?? -1, ...s];
    const allowZero = this.int(n, 'allowzero', 0) !== 0;
    const dims = target.map((d, k) => (d === 0 && !allowZero ? (k === 0 ? 0 : full[k]!) : d));
    if (dims.slice(1).some((d) => d === undefined || d === 0 || d < -1))
      throw new Refusal(`${where}: shape [${target.join(', ')}] cannot be read per example`);
    const n0 = dims[0]!;
    const rest = dims.slice(1);
    const size = product(s);
    const known = product(rest.filter((d) => d !== -1));
    const unknowns = rest.filter((d) => d === -1).length;
    let per: number[];
    if (
      n0 === 0 ||
      Number.isNaN(n0) ||
      (this.batch !== null && n0 === this.batch && unknowns <= 1) ||
      (n0 === -1 && unknowns === 0)
    ) {
      if (unknowns > 1) throw new Refusal(`${where}: shape [${target.join(', ')}] has two -1`);
      if (unknowns === 0 && known !== size)
        throw new Refusal(`${where}: shape [${target.join(', ')}] does not keep the batch apart`);
      per = rest.map((d) => (d === -1 ? size / known : d));
      if (!per.every((d) => Number.isInteger(d) && d > 0))
        throw new Refusal(
          `${where}: shape [${target.join(', ')}] does not divide ${size} elements`,
        );
    } else
      throw new Refusal(
        `${where}: shape [${target.join(', ')}] does not keep the batch as its first axis; netc reshapes each example`,
      );
    if (per.length === 1) {
      this.emit('flatten', [n.inputs[0]!], this.out(n), per);
      return;
    }
    this.emit('reshape', [n.inputs[0]!], this.out(n), per, `[${per.join(', ')}]`);
  }

  pad(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    const mode = this.str(n, 'mode', 'constant');
    let pads: number[];
    let value = 0;
    if (this.opset < 11) {
      pads = this.ints(n, 'pads', this.ints(n, 'paddings', []));
      value = this.float(n, 'value', 0);
    } else {
      pads = Array.from(this.constOf(n, 1, where, 'pads').data);
      if (n.inputs[2]) value = this.constOf(n, 2, where, 'constant_value').data[0]!;
      if (n.inputs[3]) throw new Refusal(`${where}: the axes input is not supported`);
    }
    if (!['constant', 'reflect', 'edge'].includes(mode))
      throw new Refusal(
        `${where}: mode '${mode}'; netc pads in modes constant, reflect and edge (padding2d)`,
      );
    if (s.length !== 3 || pads.length !== 8)
      throw new Refusal(`${where}: netc pads 2-D images only (input [N, ${s.join(', ')}])`);
    const [n0, c0, t, l, n1, c1, b, r] = pads as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    if (n0 || c0 || n1 || c1) throw new Refusal(`${where}: pads the batch or channel axis`);
    const shape = [s[0]!, s[1]! + t + b, s[2]! + l + r];
    if ([t, l, b, r].every((p) => p <= 0) && shape[1]! > 0 && shape[2]! > 0) {
      // Negative pads only: a crop.
      this.emit('cropping2d', [n.inputs[0]!], this.out(n), shape, padText(-t, -b, -l, -r));
      return;
    }
    if ([t, l, b, r].some((p) => p < 0))
      throw new Refusal(`${where}: pads [${pads.join(', ')}] both pad and crop`);
    if (mode === 'reflect' && (Math.max(t, b) >= s[1]! || Math.max(l, r) >= s[2]!))
      throw new Refusal(
        `${where}: mode 'reflect' with pads [${pads.join(', ')}] as wide as the input [${s.join(', ')}] (ONNX leaves it undefined)`,
      );
    if (mode === 'constant' && value === 0) {
      this.emit('zero_padding2d', [n.inputs[0]!], this.out(n), shape, padText(t, b, l, r));
      return;
    }
    const args = mode === 'constant' ? `constant_value: ${formatFloat(value)}` : `mode: ${mode}`;
    this.emit('padding2d', [n.inputs[0]!], this.out(n), shape, `${padText(t, b, l, r)}, ${args}`);
  }

  /** DepthToSpace (DCR or CRD, the same rule on the channel index as netc's) and SpaceToDepth. */
  blocks(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    if (s.length !== 3)
      throw new Refusal(
        `${where}: netc moves blocks of 2-D images only (input [N, ${s.join(', ')}])`,
      );
    const [C, H, W] = s as [number, number, number];
    const b = this.int(n, 'blocksize', 0);
    if (b < 2) throw new Refusal(`${where}: blocksize ${b}; netc takes block sizes from 2`);
    if (n.opType === 'SpaceToDepth') {
      if (H % b || W % b)
        throw new Refusal(
          `${where}: the input [N, ${s.join(', ')}] does not split into ${b}x${b} blocks`,
        );
      this.emit(
        'space_to_depth',
        [n.inputs[0]!],
        this.out(n),
        [C * b * b, H / b, W / b],
        String(b),
      );
      return;
    }
    const mode = this.str(n, 'mode', 'DCR');
    if (mode !== 'DCR' && mode !== 'CRD') throw new Refusal(`${where}: unknown mode '${mode}'`);
    if (C % (b * b))
      throw new Refusal(`${where}: ${C} channels do not split into ${b}x${b} blocks`);
    this.emit(
      'depth_to_space',
      [n.inputs[0]!],
      this.out(n),
      [C / (b * b), H * b, W * b],
      mode === 'CRD' ? `${b}, mode: crd` : String(b),
    );
  }

  /**
   * Resize of the height and width, nearest or linear: each axis's samples (computed here
   * exactly as ONNX defines them for the coordinate and nearest modes) must be those of one of
   * netc's coordinates modes (tf.image.resize's), else the attribute that differs is named.
   */
  resize(n: NodeProto, i: number, where: string): void {
    const s = this.act(n, i, where);
    if (s.length !== 3)
      throw new Refusal(`${where}: netc resizes 2-D images only (input [N, ${s.join(', ')}])`);
    const [C, H, W] = s as [number, number, number];
    const mode = this.str(n, 'mode', 'nearest');
    if (mode !== 'nearest' && mode !== 'linear')
      throw new Refusal(
        `${where}: mode '${mode}'; netc resizes by nearest or linear (bilinear) only`,
      );
    if (this.int(n, 'antialias', 0))
      throw new Refusal(`${where}: antialias 1; netc does not antialias`);
    if (getAttribute(n, 'axes')) throw new Refusal(`${where}: the axes attribute is not supported`);
    const policy = this.str(n, 'keep_aspect_ratio_policy', 'stretch');
    if (policy !== 'stretch')
      throw new Refusal(`${where}: keep_aspect_ratio_policy '${policy}'; netc stretches only`);
    const ctm = this.str(
      n,
      'coordinate_transformation_mode',
      this.opset < 11 ? 'asymmetric' : 'half_pixel',
    );
    const nearestMode = this.str(n, 'nearest_mode', 'round_prefer_floor');
    // Output sizes: from `sizes`, else from `scales` (opset 10: input 1).
    const sizes = this.opset >= 11 ? this.optConst(n, 3) : undefined;
    const scales = this.optConst(n, this.opset >= 11 ? 2 : 1);
    let OH: number;
    let OW: number;
    let scaleH: number | null = null;
    let scaleW: number | null = null;
    if (sizes && sizes.data.length === 4) {
      if (sizes.data[1] !== C) throw new Refusal(`${where}: sizes change the channel count`);
      [OH, OW] = [sizes.data[2]!, sizes.data[3]!];
    } else if (scales && scales.data.length === 4) {
      if (scales.data[0] !== 1 || scales.data[1] !== 1)
        throw new Refusal(`${where}: scales resize the batch or channel axis`);
      [scaleH, scaleW] = [scales.data[2]!, scales.data[3]!];
      [OH, OW] = [Math.floor(H * scaleH), Math.floor(W * scaleW)];
    } else throw new Refusal(`${where}: needs constant scales or sizes of 4 values`);
    if (OH < 1 || OW < 1) throw new Refusal(`${where}: an output size below 1`);
    // ONNX maps output o through the scale it was given (out / in when sizes are given).
    for (const [scale, n0, m0] of [
      [scaleH, H, OH],
      [scaleW, W, OW],
    ] as const)
      if (scale !== null && Math.abs(scale - m0 / n0) > 1e-6 * (m0 / n0))
        throw new Refusal(
          `${where}: scales ${formatFloat(scale)} map ${n0} to ${m0} samples at another spacing than ${m0}/${n0}; netc places samples by the sizes`,
        );
    const nearest = mode === 'nearest';
    const netcMode = COORDINATE_MODES.find((c) =>
      [
        [H, OH],
        [W, OW],
      ].every(([a, b]) =>
        sameTaps(onnxTaps(a!, b!, ctm, nearest ? nearestMode : null), netcTaps(a!, b!, c, nearest)),
      ),
    );
    if (!netcMode)
      throw new Refusal(
        `${where}: coordinate_transformation_mode '${ctm}'` +
          (nearest ? ` with nearest_mode '${nearestMode}'` : '') +
          ` samples ${H}x${W} -> ${OH}x${OW} where none of netc's coordinates modes (half_pixel, align_corners, asymmetric: tf.image.resize's) does`,
      );
    const args = [`${OH}`, `${OW}`];
    if (nearest) args.push('nearest');
    if (netcMode !== 'half_pixel') args.push(`coordinates: ${netcMode}`);
    this.emit('resizing', [n.inputs[0]!], this.out(n), [C, OH, OW], args.join(', '));
  }
}

type Handler = (m: Importer, n: NodeProto, i: number, where: string) => void;

/**
 * How each ONNX operator becomes netc layers, by op_type (the activations that one ONNX node
 * computes without parameters come from SIMPLE_ACTIVATIONS; shape arithmetic folds first).
 */
const OPS: Readonly<Record<string, Handler>> = {
  Constant: (m, n, _i, w) => m.constant(n, w),
  Identity: (m, n, i, w) => m.identity(n, i, w),
  Dropout: (m, n, i, w) => m.identity(n, i, w),
  Transpose: (m, n, i, w) => m.transpose(n, i, w),
  Conv: (m, n, i, w) => m.conv(n, i, w),
  ConvTranspose: (m, n, i, w) => m.convTranspose(n, i, w),
  Gemm: (m, n, i, w) => m.gemm(n, i, w),
  MatMul: (m, n, i, w) => m.matmul(n, i, w),
  BatchNormalization: (m, n, i, w) => m.batchNorm(n, i, w),
  MaxPool: (m, n, i, w) => m.pool(n, i, w),
  AveragePool: (m, n, i, w) => m.pool(n, i, w),
  GlobalAveragePool: (m, n, i, w) => m.globalPool(n, i, w),
  GlobalMaxPool: (m, n, i, w) => m.globalPool(n, i, w),
  HardSwish: (m, n, i, w) => m.activation(n, i, w, 'hard_swish'),
  LeakyRelu: (m, n, i, w) =>
    m.activation(
      n,
      i,
      w,
      'leaky_relu',
      `negative_slope: ${formatFloat(m.float(n, 'alpha', 0.01))}`,
    ),
  Elu: (m, n, i, w) => {
    const a = m.float(n, 'alpha', 1);
    m.activation(n, i, w, 'elu', a === 1 ? '' : `alpha: ${formatFloat(a)}`);
  },
  HardSigmoid: (m, n, i, w) => m.hardSigmoid(n, i, w),
  Clip: (m, n, i, w) => m.clip(n, i, w),
  Mish: (m, n, i, w) => m.activation(n, i, w, 'mish'),
  Selu: (m, n, i, w) => m.selu(n, i, w),
  Softmax: (m, n, i, w) => m.softmax(n, i, w),
  Add: (m, n, i, w) => m.merge(n, i, w),
  Sum: (m, n, i, w) => m.merge(n, i, w),
  Mul: (m, n, i, w) => m.merge(n, i, w),
  Sub: (m, n, i, w) => m.merge(n, i, w),
  Div: (m, n, i, w) => m.merge(n, i, w),
  Max: (m, n, i, w) => m.merge(n, i, w),
  Min: (m, n, i, w) => m.merge(n, i, w),
  Mean: (m, n, i, w) => m.merge(n, i, w),
  PRelu: (m, n, i, w) => m.prelu(n, i, w),
  InstanceNormalization: (m, n, i, w) => m.instanceNorm(n, i, w),
  Concat: (m, n, i, w) => m.concat(n, i, w),
  Flatten: (m, n, i, w) => m.flatten(n, i, w),
  Reshape: (m, n, i, w) => m.reshape(n, i, w),
  Pad: (m, n, i, w) => m.pad(n, i, w),
  DepthToSpace: (m, n, i, w) => m.blocks(n, i, w),
  SpaceToDepth: (m, n, i, w) => m.blocks(n, i, w),
  Resize: (m, n, i, w) => m.resize(n, i, w),
  ReduceMean: (m, n, i, w) => m.reduce(n, i, w),
  ReduceMax: (m, n, i, w) => m.reduce(n, i, w),
  LayerNormalization: (m, n, i, w) => m.layerNorm(n, i, w),
  Squeeze: (m, n, i, w) => m.squeeze(n, i, w),
  Unsqueeze: (m, n, i, w) => m.squeeze(n, i, w),
  Expand: (m, n, i, w) => m.expand(n, i, w),
  Split: (m, n, i, w) => m.split(n, i, w),
  Slice: (m, n, i, w) => m.slice(n, i, w),
};

/** The ONNX operators netc translates (some only with certain attributes) or folds. */
export const SUPPORTED: ReadonlySet<string> = new Set([
  ...SIMPLE_ACTIVATIONS.keys(),
  ...Object.keys(OPS),
  ...FOLDABLE,
]);

const COORDINATE_MODES = ['half_pixel', 'align_corners', 'asymmetric'] as const;

interface Sample {
  readonly lo: number;
  readonly hi: number;
  readonly frac: number;
}

const sameTaps = (a: readonly Sample[] | null, b: readonly Sample[]): boolean =>
  a !== null &&
  a.every((t, o) => {
    const u = b[o]!;
    return t.lo === u.lo && Math.abs(t.frac - u.frac) < 1e-9 && (t.frac < 1e-9 || t.hi === u.hi);
  });

/**
 * ONNX Resize's samples along an axis of size n resized to m: the coordinate mode's source
 * position, then rounded by `nearest` (a nearest_mode) or interpolated linearly (clamped to
 * the input, as onnxruntime does); null for a mode netc cannot map.
 */
function onnxTaps(n: number, m: number, ctm: string, nearest: string | null): Sample[] | null {
  const out: Sample[] = [];
  for (let o = 0; o < m; o++) {
    // The position as a fraction num / den (exact in integers).
    let num: number;
    let den: number;
    switch (ctm) {
      case 'half_pixel':
        [num, den] = [(2 * o + 1) * n - m, 2 * m];
        break;
      case 'pytorch_half_pixel':
        [num, den] = m > 1 ? [(2 * o + 1) * n - m, 2 * m] : [0, 1];
        break;
      case 'align_corners':
        [num, den] = m > 1 ? [o * (n - 1), m - 1] : [0, 1];
        break;
      case 'asymmetric':
        [num, den] = [o * n, m];
        break;
      case 'tf_half_pixel_for_nn':
        [num, den] = [(2 * o + 1) * n, 2 * m];
        break;
      default:
        return null;
    }
    const fl = Math.floor(num / den);
    const rem = num - fl * den;
    if (nearest !== null) {
      let k: number;
      if (nearest === 'floor') k = fl;
      else if (nearest === 'ceil') k = rem ? fl + 1 : fl;
      else if (2 * rem === den) k = nearest === 'round_prefer_ceil' ? fl + 1 : fl;
      else if (nearest === 'round_prefer_floor' || nearest === 'round_prefer_ceil')
        k = 2 * rem > den ? fl + 1 : fl;
      else return null;
      k = Math.min(Math.max(k, 0), n - 1);
      out.push({ lo: k, hi: k, frac: 0 });
      continue;
    }
    const f = Math.min(Math.max(num / den, 0), n - 1);
    const lo = Math.floor(f);
    out.push({ lo, hi: Math.min(lo + 1, n - 1), frac: f - lo });
  }
  return out;
}
