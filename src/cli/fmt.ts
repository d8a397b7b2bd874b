// `netc fmt FILE [--check]`: rewrites a .net file in the canonical layout, or checks that it is.
import { readFileSync } from 'node:fs';
import { renderDiagnostic } from '../diag/diagnostics.js';
import { formatSource } from '../fmt/format.js';
import { writeFilesAtomic } from './files.js';

export interface CommandIo {
  out(s: string): void;
  err(s: string): void;
}

/**
 * Exit codes: 0 formatted (or, with --check, already formatted); 1 syntax errors, or --check
 * found a file that would change (its name is printed); 2 the file cannot be read.
 */
export async function fmtCommand(
  file: string,
  opts: { check?: boolean },
  io: CommandIo,
): Promise<number> {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    io.err(
      code === 'ENOENT'
        ? `netc: no such file: ${file}`
        : `netc: cannot read ${file}: ${(e as Error).message}`,
    );
    return 2;
  }
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
