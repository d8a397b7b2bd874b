// TensorFlow.js layers-models: `model.json` whose modelTopology is a Keras model config (as
// `model.save` in TF.js writes it, or tensorflowjs_converter from a Keras file), and the
// weight shards its manifest lists.
import { ConfigError, readModel } from './model.js';
import { translateModel, type ImportResult } from './translate.js';
import { readManifest } from '../tfjs_weights.js';
import { NamedSource } from './weights.js';

export interface LayersModelOptions {
  readonly name?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a parsed model.json is a layers-model (its topology is a Keras model config). */
export function isLayersModel(json: unknown): boolean {
  if (!isObj(json) || !isObj(json['modelTopology'])) return false;
  const t = json['modelTopology'];
  return 'model_config' in t || 'class_name' in t;
}

/**
 * Imports a layers-model: `json` is model.json parsed, `read(path)` gives the bytes of a
 * shard named in its manifest (relative to model.json), or a reason it cannot.
 */
export function importLayersModel(
  json: unknown,
  read: (path: string) => Uint8Array | string,
  opts: LayersModelOptions = {},
): ImportResult {
  if (!isLayersModel(json))
    return {
      ok: false,
      errors: [
        'model.json is not a TensorFlow.js layers-model (no Keras model config in modelTopology)',
      ],
    };
  const j = json as Record<string, unknown>;
  const topo = j['modelTopology'] as Record<string, unknown>;
  const config = 'model_config' in topo ? topo['model_config'] : topo;
  const version = typeof topo['keras_version'] === 'string' ? topo['keras_version'] : '';
  let model;
  try {
    model = readModel(config, /^\d/.test(version) ? /^3\./.test(version) : undefined);
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, errors: [e.message] };
    throw e;
  }
  const { tensors, errors } = readManifest(j['weightsManifest'] ?? [], read);
  if (errors.length) return { ok: false, errors };
  const f32 = tensors.map((t) => ({
    name: t.name,
    shape: t.shape,
    data: Float32Array.from(t.data),
  }));
  return translateModel(model, new NamedSource(f32, 'the weights manifest'), {
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    origin: `Imported from a TensorFlow.js layers-model (Keras config) by netc import: channels_last, as the original model.`,
  });
}
