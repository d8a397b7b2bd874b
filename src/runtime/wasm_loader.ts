// The wasm target's load(), inlined into its generated modules: reads the .wasm file (Node's
// file system, or fetch), compiles its relaxed SIMD build where the engine has it, instantiates.
// No imports but the runtime's own.
import { bytesOf, makeRun, writeWeights } from './loader.js';
import type { LoadOptions, Net, NetData } from './net.js';
import { makeNet, threadsOption } from './threads.js';
import { applyDelta } from './delta.js';
import {
  canWait,
  GO,
  PREPARE_NEXT,
  READ_NEXT,
  resolveThreads,
  sharedMemory,
  startWorkers,
  type ThreadsLayout,
  type WeightFile,
} from './pool.js';

/**
 * The WebAssembly API this file uses (lib.dom has it, the compiler's Node types do not): a local
 * declaration of the global, so the global is what runs, looked up at each call.
 */
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<{ exports: Record<string, unknown> }>;
  Module: new (bytes: Uint8Array) => WasmModule;
};
interface WasmModule {
  readonly __wasmModule?: never;
}

/** Where the parts of a built .wasm file are (codegen/wasm/weights_section.ts writes it). */
export interface WasmLayout {
  /** Bytes [0, codeBytes): the code module, compiled alone. */
  readonly codeBytes: number;
  /** Bytes [relaxedAt, relaxedAt + relaxedBytes): the same code with relaxed SIMD, for
   * engines that have it, as a delta against the code module (src/runtime/delta.ts) in the
   * payload of a custom section, "netc.relaxed". */
  readonly relaxedAt: number;
  readonly relaxedBytes: number;
  /** The threads build (shared memory; custom sections "netc.threads" and
   * "netc.threads.relaxed"), or null when no layer of the network is split. */
  readonly threads: ThreadsLayout | null;
  /** Bytes [weightsAt - header.length, weightsAt): the weights section's id, size and name. */
  readonly header: readonly number[];
  readonly weightsAt: number;
  /** Bytes [weightsAt, weightsAt + weightBytes): the weight area (raw little-endian f32),
   * read straight into memory at byte 0. */
  readonly weightBytes: number;
  readonly fileBytes: number;
}

/** The compiled code part and a reader of the built-in weights into a memory. */
export interface WasmParts {
  readonly module: WasmModule;
  /** Writes the weight area at the start of a memory: the stored weights read from the file,
   * or a copy of the first `prepared` bytes of the memory last kept (`keep`) while it is
   * alive, its prepared weights included (then it returns true: no prepare to run). */
  readonly weights: (memory: ArrayBufferLike, prepared: number) => boolean;
  /** Later loads may copy the weights from `memory` (its weights read and prepared). */
  readonly keep: (memory: ArrayBufferLike) => void;
  /** The weights section's bytes (a safetensors file, when the module stores them so). */
  readonly bytes: () => Uint8Array;
  /** The threads build compiled (on first use), relaxed where the code is. */
  readonly threaded: () => Promise<WasmModule>;
  /** Node, when `weights(memory)` would read the file: the file opened and checked, for a read
   * split between threads (each reads chunks of the weight area straight into `memory`);
   * otherwise null (`weights` copies, or the bytes are already in memory). */
  readonly split?: (memory: ArrayBufferLike) => SplitRead | null;
}

/** A weight read split between threads: `file` for the workers; `read(next)` reads the chunks
 * `next()` gives on this thread, `close()` closes the file. */
export interface SplitRead {
  readonly file: WeightFile;
  read(next: () => number): void;
  close(): void;
}

/** Bytes per chunk of a split weight read. */
const CHUNK = 1 << 21;

/** The part of node:fs the loader reads the file with. */
interface FileSystem {
  openSync(path: URL, flags: 'r'): number;
  readSync(fd: number, into: Uint8Array, offset: number, length: number, position: number): number;
  fstatSync(fd: number): { size: number };
  closeSync(fd: number): void;
}

/** Throws unless the .wasm file is the one built with this module (its size, its section). */
function checkWasm(layout: WasmLayout, url: URL, size: number, header: Uint8Array): void {
  if (size !== layout.fileBytes || layout.header.some((b, i) => header[i] !== b))
    throw new Error(
      `${url} is not the .wasm file built with this module (${size} bytes, expected ${layout.fileBytes} ending in its weights): build again and keep the files together`,
    );
}

