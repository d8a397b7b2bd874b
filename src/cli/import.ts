// `netc import MODEL.onnx -o NAME.net [--weights NAME.safetensors] [--name N]`: ONNX to .net and weights.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { importGraphModel, isGraphModel } from '../import/tfjs_graph/index.js';
import { importOnnx, type ImportResult } from '../onnx/import.js';
import { readInput, writeFilesAtomic, type CommandIo } from './files.js';

export interface ImportOptions {
  readonly out?: string;
  readonly weights?: string;
  readonly name?: string;
  /** Tensors to cut the graph at (TF.js graph-models). */
  readonly outputs?: readonly string[];
}

/** A TF.js model.json: parsed, or undefined when `bytes` is not JSON. */
function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

/** Reads a weight shard named by a model.json, relative to its directory. */
function shardReader(file: string): (p: string) => Uint8Array | undefined {
  const dir = path.dirname(file);
  return (p) => {
    try {
      return readFileSync(path.join(dir, p));
    } catch {
      return undefined;
    }
  };
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
  const name = opts.name ?? base;
  let result: ImportResult;
  // A model.json starts with '{' (after any whitespace); an ONNX file never does.
  const first = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  const json = first === 0x7b ? parseJson(bytes) : undefined;
  if (json !== undefined && isGraphModel(json))
    result = importGraphModel(json, shardReader(file), {
      name,
      ...(opts.outputs ? { outputs: opts.outputs } : {}),
    });
  else if (json !== undefined)
    result = {
      ok: false,
      errors: ['a JSON file that is not a TF.js graph-model (no modelTopology.node list)'],
    };
  else result = importOnnx(bytes, { name });
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
