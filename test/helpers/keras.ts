// Keras and TF.js model files for tests, written as the real tools write them: TF.js
// layers-models through tf.io.withSaveHandler, Keras 3 configs rewritten from them, Keras 2
// .h5 and Keras 3 .keras files written with h5wasm and fflate.
import * as tf from '@tensorflow/tfjs';
import { zipSync } from 'fflate';
import h5wasm from 'h5wasm';
import { rng } from './random.js';

export type Json = Record<string, unknown>;

export interface Saved {
  readonly json: Json;
  readonly shard: Uint8Array;
  readonly specs: tf.io.WeightsManifestEntry[];
}

let seed = 1;

/** Gives every weight of `model` seeded values of a trained network's scale. */
export function setWeights(model: tf.LayersModel): void {
  const r = rng(seed++);
  model.setWeights(
    model.weights.map((w) => {
      const shape = w.shape as number[];
      const n = shape.reduce((a, b) => a * b, 1);
      const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
      const name = w.originalName ?? w.name;
      let f: () => number;
      if (/moving_variance/.test(name)) f = () => 0.5 + Math.abs(r());
      else if (/gamma/.test(name)) f = () => 1 + 0.3 * r();
      else if (/alpha/.test(name)) f = () => 0.25 + 0.2 * r();
      else if (shape.length === 1) f = () => 0.2 * r();
      else f = () => r() * Math.sqrt(3 / fanIn);
      return tf.tensor(Float32Array.from({ length: n }, f), shape);
    }),
  );
}

