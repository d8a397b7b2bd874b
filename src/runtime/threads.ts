// The module API around a loaded network, inlined into every generated module: the `threads`
// option of load() (checked, resolved against the environment), and the Net a load() returns
// (run, threads, dispose). No imports but the runtime's own.
import type { Net, Tensors } from './net.js';

/** The most threads a module runs on (explicit counts above are a RangeError). */
export const MAX_THREADS = 16;

/** What load({ threads }) asks for: a count, or 'auto'. */
export type ThreadsOption = number | 'auto';

/** Checks load()'s `threads` option: an integer from 1 to MAX_THREADS, or 'auto' (the default). */
export function threadsOption(options: unknown): ThreadsOption {
  const t =
    options !== undefined && options !== null
      ? (options as { threads?: unknown }).threads
      : undefined;
  if (t === undefined || t === 'auto') return 'auto';
  if (typeof t === 'number' && Number.isInteger(t) && t >= 1 && t <= MAX_THREADS) return t;
  const got = typeof t === 'string' ? JSON.stringify(t) : typeof t === 'number' ? t : typeof t;
  throw new RangeError(
    `load({ threads }) takes an integer from 1 to ${MAX_THREADS} or 'auto', got ${got}`,
  );
}

/** Ends the workers of nets dropped without dispose() once they are collected (where the
 * engine has FinalizationRegistry). */
const collected =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<() => void>((end) => end())
    : null;

/** A loaded network: `run` until `dispose()`, after which run() throws; `end` frees what the
 * net holds (its workers), once: at dispose(), or when the net is collected. */
export function makeNet(
  run: (feeds: unknown, into?: unknown) => Tensors,
  threads: number,
  end: (() => void) | null = null,
): Net {
  let disposed = false;
  const net: Net = Object.freeze({
    run(feeds: unknown, into?: unknown): Tensors {
      if (disposed) throw new Error('this net was disposed: load() the module again to run it');
      return run(feeds, into);
    },
    threads,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      if (end) {
        collected?.unregister(net);
        end();
      }
    },
  });
  if (end) collected?.register(net, end, net);
  return net;
}
