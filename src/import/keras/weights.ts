// Weight sources for Keras imports: TF.js weight manifests (float32, float16, int32, and the
// converter's uint8/uint16 quantization), named tensors (TF.js, Keras 2 .h5) matched to
// layers by name, and Keras 3 .keras stores addressed by layer position and variable index.
import { f16ToF32 } from '../../weights/index.js';
import { weightSlots } from './layers.js';
import type { KLayer, KModel } from './model.js';
import type { Tensor, WeightSource } from './translate.js';

// ----------------------------------------------------------------------------- manifests

export interface ManifestEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: {
    readonly dtype: string;
    readonly min?: number;
    readonly scale?: number;
    readonly original_dtype?: string;
  };
}

export interface ManifestGroup {
  readonly paths: readonly string[];
  readonly weights: readonly ManifestEntry[];
}

const BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  float16: 2,
  uint16: 2,
  uint8: 1,
  bool: 1,
};

/** Decodes `count` values of `dtype` at `bytes[offset...]` into float32. */
function decode(bytes: Uint8Array, offset: number, count: number, dtype: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * BYTES[dtype]!);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++)
    switch (dtype) {
      case 'float32':
        out[i] = view.getFloat32(i * 4, true);
        break;
      case 'int32':
        out[i] = view.getInt32(i * 4, true);
        break;
      case 'float16':
        out[i] = f16ToF32(view.getUint16(i * 2, true));
        break;
      case 'uint16':
        out[i] = view.getUint16(i * 2, true);
        break;
      default:
        out[i] = view.getUint8(i);
    }
  return out;
}

/**
 * Reads the tensors of a weights manifest; `read` gives a shard's bytes by its manifest path,
 * or a reason it cannot. Errors name the tensor or shard.
 */
export function readManifest(
  groups: unknown,
  read: (path: string) => Uint8Array | string,
): { tensors: Tensor[]; errors: string[] } {
  const errors: string[] = [];
  const tensors: Tensor[] = [];
  if (!Array.isArray(groups)) return { tensors, errors: ['weightsManifest is not a list'] };
  for (const [gi, g] of groups.entries()) {
    const group = g as Partial<ManifestGroup>;
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      errors.push(`weightsManifest group ${gi} has no paths and weights lists`);
      continue;
    }
    const parts: Uint8Array[] = [];
    let failed = false;
    for (const p of group.paths) {
      const b = typeof p === 'string' ? read(p) : `shard path ${JSON.stringify(p)} is not a string`;
      if (typeof b === 'string') {
        errors.push(b);
        failed = true;
      } else parts.push(b);
    }
    if (failed) continue;
    const total = parts.reduce((a, b) => a + b.length, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    let offset = 0;
    for (const w of group.weights as ManifestEntry[]) {
      const name = typeof w?.name === 'string' ? w.name : `#${tensors.length}`;
      const shape = w?.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
        errors.push(`weight '${name}': shape ${JSON.stringify(shape)} is not a list of sizes`);
        break;
      }
      const count = shape.reduce((a, b) => a * b, 1);
      const q = w.quantization;
      const stored = q ? q.dtype : w.dtype;
      if (BYTES[stored] === undefined || stored === 'bool') {
        errors.push(`weight '${name}': dtype '${stored}' cannot be read as numbers`);
        break;
      }
      const size = count * BYTES[stored]!;
      if (offset + size > bytes.length) {
        errors.push(
          `weight '${name}': its ${size} bytes at offset ${offset} run past the ${bytes.length} bytes of the shards [${group.paths.join(', ')}]`,
        );
        break;
      }
      let data = decode(bytes, offset, count, stored);
      if (q && (stored === 'uint8' || stored === 'uint16')) {
        if (typeof q.scale !== 'number' || typeof q.min !== 'number') {
          errors.push(`weight '${name}': ${stored} quantization without min and scale`);
          break;
        }
        const { scale, min } = q;
        data = data.map((v) => v * scale + min);
      }
      tensors.push({ name, shape: [...shape], data });
      offset += size;
    }
  }
  return { tensors, errors };
}

// ----------------------------------------------------------------------------- matching

/** Keras's names of a netc slot (Keras 3's DepthwiseConv2D calls its kernel `kernel`). */
const aliasesOf = (slot: string): string[] =>
  slot === 'depthwise_kernel' ? [slot, 'kernel'] : [slot];

/**
 * The one name among `names` that is `slot` of `layer` inside `path`: exactly
 * `PATH/LAYER/SLOT` or `LAYER/SLOT`, else the one ending in `/LAYER/SLOT`, else (a group of
 * one layer's weights) `SLOT` itself.
 */
export function pickName(
  names: readonly string[],
  path: readonly KLayer[],
  layer: KLayer,
  slot: string,
  ownGroup = false,
): string | { error: string } {
  for (const a of aliasesOf(slot)) {
    const full = [...path.map((p) => p.name), layer.name, a].join('/');
    for (const exact of [full, `${layer.name}/${a}`]) if (names.includes(exact)) return exact;
    const tail = names.filter((n) => n.endsWith(`/${layer.name}/${a}`));
    if (tail.length === 1) return tail[0]!;
    if (tail.length > 1) {
      const inPath = tail.filter((n) => path.every((p) => n.includes(`${p.name}/`)));
      if (inPath.length === 1) return inPath[0]!;
      return { error: `several weights could be its ${slot}: ${tail.join(', ')}` };
    }
    if (ownGroup && names.includes(a)) return a;
  }
  return { error: `no weight named '${[...path.map((p) => p.name), layer.name, slot].join('/')}'` };
}

