// A Keras model config (Keras 2, Keras 3 or TensorFlow.js layers-model style) read into one
// graph shape: layers, the calls of each layer (its inbound nodes), inputs and outputs.

/** A reference to a tensor: the `tensor`-th output of call `node` of `layer`. */
export interface Ref {
  readonly layer: string;
  readonly node: number;
  readonly tensor: number;
}

export type Json = Record<string, unknown>;

export interface KLayer {
  readonly name: string;
  readonly cls: string;
  readonly config: Json;
  /** The tensors each call takes, in order of the layer's calls. */
  readonly calls: Ref[][];
  /** A model used as a layer. */
  readonly model?: KModel;
  /** Offset from a node index in a reference to the index in `calls`: a nested model's own
   * construction counts as its first node in Keras 2 and TF.js configs. */
  nodeOffset: number;
}

export interface KModel {
  readonly name: string;
  readonly cls: string;
  readonly sequential: boolean;
  readonly layers: KLayer[];
  readonly inputs: Ref[];
  readonly outputs: Ref[];
  /** Keras 3 style (`module`, `registered_name`, `args`/`kwargs` nodes). */
  readonly keras3: boolean;
}

/** A config that cannot be read as a Keras model; the message says where and why. */
export class ConfigError extends Error {}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

/**
 * Reads `{class_name, config}` of a Sequential or Functional model. `keras3` says whether Keras
 * 3 wrote it (from the file's keras_version); unknown, it is read from the config's style
 * (Keras 2.13-2.15 also write `module`, but a Keras 3 config has DTypePolicy objects and
 * `{args, kwargs}` nodes).
 */
export function readModel(top: unknown, keras3?: boolean): KModel {
  if (!isObj(top) || typeof top['class_name'] !== 'string' || !isObj(top['config']))
    throw new ConfigError('the model config is not an object with class_name and config');
  const cls = top['class_name'];
  if (keras3 === undefined)
    keras3 = /"__keras_tensor__"|"DTypePolicy"|"batch_shape"/.test(JSON.stringify(top));
  const config = top['config'];
  if (!MODEL_CLASSES.has(cls) || !Array.isArray(config['layers']))
    throw new ConfigError(
      `the model is a ${cls} without a list of layers: netc translates Sequential and Functional models (a subclassed model's config does not say what it computes)`,
    );
  return cls === 'Sequential' ? sequential(config, keras3) : functional(cls, config, keras3);
}

function layerOf(entry: unknown, where: string, keras3: boolean): KLayer {
  if (!isObj(entry) || typeof entry['class_name'] !== 'string' || !isObj(entry['config']))
    throw new ConfigError(`${where}: a layer entry without class_name and config`);
  const config = entry['config'];
  const name =
    typeof entry['name'] === 'string'
      ? entry['name']
      : typeof config['name'] === 'string'
        ? config['name']
        : '';
  if (name === '') throw new ConfigError(`${where}: a ${entry['class_name']} layer without a name`);
  const cls = entry['class_name'];
  const nested =
    MODEL_CLASSES.has(cls) && Array.isArray(config['layers'])
      ? readModel(entry, keras3)
      : undefined;
  return { name, cls, config, calls: [], nodeOffset: 0, ...(nested ? { model: nested } : {}) };
}

/** `[null, 28, 28, 1]` from batch_input_shape, batch_shape, or input_shape / build_config. */
export function batchShape(config: Json): unknown[] | undefined {
  for (const k of ['batch_input_shape', 'batch_shape'])
    if (Array.isArray(config[k])) return config[k] as unknown[];
  if (Array.isArray(config['input_shape'])) return [null, ...(config['input_shape'] as unknown[])];
  return undefined;
}

