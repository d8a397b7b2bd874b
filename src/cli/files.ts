// Writing outputs whole or not at all: each file goes to a temporary name, then all are renamed.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface OutFile {
  readonly path: string;
  readonly data: string | Uint8Array;
}

export function writeFilesAtomic(files: readonly OutFile[]): void {
  const temps: string[] = [];
  try {
    for (const f of files) {
      mkdirSync(path.dirname(path.resolve(f.path)), { recursive: true });
      const tmp = `${f.path}.${process.pid}.tmp`;
      writeFileSync(tmp, f.data);
      temps.push(tmp);
    }
    files.forEach((f, i) => renameSync(temps[i]!, f.path));
  } catch (e) {
    for (const t of temps) rmSync(t, { force: true });
    throw e;
  }
}
