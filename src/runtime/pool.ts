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
  on(event: 'message', f: (v: unknown) => void): void;
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
 * What the workers do while the net loads (besides starting), through `control`, four words
 * of a SharedArrayBuffer: [READ_NEXT] the next chunk of the weight read to take, [GO] 0 while
 * the weights are being written, 1 once they are all in (prepare), 2 when the load failed
 * (stop), [PREPARE_NEXT] the next prepare part to take, [TOUCH_NEXT] the next run of fresh
 * pages to touch (from `touchFrom`: the prepared weights and activations).
 */
export interface LoadShare {
  readonly control: Int32Array;
  /** Node: the .wasm file (already checked by the calling thread) whose weight area every
   * thread reads chunks of, straight into the memory; null when the calling thread writes the
   * weights alone (browsers, `load({ weights })`, a copy from a live memory). */
  readonly file: WeightFile | null;
  /** The first byte of the memory that no weight read writes. */
  readonly touchFrom: number;
}

/** The weight area's place in the .wasm file, read by chunks of `chunk` bytes. */
export interface WeightFile {
  readonly href: string;
  readonly at: number;
  readonly bytes: number;
  /** The file's size, checked again by each worker. */
  readonly size: number;
  readonly chunk: number;
}

export const READ_NEXT = 0;
export const GO = 1;
export const PREPARE_NEXT = 2;
const TOUCH_NEXT = 3;
/** Pages per run of the workers' touches (of 4 KB, 1024 words). */
const TOUCH_PAGES = 64;

/**
 * A worker's code, given as text (no second file): it instantiates the module it is sent on the
 * shared memory, reads its share of the weights (`file`: chunks taken by an atomic add, the
 * calling thread taking them too), says so, waits until every weight is in (meanwhile writing
 * 0 over 0 once per fresh page from `touchFrom`, runs of pages taken by an atomic add: the
 * first-touch page faults are shared between cores), takes prepare parts (`preparePart`, where
 * the build has it) until none is left, touches the pages left, says so, then lives in its
 * `worker(tid, threads)` export until `stop()`. Node
 * (worker_threads, `eval`: a script, or a module under --input-type=module) and browsers (a
 * blob: URL) alike.
 */
