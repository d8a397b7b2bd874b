// `netc fmt FILE [--check]`: rewrites a .net file in the canonical layout, or checks that it is.
import { renderDiagnostic } from '../diag/diagnostics.js';
import { formatSource } from '../fmt/format.js';
import { readInput, writeFilesAtomic, type CommandIo } from './files.js';

/**
 * Exit codes: 0 formatted (or, with --check, already formatted); 1 syntax errors, or --check
 * found a file that would change (its name is printed); 2 the file cannot be read.
 */
export async function fmtCommand(
  file: string,
  opts: { check?: boolean },
  io: CommandIo,
): Promise<number> {
  const source = readInput(file, io, 'utf8');
  if (source === undefined) return 2;
  const result = formatSource(source);
  if (!result.ok) {
    for (const d of result.diagnostics) io.err(renderDiagnostic(file, source, d) + '\n');
    const n = result.diagnostics.length;
    io.err(`${n} error${n === 1 ? '' : 's'}; ${file} was not formatted`);
    return 1;
  }
  if (result.text === source) return 0;
  if (opts.check) {
    io.out(file);
    return 1;
  }
  writeFilesAtomic([{ path: file, data: result.text }]);
  return 0;
}
