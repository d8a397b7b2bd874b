// Runtime support inlined into every generated module: argument checks, the batch loop, and
// loading weights (unfolded safetensors -> folded, packed memory). Node and browsers; no imports
// but the runtime's own.
import { evalWeightExpr } from './evaluate.js';
import { loadWeights } from './safetensors.js';
import type { IoSpec, LoadOptions, NetData, NetSpec, Tensors } from './net.js';

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Sets an own, enumerable property, even for names like `__proto__`. */
function put<T>(o: Record<string, T>, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** A frozen record of shapes for the `inputs` and `outputs` exports. */
export function shapeRecord(list: readonly IoSpec[]): Record<string, readonly number[]> {
  const r: Record<string, readonly number[]> = {};
  for (const io of list) put(r, io.name, Object.freeze([...io.shape]));
  return Object.freeze(r);
}

const showShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** What a value is, for a message: `an Array`, `a Float64Array`, `null`, `a string`. */
function kindOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an Array';
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  const t = typeof x;
  return t === 'undefined' ? 'undefined' : `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}`;
}

/** run() called with something other than an object of named inputs. */
function feedsMessage(spec: NetSpec, feeds: unknown): string {
  const names = spec.inputs.map((i) => JSON.stringify(i.name));
  const key = (n: string): string => (/^[A-Za-z_$][\w$]*$/.test(n) ? n : JSON.stringify(n));
  const example = `{ ${spec.inputs.map((i) => `${key(i.name)}: x`).join(', ')} }`;
  return (
    `run() takes an object of named inputs (${names.join(', ')}), got ${kindOf(feeds)}` +
    (ArrayBuffer.isView(feeds) || Array.isArray(feeds) ? `: call run(${example})` : '')
  );
}

/** A feed that is not a Float32Array: says what it is, and how to convert arrays of numbers. */
function notFloat32(what: string, x: unknown): string {
  const numbers = Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
  return (
    `${what} must be a Float32Array, got ${kindOf(x)}` +
    (numbers ? '; convert it with Float32Array.from(...)' : '')
  );
}

/** Checks the feeds and returns the batch size (RangeError and TypeError as the contract says). */
function batchOf(spec: NetSpec, feeds: unknown): number {
  if (
    typeof feeds !== 'object' ||
    feeds === null ||
    ArrayBuffer.isView(feeds) ||
    Array.isArray(feeds)
  )
    throw new TypeError(feedsMessage(spec, feeds));
  for (const k of Object.keys(feeds))
    if (!spec.inputs.some((i) => i.name === k))
      throw new TypeError(
        `network ${spec.name} has no input ${JSON.stringify(k)}; its inputs are ${spec.inputs.map((i) => JSON.stringify(i.name)).join(', ')}`,
      );
  let batch = -1;
  let first = '';
  for (const io of spec.inputs) {
    const what = `input ${JSON.stringify(io.name)} (per example ${showShape(io.shape)}, ${io.size} values)`;
    if (!own(feeds, io.name)) throw new RangeError(`missing ${what}`);
    const x = (feeds as Tensors)[io.name];
    if (!(x instanceof Float32Array)) throw new TypeError(notFloat32(what, x));
    if (x.length === 0 || x.length % io.size !== 0)
      throw new RangeError(
        `${what} needs a positive multiple of ${io.size} values, got ${x.length}`,
      );
    const b = x.length / io.size;
    if (spec.batch !== null && b !== spec.batch)
      throw new RangeError(
        `${what}: network ${spec.name} has a fixed batch of ${spec.batch}, so it takes ${spec.batch * io.size} values, got ${x.length} (batch ${b})`,
      );
    if (batch >= 0 && b !== batch)
      throw new RangeError(
        `${what} holds ${b} examples but input ${JSON.stringify(first)} holds ${batch}; all inputs need the same batch`,
      );
    batch = b;
    first = io.name;
  }
  return batch;
}

/** The result arrays: caller-owned ones from `into` (checked), fresh ones otherwise. */
function resultsFor(spec: NetSpec, batch: number, into: unknown): Tensors {
  const out: Tensors = {};
  if (into !== undefined && (typeof into !== 'object' || into === null))
    throw new TypeError('run(feeds, into): into must be an object of Float32Arrays');
  for (const io of spec.outputs) {
    const n = batch * io.size;
    const given =
      into !== undefined && own(into as object, io.name) ? (into as Tensors)[io.name] : undefined;
    if (given === undefined) {
      put<Float32Array<ArrayBufferLike>>(out, io.name, new Float32Array(n));
      continue;
    }
    if (!(given instanceof Float32Array))
      throw new TypeError(`into ${JSON.stringify(io.name)} must be a Float32Array`);
    if (given.length !== n)
      throw new RangeError(
        `into ${JSON.stringify(io.name)} needs ${n} values (batch ${batch} x ${showShape(io.shape)}), got ${given.length}`,
      );
    put(out, io.name, given);
  }
  return out;
}

