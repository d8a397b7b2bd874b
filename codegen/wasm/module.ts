// The Binaryen wrapper: the only file that imports binaryen. Builds, validates, optimizes, emits.
import binaryen from 'binaryen';
import { InternalError } from '../../src/diag/diagnostics.js';

/** An expression under construction (an opaque Binaryen reference). */
export type WasmExpr = number & { readonly __wasmExpr: unique symbol };
export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';
export type MemType = 'i32' | 'f32' | 'v128';

type M = binaryen.Module;
type R = binaryen.ExpressionRef;

/** Features the emitted modules may use: all shipped in every engine with wasm SIMD. */
const FEATURES =
  binaryen.Features.SIMD128 |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.SignExt |
  binaryen.Features.MutableGlobals |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt;

const TYPES: Record<ValType | 'none', binaryen.Type> = {
  none: binaryen.none,
  i32: binaryen.i32,
  i64: binaryen.i64,
  f32: binaryen.f32,
  f64: binaryen.f64,
  v128: binaryen.v128,
};

const UNARY = {
  'i32.eqz': (m: M, a: R) => m.i32.eqz(a),
  'i32.trunc_sat_f64_s': (m: M, a: R) => m.i32.trunc_s_sat.f64(a),
  'i64.extend_i32_s': (m: M, a: R) => m.i64.extend_s(a),
  'f32.neg': (m: M, a: R) => m.f32.neg(a),
  'f32.abs': (m: M, a: R) => m.f32.abs(a),
  'f32.sqrt': (m: M, a: R) => m.f32.sqrt(a),
  'f32.demote_f64': (m: M, a: R) => m.f32.demote(a),
  'f64.neg': (m: M, a: R) => m.f64.neg(a),
  'f64.abs': (m: M, a: R) => m.f64.abs(a),
  'f64.nearest': (m: M, a: R) => m.f64.nearest(a),
  'f64.promote_f32': (m: M, a: R) => m.f64.promote(a),
  'f64.reinterpret_i64': (m: M, a: R) => m.f64.reinterpret(a),
  'f64.convert_i64_s': (m: M, a: R) => m.f64.convert_s.i64(a),
  'i64.reinterpret_f64': (m: M, a: R) => m.i64.reinterpret(a),
  'f32x4.neg': (m: M, a: R) => m.f32x4.neg(a),
  'f32x4.abs': (m: M, a: R) => m.f32x4.abs(a),
  'f32x4.sqrt': (m: M, a: R) => m.f32x4.sqrt(a),
  'f32x4.splat': (m: M, a: R) => m.f32x4.splat(a),
} as const;
export type UnaryOp = keyof typeof UNARY;