/** Tensors by name (TF.js manifests): matched by layer and slot name. */
export class NamedSource implements WeightSource {
  private readonly byName: Map<string, Tensor>;
  constructor(
    tensors: readonly Tensor[],
    private readonly what: string,
  ) {
    this.byName = new Map(tensors.map((t) => [t.name.replace(/:0$/, ''), t]));
  }
  get(path: readonly KLayer[], layer: KLayer, slot: string): Tensor | string {
    const n = pickName([...this.byName.keys()], path, layer, slot);
    if (typeof n !== 'string') return `${n.error} in ${this.what}`;
    return this.byName.get(n)!;
  }
}

// ----------------------------------------------------------------------------- HDF5 stores

/** The part of an HDF5 file the Keras readers use (keras_file.ts wraps h5wasm in it). */
export interface H5 {
  /** A dataset's shape and values as float32, or undefined when there is none at `path`. */
  dataset(path: string): { shape: number[]; data: Float32Array } | string | undefined;
  /** An attribute's value (strings, lists of strings, numbers). */
  attr(path: string, name: string): unknown;
  has(path: string): boolean;
}

const strings = (v: unknown): string[] =>
  Array.isArray(v)
    ? v.filter((x): x is string => typeof x === 'string')
    : typeof v === 'string'
      ? [v]
      : [];

/**
 * Keras 2 `.h5` (and the legacy .h5 Keras 3 still writes): `model_weights/TOP` holds the
 * weights of top-level layer TOP (a nested model's include all of its layers'), listed by its
 * `weight_names` attribute and stored at `model_weights/TOP/NAME`.
 */
export class H5Source implements WeightSource {
  constructor(
    private readonly h5: H5,
    private readonly root = 'model_weights',
  ) {}
  get(path: readonly KLayer[], layer: KLayer, slot: string): Tensor | string {
    const top = (path[0] ?? layer).name;
    const group = `${this.root}/${top}`;
    if (!this.h5.has(group)) return `the file has no weights group '${group}'`;
    const listed = strings(this.h5.attr(group, 'weight_names'));
    const names = listed.map((n) => n.replace(/:0$/, ''));
    const n = pickName(names, path.slice(1), layer, slot, path.length === 0);
    if (typeof n !== 'string') return `${n.error} in '${group}'`;
    const full = `${group}/${listed[names.indexOf(n)]!}`;
    const d = this.h5.dataset(full);
    if (d === undefined) return `'${full}' is listed in weight_names but not stored`;
    if (typeof d === 'string') return `'${full}': ${d}`;
    return { name: full, ...d };
  }
}

/** Keras's `to_snake_case` of a class name (the names .keras stores give layers). */
export function snakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

const hasWeights = (l: KLayer): boolean =>
  l.model ? l.model.layers.some(hasWeights) : weightSlots(l).length > 0;

/**
 * Keras 3 `.keras` (and Keras 2.13+'s): `model.weights.h5` stores each layer's variables at
 * `layers/NAME/vars/I` (Keras 2: `_layer_checkpoint_dependencies/NAME/vars/I`), nested models
 * at `layers/OUTER/layers/INNER/...`. NAME is the layer's class in snake case, numbered per
 * class in the model's layer order (`conv2d`, `conv2d_1`, ...); Keras 2 visits a layer with
 * weights twice, so such names advance by two. I is the variable's index in Keras's order.
 */
export class KerasStoreSource implements WeightSource {
  private readonly container: string;
  private readonly twice: boolean;
  constructor(
    private readonly h5: H5,
    private readonly root: KModel,
  ) {
    this.twice = !h5.has('layers') && h5.has('_layer_checkpoint_dependencies');
    this.container = this.twice ? '_layer_checkpoint_dependencies' : 'layers';
  }

  /** The stored names of a model's layers. */
  private names(m: KModel): Map<KLayer, string> {
    const counts = new Map<string, number>();
    const out = new Map<KLayer, string>();
    // Sequential.layers leaves out its InputLayer.
    const list = m.sequential ? m.layers.filter((l) => l.cls !== 'InputLayer') : m.layers;
    for (const l of list) {
      const base = snakeCase(l.cls);
      const visits = this.twice && hasWeights(l) ? 2 : 1;
      for (let v = 0; v < visits; v++) {
        const n = counts.get(base);
        counts.set(base, n === undefined ? 0 : n + 1);
        if (v === 0) out.set(l, n === undefined ? base : `${base}_${n + 1}`);
      }
    }
    return out;
  }

  get(path: readonly KLayer[], layer: KLayer, slot: string): Tensor | string {
    const index = weightSlots(layer).indexOf(slot);
    const chain = [...path, layer];
    // Two spellings: class-based names (as Keras writes them), or the layers' own names.
    const byClass: string[] = [];
    let m = this.root;
    for (const l of chain) {
      byClass.push(this.container, this.names(m).get(l) ?? l.name);
      if (l.model) m = l.model;
    }
    const byName = chain.flatMap((l) => [this.container, l.name]);
    const tried: string[] = [];
    for (const segs of [byClass, byName])
      for (const sep of ['/', '\\']) {
        const p = `${segs.join(sep)}/vars/${index}`;
        if (tried.includes(p)) continue;
        tried.push(p);
        const d = this.h5.dataset(p);
        if (typeof d === 'string') return `'${p}': ${d}`;
        if (d) return { name: p, ...d };
      }
    return `the weights file has no '${tried[0]}' (its ${slot})`;
  }
}