/** Node: the .wasm file opened, and checked (closed again if it is not ours). */
function openWasm(layout: WasmLayout, fs: FileSystem, url: URL): number {
  const fd = fs.openSync(url, 'r');
  try {
    const header = new Uint8Array(layout.header.length);
    fs.readSync(fd, header, 0, header.length, layout.weightsAt - header.length);
    checkWasm(layout, url, fs.fstatSync(fd).size, header);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/** Node: bytes [at, at + n) of the open file into `into` from `offset`, whole. */
function readAt(
  fs: FileSystem,
  fd: number,
  url: URL,
  into: Uint8Array,
  offset: number,
  n: number,
  at: number,
): void {
  for (let done = 0; done < n;) {
    const r = fs.readSync(fd, into, offset + done, n - done, at + done);
    if (r === 0) throw new Error(`${url} changed while it was read`);
    done += r;
  }
}

/** Node: bytes [at, at + into.length) of the .wasm file into `into`, the file checked first. */
function readWasm(
  layout: WasmLayout,
  fs: FileSystem,
  url: URL,
  at: number,
  into: Uint8Array,
): Uint8Array {
  const fd = openWasm(layout, fs, url);
  try {
    readAt(fs, fd, url, into, 0, into.length, at);
  } finally {
    fs.closeSync(fd);
  }
  return into;
}

/** Node: the weights section of the .wasm file, read anew. */
function weightSection(layout: WasmLayout, fs: FileSystem, url: URL): Uint8Array {
  return readWasm(layout, fs, url, layout.weightsAt, new Uint8Array(layout.weightBytes));
}

/** Where a build's code is in the .wasm file: the plain SIMD module, then its relaxed SIMD
 * form as a delta against it. */
interface Build {
  readonly plainAt: number;
  readonly plainBytes: number;
  readonly relaxedAt: number;
  readonly relaxedBytes: number;
}

/** The one-thread build's place in the file. */
const oneThread = (layout: WasmLayout): Build => ({
  plainAt: 0,
  plainBytes: layout.codeBytes,
  relaxedAt: layout.relaxedAt,
  relaxedBytes: layout.relaxedBytes,
});

/** How many bytes from its start a build's code needs: through its relaxed delta where the
 * engine takes relaxed SIMD. */
function codeEnd(b: Build): number {
  return relaxedSimd() ? b.relaxedAt + b.relaxedBytes : b.plainAt + b.plainBytes;
}

/**
 * The code to compile, from `read(at, n)` over the file: the relaxed SIMD build (multiply-adds
 * fused where the hardware can), made from the plain one and its delta, when the engine
 * validates a relaxed SIMD instruction; else the plain SIMD one. The relaxed build of the
 * threads code goes with the relaxed one-thread build, so results are the same bit for bit at
 * every thread count.
 */
function codeOf(b: Build, read: (at: number, n: number) => Uint8Array): Uint8Array {
  if (!relaxedSimd()) return read(b.plainAt, b.plainBytes);
  const span = read(b.plainAt, b.relaxedAt + b.relaxedBytes - b.plainAt);
  return applyDelta(span.subarray(0, b.plainBytes), span.subarray(b.relaxedAt - b.plainAt));
}

/** Whether the engine validates a relaxed SIMD instruction (a module with one function
 * computing f32x4.relaxed_madd). */
function relaxedSimd(): boolean {
  const probe = [
    0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0,
    32, 0, 32, 0, 253, 133, 2, 11,
  ];
  return WebAssembly.validate(new Uint8Array(probe));
}

/** Compiles bytes [at, at + n) of the file once, on first use. */
function once(make: () => Promise<WasmModule>): () => Promise<WasmModule> {
  let made: Promise<WasmModule> | undefined;
  return () => (made ??= make());
}

/** Node's process, where there is one. */
type Process = { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown };

/** The .wasm file's code compiled and a reader of its weights (one attempt). */
async function compile(layout: WasmLayout, where: () => URL): Promise<WasmParts> {
  const url = where();
  const proc = (globalThis as { process?: Process }).process;
  if (url.protocol === 'file:' && proc?.versions?.node) {
    // Synchronous reads and compile (of the small code part): no thread-pool round trips.
    // process.getBuiltinModule: Node 20.16+ and 22.3+.
    const fs = (proc.getBuiltinModule?.('node:fs') ??
      (await import('node:fs'))) as unknown as FileSystem;
    const read = (at: number, n: number): Uint8Array =>
      readWasm(layout, fs, url, at, new Uint8Array(n));
    const module = new WebAssembly.Module(codeOf(oneThread(layout), read));
    // Later loads copy the weights, prepared, from the memory that last read and prepared
    // them while it is alive (no kernel writes below the weight area's end, where the memory
    // planner's arena starts, so they stay as prepared). It is held weakly: a dropped net's
    // memory is not kept for this, and the next load reads the file again.
    let last: WeakRef<ArrayBufferLike> | null = null;
    const weights = (memory: ArrayBufferLike, prepared: number): boolean => {
      const from = last?.deref();
      if (from) new Uint8Array(memory, 0, prepared).set(new Uint8Array(from, 0, prepared));
      else
        readWasm(layout, fs, url, layout.weightsAt, new Uint8Array(memory, 0, layout.weightBytes));
      return from !== undefined;
    };
    const keep = (memory: ArrayBufferLike): void => void (last = new WeakRef(memory));
    const threaded = once(async () => new WebAssembly.Module(codeOf(layout.threads!, read)));
    const split = (memory: ArrayBufferLike): SplitRead | null => {
      if (last?.deref()) return null;
      const fd = openWasm(layout, fs, url);
      const file: WeightFile = {
        href: url.href,
        at: layout.weightsAt,
        bytes: layout.weightBytes,
        size: layout.fileBytes,
        chunk: CHUNK,
      };
      const into = new Uint8Array(memory, 0, layout.weightBytes);
      return {
        file,
        read(next: () => number): void {
          for (let k; (k = next()) * CHUNK < file.bytes;) {
            const from = k * CHUNK;
            readAt(fs, fd, url, into, from, Math.min(CHUNK, file.bytes - from), file.at + from);
          }
        },
        close: () => fs.closeSync(fd),
      };
    };
    return { module, weights, keep, bytes: () => weightSection(layout, fs, url), threaded, split };
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: ${response.status}`);
  // The code comes first in the file: it compiles while the rest (the weights) downloads.
  const one = oneThread(layout);
  // (async: a delta that does not apply rejects, judged after the file is checked)
  const code = async (b: Uint8Array): Promise<WasmModule> =>
    WebAssembly.compile(codeOf(one, (at, n) => b.subarray(at, at + n)));
  let compiling: Promise<WasmModule> | undefined;
  const { bytes, size } = await download(response, layout.fileBytes, codeEnd(one), (b) => {
    compiling = code(b);
    compiling.catch(() => undefined); // awaited below, once the file is known to be ours
  });
  checkWasm(
    layout,
    url,
    size,
    bytes.subarray(layout.weightsAt - layout.header.length, layout.weightsAt),
  );
  const module = await (compiling ?? code(bytes));
  return {
    module,
    weights: (memory: ArrayBufferLike): boolean => {
      new Uint8Array(memory, 0, layout.weightBytes).set(bytes.subarray(layout.weightsAt));
      return false;
    },
    keep: () => undefined,
    bytes: () => bytes.subarray(layout.weightsAt),
    threaded: once(async () =>
      WebAssembly.compile(codeOf(layout.threads!, (at, n) => bytes.subarray(at, at + n))),
    ),
  };
}

/** A response's body read into one buffer of the `expected` size (its size counted, however
 * large: checkWasm judges it), calling `ready` once its first `first` bytes are in. */
async function download(
  response: Response,
  expected: number,
  first: number,
  ready: (bytes: Uint8Array) => void,
): Promise<{ bytes: Uint8Array; size: number }> {
  const reader = response.body?.getReader();
  if (reader === undefined) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { bytes, size: bytes.length };
  }
  const bytes = new Uint8Array(expected);
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.length <= expected) bytes.set(value, size);
    const had = size;
    size += value.length;
    if (had < first && size >= first && size <= expected) ready(bytes);
  }
  return { bytes, size };
}

/**
 * The .wasm file at `url()` (the module's `new URL('./NAME.wasm', import.meta.url)`, which
 * bundlers see): its code compiled once, on first use, and its built-in weights (file system in
 * Node, read straight into the first memory that needs them; fetch in browsers).
 */
export function wasmFile(layout: WasmLayout, url: () => URL): () => Promise<WasmParts> {
  let compiled: Promise<WasmParts> | undefined;
  return () => {
    if (compiled !== undefined) return compiled;
    const attempt = compile(layout, url);
    // A failure (a missing file, a failed fetch) is not kept: the next load() tries again.
    compiled = attempt;
    attempt.catch(() => {
      if (compiled === attempt) compiled = undefined;
    });
    return attempt;
  };
}

/** A network instantiated from the .wasm file, with its built-in weights or `options.weights`
 * (a safetensors file's bytes, unfolded). */
export async function load(
  net: NetData,
  layout: WasmLayout,
  file: () => Promise<WasmParts>,
  options: LoadOptions | null | undefined,
): Promise<Net> {
  const threads = await resolveThreads(threadsOption(options), layout.threads);
  const wasm = await file();
  if (threads > 1) return loadThreaded(net, layout.threads!, wasm, options, threads);
  const instance = await WebAssembly.instantiate(wasm.module, {});
  const memory = instance.exports['memory'] as { readonly buffer: ArrayBuffer };
  const M = new Float32Array(memory.buffer, 0, net.memoryFloats);
  const given = options !== undefined && options !== null ? options.weights : undefined;
  // Weight transforms (Winograd's) from the weights now in memory, once (unless copied).
  if (given !== undefined) writeWeights(M, bytesOf(given), net);
  if (given !== undefined || !wasm.weights(memory.buffer, net.weightFloats * 4))
    (instance.exports['prepare'] as () => void)();
  if (given === undefined) wasm.keep(memory.buffer);
  const compute = instance.exports['run'] as () => void;
  const slice = instance.exports['slice'] as (i: number) => void;
  return makeNet(
    makeRun(net.spec, () => M, compute, slice),
    1,
  );
}

/** load() on `threads` threads: the threads build on a shared memory, instantiated by this
 * thread (which takes a share of each run) and by threads - 1 workers. In Node, every thread
 * reads chunks of the built-in weights from the file; the prepare parts are shared likewise. */
async function loadThreaded(
  net: NetData,
  t: ThreadsLayout,
  wasm: WasmParts,
  options: LoadOptions | null | undefined,
  threads: number,
): Promise<Net> {
  const module = await wasm.threaded();
  const memory = sharedMemory(t, threads);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as Record<string, (...args: number[]) => number>;
  const given = options !== undefined && options !== null ? options.weights : undefined;
  const split = given === undefined ? (wasm.split?.(memory.buffer) ?? null) : null;
  const control = new Int32Array(new SharedArrayBuffer(16));
  // The workers start (each instantiates the module, then reads its share) while this thread
  // writes the weights: their start-up is off the critical path.
  const pool = startWorkers(module, memory, threads, exports['stop']!, {
    control,
    file: split?.file ?? null,
    touchFrom: net.storedFloats * 4,
  });
  let workers;
  try {
    const M = new Float32Array(memory.buffer, 0, net.memoryFloats);
    let prepared = false;
    if (given !== undefined) writeWeights(M, bytesOf(given), net);
    else if (split) {
      try {
        split.read(() => Atomics.add(control, READ_NEXT, 1));
      } finally {
        split.close();
      }
    } else prepared = wasm.weights(memory.buffer, net.weightFloats * 4);
    await pool.read;
    // Every weight is in: the transforms (Winograd's), their parts taken by every thread, or
    // in order by this one (while the workers touch the fresh pages).
    const part = exports['preparePart'];
    if (prepared || !part) Atomics.store(control, PREPARE_NEXT, 1 << 30);
    Atomics.store(control, GO, 1);
    Atomics.notify(control, GO);
    if (!prepared) {
      if (part) while (part(Atomics.add(control, PREPARE_NEXT, 1)));
      else exports['prepare']!();
    }
    workers = await pool.ready;
    if (given === undefined) wasm.keep(memory.buffer);
  } catch (err) {
    // Bad weights, or a worker that could not start or read: the workers are ended.
    Atomics.store(control, READ_NEXT, 1 << 30);
    Atomics.store(control, GO, 2);
    Atomics.notify(control, GO);
    pool.end();
    throw err;
  }
  const M = new Float32Array(memory.buffer, 0, net.memoryFloats);
  const run = exports['run']!;
  const wait = canWait() ? 1 : 0;
  const slice = exports['slice']!;
  return makeNet(
    makeRun(
      net.spec,
      () => M,
      () => void run(threads, wait),
      slice,
    ),
    threads,
    workers.end,
  );
}