/** Saves a TF.js model through tf.io.withSaveHandler: model.json's fields and one shard. */
export async function save(model: tf.LayersModel): Promise<Saved> {
  let saved: Saved | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const specs = a.weightSpecs ?? [];
      const data = a.weightData as ArrayBuffer;
      saved = {
        json: {
          modelTopology: a.modelTopology,
          format: a.format,
          generatedBy: a.generatedBy,
          convertedBy: a.convertedBy ?? null,
          weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
        },
        shard: new Uint8Array(data),
        specs,
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved!;
}

// ------------------------------------------------------------------------ Keras 3 configs

const kerasTensor = (ref: unknown[], offset: number): Json => ({
  class_name: '__keras_tensor__',
  config: {
    shape: null,
    dtype: 'float32',
    keras_history: [ref[0], (ref[1] as number) - offset, ref[2]],
  },
});

/**
 * A TF.js (Keras 2 style) model config rewritten as Keras 3 writes it: `module` and
 * `registered_name` on every object, `batch_shape`, InputLayers in Sequential models, nodes as
 * `{args, kwargs}` of `__keras_tensor__`s (without Keras 2's offset for nested models),
 * single input/output lists unwrapped, LeakyReLU's `negative_slope`.
 */
export function toKeras3(m: Json): Json {
  const cfg = { ...(m['config'] as Json) };
  const cls = m['class_name'] === 'Model' ? 'Functional' : (m['class_name'] as string);
  const nestedNames = new Set(
    (cfg['layers'] as Json[])
      .filter((l) => Array.isArray((l['config'] as Json)['layers']))
      .map((l) => (l['config'] as Json)['name']),
  );
  const layer = (l: Json): Json => {
    if (Array.isArray((l['config'] as Json)['layers'])) {
      const inner = toKeras3(l);
      return { ...inner, name: l['name'], inbound_nodes: nodes(l) };
    }
    const c = { ...(l['config'] as Json) };
    if ('batch_input_shape' in c) {
      c['batch_shape'] = c['batch_input_shape'];
      delete c['batch_input_shape'];
    }
    if (l['class_name'] === 'LeakyReLU') {
      c['negative_slope'] = c['alpha'];
      delete c['alpha'];
    }
    return {
      module: 'keras.layers',
      class_name: l['class_name'],
      config: c,
      registered_name: null,
      ...('inbound_nodes' in l ? { name: l['name'], inbound_nodes: nodes(l) } : {}),
    };
  };
  const nodes = (l: Json): Json[] =>
    (l['inbound_nodes'] as unknown[][][]).map((node) => {
      const ts = node.map((ref) => kerasTensor(ref, nestedNames.has(ref[0] as string) ? 1 : 0));
      return { args: ts.length === 1 ? [ts[0]] : [ts], kwargs: {} };
    });
  let layers = (cfg['layers'] as Json[]).map(layer);
  if (cls === 'Sequential') {
    const first = layers[0]!['config'] as Json;
    layers = [
      {
        module: 'keras.layers',
        class_name: 'InputLayer',
        config: { batch_shape: first['batch_shape'], dtype: 'float32', name: 'input_layer' },
        registered_name: null,
      },
      ...layers,
    ];
    delete first['batch_shape'];
  }
  cfg['layers'] = layers;
  for (const k of ['input_layers', 'output_layers'])
    if (Array.isArray(cfg[k]) && (cfg[k] as unknown[]).length === 1)
      cfg[k] = (cfg[k] as unknown[])[0];
  return { module: 'keras', class_name: cls, config: cfg, registered_name: null };
}

// --------------------------------------------------------------------------- HDF5 files

export async function h5(
  write: (f: InstanceType<typeof h5wasm.File>) => void,
): Promise<Uint8Array> {
  const { FS } = await h5wasm.ready;
  const name = `/keras-test-${seed++}.h5`;
  const f = new h5wasm.File(name, 'w');
  write(f);
  f.close();
  const bytes = FS!.readFile(name) as Uint8Array;
  FS!.unlink(name);
  return bytes;
}

export type Group = ReturnType<InstanceType<typeof h5wasm.File>['create_group']>;

export function dataset(g: Group, p: string, t: tf.LayerVariable): void {
  const parts = p.split('/');
  let at = g;
  for (const seg of parts.slice(0, -1)) at = (at.get(seg) as Group | null) ?? at.create_group(seg);
  at.create_dataset({
    name: parts.at(-1)!,
    data: t.read().dataSync() as Float32Array,
    shape: t.shape as number[],
  });
}

/** Keras 2's .h5: model_config, and per top-level layer a group of its weights by name. */
export function keras2H5(model: tf.LayersModel, config: Json): Promise<Uint8Array> {
  return h5((f) => {
    f.create_attribute('keras_version', '2.15.0');
    f.create_attribute('backend', 'tensorflow');
    f.create_attribute('model_config', JSON.stringify(config));
    const mw = f.create_group('model_weights');
    mw.create_attribute(
      'layer_names',
      model.layers.map((l) => l.name),
    );
    for (const l of model.layers) {
      const g = mw.create_group(l.name);
      const names = l.weights.map((w) => `${w.originalName}:0`);
      if (names.length) g.create_attribute('weight_names', names);
      l.weights.forEach((w, i) => dataset(g, names[i]!, w));
    }
  });
}

/** Keras's `to_snake_case` (keras/src/utils/naming.py), transcribed. */
function snake(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * A Keras 3 `.keras` file of a Sequential or Functional TF.js model without nested models:
 * metadata.json, config.json (Keras 3 style) and model.weights.h5, where Keras 3's saving_lib
 * stores layer i of `model.layers` under `layers/SNAKE_CLASS[_N]/vars/J`.
 */
export async function kerasFile(model: tf.LayersModel, saved: Saved): Promise<Uint8Array> {
  const weights = await h5((f) => {
    const layers = f.create_group('layers');
    const counts = new Map<string, number>();
    for (const l of model.layers) {
      const base = snake(l.getClassName());
      const n = counts.get(base);
      counts.set(base, n === undefined ? 0 : n + 1);
      const vars = layers
        .create_group(n === undefined ? base : `${base}_${n + 1}`)
        .create_group('vars');
      l.weights.forEach((w, i) => dataset(vars, String(i), w));
    }
  });
  const enc = new TextEncoder();
  return zipSync({
    'metadata.json': enc.encode(JSON.stringify({ keras_version: '3.5.0' })),
    'config.json': enc.encode(JSON.stringify(toKeras3(saved.json['modelTopology'] as Json))),
    'model.weights.h5': weights,
  });
}
