// The thread pool of the wasm target's threads build, inlined into its generated modules: how
// many threads a load() gets, the shared memory, and the workers (worker_threads in Node, Web
// Workers in browsers), started from code this module carries as text. No imports but the
// runtime's own.
import type { ThreadsOption } from './threads.js';

/** Where the threads build is in the .wasm file and how its memory is laid out (see
 * ThreadMemory in codegen/wasm/emit.ts): thread `tid`'s scratch is at
 * `scratchAt + tid * scratchBytes`, and the memory ends after the last thread's. */
export interface ThreadsLayout {
  readonly syncAt: number;
  readonly scratchAt: number;
  readonly scratchBytes: number;
  readonly maxPages: number;
  readonly maxThreads: number;
  /** The most parts any phase has. */
  readonly widest: number;
  /** The most threads 'auto' takes: `widest`, or 1 for a network whose split layers are too
   * small to repay starting workers (decided at build time from their multiply-adds). */
  readonly auto: number;
  /** Bytes [plainAt, plainAt + plainBytes) of the file: the threads build; [relaxedAt,
   * relaxedAt + relaxedBytes): its relaxed SIMD form, a delta against it (delta.ts). */
  readonly plainAt: number;
  readonly plainBytes: number;
  readonly relaxedAt: number;
  readonly relaxedBytes: number;
}

/** The globals this file looks at (any of them may be missing). */
interface Env {
  process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown };
  crossOriginIsolated?: boolean;
  SharedArrayBuffer?: unknown;
  navigator?: { hardwareConcurrency?: number };
  document?: unknown;
  Worker?: new (url: string) => BrowserWorker;
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string; revokeObjectURL(url: string): void };
}

const env = (): Env => globalThis as Env;
const isNode = (): boolean => env().process?.versions?.node !== undefined;

/** Node's worker_threads and os, as far as this file uses them. */
interface NodeWorker {
  postMessage(message: unknown): void;
  once(event: 'message' | 'error' | 'exit', f: (v: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}
interface NodeModules {
  Worker: new (code: string, options: { eval: true }) => NodeWorker;
  cores: number;
}
interface BrowserWorker {
  postMessage(message: unknown): void;
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: { message?: string }) => void) | null;
  terminate(): void;
}

/** Node's modules (process.getBuiltinModule: Node 20.16+, else a dynamic import). */
async function nodeModules(): Promise<NodeModules> {
  const get = async (id: string): Promise<unknown> =>
    env().process?.getBuiltinModule?.(id) ?? (await import(id));
  return modulesOf(await get('node:worker_threads'), await get('node:os'));
}

/** Node's modules now, where process.getBuiltinModule has them (else null). */
function nodeModulesNow(): NodeModules | null {
  const get = env().process?.getBuiltinModule;
  return get ? modulesOf(get('node:worker_threads'), get('node:os')) : null;
}

function modulesOf(wt: unknown, os: unknown): NodeModules {
  const o = os as { availableParallelism?: () => number; cpus(): unknown[] };
  return {
    Worker: (wt as { Worker: NodeModules['Worker'] }).Worker,
    cores: o.availableParallelism?.() ?? o.cpus().length,
  };
}

/** Whether a shared WebAssembly.Memory can be made and sent to workers here. */
function sharedMemoryUsable(): boolean {
  const e = env();
  if (typeof e.SharedArrayBuffer !== 'function') return false;
  if (isNode()) return true;
  return e.crossOriginIsolated === true && typeof e.Worker === 'function';
}

/**
 * The threads a load() runs on: an explicit count, or for 'auto' the cores (at most 8) where
 * shared memory is usable, never more than the network's widest phase, and 1 for a network too
 * small to gain from workers (`layout.auto`); 1 for a module without a threads build. An explicit count above 1 that the environment cannot give is an Error.
 */
export async function resolveThreads(
  want: ThreadsOption,
  layout: ThreadsLayout | null,
): Promise<number> {
  if (want === 1) return 1;
  if (!sharedMemoryUsable()) {
    if (want === 'auto') return 1;
    throw new Error(
      `load({ threads: ${want} }) needs shared memory (SharedArrayBuffer), which this page does not have: serve it cross-origin isolated, with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (or load with threads: 1 or 'auto')`,
    );
  }
  if (layout === null) return 1;
  if (want !== 'auto') return Math.min(want, layout.maxThreads);
  if (layout.auto <= 1) return 1;
  const cores = isNode()
    ? (await nodeModules()).cores
    : (env().navigator?.hardwareConcurrency ?? 1);
  return Math.max(1, Math.min(cores, 8, layout.auto, layout.maxThreads));
}

/** A shared WebAssembly.Memory, as far as this file uses it. */
export interface SharedMemory {
  readonly buffer: ArrayBufferLike;
}