const BINARY = {
  'i32.add': (m: M, a: R, b: R) => m.i32.add(a, b),
  'i32.sub': (m: M, a: R, b: R) => m.i32.sub(a, b),
  'i32.mul': (m: M, a: R, b: R) => m.i32.mul(a, b),
  'i32.div_s': (m: M, a: R, b: R) => m.i32.div_s(a, b),
  'i32.shl': (m: M, a: R, b: R) => m.i32.shl(a, b),
  'i32.and': (m: M, a: R, b: R) => m.i32.and(a, b),
  'i32.eq': (m: M, a: R, b: R) => m.i32.eq(a, b),
  'i32.ne': (m: M, a: R, b: R) => m.i32.ne(a, b),
  'i32.lt_s': (m: M, a: R, b: R) => m.i32.lt_s(a, b),
  'i32.lt_u': (m: M, a: R, b: R) => m.i32.lt_u(a, b),
  'i32.le_s': (m: M, a: R, b: R) => m.i32.le_s(a, b),
  'i32.gt_s': (m: M, a: R, b: R) => m.i32.gt_s(a, b),
  'i32.ge_s': (m: M, a: R, b: R) => m.i32.ge_s(a, b),
  'i64.shl': (m: M, a: R, b: R) => m.i64.shl(a, b),
  'i64.shr_u': (m: M, a: R, b: R) => m.i64.shr_u(a, b),
  'i64.sub': (m: M, a: R, b: R) => m.i64.sub(a, b),
  'i64.and': (m: M, a: R, b: R) => m.i64.and(a, b),
  'i64.or': (m: M, a: R, b: R) => m.i64.or(a, b),
  'f32.add': (m: M, a: R, b: R) => m.f32.add(a, b),
  'f32.sub': (m: M, a: R, b: R) => m.f32.sub(a, b),
  'f32.mul': (m: M, a: R, b: R) => m.f32.mul(a, b),
  'f32.div': (m: M, a: R, b: R) => m.f32.div(a, b),
  'f32.min': (m: M, a: R, b: R) => m.f32.min(a, b),
  'f32.max': (m: M, a: R, b: R) => m.f32.max(a, b),
  'f32.copysign': (m: M, a: R, b: R) => m.f32.copysign(a, b),
  'f32.eq': (m: M, a: R, b: R) => m.f32.eq(a, b),
  'f32.ne': (m: M, a: R, b: R) => m.f32.ne(a, b),
  'f32.lt': (m: M, a: R, b: R) => m.f32.lt(a, b),
  'f32.le': (m: M, a: R, b: R) => m.f32.le(a, b),
  'f32.gt': (m: M, a: R, b: R) => m.f32.gt(a, b),
  'f32.ge': (m: M, a: R, b: R) => m.f32.ge(a, b),
  'f64.add': (m: M, a: R, b: R) => m.f64.add(a, b),
  'f64.sub': (m: M, a: R, b: R) => m.f64.sub(a, b),
  'f64.mul': (m: M, a: R, b: R) => m.f64.mul(a, b),
  'f64.div': (m: M, a: R, b: R) => m.f64.div(a, b),
  'f64.min': (m: M, a: R, b: R) => m.f64.min(a, b),
  'f64.max': (m: M, a: R, b: R) => m.f64.max(a, b),
  'f64.copysign': (m: M, a: R, b: R) => m.f64.copysign(a, b),
  'f64.lt': (m: M, a: R, b: R) => m.f64.lt(a, b),
  'f64.gt': (m: M, a: R, b: R) => m.f64.gt(a, b),
  'f64.ge': (m: M, a: R, b: R) => m.f64.ge(a, b),
  'f64.eq': (m: M, a: R, b: R) => m.f64.eq(a, b),
  'f32x4.add': (m: M, a: R, b: R) => m.f32x4.add(a, b),
  'f32x4.sub': (m: M, a: R, b: R) => m.f32x4.sub(a, b),
  'f32x4.mul': (m: M, a: R, b: R) => m.f32x4.mul(a, b),
  'f32x4.div': (m: M, a: R, b: R) => m.f32x4.div(a, b),
  'f32x4.min': (m: M, a: R, b: R) => m.f32x4.min(a, b),
  'f32x4.max': (m: M, a: R, b: R) => m.f32x4.max(a, b),
  /** pmin(a, b) = b < a ? b : a (one instruction; a NaN a stays). */
  'f32x4.pmin': (m: M, a: R, b: R) => m.f32x4.pmin(a, b),
  /** pmax(a, b) = a < b ? b : a. */
  'f32x4.pmax': (m: M, a: R, b: R) => m.f32x4.pmax(a, b),
  'f32x4.lt': (m: M, a: R, b: R) => m.f32x4.lt(a, b),
  'f32x4.gt': (m: M, a: R, b: R) => m.f32x4.gt(a, b),
  'i32x4.add': (m: M, a: R, b: R) => m.i32x4.add(a, b),
  'i32x4.sub': (m: M, a: R, b: R) => m.i32x4.sub(a, b),
  /** Shift counts: an i32. */
  'i32x4.shl': (m: M, a: R, b: R) => m.i32x4.shl(a, b),
  'i32x4.shr_s': (m: M, a: R, b: R) => m.i32x4.shr_s(a, b),
} as const;
export type BinaryOp = keyof typeof BINARY;

