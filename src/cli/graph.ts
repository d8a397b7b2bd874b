// `netc graph FILE [--network N] -o NET.svg`: draws a network as an SVG picture (or DOT text).
import { renderDiagnostic } from '../diag/diagnostics.js';
import { compileSource } from '../frontend/index.js';
import { renderSvg, toDot } from '../graph/dot.js';
import { readInput, writeFilesAtomic, type CommandIo } from './files.js';

/**
 * Writes the picture to `out` (DOT text when it ends in `.dot` or `.gv`, SVG otherwise), or prints
 * the SVG when there is no `out`. Exit codes: 0 written; 1 errors in the file; 2 usage (no such
 * file, no such network, several networks and no --network).
 */
export async function graphCommand(
  file: string,
  opts: { network?: string; out?: string },
  io: CommandIo,
): Promise<number> {
  const source = readInput(file, io, 'utf8');
  if (source === undefined) return 2;
  const result = compileSource(source);
  if (result.diagnostics.length > 0) {
    for (const d of result.diagnostics) io.err(renderDiagnostic(file, source, d) + '\n');
    const n = result.diagnostics.length;
    io.err(`${n} error${n === 1 ? '' : 's'}`);
    return 1;
  }
  const names = result.graphs.map((g) => g.name).join(', ') || 'none';
  const graph =
    opts.network === undefined
      ? result.graphs.length === 1
        ? result.graphs[0]
        : undefined
      : result.graphs.find((g) => g.name === opts.network);
  if (graph === undefined) {
    io.err(
      opts.network === undefined
        ? `netc: ${file} has ${result.graphs.length} networks (${names}); choose one with --network`
        : `netc: no network '${opts.network}' in ${file} (it has: ${names})`,
    );
    return 2;
  }
  const dot = toDot(graph);
  const wantsDot = opts.out !== undefined && /\.(dot|gv)$/i.test(opts.out);
  const text = wantsDot ? dot : await renderSvg(dot);
  if (opts.out === undefined) io.out(text);
  else writeFilesAtomic([{ path: opts.out, data: text }]);
  return 0;
}
