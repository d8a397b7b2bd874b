// The TensorFlow.js graph-model format: model.json (a GraphDef as JSON, a signature, a weights
// manifest) and the weights of its shards (read by ../tfjs_weights.ts).
import { readManifest } from '../tfjs_weights.js';

/** One attribute value of a node (protobuf's JSON mapping of tensorflow.AttrValue). */
export interface AttrValue {
  readonly s?: string;
  readonly i?: string | number;
  readonly f?: number;
  readonly b?: boolean;
  readonly type?: string;
  readonly shape?: { readonly dim?: readonly { readonly size?: string | number }[] };
  readonly tensor?: TensorJson;
  readonly list?: {
    readonly s?: readonly string[];
    readonly i?: readonly (string | number)[];
    readonly f?: readonly number[];
    readonly b?: readonly boolean[];
  };
}

export interface TensorJson {
  readonly dtype?: string;
  readonly tensorShape?: { readonly dim?: readonly { readonly size?: string | number }[] };
  readonly floatVal?: readonly number[];
  readonly intVal?: readonly number[];
  readonly int64Val?: readonly (string | number)[];
  readonly boolVal?: readonly boolean[];
  readonly tensorContent?: string;
}

export interface NodeJson {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
  readonly attr?: Readonly<Record<string, AttrValue>>;
}

export interface SignatureEntry {
  readonly name: string;
  readonly dtype?: string;
}

export interface GraphModelJson {
  readonly format?: string;
  readonly modelTopology: { readonly node: readonly NodeJson[] };
  readonly weightsManifest?: readonly {
    readonly paths: readonly string[];
    readonly weights: readonly WeightSpec[];
  }[];
  readonly signature?: {
    readonly inputs?: Readonly<Record<string, SignatureEntry>>;
    readonly outputs?: Readonly<Record<string, SignatureEntry>>;
  };
}

export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: {
    readonly dtype: string;
    readonly min?: number;
    readonly scale?: number;
  };
}

/** A constant: dims and values (numbers; strings and bools are refused where they are used). */
export interface Const {
  readonly dims: number[];
  readonly data: Float64Array;
  readonly dtype: string;
}