const WORKER_SOURCE = `(async () => {
  const node = typeof process === 'object' && process.versions && process.versions.node;
  const port = node ? (await import('node:worker_threads')).parentPort : null;
  const post = (m) => (port ? port.postMessage(m) : self.postMessage(m));
  const text = (e) => String((e && e.message) || e);
  const start = async ({ module, memory, tid, threads, control: c, file, touchFrom }) => {
    let instance;
    try {
      instance = await WebAssembly.instantiate(module, { env: { memory } });
    } catch (e) {
      post({ ok: false, message: 'could not start: ' + text(e) });
      return;
    }
    if (file) {
      let fs;
      let fd = -1;
      try {
        fs = process.getBuiltinModule ? process.getBuiltinModule('node:fs') : await import('node:fs');
        fd = fs.openSync(new URL(file.href), 'r');
        if (fs.fstatSync(fd).size !== file.size) throw new Error(file.href + ' changed while it was read');
        const into = new Uint8Array(memory.buffer);
        for (let k; (k = Atomics.add(c, ${READ_NEXT}, 1)) * file.chunk < file.bytes; ) {
          const from = k * file.chunk;
          const n = Math.min(file.chunk, file.bytes - from);
          for (let done = 0; done < n; ) {
            const r = fs.readSync(fd, into, from + done, n - done, file.at + from + done);
            if (r === 0) throw new Error(file.href + ' changed while it was read');
            done += r;
          }
        }
      } catch (e) {
        Atomics.store(c, ${READ_NEXT}, 1 << 30);
        post({ ok: false, message: 'could not read the weights: ' + text(e) });
        return;
      } finally {
        if (fd >= 0) fs.closeSync(fd);
      }
    }
    post({ ok: true, read: true });
    // The fresh pages, a run at a time: a compare-exchange of 0 with 0 changes no value,
    // whatever another thread has written.
    const a = new Int32Array(memory.buffer);
    const touchRun = () => {
      const from = (touchFrom >> 2) + Atomics.add(c, ${TOUCH_NEXT}, 1) * ${TOUCH_PAGES * 1024};
      const to = Math.min(a.length, from + ${TOUCH_PAGES * 1024});
      for (let i = from; i < to; i += 1024) Atomics.compareExchange(a, i, 0, 0);
      return from < a.length;
    };
    while (Atomics.load(c, ${GO}) === 0) if (!touchRun()) Atomics.wait(c, ${GO}, 0);
    if (Atomics.load(c, ${GO}) !== 1) return;
    const part = instance.exports.preparePart;
    if (part) while (part(Atomics.add(c, ${PREPARE_NEXT}, 1)));
    while (touchRun());
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

/** Workers being started: `read` resolves once each has read its share of the weights,
 * `ready` once each has also taken its prepare parts (rejecting, the workers ended, if one
 * fails); `end()` ends them at any time. */
export interface Pool {
  readonly read: Promise<void>;
  readonly ready: Promise<Workers>;
  end(): void;
}

/** A promise and its settlers. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(e: Error): void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((y, n) => {
    resolve = y;
    reject = n;
  });
  return { promise, resolve, reject };
}

/**
 * Starts `threads - 1` workers, each instantiating `module` on `memory` (their thread ids 1..)
 * and taking its share of the load (`share`, see WORKER_SOURCE). Node's do not keep the
 * process alive once started. The workers are created before this returns (where Node can give
 * its modules at once), so their start-up overlaps what the caller does next; they change
 * nothing in `memory` but the weights they read, the prepared weights and their sync words
 * until a run starts (and write 0 over 0 once per page). `stop` is the instance's
 * export that makes workers return.
 */
export function startWorkers(
  module: unknown,
  memory: SharedMemory,
  threads: number,
  stop: () => void,
  share: LoadShare,
): Pool {
  const ends: (() => void)[] = [];
  const end = (): void => {
    stop();
    for (const e of ends.splice(0)) e();
  };
  const reads: Promise<void>[] = [];
  const readies: Promise<void>[] = [];
  /** Settles worker `w`'s promises from its messages; `done` once it has started or failed. */
  const watch = (done: () => void) => {
    const read = deferred();
    const ready = deferred();
    reads.push(read.promise);
    readies.push(ready.promise);
    const fail = (message: string): void => {
      const err = new Error(`load(): a worker thread ${message}`);
      read.reject(err);
      ready.reject(err);
      done();
    };
    return {
      message(m: unknown): void {
        const r = m as { ok: boolean; read?: boolean; message?: string };
        if (!r.ok) return fail(r.message ?? '');
        read.resolve();
        if (r.read) return;
        ready.resolve();
        done();
      },
      fail,
    };
  };
  const message = (tid: number) => ({
    module,
    memory,
    tid,
    threads,
    control: share.control,
    file: share.file,
    touchFrom: share.touchFrom,
  });
  const spawn = (Worker: NodeModules['Worker']): void => {
    for (let tid = 1; tid < threads; tid++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      ends.push(() => void w.terminate());
      // Started (or failed): it no longer keeps the process alive.
      const on = watch(() => w.unref());
      w.on('message', on.message);
      w.once('error', (e) => on.fail(`failed: ${String((e as Error)?.message ?? e)}`));
      w.once('exit', (code) => on.fail(`exited (code ${String(code)})`));
      w.postMessage(message(tid));
    }
  };
  let spawned: Promise<void>;
  if (isNode()) {
    const now = nodeModulesNow();
    if (now) {
      spawn(now.Worker);
      spawned = Promise.resolve();
    } else spawned = nodeModules().then((m) => spawn(m.Worker));
  } else {
    const e = env();
    const url = e.URL!.createObjectURL(new e.Blob!([WORKER_SOURCE], { type: 'text/javascript' }));
    for (let tid = 1; tid < threads; tid++) {
      const w = new e.Worker!(url);
      ends.push(() => w.terminate());
      const on = watch(() => undefined);
      w.onmessage = (m) => on.message(m.data);
      w.onerror = (ev) => on.fail(`failed: ${ev.message ?? 'error'}`);
      w.postMessage(message(tid));
    }
    spawned = Promise.allSettled(reads).then(() => e.URL!.revokeObjectURL(url));
  }
  const all = (list: Promise<void>[]): Promise<void> =>
    spawned
      .then(() => Promise.all(list))
      .then(
        () => undefined,
        (err: unknown) => {
          end();
          throw err;
        },
      );
  const read = all(reads);
  const ready = all(readies).then(() => ({ end }));
  // Awaited by the caller; marked handled so that a failure while it is busy is not reported
  // as unhandled.
  read.catch(() => undefined);
  ready.catch(() => undefined);
  return { read, ready, end };
}