function sequential(config: Json, keras3: boolean): KModel {
  const name = typeof config['name'] === 'string' ? config['name'] : 'sequential';
  const entries = config['layers'] as unknown[];
  const layers = entries.map((e, i) => layerOf(e, `${name} layer #${i}`, keras3));
  if (layers.length === 0) throw new ConfigError(`Sequential model '${name}' has no layers`);
  let input: KLayer;
  let rest: KLayer[];
  if (layers[0]!.cls === 'InputLayer') {
    input = layers[0]!;
    rest = layers.slice(1);
  } else {
    // The input Keras makes for `input_shape` on the first layer: FIRST_input.
    const first = layers[0]!;
    const shape =
      batchShape(first.config) ??
      (isObj((entries[0] as Json)['build_config'])
        ? ((entries[0] as Json)['build_config'] as Json)['input_shape']
        : undefined);
    if (!Array.isArray(shape))
      throw new ConfigError(
        `Sequential model '${name}': its first layer '${first.name}' (${first.cls}) has no input shape (batch_input_shape), so the model's input size is unknown`,
      );
    input = {
      name: `${first.name}_input`,
      cls: 'InputLayer',
      config: { batch_input_shape: shape, name: `${first.name}_input` },
      calls: [],
      nodeOffset: 0,
    };
    rest = layers;
  }
  let prev: Ref = { layer: input.name, node: 0, tensor: 0 };
  for (const l of rest) {
    l.calls.push([prev]);
    prev = { layer: l.name, node: 0, tensor: 0 };
  }
  return {
    name,
    cls: 'Sequential',
    sequential: true,
    layers: [input, ...rest],
    inputs: [{ layer: input.name, node: 0, tensor: 0 }],
    outputs: [prev],
    keras3,
  };
}

function refOf(v: unknown, where: string): Ref {
  if (
    Array.isArray(v) &&
    typeof v[0] === 'string' &&
    typeof v[1] === 'number' &&
    typeof v[2] === 'number'
  )
    return { layer: v[0], node: v[1], tensor: v[2] };
  throw new ConfigError(
    `${where}: a tensor reference ${JSON.stringify(v)} is not [layer, node, tensor]`,
  );
}

/** input_layers / output_layers: `[[name, n, t], ...]`, or one `[name, n, t]` (Keras 3). */
function refList(v: unknown, where: string): Ref[] {
  if (!Array.isArray(v)) throw new ConfigError(`${where} is missing`);
  if (typeof v[0] === 'string') return [refOf(v, where)];
  return v.map((r) => refOf(r, where));
}

/** The Keras tensors among a Keras 3 node's args, in order. */
function kerasTensors(v: unknown, out: Ref[], where: string): void {
  if (Array.isArray(v)) {
    for (const x of v) kerasTensors(x, out, where);
    return;
  }
  if (!isObj(v)) return;
  if (v['class_name'] === '__keras_tensor__' && isObj(v['config'])) {
    out.push(refOf(v['config']['keras_history'], where));
    return;
  }
  // A dict argument (a layer taking named tensors): its values, in order.
  if (!('class_name' in v)) for (const x of Object.values(v)) kerasTensors(x, out, where);
}

function nodeRefs(node: unknown, where: string): Ref[] {
  if (isObj(node)) {
    // Keras 3: {args: [...], kwargs: {...}}; tensors passed in kwargs (masks) are not inputs.
    const out: Ref[] = [];
    kerasTensors(node['args'], out, where);
    return out;
  }
  if (Array.isArray(node))
    return node.map((r) => refOf(Array.isArray(r) ? r.slice(0, 3) : r, where));
  throw new ConfigError(`${where}: an inbound node that is neither a list nor {args, kwargs}`);
}

function functional(cls: string, config: Json, keras3: boolean): KModel {
  const name = typeof config['name'] === 'string' ? config['name'] : 'model';
  const layers = (config['layers'] as unknown[]).map((e, i) => {
    const l = layerOf(e, `${name} layer #${i}`, keras3);
    const nodes = (e as Json)['inbound_nodes'];
    if (Array.isArray(nodes))
      nodes.forEach((n, k) =>
        l.calls.push(nodeRefs(n, `layer '${l.name}' (${l.cls}) inbound node ${k}`)),
      );
    return l;
  });
  const byName = new Map(layers.map((l) => [l.name, l]));
  const inputs = refList(config['input_layers'], `model '${name}' input_layers`);
  const outputs = refList(config['output_layers'], `model '${name}' output_layers`);
  // Nested models: references count the model's own construction as node 0 in Keras 2 and
  // TF.js configs (their listed inbound nodes start at reference index 1); Keras 3 does not.
  const all = [...layers.flatMap((l) => l.calls.flat()), ...outputs];
  for (const l of layers) {
    if (!l.model) continue;
    const used = all.filter((r) => r.layer === l.name).map((r) => r.node);
    if (used.some((n) => n >= l.calls.length) && !used.includes(0)) l.nodeOffset = 1;
    else if (!used.includes(0) && !keras3 && used.length > 0) l.nodeOffset = 1;
  }
  for (const r of all)
    if (!byName.has(r.layer))
      throw new ConfigError(
        `model '${name}': a reference to layer '${r.layer}', which it does not have`,
      );
  return { name, cls, sequential: false, layers, inputs, outputs, keras3 };
}