/** The shared memory of a threads build for `threads` threads. */
export function sharedMemory(layout: ThreadsLayout, threads: number): SharedMemory {
  const bytes = layout.scratchAt + threads * layout.scratchBytes;
  const wasm = (globalThis as { WebAssembly?: { Memory: new (d: object) => SharedMemory } })
    .WebAssembly!;
  return new wasm.Memory({
    initial: Math.ceil(bytes / 65536),
    maximum: layout.maxPages,
    shared: true,
  });
}

/** Whether this thread may block in memory.atomic.wait32 (a browser page's main thread may
 * not: it spins at the barrier instead). */
export const canWait = (): boolean => isNode() || env().document === undefined;

/**
 * A worker's code, given as text (no second file): it instantiates the module it is sent on the
 * shared memory, says so, then lives in its `worker(tid, threads)` export until `stop()`.
 * Node (worker_threads, `eval`: a script, or a module under --input-type=module) and browsers
 * (a blob: URL) alike.
 */
const WORKER_SOURCE = `(async () => {
  const node = typeof process === 'object' && process.versions && process.versions.node;
  const port = node ? (await import('node:worker_threads')).parentPort : null;
  const post = (m) => (port ? port.postMessage(m) : self.postMessage(m));
  const start = async ({ module, memory, tid, threads, touch }) => {
    let instance;
    try {
      instance = await WebAssembly.instantiate(module, { env: { memory } });
    } catch (e) {
      post({ ok: false, message: String((e && e.message) || e) });
      return;
    }
    if (touch) {
      // Every page of the fresh memory written once, from the end, while the calling thread
      // reads the weights from the start: its first-touch page faults are taken on two
      // cores. A compare-exchange of 0 with 0 changes no value, whatever the other thread
      // has written.
      const a = new Int32Array(memory.buffer);
      for (let i = a.length - 1024; i >= 0; i -= 1024) Atomics.compareExchange(a, i, 0, 0);
    }
    post({ ok: true });
    instance.exports.worker(tid, threads);
    if (port) port.close();
    else self.close();
  };
  if (port) port.once('message', start);
  else self.onmessage = (e) => start(e.data);
})();
`;

/** The workers of a loaded net: `end()` stops and ends them. */
export interface Workers {
  end(): void;
}

/**
 * Starts `threads - 1` workers, each instantiating `module` on `memory` (their thread ids 1..);
 * resolves once all have, rejects if one cannot. Node's do not keep the process alive. The
 * workers are created before the first await, so their start-up overlaps what the caller does
 * next; they change nothing in `memory` but their sync words until a run starts (the first
 * writes 0 over 0 once per page, so the memory's page faults are not all the caller's).
 * `stop` is the instance's export that makes workers return.
 */
export async function startWorkers(
  module: unknown,
  memory: SharedMemory,
  threads: number,
  stop: () => void,
): Promise<Workers> {
  const ends: (() => void)[] = [];
  const end = (): void => {
    stop();
    for (const e of ends.splice(0)) e();
  };
  const started: Promise<void>[] = [];
  const failed = (message: string): Error =>
    new Error(`load(): a worker thread could not start: ${message}`);
  if (isNode()) {
    // The workers are created before this function first awaits (where Node can give its
    // modules at once), so they start while the caller goes on (reading weights).
    const { Worker } = nodeModulesNow() ?? (await nodeModules());
    for (let tid = 1; tid < threads; tid++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      ends.push(() => void w.terminate());
      started.push(
        new Promise<void>((resolve, reject) => {
          w.once('message', (m) => {
            const r = m as { ok: boolean; message?: string };
            if (r.ok) resolve();
            else reject(failed(r.message ?? ''));
            // Started (or failed): it no longer keeps the process alive.
            w.unref();
          });
          w.once('error', (e) => reject(failed(String((e as Error)?.message ?? e))));
        }),
      );
      w.postMessage({ module, memory, tid, threads, touch: tid === 1 });
    }
  } else {
    const e = env();
    const url = e.URL!.createObjectURL(new e.Blob!([WORKER_SOURCE], { type: 'text/javascript' }));
    for (let tid = 1; tid < threads; tid++) {
      const w = new e.Worker!(url);
      ends.push(() => w.terminate());
      started.push(
        new Promise<void>((resolve, reject) => {
          w.onmessage = (m) => {
            const r = m.data as { ok: boolean; message?: string };
            if (r.ok) resolve();
            else reject(failed(r.message ?? ''));
          };
          w.onerror = (ev) => reject(failed(ev.message ?? 'error'));
        }),
      );
      w.postMessage({ module, memory, tid, threads, touch: tid === 1 });
    }
    started.push(Promise.allSettled(started).then(() => e.URL!.revokeObjectURL(url)));
  }
  try {
    await Promise.all(started);
  } catch (err) {
    end();
    throw err;
  }
  return { end };
}
