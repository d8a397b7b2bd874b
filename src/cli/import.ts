// `netc import MODEL.onnx -o NAME.net [--weights NAME.safetensors] [--name N]`: ONNX to .net and weights.
import path from 'node:path';
import { importOnnx } from '../onnx/import.js';
import { readInput, writeFilesAtomic, type CommandIo } from './files.js';

export interface ImportOptions {
  readonly out?: string;
  readonly weights?: string;
  readonly name?: string;
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
  const result = importOnnx(bytes, { name: opts.name ?? base });
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
