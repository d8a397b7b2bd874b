// `netc import MODEL -o NAME.net [--weights NAME.safetensors] [--name N] [--outputs T,...]`: a
// trained model (ONNX, TF.js layers- or graph-model model.json, Keras .keras / .h5) to .net and
// weights.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { importKerasFile, importLayersModel, isLayersModel } from '../import/keras/index.js';
import { importGraphModel, isGraphModel } from '../import/tfjs_graph/index.js';
import { importOnnx } from '../onnx/import.js';
import { readInput, writeFilesAtomic, type CommandIo } from './files.js';

export interface ImportOptions {
  readonly out?: string;
  readonly weights?: string;
  readonly name?: string;
  /** Tensors to cut the graph at (TF.js graph-models). */
  readonly outputs?: readonly string[];
}

type Result =
  | { readonly ok: true; readonly source: string; readonly weights: Uint8Array }
  | { readonly ok: false; readonly errors: string[] };

/** A weight shard named in model.json: a plain path relative to it, read whole. */
function shardReader(modelJson: string): (p: string) => Uint8Array | string {
  const dir = path.dirname(modelJson);
  return (p) => {
    const parts = p.split(/[/\\]/);
    if (path.isAbsolute(p) || parts.includes('..') || /^[a-z]+:/i.test(p))
      return `weight shard '${p}': netc reads shards beside model.json only (a relative path without '..')`;
    try {
      return new Uint8Array(readFileSync(path.join(dir, p)));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return `weight shard '${p}' (beside ${modelJson}): ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`;
    }
  };
}

/** The model's format, by extension (and for model.json, by what its topology holds). */
async function importAny(
  file: string,
  bytes: Uint8Array,
  name: string,
  outputs: readonly string[] | undefined,
): Promise<Result> {
  const ext = path.extname(file).toLowerCase();
  // A model.json starts with '{' (after any whitespace); an ONNX file never does.
  const first = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  if (ext === '.json' || first === 0x7b) {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      return { ok: false, errors: [`not JSON: ${(e as Error).message}`] };
    }
    if (isLayersModel(json)) return importLayersModel(json, shardReader(file), { name });
    if (isGraphModel(json)) {
      const read = shardReader(file);
      return importGraphModel(
        json,
        (p) => {
          const r = read(p);
          return typeof r === 'string' ? undefined : r;
        },
        { name, ...(outputs ? { outputs } : {}) },
      );
    }
    return {
      ok: false,
      errors: [
        'model.json is neither a TensorFlow.js layers-model (a Keras model config) nor a graph-model (a list of TensorFlow nodes in modelTopology.node)',
      ],
    };
  }
  if (ext === '.keras' || ext === '.h5' || ext === '.hdf5') return importKerasFile(bytes, { name });
  return importOnnx(bytes, { name });
}

/**
 * Imports `file`; writes the .net source and its weights (default: the source's path with
 * `.safetensors`), both or neither. Exit 0 on success, 1 when the model cannot be imported
 * (every reason printed), 2 for bad usage.
 */
export async function importCommand(
  file: string,
  opts: ImportOptions,
  io: CommandIo,
): Promise<number> {
  if (!opts.out) {
    io.err('netc: import needs -o NAME.net');
    return 2;
  }
  const bytes = readInput(file, io);
  if (bytes === undefined) return 2;
  const base = path.basename(opts.out).replace(/\.net$/, '');
  const weightsPath = opts.weights ?? opts.out.replace(/(\.net)?$/, '.safetensors');
  const result = await importAny(file, bytes, opts.name ?? base, opts.outputs);
  if (!result.ok) {
    for (const e of result.errors) io.err(`${file}: error: ${e}`);
    const n = result.errors.length;
    io.err(`${n} error${n === 1 ? '' : 's'}; nothing written`);
    return 1;
  }
  writeFilesAtomic([
    { path: opts.out, data: result.source },
    { path: weightsPath, data: result.weights },
  ]);
  io.out(`wrote ${opts.out} and ${weightsPath}`);
  return 0;
}