/** Module passes after the per-function ones: equal functions merged, zero runs dropped from
 * the data segment, unused functions (kernels no step calls, helpers) removed. */
const MODULE_PASSES = [
  'duplicate-function-elimination',
  'memory-packing',
  'remove-unused-module-elements',
];

export interface Segment {
  /** Byte offset in memory. */
  readonly offset: number;
  readonly data: Uint8Array;
}

export interface FinishOptions {
  /** Run Binaryen's optimizer (default true). */
  readonly optimize?: boolean;
}

/** One module under construction. Every method returns a new expression; `finish` frees it. */
export class WasmModule {
  private readonly m: M = new binaryen.Module();
  private done = false;

  /** With `relaxed`, relaxed SIMD (f32x4.relaxed_madd) may be used too; with `threads`,
   * atomics and a shared memory (imported: see importSharedMemory). */
  constructor(
    relaxed = false,
    private readonly threads = false,
  ) {
    this.m.setFeatures(
      FEATURES |
        (relaxed ? binaryen.Features.RelaxedSIMD : 0) |
        (threads ? binaryen.Features.Atomics : 0),
    );
  }

  // ------------------------------------------------------------------------------ expressions

  i32(value: number): WasmExpr {
    return this.m.i32.const(value | 0) as WasmExpr;
  }
  i64(value: number): WasmExpr {
    return this.m.i64.const(BigInt(Math.trunc(value))) as WasmExpr;
  }
  f32(value: number): WasmExpr {
    return this.m.f32.const(value) as WasmExpr;
  }
  f64(value: number): WasmExpr {
    return this.m.f64.const(value) as WasmExpr;
  }
  unary(op: UnaryOp, a: WasmExpr): WasmExpr {
    return UNARY[op](this.m, a) as WasmExpr;
  }
  binary(op: BinaryOp, a: WasmExpr, b: WasmExpr): WasmExpr {
    return BINARY[op](this.m, a, b) as WasmExpr;
  }
  /** f32x4.extract_lane. */
  lane(v: WasmExpr, lane: number): WasmExpr {
    // NOTE: binaryen.js types the lane index as an expression; it is a literal lane number.
    return this.m.f32x4.extract_lane(v, lane) as WasmExpr;
  }
  /** A v128 of one f32 in all four lanes. */
  f32x4(value: number): WasmExpr {
    return this.m.f32x4.splat(this.m.f32.const(value)) as WasmExpr;
  }
  /** A v128 of one i32 in all four lanes. */
  i32x4(value: number): WasmExpr {
    return this.m.i32x4.splat(this.m.i32.const(value | 0)) as WasmExpr;
  }
  /** f32x4.relaxed_madd: a * b + c, fused or not as the engine's hardware does it. */
  relaxedMadd(a: WasmExpr, b: WasmExpr, c: WasmExpr): WasmExpr {
    // NOTE: binaryen.js has no wrapper for the relaxed SIMD ternaries; this is its C API.
    const api = binaryen as unknown as {
      _BinaryenSIMDTernary(m: number, op: number, a: R, b: R, c: R): R;
      RelaxedMaddVecF32x4: number;
    };
    return api._BinaryenSIMDTernary(
      (this.m as unknown as { ptr: number }).ptr,
      api.RelaxedMaddVecF32x4,
      a,
      b,
      c,
    ) as WasmExpr;
  }
  /** v128.bitselect: the bits of a where mask is 1, of b where it is 0. */
  bitselect(a: WasmExpr, b: WasmExpr, mask: WasmExpr): WasmExpr {
    return this.m.v128.bitselect(a, b, mask) as WasmExpr;
  }
  /** cond ? a : b, both evaluated (any value type, including v128). */
  select(cond: WasmExpr, a: WasmExpr, b: WasmExpr): WasmExpr {
    return this.m.select(cond, a, b) as WasmExpr;
  }
  get(index: number, type: ValType): WasmExpr {
    return this.m.local.get(index, TYPES[type]) as WasmExpr;
  }
  set(index: number, value: WasmExpr): WasmExpr {
    return this.m.local.set(index, value) as WasmExpr;
  }
  tee(index: number, value: WasmExpr, type: ValType): WasmExpr {
    return this.m.local.tee(index, value, TYPES[type]) as WasmExpr;
  }
  /** A load at byte address `ptr + offset` (offset: an unsigned immediate). */
  load(type: MemType, offset: number, ptr: WasmExpr): WasmExpr {
    const m = this.m;
    const r =
      type === 'v128'
        ? m.v128.load(offset, 4, ptr)
        : type === 'f32'
          ? m.f32.load(offset, 4, ptr)
          : m.i32.load(offset, 4, ptr);
    return r as WasmExpr;
  }
  /** v128.load32_splat: one f32 at `ptr + offset` in every lane (a single broadcast load). */
  loadSplat(offset: number, ptr: WasmExpr): WasmExpr {
    return this.m.v128.load32_splat(offset, 4, ptr) as WasmExpr;
  }
  store(type: MemType, offset: number, ptr: WasmExpr, value: WasmExpr): WasmExpr {
    const m = this.m;
    const r =
      type === 'v128'
        ? m.v128.store(offset, 4, ptr, value)
        : type === 'f32'
          ? m.f32.store(offset, 4, ptr, value)
          : m.i32.store(offset, 4, ptr, value);
    return r as WasmExpr;
  }
  call(name: string, args: readonly WasmExpr[], result: ValType | 'none'): WasmExpr {
    return this.m.call(name, args, TYPES[result]) as WasmExpr;
  }
  block(
    label: string | null,
    body: readonly WasmExpr[],
    result: ValType | 'none' = 'none',
  ): WasmExpr {
    return this.m.block(label, body, TYPES[result]) as WasmExpr;
  }
  loop(label: string, body: WasmExpr): WasmExpr {
    return this.m.loop(label, body) as WasmExpr;
  }
  /** br (or br_if when `cond` is given). */
  br(label: string, cond?: WasmExpr): WasmExpr {
    return this.m.br(label, cond) as WasmExpr;
  }
  if(cond: WasmExpr, then: WasmExpr, otherwise?: WasmExpr): WasmExpr {
    return this.m.if(cond, then, otherwise) as WasmExpr;
  }
  return(value?: WasmExpr): WasmExpr {
    return this.m.return(value) as WasmExpr;
  }
  nop(): WasmExpr {
    return this.m.nop() as WasmExpr;
  }
  drop(value: WasmExpr): WasmExpr {
    return this.m.drop(value) as WasmExpr;
  }

