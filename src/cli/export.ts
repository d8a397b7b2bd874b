// `netc export FILE [--network N] --onnx OUT.onnx [--weights W] [--seed S]`: a network as an ONNX model.
import { readFileSync } from 'node:fs';
import { renderDiagnostic } from '../diag/diagnostics.js';
import { initialValues } from '../driver.js';
import { compileSource } from '../frontend/index.js';
import { exportOnnx } from '../onnx/export.js';
import { loadWeights, WeightsError } from '../weights/index.js';
import { readInput, writeFilesAtomic, type CommandIo } from './files.js';

export interface ExportOptions {
  readonly network?: string;
  readonly onnx?: string;
  readonly weights?: string;
  readonly seed?: number;
}

/**
 * Exports one network of `file` to ONNX (opset 13), with the weights from `--weights` or
 * initialized from `--seed` (default 0). Exit 0 ok, 1 errors in the input, 2 bad usage.
 */
export async function exportCommand(
  file: string,
  opts: ExportOptions,
  io: CommandIo,
): Promise<number> {
  if (!opts.onnx) {
    io.err('netc: export needs --onnx OUT.onnx');
    return 2;
  }
  const source = readInput(file, io, 'utf8');
  if (source === undefined) return 2;
  const result = compileSource(source);
  if (result.diagnostics.length) {
    for (const d of result.diagnostics) io.err(renderDiagnostic(file, source, d) + '\n');
    const n = result.diagnostics.length;
    io.err(`${n} error${n === 1 ? '' : 's'}`);
    return 1;
  }
  const graphs =
    opts.network === undefined
      ? result.graphs
      : result.graphs.filter((g) => g.name === opts.network);
  if (graphs.length !== 1) {
    io.err(
      opts.network === undefined
        ? `netc: ${file} has ${graphs.length} networks; choose one with --network`
        : `netc: no network '${opts.network}' in ${file} (it has: ${result.graphs.map((g) => g.name).join(', ') || 'none'})`,
    );
    return 2;
  }
  const graph = graphs[0]!;
  let values: Float32Array[];
  if (opts.weights !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(opts.weights));
    } catch (e) {
      io.err(`netc: cannot read weights ${opts.weights}: ${(e as Error).message}`);
      return 2;
    }
    try {
      values = loadWeights(
        bytes,
        graph.params.map((p) => ({ name: p.key, shape: [...p.shape] })),
      );
    } catch (e) {
      if (!(e instanceof WeightsError)) throw e;
      io.err(`${opts.weights}: error: ${e.message}`);
      return 1;
    }
  } else values = initialValues(graph, opts.seed ?? 0);
  const params = new Map(graph.params.map((p, i) => [p.key, values[i]!]));
  writeFilesAtomic([{ path: opts.onnx, data: exportOnnx(graph, params) }]);
  return 0;
}
