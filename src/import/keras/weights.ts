// Weight sources for Keras imports: named tensors (a TF.js manifest, read by
// ../tfjs_weights.ts; Keras 2 .h5) matched to layers by name, and Keras 3 .keras stores
// addressed by layer position and variable index.
import { weightSlots } from './layers.js';
import type { KLayer, KModel } from './model.js';
import type { Tensor, WeightSource } from './translate.js';

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