  // ------------------------------------------------------------- atomics (the threads build)

  /** i32.atomic.load at byte address `ptr` (sequentially consistent, as all wasm atomics). */
  atomicLoad(ptr: WasmExpr): WasmExpr {
    return this.m.i32.atomic.load(0, ptr) as WasmExpr;
  }
  atomicStore(ptr: WasmExpr, value: WasmExpr): WasmExpr {
    return this.m.i32.atomic.store(0, ptr, value) as WasmExpr;
  }
  /** i32.atomic.rmw.add: adds, returns the value before. */
  atomicAdd(ptr: WasmExpr, value: WasmExpr): WasmExpr {
    return this.m.i32.atomic.rmw.add(0, ptr, value) as WasmExpr;
  }
  /** memory.atomic.wait32 with no timeout (returns 0 woken, 1 not equal, 2 timed out). */
  wait32(ptr: WasmExpr, expected: WasmExpr): WasmExpr {
    return this.m.memory.atomic.wait32(ptr, expected, this.m.i64.const(-1n)) as WasmExpr;
  }
  /** memory.atomic.notify of every waiter (returns how many woke). */
  notifyAll(ptr: WasmExpr): WasmExpr {
    return this.m.memory.atomic.notify(ptr, this.m.i32.const(-1)) as WasmExpr;
  }
  /** memory.fill of `size` bytes from `dest` with the byte `value`. */
  fill(dest: WasmExpr, value: WasmExpr, size: WasmExpr): WasmExpr {
    return this.m.memory.fill(dest, value, size) as WasmExpr;
  }

