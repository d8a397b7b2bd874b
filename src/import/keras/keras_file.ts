// Keras files: `.keras` (a zip of config.json, metadata.json and model.weights.h5; Keras 3,
// and Keras 2.13+) and `.h5` (Keras 2's HDF5 file: the model_config attribute and the
// model_weights groups), read with h5wasm and fflate.
import { unzipSync } from 'fflate';
import { ConfigError, readModel } from './model.js';
import { translateModel, type ImportResult } from './translate.js';
import { f16ToF32 } from '../../weights/index.js';
import { H5Source, KerasStoreSource, type H5 } from './weights.js';

export interface KerasFileOptions {
  readonly name?: string;
}

const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const isHdf5 = (b: Uint8Array): boolean => HDF5_MAGIC.every((x, i) => b[i] === x);
const isZip = (b: Uint8Array): boolean =>
  b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/** Whether the bytes are a Keras file (HDF5 or zip), by their signature. */
export const isKerasFile = (b: Uint8Array): boolean => isHdf5(b) || isZip(b);

let fileCounter = 0;

/** The innermost reason of an HDF5 error stack (its last `#NNN: ... in F(): reason` line). */
function hdf5Reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const reasons = [...text.matchAll(/#\d+: .* in [\w.]+\(\): (.*)$/gm)].map((m) => m[1]!);
  return reasons.at(-1) ?? text.split('\n')[0]!;
}

/** Opens HDF5 bytes with h5wasm (in its in-memory file system) for the duration of `use`. */
async function withH5<T>(bytes: Uint8Array, use: (h5: H5) => T): Promise<T> {
  const h5wasm = (await import('h5wasm')).default;
  const mod = await h5wasm.ready;
  const fs = mod.FS;
  const name = `/netc-import-${process.pid}-${fileCounter++}.h5`;
  fs.writeFile(name, bytes);
  // HDF5's errors become exceptions (caught below) instead of prints to standard error.
  mod.activate_throwing_error_handler();
  let f: InstanceType<typeof h5wasm.File> | undefined;
  try {
    try {
      f = new h5wasm.File(name, 'r');
    } catch (e) {
      throw new ConfigError(`not a readable HDF5 file: ${hdf5Reason(e)}`);
    }
    const file = f;
    const get = (p: string): unknown => {
      try {
        return p === '' || p === '/' ? file : file.get(p);
      } catch {
        return null;
      }
    };
    const h5: H5 = {
      has: (p) => {
        const e = get(p);
        return e !== null && e !== undefined;
      },
      attr: (p, a) => {
        const e = get(p) as { attrs?: Record<string, { value: unknown }> } | null;
        try {
          return e?.attrs?.[a]?.value;
        } catch {
          return undefined;
        }
      },
      dataset: (p) => {
        const e = get(p);
        if (!(e instanceof h5wasm.Dataset)) return undefined;
        try {
          return readDataset(e);
        } catch (err) {
          return `cannot be read: ${hdf5Reason(err)}`;
        }
      },
    };
    const readDataset = (
      e: InstanceType<typeof h5wasm.Dataset>,
    ): { shape: number[]; data: Float32Array } | string => {
      const meta = e.metadata;
      const shape = e.shape ?? [];
      const v = e.value;
      // type 1 is a float; h5wasm returns float16 as raw 16-bit words.
      if (meta.type === 1 && meta.size === 2 && ArrayBuffer.isView(v)) {
        const u = new Uint16Array(v.buffer, v.byteOffset, v.byteLength / 2);
        return { shape, data: Float32Array.from(u, f16ToF32) };
      }
      if (v instanceof Float32Array) return { shape, data: v };
      if (v instanceof Float64Array || v instanceof Int32Array || v instanceof Uint8Array)
        return { shape, data: Float32Array.from(v) };
      if (typeof v === 'number') return { shape, data: Float32Array.of(v) };
      return `a dataset of type ${JSON.stringify(e.dtype)}, not numbers`;
    };
    return use(h5);
  } finally {
    try {
      f?.close();
    } catch {
      // already closed
    }
    fs.unlink(name);
    mod.deactivate_throwing_error_handler();
  }
}

const text = (v: unknown): string | undefined =>
  typeof v === 'string'
    ? v
    : v instanceof Uint8Array
      ? new TextDecoder().decode(v)
      : Array.isArray(v) && typeof v[0] === 'string'
        ? v[0]
        : undefined;

/** Imports a `.keras` or `.h5` Keras file (told apart by their bytes). */
export async function importKerasFile(
  bytes: Uint8Array,
  opts: KerasFileOptions = {},
): Promise<ImportResult> {
  const named = opts.name !== undefined ? { name: opts.name } : {};
  try {
    if (isZip(bytes)) {
      let files: Record<string, Uint8Array>;
      try {
        files = unzipSync(bytes);
      } catch (e) {
        return {
          ok: false,
          errors: [`the .keras file is not a readable zip: ${(e as Error).message}`],
        };
      }
      const config = files['config.json'];
      const weights = files['model.weights.h5'];
      if (!config || !weights)
        return {
          ok: false,
          errors: [
            `the .keras archive lacks ${!config ? 'config.json' : 'model.weights.h5'} (it holds ${Object.keys(files).join(', ') || 'nothing'})`,
          ],
        };
      let meta: Record<string, unknown> = {};
      try {
        if (files['metadata.json'])
          meta = JSON.parse(new TextDecoder().decode(files['metadata.json']));
      } catch {
        meta = {};
      }
      const version = typeof meta['keras_version'] === 'string' ? meta['keras_version'] : '';
      let cfg: unknown;
      try {
        cfg = JSON.parse(new TextDecoder().decode(config));
      } catch (e) {
        return { ok: false, errors: [`config.json is not JSON: ${(e as Error).message}`] };
      }
      const model = readModel(cfg, version ? /^3\./.test(version) : undefined);
      if (!isHdf5(weights)) return { ok: false, errors: ['model.weights.h5 is not an HDF5 file'] };
      return await withH5(weights, (h5) =>
        translateModel(model, new KerasStoreSource(h5, model), {
          ...named,
          origin:
            `Imported from a Keras ${version || ''} .keras file by netc import: channels_last, as the original model.`.replace(
              '  ',
              ' ',
            ),
        }),
      );
    }
    if (!isHdf5(bytes))
      return { ok: false, errors: ['not a Keras file: neither a .keras zip nor an HDF5 .h5 file'] };
    return await withH5(bytes, (h5) => {
      const cfgText = text(h5.attr('/', 'model_config'));
      if (cfgText === undefined)
        return {
          ok: false,
          errors: [
            h5.has('model_weights') || h5.has('layers') || h5.attr('/', 'layer_names') !== undefined
              ? 'the .h5 file holds weights only (model.save_weights): netc needs the model config too; save the model with model.save'
              : 'the .h5 file has no model_config attribute: it is not a Keras model file',
          ],
        } as ImportResult;
      const version = text(h5.attr('/', 'keras_version')) ?? '';
      let cfg: unknown;
      try {
        cfg = JSON.parse(cfgText);
      } catch (e) {
        return {
          ok: false,
          errors: [`model_config is not JSON: ${(e as Error).message}`],
        } as ImportResult;
      }
      const model = readModel(cfg, version ? /^3\./.test(version) : undefined);
      return translateModel(model, new H5Source(h5), {
        ...named,
        origin: `Imported from a Keras ${version} .h5 file by netc import: channels_last, as the original model.`,
      });
    });
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, errors: [e.message] };
    throw e;
  }
}
