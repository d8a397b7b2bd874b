// Writing outputs whole or not at all: each file goes to a temporary name, then all are renamed.
import {
  readFileSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
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

/** A file that cannot be written (a directory where a file goes, a file where a directory
 * goes, no permission, no space): a problem of the user's disk, not a netc bug. */
export class WriteError extends Error {}

/** Writes every file or none; a failure is a `WriteError` naming the file, with its reason. */
export function writeFilesAtomic(files: readonly OutFile[]): void {
  let current = '';
  try {
    writeAll(files, (p) => (current = p));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw e;
    const why: Record<string, string> = {
      ENOTDIR: 'a part of its directory is a file, not a directory',
      EEXIST: 'a part of its directory is a file, not a directory',
      EISDIR: 'it is a directory',
      EACCES: 'permission denied',
      EPERM: 'permission denied',
      ENOSPC: 'no space left on the device',
      EROFS: 'the file system is read-only',
      ENAMETOOLONG: 'its name is too long',
    };
    throw new WriteError(`cannot write ${current}: ${why[code] ?? (e as Error).message}`);
  }
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

function writeAll(files: readonly OutFile[], writing: (path: string) => void): void {
  const temps: string[] = [];
  try {
    for (const f of files) {
      writing(f.path);
      mkdirSync(path.dirname(path.resolve(f.path)), { recursive: true });
      removeStaleTemps(f.path);
      const tmp = tempName(f.path, process.pid);
      writeFileSync(tmp, f.data);
      temps.push(tmp);
    }
    // A directory where a file goes fails the rename: found before any file is replaced.
    for (const f of files) {
      writing(f.path);
      if (isDirectory(f.path))
        throw Object.assign(new Error(`${f.path} is a directory`), { code: 'EISDIR' });
    }
    files.forEach((f, i) => {
      writing(f.path);
      renameSync(temps[i]!, f.path);
    });
  } catch (e) {
    for (const t of temps) rmSync(t, { force: true });
    throw e;
  }
}

/** Where a command writes: standard output and standard error, one line per call. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

/**
 * A command's input file: its text (`'utf8'`) or bytes. On failure reports `netc: no such file`
 * or `netc: cannot read` and returns undefined (bad usage, exit 2).
 */
export function readInput(file: string, io: CommandIo, encoding: 'utf8'): string | undefined;
export function readInput(file: string, io: CommandIo): Uint8Array | undefined;
export function readInput(
  file: string,
  io: CommandIo,
  encoding?: 'utf8',
): string | Uint8Array | undefined {
  try {
    return encoding ? readFileSync(file, encoding) : new Uint8Array(readFileSync(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    io.err(
      code === 'ENOENT'
        ? `netc: no such file: ${file}`
        : `netc: cannot read ${file}: ${(e as Error).message}`,
    );
    return undefined;
  }
}