/**
 * Runs a network example by example over one memory `M`; `compute` runs the kernels, then
 * `slice(i)` computes slice i of the streamed outputs, each copied out while it is in cache.
 */
export function makeRun(
  spec: NetSpec,
  memory: () => Float32Array,
  compute: () => void,
  slice?: (i: number) => void,
) {
  const streamed = new Set(spec.streams.map((s) => s.output));
  const whole = spec.outputs.filter((io) => !streamed.has(io.name));
  const streams = spec.streams.map((s) => ({
    io: spec.outputs.find((io) => io.name === s.output)!,
    groups: s.groups,
  }));
  return (feeds: unknown, into?: unknown): Tensors => {
    const batch = batchOf(spec, feeds);
    const out = resultsFor(spec, batch, into);
    const M = memory();
    for (let b = 0; b < batch; b++) {
      for (const io of spec.inputs)
        M.set((feeds as Tensors)[io.name]!.subarray(b * io.size, (b + 1) * io.size), io.offset);
      compute();
      let next = 0;
      for (const { io, groups } of streams) {
        const o = out[io.name]!;
        for (const g of groups)
          for (let j = 0, at = b * io.size + g.at; j < g.count; j++, at += g.atStep) {
            slice!(next++);
            o.set(M.subarray(io.offset, io.offset + g.size), at);
          }
      }
      for (const io of whole)
        out[io.name]!.set(M.subarray(io.offset, io.offset + io.size), b * io.size);
    }
    return out;
  };
}

/** The bytes of a `load({ weights })` option. */
export function bytesOf(w: unknown): Uint8Array {
  if (w instanceof Uint8Array) return w;
  if (w instanceof ArrayBuffer) return new Uint8Array(w);
  throw new TypeError(
    'load({ weights }) takes an ArrayBuffer or a Uint8Array (a safetensors file)',
  );
}

/** Permutes a row-major tensor of `shape`: output axis i is input axis perm[i] (weight packing). */
export function permute(
  x: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): Float32Array {
  const rank = shape.length;
  const strides: number[] = new Array(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  const outShape = perm.map((p) => shape[p]!);
  const out = new Float32Array(x.length);
  const idx: number[] = new Array(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += idx[i]! * strides[perm[i]!]!;
    out[o] = x[src]!;
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** Folds and packs unfolded weights (a safetensors file) into memory, checking them first. */
export function writeWeights(M: Float32Array, bytes: Uint8Array, net: NetData): void {
  const values = loadWeights(bytes, net.params);
  const params = new Map(net.params.map((p, i) => [p.name, values[i]!]));
  for (const s of net.segments) {
    const v = evalWeightExpr(s.value, params);
    M.set(s.pack ? permute(v, s.pack.shape, s.pack.perm) : v, s.offset);
  }
}

/** `load()`'s options, with the stored weights (a safetensors file) when they give none. */
export async function withStored(
  options: unknown,
  stored: () => Promise<Uint8Array>,
): Promise<LoadOptions> {
  const given = (options ?? {}) as LoadOptions;
  if (given.weights !== undefined) return given;
  return { ...given, weights: await stored() };
}

/** Node's process, where there is one. */
type NodeProcess = { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown };

/**
 * The bytes of the file `name` beside the module (`url`, from its import.meta.url): Node's file
 * system for file: URLs in Node (imported when needed, so browsers never see node:fs), fetch
 * otherwise. A failure says which file and what to do.
 */
export async function readBeside(url: URL, name: string): Promise<Uint8Array> {
  const proc = (globalThis as { process?: NodeProcess }).process;
  try {
    if (url.protocol === 'file:' && proc?.versions?.node) {
      // The id in a variable: a TypeScript project without Node's types still type-checks the
      // module, and bundlers for browsers leave the import alone (it never runs there).
      const id = 'node:fs';
      const fs = (proc.getBuiltinModule?.(id) ?? (await import(id))) as {
        readFileSync(path: URL): Uint8Array;
      };
      return fs.readFileSync(url);
    }
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    return new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    const why =
      (e as { code?: string }).code === 'ENOENT'
        ? 'no such file'
        : String((e as Error)?.message ?? e);
    throw new Error(
      `cannot read the weights ${name} beside the module (${url}): ${why}. Keep the ${name} that netc build --external-weights wrote beside the module (serve it from the same directory), or pass load({ weights })`,
    );
  }
}
