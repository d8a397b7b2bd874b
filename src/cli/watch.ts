// `netc build --watch`: builds, then builds again whenever the .net file or the weights file
// changes, printing each build's diagnostics; errors in the input do not stop it (Ctrl-C does).
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** A change arriving within this many ms of the previous one is the same save. */
const SETTLE_MS = 80;

/** The files' contents, hashed (a missing file hashes as missing). */
function fingerprint(files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    try {
      h.update(readFileSync(f));
    } catch {
      h.update(`missing ${f}`);
    }
    h.update('\0');
  }
  return h.digest('hex');
}

const clock = (): string => new Date().toTimeString().slice(0, 8);

/**
 * Runs `build(args)` now and after every change of `files`. Resolves (with 2) only when the first
 * build is a usage error; otherwise it runs until the process is stopped, or until `signal`
 * aborts (then it resolves with the last build's exit code).
 */
export async function watchBuild(
  args: readonly string[],
  files: readonly string[],
  io: Io,
  build: (args: readonly string[]) => Promise<number>,
  signal?: AbortSignal,
): Promise<number> {
  const shown = files.join(', ');
  let seen = fingerprint(files);
  let last = await build(args);
  if (last === 2) return 2;
  const report = (code: number): void =>
    io.err(
      code === 0
        ? `[${clock()}] netc: built ${files[0]}; watching ${shown} for changes (Ctrl-C to stop)`
        : `[${clock()}] netc: the build failed; watching ${shown} for changes (Ctrl-C to stop)`,
    );
  report(last);

  return new Promise<number>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let building = false;
    let again = false;
    const rebuild = async (): Promise<void> => {
      if (building) {
        again = true;
        return;
      }
      const now = fingerprint(files);
      if (now === seen) return; // an event without a change (an editor's second write)
      seen = now;
      building = true;
      io.err(`[${clock()}] netc: change detected, building again`);
      try {
        last = await build(args);
      } finally {
        building = false;
      }
      report(last);
      if (again) {
        again = false;
        void rebuild();
      }
    };
    const poke = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => void rebuild(), SETTLE_MS);
    };
    // Watch each file's directory, not the file: editors save by writing a new file and
    // renaming it over the old one, which ends a watch on the file itself.
    const watchers: FSWatcher[] = [];
    const dirs = new Map<string, Set<string>>();
    for (const f of files) {
      const dir = path.dirname(path.resolve(f));
      if (!dirs.has(dir)) dirs.set(dir, new Set());
      dirs.get(dir)!.add(path.basename(f));
    }
    for (const [dir, names] of dirs)
      watchers.push(
        watch(dir, (_event, name) => {
          if (name === null || names.has(name.toString())) poke();
        }),
      );
    signal?.addEventListener('abort', () => {
      for (const w of watchers) w.close();
      if (timer !== undefined) clearTimeout(timer);
      resolve(last);
    });
  });
}