  // ---------------------------------------------------------------------------- module items

  /** Adds a function: locals 0.. are the params, then `vars`. */
  addFunction(
    name: string,
    params: readonly ValType[],
    result: ValType | 'none',
    vars: readonly ValType[],
    body: WasmExpr,
  ): void {
    const p = binaryen.createType(params.map((t) => TYPES[t]));
    this.m.addFunction(
      name,
      p,
      TYPES[result],
      vars.map((t) => TYPES[t]),
      body,
    );
  }
  exportFunction(name: string, exportName: string): void {
    this.m.addFunctionExport(name, exportName);
  }
  /** A fixed-size memory (initial = maximum pages), exported, with active data segments. */
  setMemory(pages: number, exportName: string, segments: readonly Segment[]): void {
    this.m.setMemory(
      pages,
      pages,
      exportName,
      segments.map((s) => ({ offset: this.m.i32.const(s.offset), data: s.data, passive: false })),
    );
  }

  /** A shared memory imported as env.memory, of `initial` to `maximum` pages (the threads
   * build: every thread's instance works on the one memory). */
  importSharedMemory(initial: number, maximum: number): void {
    this.m.setMemory(initial, maximum, null, [], true);
    this.m.addMemoryImport('0', 'env', 'memory', true);
  }

  // ---------------------------------------------------------------------------------- output

  /** The module as WebAssembly text (for debugging and tests); does not finish the module. */
  text(): string {
    return this.m.emitText();
  }

  /** Validates, optimizes, validates again and emits the binary; frees the module. */
  finish(opts: FinishOptions = {}): Uint8Array {
    if (this.done) throw new InternalError('wasm module finished twice');
    this.done = true;
    try {
      this.check(opts);
      return this.m.emitBinary();
    } finally {
      this.m.dispose();
    }
  }

  /** Validates, then optimizes and validates again. */
  private check(opts: FinishOptions): void {
    if (!this.m.validate()) throw new InternalError('the generated WebAssembly does not validate');
    if (opts.optimize ?? true) {
      // NOTE: these are process-wide settings in Binaryen; set them each time.
      binaryen.setOptimizeLevel(3);
      binaryen.setShrinkLevel(0);
      binaryen.setFastMath(false);
      binaryen.setLowMemoryUnused(false);
      // The memory is defined here, not imported: it starts zeroed (memory-packing drops zeros).
      // An imported (shared) memory holds whatever the loader put there.
      binaryen.setZeroFilledMemory(!this.threads);
      // NOTE: Binaryen's whole-module -O3 spends most of its time inlining kernels into `run`
      // and specializing them on their constant arguments (dae), which buys nothing at run time
      // and several times the build time. So: the -O3 function passes on each function, then
      // the module passes that matter here.
      for (let i = 0; i < this.m.getNumFunctions(); i++)
        this.m.optimizeFunction(this.m.getFunctionByIndex(i));
      this.m.runPasses(MODULE_PASSES);
      if (!this.m.validate())
        throw new InternalError('the optimized WebAssembly does not validate');
    }
  }

  /** Like `finish`, but returns the module as text (for debugging and tests). */
  finishText(opts: FinishOptions = {}): string {
    if (this.done) throw new InternalError('wasm module finished twice');
    this.done = true;
    try {
      this.check(opts);
      return this.m.emitText();
    } finally {
      this.m.dispose();
    }
  }

  /** Frees the module without emitting (after an error while building). */
  dispose(): void {
    if (this.done) return;
    this.done = true;
    this.m.dispose();
  }
}
