// A Keras model (read by model.ts) to a readable channels_last .net source and its weights:
// chains with `->`, every layer keeping its Keras name through `name:`, nested models as
// blocks, the weights copied from the source under netc's `LAYER/SLOT` names.
import { InternalError } from '../../diag/diagnostics.js';
import { compileSource } from '../../frontend/index.js';
import { LAYER_BY_KIND } from '../../layers/registry.js';
import { writeSafetensors } from '../../weights/index.js';
import { boundName, identifier, keyOption, writeChains, type ChainStep } from '../source.js';
import {
  LayerRefusal,
  translateLayer,
  weightSlots,
  type Step,
  type Translation,
} from './layers.js';
import { formatFloat } from '../../onnx/import.js';
import { batchShape, type KLayer, type KModel, type Ref } from './model.js';

export interface Tensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Where the weights come from: a TF.js manifest, a Keras 2 .h5, a Keras 3 .keras. */
export interface WeightSource {
  /**
   * The tensor `slot` (netc's name, Keras's variable order in `weightSlots`) of `layer`,
   * inside the nested models `path` (outermost first; empty at the top), or why it is missing.
   */
  get(path: readonly KLayer[], layer: KLayer, slot: string): Tensor | string;
}

export type ImportResult =
  | { readonly ok: true; readonly source: string; readonly weights: Uint8Array }
  | { readonly ok: false; readonly errors: string[] };

export interface TranslateOptions {
  /** The network's name; defaults to the model's name. */
  readonly name?: string;
  /** The first comment line of the source: where the model came from. */
  readonly origin: string;
}

/** A layer name netc can hold: no '/' (netc's scope separator), nothing to escape. */
const safeName = (s: string): string => s.replace(/[^A-Za-z0-9_.\-]/g, '_') || '_';

/** Text of a Keras name inside a .net comment: one line, whatever it holds. */
const commentText = (s: string): string =>
  s.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, ' ');

/** One netc call in a scope. */
interface Call {
  readonly fn: string;
  /** Rendered attributes after the tensor inputs, `name:` included. */
  readonly args: string;
  readonly inputs: readonly string[];
  readonly output: string;
  /** A name for the value when it must be bound. */
  readonly bind: string;
  readonly comment?: string;
}

/** A weight the source must hold: netc key relative to the scope. */
interface Req {
  readonly key: string;
  readonly path: readonly KLayer[];
  readonly layer: KLayer;
  readonly slot: string;
}

/** A translated model: a network body or a block body. */
interface Scope {
  readonly calls: Call[];
  readonly reqs: Req[];
  /** Value ids of the model's inputs, and their identifiers. */
  readonly inputs: { readonly value: string; readonly id: string; readonly layer: KLayer }[];
  readonly outputs: readonly string[];
}

const valueId = (layer: string, node: number, tensor: number): string =>
  `${layer}#${node}#${tensor}`;

/** Translates `model`, reading its weights from `weights`. Every refusal is listed. */
export function translateModel(
  model: KModel,
  weights: WeightSource,
  opts: TranslateOptions,
): ImportResult {
  return new Translator(weights).run(model, opts);
}

class Translator {
  private readonly errors: string[] = [];
  /** Block declarations, in dependency order. */
  private readonly blocks: string[] = [];
  private readonly blockOf = new Map<KModel, { name: string; scope: Scope }>();
  private readonly blockNames = new Set<string>();
  /** netc call name (as written in its scope) -> the Keras layer, for compile errors. */
  private readonly labels = new Map<string, string>();

  constructor(private readonly source: WeightSource) {}

  /** The model being translated (its layers' weights are addressed from the top). */
  private top: KModel | undefined;

