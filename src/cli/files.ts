// Writing outputs whole or not at all: each file goes to a temporary name, then all are renamed.
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface OutFile {
  readonly path: string;
  readonly data: string | Uint8Array;
}

/** `NAME.PID.tmp`: the temporary name of NAME while process PID writes it. */
const tempName = (file: string, pid: number): string => `${file}.${pid}.tmp`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the temporary files of `file` that a killed netc left behind (their process is gone). */
function removeStaleTemps(file: string): void {
  const dir = path.dirname(path.resolve(file));
  const base = path.basename(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(`${base}.`) || !n.endsWith('.tmp')) continue;
    const pid = Number(n.slice(base.length + 1, -4));
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid))
      rmSync(path.join(dir, n), { force: true });
  }
}

export function writeFilesAtomic(files: readonly OutFile[]): void {
  const temps: string[] = [];
  try {
    for (const f of files) {
      mkdirSync(path.dirname(path.resolve(f.path)), { recursive: true });
      removeStaleTemps(f.path);
      const tmp = tempName(f.path, process.pid);
      writeFileSync(tmp, f.data);
      temps.push(tmp);
    }
    files.forEach((f, i) => renameSync(temps[i]!, f.path));
  } catch (e) {
    for (const t of temps) rmSync(t, { force: true });
    throw e;
  }
}