/** Whether `json` is a TF.js graph-model (a model.json whose modelTopology holds nodes). */
export function isGraphModel(json: unknown): json is GraphModelJson {
  if (typeof json !== 'object' || json === null) return false;
  const topo = (json as { modelTopology?: unknown }).modelTopology;
  return (
    typeof topo === 'object' && topo !== null && Array.isArray((topo as { node?: unknown }).node)
  );
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');

/** What is malformed in a graph-model's structure (nodes, attributes, manifest), if anything. */
export function checkGraphModel(m: GraphModelJson): string[] {
  const errors: string[] = [];
  const names = new Set<string>();
  m.modelTopology.node.forEach((n: unknown, i) => {
    if (!isObj(n) || typeof n['name'] !== 'string' || typeof n['op'] !== 'string') {
      errors.push(`modelTopology.node[${i}] is not a node with a string name and op`);
      return;
    }
    if (names.has(n['name'])) errors.push(`two nodes are named '${n['name']}'`);
    names.add(n['name']);
    if (n['input'] !== undefined && !isStrings(n['input']))
      errors.push(`node '${n['name']}': input is not a list of names`);
    else
      for (const ref of (n['input'] as string[] | undefined) ?? [])
        if (ref === '' || ref.startsWith(':'))
          errors.push(`node '${n['name']}': input '${ref}' names no node`);
    const attr = n['attr'];
    if (attr !== undefined && (!isObj(attr) || !Object.values(attr).every(isObj)))
      errors.push(`node '${n['name']}': attr is not an object of attribute values`);
  });
  if (errors.length) return errors;
  for (const n of m.modelTopology.node)
    for (const ref of n.input ?? []) {
      const name = ref.replace(/^\^/, '').split(':')[0]!;
      if (!names.has(name)) errors.push(`node '${n.name}': input '${ref}' names no node`);
    }
  const manifest: unknown = m.weightsManifest ?? [];
  if (!Array.isArray(manifest)) return [...errors, 'weightsManifest is not a list'];
  manifest.forEach((g: unknown, i) => {
    if (!isObj(g) || !isStrings(g['paths']) || !Array.isArray(g['weights'])) {
      errors.push(`weightsManifest[${i}] needs paths (names) and weights (a list)`);
      return;
    }
    for (const w of g['weights'] as unknown[]) {
      const ok =
        isObj(w) &&
        typeof w['name'] === 'string' &&
        typeof w['dtype'] === 'string' &&
        Array.isArray(w['shape']) &&
        (w['shape'] as unknown[]).every((d) => Number.isSafeInteger(d) && (d as number) >= 0) &&
        (w['quantization'] === undefined || isObj(w['quantization']));
      if (!ok) {
        errors.push(
          `weightsManifest[${i}]: ${isObj(w) && typeof w['name'] === 'string' ? `weight '${w['name']}'` : 'a weight'} needs a name, a dtype and a shape of sizes`,
        );
        continue;
      }
      const count = (w['shape'] as number[]).reduce((a, b) => a * b, 1);
      if (count > 2 ** 31) errors.push(`weight '${w['name'] as string}' is too large`);
    }
  });
  return errors;
}

/**
 * The manifest's weights, by name, read from the shards (`readShard(path)` gives a file's bytes
 * or undefined when it is missing) by the reader the layers-model import shares. Errors name the
 * weight or the file.
 */
export function readWeights(
  m: GraphModelJson,
  readShard: (path: string) => Uint8Array | undefined,
  errors: string[],
): Map<string, Const> {
  const r = readManifest(
    m.weightsManifest ?? [],
    (p) => readShard(p) ?? `weight shard '${p}' (named in the weights manifest) cannot be read`,
  );
  errors.push(...r.errors);
  return new Map(r.tensors.map((t) => [t.name, { dims: t.shape, data: t.data, dtype: t.dtype }]));
}

const dimsOf = (shape: TensorJson['tensorShape']): number[] =>
  (shape?.dim ?? []).map((d) => Number(d.size ?? 0));

/** A Const node's value written inline in the graph (small constants), or null. */
export function inlineConst(t: TensorJson | undefined): Const | null {
  if (!t) return null;
  const dims = dimsOf(t.tensorShape);
  const count = dims.reduce((a, b) => a * b, 1);
  const dtype = (t.dtype ?? 'DT_FLOAT').replace(/^DT_/, '').toLowerCase();
  const data = new Float64Array(count);
  if (t.tensorContent !== undefined) {
    const raw = Buffer.from(t.tensorContent, 'base64');
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const size = dtype === 'float' || dtype === 'int32' ? 4 : dtype === 'int64' ? 8 : 0;
    if (size === 0 || raw.length < count * size) return null;
    for (let i = 0; i < count; i++)
      data[i] =
        dtype === 'float'
          ? view.getFloat32(4 * i, true)
          : dtype === 'int32'
            ? view.getInt32(4 * i, true)
            : Number(view.getBigInt64(8 * i, true));
    return { dims, data, dtype: dtype === 'float' ? 'float32' : 'int32' };
  }
  const vals: readonly (number | string | boolean)[] | undefined =
    t.floatVal ?? t.intVal ?? t.int64Val ?? t.boolVal;
  if (!vals) return count === 0 ? { dims, data, dtype } : null;
  for (let i = 0; i < count; i++) data[i] = Number(vals[Math.min(i, vals.length - 1)] ?? 0);
  return { dims, data, dtype: dtype === 'float' ? 'float32' : 'int32' };
}

/** Reads a node's attributes. */
export class Attrs {
  constructor(private readonly a: Readonly<Record<string, AttrValue>>) {}
  has(name: string): boolean {
    return this.a[name] !== undefined;
  }
  str(name: string, dflt: string): string {
    const v = this.a[name]?.s;
    return v === undefined ? dflt : Buffer.from(v, 'base64').toString('utf8');
  }
  strs(name: string): string[] {
    return (this.a[name]?.list?.s ?? []).map((v) => Buffer.from(v, 'base64').toString('utf8'));
  }
  int(name: string, dflt: number): number {
    const v = this.a[name];
    if (v?.i !== undefined) return Number(v.i);
    if (v?.f !== undefined) return v.f;
    return dflt;
  }
  float(name: string, dflt: number): number {
    const v = this.a[name];
    if (v?.f !== undefined) return v.f;
    if (v?.i !== undefined) return Number(v.i);
    return dflt;
  }
  bool(name: string, dflt: boolean): boolean {
    return this.a[name]?.b ?? dflt;
  }
  ints(name: string, dflt: number[]): number[] {
    const l = this.a[name]?.list;
    return l?.i ? l.i.map(Number) : dflt;
  }
  type(name: string): string | undefined {
    return this.a[name]?.type;
  }
  shape(name: string): number[] | undefined {
    const s = this.a[name]?.shape;
    return s ? dimsOf(s) : undefined;
  }
  tensor(name: string): TensorJson | undefined {
    return this.a[name]?.tensor;
  }
}