  run(model: KModel, opts: TranslateOptions): ImportResult {
    this.top = model;
    let scope: Scope;
    try {
      scope = this.scope(model);
    } catch (e) {
      if (!(e instanceof LayerRefusal)) throw e;
      return { ok: false, errors: [...this.errors, e.message] };
    }
    if (this.errors.length) return { ok: false, errors: this.errors };
    const netName = identifier(opts.name ?? model.name, 'imported');
    const vars = new Set<string>();
    const decls: string[] = [];
    const refs = new Map<string, string>();
    for (const i of scope.inputs) {
      const shape = batchShape(i.layer.config);
      const dims = shape?.slice(1);
      if (
        !dims ||
        dims.length === 0 ||
        !dims.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0)
      ) {
        this.errors.push(
          `input '${i.layer.name}' has shape ${JSON.stringify(shape ?? null)}: netc needs every dimension but the batch fixed`,
        );
        continue;
      }
      vars.add(i.id);
      refs.set(i.value, i.id);
      decls.push(`  input ${i.id}: [${dims.join(', ')}]${keyOption(i.id, i.layer.name)}`);
    }
    // Outputs are named as Keras names them: by their layers.
    const outs = model.outputs.map((r, k) => {
      const id = this.varName(r.layer, vars, 'output');
      return { id, key: r.layer, value: scope.outputs[k]! };
    });
    if (this.errors.length) return { ok: false, errors: this.errors };
    const body = this.render(scope, refs, vars, outs);
    const source =
      `# ${commentText(opts.origin)}\n` +
      this.blocks.join('\n') +
      (this.blocks.length ? '\n' : '') +
      `network ${netName} {\n${decls.join('\n')}\n${body}}\n`;
    const compiled = compileSource(source);
    if (compiled.diagnostics.length) {
      const lines = source.split('\n');
      return {
        ok: false,
        errors: compiled.diagnostics.map((d) => {
          const m = /name: "([^"]*)"/.exec(lines[d.span.line - 1] ?? '');
          const who = m ? this.labels.get(m[1]!) : undefined;
          return `${who ?? 'the imported network'}: ${d.message}`;
        }),
      };
    }
    const g = compiled.graphs[0]!;
    const reqs = new Map(scope.reqs.map((r) => [r.key, r]));
    const out: { name: string; shape: number[]; data: Float32Array }[] = [];
    for (const p of g.params) {
      const r = reqs.get(p.key);
      if (!r)
        throw new InternalError(
          `imported network declares weight '${p.key}' that no layer asked for`,
        );
      reqs.delete(p.key);
      const where = `layer '${r.layer.name}' (${r.layer.cls})`;
      const t = this.source.get(r.path, r.layer, r.slot);
      if (typeof t === 'string') {
        this.errors.push(`${where}: ${t}`);
        continue;
      }
      const want = p.shape;
      if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
        this.errors.push(
          `${where}: weight '${t.name}' has shape [${t.shape.join(', ')}], the layer needs [${want.join(', ')}]`,
        );
        continue;
      }
      out.push({ name: p.key, shape: [...want], data: t.data });
    }
    if (reqs.size)
      throw new InternalError(
        `weights [${[...reqs.keys()].join(', ')}] are not declared by the imported network`,
      );
    if (this.errors.length) return { ok: false, errors: this.errors };
    return { ok: true, source, weights: writeSafetensors(out) };
  }

  /** A variable name from a Keras name (values and layers/blocks are apart in .net). */
  private varName(text: string, vars: Set<string>, fallback: string): string {
    const base = identifier(text, fallback);
    let s = base;
    for (let i = 1; vars.has(s); i++) s = `${base}_${i}`;
    vars.add(s);
    return s;
  }

  // ------------------------------------------------------------------------------ scopes

  private readonly aliases = new Map<string, string>();
  private readonly offsets = new Map<string, number>();
  private scopes = 0;

  private valueOf(r: Ref): string {
    let v = valueId(r.layer, r.node - (this.offsets.get(r.layer) ?? 0), r.tensor);
    for (let a = this.aliases.get(v); a !== undefined; a = this.aliases.get(v)) v = a;
    return v;
  }

  /** Translates one model's layers into calls; nested models become blocks. */
  private scope(model: KModel): Scope {
    // Layer names are unique within a Keras model, so value ids are per model; the maps
    // below are shared across scopes with ids prefixed by the model's identity.
    const tag = `${this.scopes++}:`;
    const byName = new Map(model.layers.map((l) => [l.name, l]));
    for (const l of model.layers) this.offsets.set(tag + l.name, l.nodeOffset);
    const ref = (r: Ref): Ref => ({ ...r, layer: tag + r.layer });
    const calls: Call[] = [];
    const reqs: Req[] = [];
    const names = new Set(model.layers.map((l) => safeName(l.name)));
    const used = new Set<string>();
    const unique = (base: string): string => {
      let s = base;
      for (let i = 1; used.has(s) || (s !== base && names.has(s)); i++) s = `${base}_${i}`;
      used.add(s);
      return s;
    };
    const inputs = model.inputs.map((r) => {
      const layer = byName.get(r.layer);
      if (!layer || layer.cls !== 'InputLayer')
        throw new LayerRefusal(`model '${model.name}': input '${r.layer}' is not an InputLayer`);
      used.add(layer.name);
      const id = identifier(layer.name, 'input');
      return { value: this.valueOf(ref(r)), id, layer };
    });
    const available = new Set(inputs.map((i) => i.value));
    const poisoned = new Set<string>();
    type Pending = { layer: KLayer; k: number };
    let pending: Pending[] = model.layers.flatMap((layer) =>
      layer.cls === 'InputLayer' ? [] : layer.calls.map((_, k) => ({ layer, k })),
    );
    for (;;) {
      const next: Pending[] = [];
      let progress = false;
      for (const p of pending) {
        const ins = p.layer.calls[p.k]!.map((r) => this.valueOf(ref(r)));
        if (!ins.every((v) => available.has(v) || poisoned.has(v))) {
          next.push(p);
          continue;
        }
        progress = true;
        const outId = valueId(tag + p.layer.name, p.k, 0);
        if (ins.some((v) => poisoned.has(v))) {
          // Fed by a refused layer: list it only if it could not be translated anyway.
          this.tryLayer(p.layer, model);
          poisoned.add(outId);
          continue;
        }
        const ok = this.call(model, p.layer, p.k, ins, outId, calls, reqs, unique);
        (ok ? available : poisoned).add(outId);
      }
      pending = next;
      if (!progress || pending.length === 0) break;
    }
    for (const p of pending)
      this.errors.push(
        `layer '${p.layer.name}' (${p.layer.cls}): its inputs [${p.layer.calls[p.k]!.map((r) => r.layer).join(', ')}] are never computed`,
      );
    const outputs = model.outputs.map((r) => this.valueOf(ref(r)));
    for (const [i, o] of outputs.entries())
      if (!available.has(o) && !poisoned.has(o))
        this.errors.push(
          `model '${model.name}': output '${model.outputs[i]!.layer}' is never computed`,
        );
    return { calls, reqs, inputs, outputs };
  }

  private tryLayer(l: KLayer, model: KModel): void {
    if (l.model) return;
    try {
      translateLayer(l, model.keras3);
    } catch (e) {
      if (!(e instanceof LayerRefusal)) throw e;
      this.errors.push(`layer '${l.name}' (${l.cls}): ${e.message}`);
    }
  }

  /** Emits call `k` of `l`; false when it is refused (the reason is listed). */
  private call(
    model: KModel,
    l: KLayer,
    k: number,
    ins: string[],
    out: string,
    calls: Call[],
    reqs: Req[],
    unique: (base: string) => string,
  ): boolean {
    const where = `layer '${l.name}' (${l.cls})`;
    const base = safeName(l.name);
    const callName = unique(k === 0 ? base : `${base}_${k}`);
    const shares = k > 0 && (l.model || weightSlots(l).length > 0);
    const shareNote = shares
      ? `shares the weights of '${commentText(l.name)}' (a shared Keras layer)`
      : undefined;
    const label = (n: string): void => {
      this.labels.set(n, where);
    };
    if (l.model) {
      const b = this.block(l.model);
      if (!b) return false;
      if (b.scope.outputs.length !== 1) {
        this.errors.push(
          `${where}: a nested model with ${b.scope.outputs.length} outputs; netc blocks return one tensor`,
        );
        return false;
      }
      if (ins.length !== b.scope.inputs.length) {
        this.errors.push(
          `${where}: called with ${ins.length} tensors, it takes ${b.scope.inputs.length}`,
        );
        return false;
      }
      label(callName);
      calls.push({
        fn: b.name,
        args: `name: "${callName}"`,
        inputs: ins,
        output: out,
        bind: callName,
        ...(shareNote ? { comment: shareNote } : {}),
      });
      for (const r of b.scope.reqs)
        reqs.push({
          key: `${callName}/${r.key}`,
          path: [l, ...r.path],
          layer: r.layer,
          slot: r.slot,
        });
      return true;
    }
    let t;
    try {
      t =
        l.cls === 'Normalization'
          ? normalization(l, model === this.top ? this.source : undefined)
          : translateLayer(l, model.keras3);
    } catch (e) {
      if (!(e instanceof LayerRefusal)) throw e;
      this.errors.push(`${where}: ${e.message}`);
      return false;
    }
    if (t.kind === 'alias') {
      if (ins.length !== 1) {
        this.errors.push(`${where}: takes ${ins.length} tensors, expected one`);
        return false;
      }
      this.aliases.set(out, ins[0]!);
      return true;
    }
    const merge = [
      'add',
      'multiply',
      'subtract',
      'average',
      'maximum',
      'minimum',
      'concatenate',
    ].includes(t.steps[0]!.fn);
    if (!merge && ins.length !== 1) {
      this.errors.push(`${where}: takes ${ins.length} tensors, expected one`);
      return false;
    }
    if (merge && ins.length < 2) {
      this.errors.push(
        `${where}: merges ${ins.length} tensor; netc's ${t.steps[0]!.fn} takes two or more`,
      );
      return false;
    }
    let prev = ins;
    t.steps.forEach((s: Step, i) => {
      const n = s.suffix === undefined ? callName : unique(`${callName}_${s.suffix}`);
      label(n);
      const value = i === t.steps.length - 1 ? out : `${out}~${i}`;
      const note = [i === 0 ? shareNote : undefined, s.comment].filter((x) => x).join('; ');
      calls.push({
        fn: s.fn,
        args: [...s.args, `name: "${n}"`].join(', '),
        inputs: prev,
        output: value,
        bind: n,
        ...(note ? { comment: note } : {}),
      });
      for (const slot of s.slots ?? [])
        reqs.push({ key: `${n}/${slot}`, path: [], layer: l, slot });
      prev = [value];
    });
    return true;
  }

  /** The block of a nested model, declared once. */
  private block(m: KModel): { name: string; scope: Scope } | undefined {
    const have = this.blockOf.get(m);
    if (have) return have;
    const before = this.errors.length;
    let scope: Scope;
    try {
      scope = this.scope(m);
    } catch (e) {
      if (!(e instanceof LayerRefusal)) throw e;
      this.errors.push(e.message);
      return undefined;
    }
    if (this.errors.length > before) return undefined;
    let name = identifier(m.name, 'model');
    if (LAYER_BY_KIND.has(name)) name = `${name}_block`;
    for (let i = 1; this.blockNames.has(name); i++) name = `${identifier(m.name, 'model')}_${i}`;
    this.blockNames.add(name);
    const b = { name, scope };
    this.blockOf.set(m, b);
    const vars = new Set<string>();
    const refs = new Map<string, string>();
    const params = scope.inputs.map((i) => {
      const id = this.varName(i.layer.name, vars, 'x');
      refs.set(i.value, id);
      return id;
    });
    const body = this.render(scope, refs, vars, [{ id: '', value: scope.outputs[0]! }], true);
    this.blocks.push(
      `# the nested ${m.sequential ? 'Sequential' : 'Functional'} model '${commentText(m.name)}'\nblock ${name}(${params.join(', ')}) {\n${body}}\n`,
    );
    return b;
  }

  // ----------------------------------------------------------------------------- rendering

  /**
   * The statements of a scope: a value used once by the next call continues its chain; other
   * values are bound to names (their layer's). Outputs (in order) are written inline while
   * the order allows, else bound and listed at the end; a block returns its one output.
   */
  private render(
    scope: Scope,
    refs: Map<string, string>,
    vars: Set<string>,
    outputs: { id: string; key?: string; value: string }[],
    isBlock = false,
  ): string {
    const uses = new Map<string, number>();
    for (const c of scope.calls) for (const v of c.inputs) uses.set(v, (uses.get(v) ?? 0) + 1);
    for (const o of outputs) uses.set(o.value, (uses.get(o.value) ?? 0) + 1);
    const isOutput = new Set(outputs.map((o) => o.value));
    const lines: string[] = [];
    let next = 0;
    const close = (text: string, value: string, last: Call): void => {
      const o = outputs[next];
      if (!isBlock && o && o.value === value && uses.get(value) === 1) {
        // The key option goes on a line of its own: the chain may end in a comment.
        const key = keyOption(o.id, o.key);
        lines.push(
          key ? `  ${o.id} = ${text}\n  output ${o.id}${key}` : `  output ${o.id} = ${text}`,
        );
        refs.set(value, o.id);
        next++;
      } else if (isBlock && o && o.value === value && uses.get(value) === 1) {
        lines.push(`  return ${text}`);
        next++;
      } else {
        const id = this.varName(last.bind, vars, 'x');
        lines.push(`  ${id} = ${text}`);
        refs.set(value, id);
      }
    };
    const step = (c: Call): ChainStep => ({
      inputs: c.inputs,
      output: c.output,
      text: `${c.fn}(${c.args})`,
      merged: (names) => `${c.fn}(${[...names, c.args].join(', ')})`,
      note: c.comment ?? '',
    });
    writeChains(scope.calls, step, uses, isOutput, refs, close);
    for (const o of outputs.slice(next))
      lines.push(
        isBlock
          ? `  return ${boundName(refs, o.value)}`
          : `  output ${o.id} = ${boundName(refs, o.value)}${keyOption(o.id, o.key)}`,
      );
    return lines.map((l) => `${l}\n`).join('');
  }
}

/** Names of the input and output that are not identifiers (sanitized in the source). */

/**
 * Keras's Normalization layer, `(x - mean) / max(sqrt(variance), 1e-7)` along the last axis,
 * as a rescaling with one scale and offset per channel: its mean and variance come from its
 * config or its weights (read from `source`; weights of a nested model's Normalization are
 * not reachable from a block, which is written once for every call).
 */
function normalization(l: KLayer, source: WeightSource | undefined): Translation {
  const c = l.config;
  if (c['invert'] === true) throw new LayerRefusal('invert: netc normalizes forwards only');
  const axis = Array.isArray(c['axis']) ? c['axis'] : [c['axis'] ?? -1];
  if (axis.length !== 1 || axis[0] !== -1)
    throw new LayerRefusal(
      `axis ${JSON.stringify(c['axis'])}: netc normalizes along the last axis (a rescaling per channel)`,
    );
  const values = (key: 'mean' | 'variance'): number[] => {
    const v = c[key];
    if (typeof v === 'number') return [v];
    if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
    if (!source)
      throw new LayerRefusal(
        `its ${key} is a weight of a nested model; netc reads Normalization weights at the top level only`,
      );
    const t = source.get([], l, key);
    if (typeof t === 'string') throw new LayerRefusal(t);
    return Array.from(t.data);
  };
  const mean = values('mean');
  const variance = values('variance');
  if (mean.length !== variance.length)
    throw new LayerRefusal(`${mean.length} means but ${variance.length} variances`);
  const scale = variance.map((v) => 1 / Math.max(Math.sqrt(v), 1e-7));
  const offset = mean.map((m, i) => -m * scale[i]!);
  const list = (xs: number[]): string =>
    xs.length === 1 ? formatFloat(xs[0]!) : `[${xs.map(formatFloat).join(', ')}]`;
  return {
    kind: 'calls',
    steps: [{ fn: 'rescaling', args: [list(scale), `offset: ${list(offset)}`] }],
  };
}
