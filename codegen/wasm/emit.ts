// The WebAssembly backend: a kernel program becomes one standalone wasm module (SIMD128).
//
// The module defines and exports its memory ("memory"), holds the weights as a data segment at
// byte 0 when given (the built .wasm files carry them in a custom section instead: see
// weights_section.ts), and exports "prepare" (the weight transforms, to call once the weights
// are in memory), "run" (every step in order), "slice" (slice i of the streamed outputs, after
// "run") and "abi" (returns ABI_VERSION).
// One function per distinct kernel, with its i32 base offsets as parameters. With `relaxed`,
// every f32x4 acc + x * y is one f32x4.relaxed_madd (the relaxed SIMD build of the .wasm).
//
// Addresses: an element index is split into a linear form (terms coef * atom plus a constant;
// src/kir/affine.ts, which also bounds the terms and plans their hoisting). Terms over
// parameters and loop counters are hoisted: their byte sum is computed once per iteration of
// the innermost loop they depend on (at function entry for parameters alone), in a local shared
// by every address with the same terms; the part a loop's own counter adds is an induction
// pointer, set before the loop and advanced by a constant after each iteration (one add, not a
// shift and an add), and a loop whose body reads its counter nowhere else counts its trips with
// its first pointer. Measured: a 1x1 conv2d 2.47 -> 2.30 ms, ResNet-50 about 4 % faster end to
// end. The constant goes into the load/store `offset` immediate whenever interval bounds on the
// terms prove the pointer is never negative (the wasm effective address does not wrap);
// otherwise into the pointer.
import { InternalError } from '../../src/diag/diagnostics.js';
import type { Expr, Kernel, MathFn, Stmt, Type } from '../../src/kir/kir.js';
import { AffineScope, hoistPlan, type Term } from '../../src/kir/affine.js';
import { applyPasses, WASM_PASSES } from '../../src/kir/passes.js';
import { walk } from '../../src/kir/visit.js';
import type { KernelProgram } from '../../src/lower/program.js';
import { MATH_FUNCTIONS, VECTOR_MATH_FUNCTIONS, addMathFunctions } from './math.js';
import { WasmModule } from './module.js';
import { littleEndian } from './weights_section.js';
import type { BinaryOp, ValType, WasmExpr } from './module.js';

/** Version of the module's exports contract, returned by the exported "abi" function. */
export const ABI_VERSION = 3;

export interface EmitWasmOptions {
  /** The stored weights, [0, storedFloats): written by a data segment at byte 0. */
  readonly weights?: Float32Array;
  /** Run Binaryen's optimizer (default true; false is for debugging the emitter). */
  readonly optimize?: boolean;
  /** Multiply-adds of f32x4 as relaxed_madd (relaxed SIMD; default false). */
  readonly relaxed?: boolean;
  /** The threads build (program.parallel): a shared memory imported as env.memory, atomics,
   * and the exports of a thread pool instead of "run" (see buildThreaded). */
  readonly threads?: boolean;
}

const PAGE_BYTES = 65536;
/** The most pages a wasm32 memory has. */
const MAX_PAGES = 65536;

/**
 * Where the threads build keeps its own state, after the one-thread program's memory (bytes):
 * the words threads meet on (`sync`: run generation, stop flag, barrier count and generation,
 * one part counter per phase, each group on its own cache line), then each thread's scratch
 * (`scratchAt + tid * scratchBytes`). The loader sizes the memory for its thread count.
 */
export interface ThreadMemory {
  readonly syncAt: number;
  readonly scratchAt: number;
  readonly scratchBytes: number;
  /** Pages the memory has at most (for maxThreads threads), and threads it is built for. */
  readonly maxPages: number;
  readonly maxThreads: number;
  /** The most parts any phase has: more threads than this have nothing to do. */
  readonly widest: number;
  /** The most threads load()'s 'auto' takes: `widest`, or 1 for a network too small to repay
   * workers (`Parallel.autoOne`). */
  readonly auto: number;
}

const LINE = 64;
const alignLine = (n: number): number => Math.ceil(n / LINE) * LINE;
/** Offsets in the sync area. */
const SYNC = { gen: 0, stop: 4, count: LINE, bgen: 2 * LINE, counters: 3 * LINE } as const;

/** The threads build's memory (null when the program was not split). */
export function threadMemory(program: KernelProgram, maxThreads: number): ThreadMemory | null {
  const par = program.parallel;
  if (!par) return null;
  const syncAt = alignLine(program.memoryFloats * 4);
  const scratchAt = alignLine(syncAt + SYNC.counters + 4 * par.phases.length);
  const scratchBytes = alignLine(par.scratchFloats * 4);
  const bytes = scratchAt + maxThreads * scratchBytes;
  const widest = Math.max(1, ...par.phases.map((p) => p.parts.length));
  return {
    syncAt,
    scratchAt,
    scratchBytes,
    maxPages: Math.min(MAX_PAGES, Math.ceil(bytes / PAGE_BYTES)),
    maxThreads,
    widest,
    auto: par.autoOne ? 1 : widest,
  };
}

/** Emits the program as a wasm binary. Deterministic: the same program gives the same bytes. */
export function emitWasm(program: KernelProgram, opts: EmitWasmOptions = {}): Uint8Array {
  const w = new WasmModule(opts.relaxed ?? false, opts.threads ?? false);
  try {
    build(w, program, opts);
  } catch (e) {
    w.dispose();
    throw e;
  }
  return w.finish({ optimize: opts.optimize ?? true });
}

/** The module as WebAssembly text (unoptimized unless `optimize`), for debugging and tests. */
export function emitWasmText(program: KernelProgram, opts: EmitWasmOptions = {}): string {
  const w = new WasmModule(opts.relaxed ?? false, opts.threads ?? false);
  try {
    build(w, program, opts);
    return w.finishText({ optimize: opts.optimize ?? false });
  } catch (e) {
    w.dispose();
    throw e;
  }
}

function build(w: WasmModule, program: KernelProgram, opts: EmitWasmOptions): void {
  // NOTE: the memory comes first: Binaryen binds loads and stores to it as they are built.
  const segments = [];
  if (opts.weights) {
    if (opts.weights.length !== program.storedFloats)
      throw new InternalError(
        `${opts.weights.length} weights given, the program stores ${program.storedFloats}`,
      );
    segments.push({ offset: 0, data: littleEndian(opts.weights) });
  }
  const threads = opts.threads ? threadMemory(program, THREADS_BUILT_FOR) : null;
  if (opts.threads && !threads) throw new InternalError('a threads build of an unsplit program');
  if (threads) {
    if (segments.length) throw new InternalError('the threads build holds no weights');
    w.importSharedMemory(
      Math.ceil((threads.scratchAt + threads.scratchBytes) / PAGE_BYTES),
      threads.maxPages,
    );
  } else {
    const pages = Math.max(1, Math.ceil((program.memoryFloats * 4) / PAGE_BYTES));
    w.setMemory(pages, 'memory', segments);
  }
  const names = new Map<string, string>();
  const arity = new Map<string, number>();
  const math = { scalar: new Set<MathFn>(), vector: new Set<MathFn>() };
  for (const k of [...program.kernels, ...(threads ? program.parallel!.kernels : [])]) {
    if (names.has(k.name)) continue;
    const fn = `k$${k.name}`;
    names.set(k.name, fn);
    arity.set(k.name, k.params.length);
    new KernelEmitter(w, k, math, opts.relaxed ?? false).emit(fn);
  }
  addMathFunctions(w, math.scalar, math.vector);

  const calls = (steps: KernelProgram['steps']) =>
    steps.map((s) => {
      const fn = names.get(s.kernel);
      if (fn === undefined) throw new InternalError(`step calls unknown kernel '${s.kernel}'`);
      if (arity.get(s.kernel) !== s.args.length)
        throw new InternalError(
          `step of '${s.layer}' passes ${s.args.length} args to '${s.kernel}'`,
        );
      return w.call(
        fn,
        s.args.map((a) => w.i32(a)),
        'none',
      );
    });
  if (threads) buildThreaded(w, program.parallel!, threads, names, arity);
  else {
    w.addFunction('run', [], 'none', [], w.block(null, calls(program.steps)));
    w.exportFunction('run', 'run');
  }
  // slice(i): slice i of the streamed outputs, numbered on through their groups (see Stream):
  // in group g (slices first..first+count-1), argument k is args[k] + (i - first) * argStep[k].
  const slices: WasmExpr[] = [];
  let first = 0;
  for (const g of program.streams.flatMap((st) => st.groups)) {
    const fn = names.get(g.kernel);
    if (fn === undefined) throw new InternalError(`slice calls unknown kernel '${g.kernel}'`);
    const start = first;
    const j = (): WasmExpr => w.binary('i32.sub', w.get(0, 'i32'), w.i32(start));
    const args = g.args.map((a, k) =>
      g.argStep[k] === 0
        ? w.i32(a)
        : w.binary('i32.add', w.i32(a), w.binary('i32.mul', j(), w.i32(g.argStep[k]!))),
    );
    slices.push(
      w.if(
        w.binary('i32.lt_u', j(), w.i32(g.count)),
        w.block(null, [w.call(fn, args, 'none'), w.return()]),
      ),
    );
    first += g.count;
  }
  w.addFunction('slice', ['i32'], 'none', [], w.block(null, slices.length ? slices : [w.nop()]));
  w.exportFunction('slice', 'slice');
  w.addFunction('prepare', [], 'none', [], w.block(null, calls(program.prepare)));
  w.exportFunction('prepare', 'prepare');
  w.addFunction('abi', [], 'i32', [], w.i32(ABI_VERSION));
  w.exportFunction('abi', 'abi');
}

/** The thread counts the threads build has room for (each thread's scratch). */
export const THREADS_BUILT_FOR = 16;
/** Times a waiting thread looks at the word it waits on before it sleeps (memory.atomic.wait32):
 * a few microseconds, about what one thread finishing its share later than another takes. */
const SPINS = 1 << 14;

/**
 * The thread pool's functions in the threads build (locals: params first):
 * - `run(T, canWait)`: the calling thread's: resets the part counters, starts a run (the run
 *   generation, workers notified), takes its share (`work(0, ...)`), returns after the last
 *   phase's barrier.
 * - `worker(tid, T)`: a worker's whole life: waits for a run (spins, then sleeps), works it,
 *   until `stop()`.
 * - `work(tid, T, canWait)`: every phase: takes the next part (an atomic add on the phase's
 *   counter) until none is left, then the barrier.
 * - `barrier(T, canWait)`: the last to arrive resets the count and moves the barrier
 *   generation on, waking the others; they spin on it, then sleep if `canWait` (a browser's
 *   main thread may not: it spins).
 */
function buildThreaded(
  w: WasmModule,
  par: NonNullable<KernelProgram['parallel']>,
  mem: ThreadMemory,
  names: ReadonlyMap<string, string>,
  arity: ReadonlyMap<string, number>,
): void {
  const at = (offset: number): WasmExpr => w.i32(mem.syncAt + offset);
  const i32 = (n: number): WasmExpr => w.i32(n);
  const get = (i: number): WasmExpr => w.get(i, 'i32');
  /** Spins on `word` while it equals local `seen`, sleeping after SPINS looks when local
   * `canWait` is set; local `n` counts. */
  const waitWhile = (
    word: number,
    seen: number,
    canWait: WasmExpr | null,
    n: number,
    label: string,
  ) =>
    w.loop(
      label,
      w.if(
        w.binary('i32.eq', w.atomicLoad(at(word)), get(seen)),
        w.block(null, [
          w.set(n, w.binary('i32.add', get(n), i32(1))),
          w.if(
            canWait
              ? w.binary('i32.and', canWait, w.binary('i32.gt_s', get(n), i32(SPINS)))
              : w.binary('i32.gt_s', get(n), i32(SPINS)),
            w.drop(w.wait32(at(word), get(seen))),
          ),
          w.br(label),
        ]),
      ),
    );

  // barrier(T, canWait); locals g, n.
  w.addFunction(
    'barrier',
    ['i32', 'i32'],
    'none',
    ['i32', 'i32'],
    w.block(null, [
      w.set(2, w.atomicLoad(at(SYNC.bgen))),
      w.if(
        w.binary(
          'i32.eq',
          w.atomicAdd(at(SYNC.count), i32(1)),
          w.binary('i32.sub', get(0), i32(1)),
        ),
        w.block(null, [
          w.atomicStore(at(SYNC.count), i32(0)),
          w.drop(w.atomicAdd(at(SYNC.bgen), i32(1))),
          w.drop(w.notifyAll(at(SYNC.bgen))),
        ]),
        waitWhile(SYNC.bgen, 2, get(1), 3, 'spin'),
      ),
    ]),
  );

  // work(tid, T, canWait); local i.
  const body: WasmExpr[] = [];
  par.phases.forEach((phase, k) => {
    const counter = at(SYNC.counters + 4 * k);
    const call = (c: (typeof phase.parts)[number][number]): WasmExpr => {
      const fn = names.get(c.kernel);
      if (fn === undefined || arity.get(c.kernel) !== c.args.length)
        throw new InternalError(`part of '${c.layer}' calls '${c.kernel}' wrongly`);
      return w.call(
        fn,
        c.args.map((a, j) =>
          j === c.scratchArg
            ? w.binary(
                'i32.add',
                i32(mem.scratchAt / 4),
                w.binary('i32.mul', get(0), i32(mem.scratchBytes / 4)),
              )
            : i32(a),
        ),
        'none',
      );
    };
    // Part i of the phase: an if chain (phases have a few parts).
    let dispatch: WasmExpr | undefined;
    for (let i = phase.parts.length - 1; i >= 0; i--) {
      const calls = w.block(null, phase.parts[i]!.map(call));
      dispatch =
        dispatch === undefined ? calls : w.if(w.binary('i32.eq', get(3), i32(i)), calls, dispatch);
    }
    const label = `phase${k}`;
    body.push(
      w.loop(
        label,
        w.if(
          w.binary(
            'i32.lt_u',
            w.tee(3, w.atomicAdd(counter, i32(1)), 'i32'),
            i32(phase.parts.length),
          ),
          w.block(null, [dispatch!, w.br(label)]),
        ),
      ),
      w.call('barrier', [get(1), get(2)], 'none'),
    );
  });
  w.addFunction('work', ['i32', 'i32', 'i32'], 'none', ['i32'], w.block(null, body));

  // run(T, canWait)
  w.addFunction(
    'run',
    ['i32', 'i32'],
    'none',
    [],
    w.block(null, [
      w.fill(at(SYNC.counters), i32(0), i32(4 * par.phases.length)),
      w.drop(w.atomicAdd(at(SYNC.gen), i32(1))),
      w.drop(w.notifyAll(at(SYNC.gen))),
      w.call('work', [i32(0), get(0), get(1)], 'none'),
    ]),
  );
  w.exportFunction('run', 'run');

  // worker(tid, T); locals seen (2), g (3), n (4).
  w.addFunction(
    'worker',
    ['i32', 'i32'],
    'none',
    ['i32', 'i32', 'i32'],
    w.loop(
      'life',
      w.block(null, [
        w.if(w.atomicLoad(at(SYNC.stop)), w.return()),
        w.set(3, w.atomicLoad(at(SYNC.gen))),
        w.if(
          w.binary('i32.eq', get(3), get(2)),
          w.block(null, [
            w.set(4, w.binary('i32.add', get(4), i32(1))),
            w.if(w.binary('i32.gt_s', get(4), i32(SPINS)), w.drop(w.wait32(at(SYNC.gen), get(2)))),
            w.br('life'),
          ]),
        ),
        w.set(2, get(3)),
        w.set(4, i32(0)),
        w.call('work', [get(0), get(1), i32(1)], 'none'),
        w.br('life'),
      ]),
    ),
  );
  w.exportFunction('worker', 'worker');

  // stop(): workers return from worker().
  w.addFunction(
    'stop',
    [],
    'none',
    [],
    w.block(null, [
      w.atomicStore(at(SYNC.stop), i32(1)),
      w.drop(w.atomicAdd(at(SYNC.gen), i32(1))),
      w.drop(w.notifyAll(at(SYNC.gen))),
    ]),
  );
  w.exportFunction('stop', 'stop');
}

// ------------------------------------------------------------------------------------ kernels

/** A loop being emitted (depth 0 is the function body). */
interface Frame {
  /** Local sets run at the start of each iteration (function entry for depth 0). */
  readonly prelude: WasmExpr[];
  /** Hoisted address prefixes computed in the prelude, by key. */
  readonly prefixes: Map<string, number>;
  /** A loop's counter start and step (none for the function body). */
  readonly counter?: { readonly from: number; readonly step: number };
  /** Prefixes that step with the counter: set before the loop, advanced after each iteration. */
  readonly inductions: { readonly local: number; readonly init: WasmExpr; readonly step: number }[];
}

interface Local {
  readonly index: number;
  readonly type: ValType;
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

class KernelEmitter {
  private readonly locals = new Map<string, Local>();
  private readonly vars: ValType[] = [];
  private readonly params: ReadonlySet<string>;
  /** Locals assigned by `set` (no interval, never expanded). */
  private readonly mutable = new Set<string>();
  /** Reads of each loop counter emitted so far (a loop whose body reads none needs none). */
  private readonly counterReads = new Map<string, number>();
  /** Linear forms and intervals of addresses at the point reached (src/kir/affine.ts). */
  private readonly scope: AffineScope;
  private readonly frames: Frame[] = [];
  private labels = 0;

  constructor(
    private readonly w: WasmModule,
    private readonly kernel: Kernel,
    private readonly math: { readonly scalar: Set<MathFn>; readonly vector: Set<MathFn> },
    private readonly relaxed = false,
  ) {
    this.params = new Set(kernel.params);
    this.scope = new AffineScope(this.params, this.mutable);
    if (this.params.size !== kernel.params.length) throw this.bug('repeated parameter names');
    kernel.params.forEach((p, i) => this.locals.set(p, { index: i, type: 'i32' }));
  }

  emit(fn: string): void {
    const body = applyPasses(this.kernel.body, WASM_PASSES);
    this.declare(body);
    const frame = this.pushFrame();
    const stmts = this.stmts(body);
    this.frames.pop();
    const all = [...frame.prelude, ...stmts];
    this.w.addFunction(
      fn,
      this.kernel.params.map(() => 'i32'),
      'none',
      this.vars,
      all.length === 1 ? all[0]! : this.w.block(null, all),
    );
  }

  private bug(message: string): InternalError {
    return new InternalError(`kernel ${this.kernel.name}: ${message}`);
  }

  // ---------------------------------------------------------------------------------- locals

  /** Declares every local; marks the ones assigned more than once as mutable. */
  private declare(body: readonly Stmt[]): void {
    const lets = new Set<string>();
    const counters = new Set<string>();
    walk(body, {
      stmt: (s) => {
        if (s.op === 'let') {
          this.local(s.name, s.type);
          if (lets.has(s.name)) this.mutable.add(s.name);
          lets.add(s.name);
        } else if (s.op === 'set') this.mutable.add(s.name);
        else if (s.op === 'for') {
          this.local(s.v, 'i32');
          counters.add(s.v);
        }
      },
    });
    for (const p of this.params) if (this.mutable.has(p)) throw this.bug(`parameter ${p} is set`);
    for (const v of counters)
      if (this.mutable.has(v) || lets.has(v)) throw this.bug(`loop counter ${v} is assigned`);
  }

  private local(name: string, type: Type): number {
    const l = this.locals.get(name);
    if (l) {
      if (l.type !== type || this.params.has(name))
        throw this.bug(`local ${name} declared twice (${l.type}, ${type})`);
      return l.index;
    }
    return this.temp(type, name);
  }

  private temp(type: ValType, name = `$t${this.vars.length}`): number {
    const index = this.kernel.params.length + this.vars.length;
    this.vars.push(type);
    this.locals.set(name, { index, type });
    return index;
  }

  private lookup(name: string): Local {
    const l = this.locals.get(name);
    if (!l) throw this.bug(`unknown variable ${name}`);
    return l;
  }

  private pushFrame(counter?: Frame['counter']): Frame {
    const f: Frame = {
      prelude: [],
      prefixes: new Map(),
      inductions: [],
      ...(counter ? { counter } : {}),
    };
    this.frames.push(f);
    return f;
  }

  // ------------------------------------------------------------------------------ statements

  private stmts(stmts: readonly Stmt[]): WasmExpr[] {
    const out: WasmExpr[] = [];
    for (const s of stmts) {
      const e = this.stmt(s);
      if (e !== null) out.push(e);
    }
    return out;
  }

  private block(stmts: readonly Stmt[]): WasmExpr {
    const body = this.stmts(stmts);
    return body.length === 1 ? body[0]! : this.w.block(null, body);
  }

  private stmt(s: Stmt): WasmExpr | null {
    const w = this.w;
    switch (s.op) {
      case 'comment':
        return null;
      case 'let': {
        const value = this.expr(s.value);
        if (s.type === 'i32') this.scope.define(s.name, s.value);
        return w.set(this.lookup(s.name).index, value);
      }
      case 'set':
        return w.set(this.lookup(s.name).index, this.expr(s.value));
      case 'store': {
        const { ptr, offset } = this.address(s.addr);
        return w.store(s.type, offset, ptr, this.expr(s.value));
      }
      case 'if': {
        const cond = this.expr(s.cond);
        const then = this.block(s.then);
        return s.else && s.else.length ? w.if(cond, then, this.block(s.else)) : w.if(cond, then);
      }
      case 'for':
        return this.loop(s);
    }
  }

  /** v = from; do { body; v += step } while (v < to): trips >= 1 here, so no entry test. */
  private loop(s: Extract<Stmt, { op: 'for' }>): WasmExpr | null {
    const w = this.w;
    if (s.step <= 0) throw this.bug(`loop ${s.v} has step ${s.step}`);
    const trips = Math.ceil((s.to - s.from) / s.step);
    if (trips <= 0) return null;
    if (this.scope.isCounter(s.v)) throw this.bug(`nested loops share the counter ${s.v}`);
    const v = this.lookup(s.v).index;
    const last = s.from + (trips - 1) * s.step;
    this.scope.enterLoop(s.v, this.frames.length, s.from, last);
    const frame = this.pushFrame({ from: s.from, step: s.step });
    const reads = this.counterReads.get(s.v) ?? 0;
    const body = this.stmts(s.body);
    this.frames.pop();
    this.scope.leaveLoop(s.v);
    const label = `L${this.labels++}`;
    const ind = frame.inductions;
    const step = (p: (typeof ind)[number]): WasmExpr =>
      w.binary('i32.add', w.get(p.local, 'i32'), w.i32(p.step));
    const advance = (ps: typeof ind): WasmExpr[] => ps.map((p) => w.set(p.local, step(p)));
    const start = ind.map((p) => w.set(p.local, p.init));
    if (ind.length && (this.counterReads.get(s.v) ?? 0) === reads) {
      // Nothing reads the counter: the first induction pointer counts the trips (it reaches
      // its start + trips * step exactly).
      const [first, ...rest] = ind as [(typeof ind)[number], ...typeof ind];
      const end = this.temp('i32');
      const next = w.binary('i32.ne', w.tee(first.local, step(first), 'i32'), w.get(end, 'i32'));
      const inner = w.block(null, [...frame.prelude, ...body, ...advance(rest), w.br(label, next)]);
      const endAt = w.binary('i32.add', w.get(first.local, 'i32'), w.i32((trips * first.step) | 0));
      return w.block(null, [...start, w.set(end, endAt), w.loop(label, inner)]);
    }
    const next = w.binary(
      'i32.lt_s',
      w.tee(v, w.binary('i32.add', w.get(v, 'i32'), w.i32(s.step)), 'i32'),
      w.i32(s.to),
    );
    const inner = w.block(null, [...frame.prelude, ...body, ...advance(ind), w.br(label, next)]);
    return w.block(null, [w.set(v, w.i32(s.from)), ...start, w.loop(label, inner)]);
  }

  // ----------------------------------------------------------------------------- expressions

  private expr(e: Expr): WasmExpr {
    const w = this.w;
    switch (e.op) {
      case 'const':
        return e.type === 'i32' ? w.i32(e.value) : w.f32(e.value);
      case 'get': {
        const l = this.lookup(e.name);
        if (this.scope.isCounter(e.name))
          this.counterReads.set(e.name, (this.counterReads.get(e.name) ?? 0) + 1);
        return w.get(l.index, l.type);
      }
      case 'load': {
        const { ptr, offset } = this.address(e.addr);
        return w.load(e.type, offset, ptr);
      }
      case 'bin':
        return this.bin(e);
      case 'neg':
      case 'abs':
      case 'sqrt':
        return w.unary(`${e.type === 'v128' ? 'f32x4' : 'f32'}.${e.op}`, this.expr(e.a));
      case 'math': {
        if (e.type === 'f32') {
          this.math.scalar.add(e.fn);
          return w.call(MATH_FUNCTIONS[e.fn], [this.expr(e.a)], 'f32');
        }
        const fn = VECTOR_MATH_FUNCTIONS[e.fn];
        if (fn === undefined) throw new InternalError(`no v128 form of ${e.fn}`);
        this.math.vector.add(e.fn);
        return w.call(fn, [this.expr(e.a)], 'v128');
      }
      case 'cmp': {
        const suffix = e.cmpType === 'i32' && e.fn !== 'eq' && e.fn !== 'ne' ? '_s' : '';
        const op = `${e.cmpType}.${e.fn}${suffix}` as BinaryOp;
        return w.binary(op, this.expr(e.a), this.expr(e.b));
      }
      case 'and':
        return w.binary('i32.and', this.expr(e.a), this.expr(e.b));
      case 'select':
        return w.select(this.expr(e.cond), this.expr(e.a), this.expr(e.b));
      case 'splat': {
        // splat(load) is one broadcast load (vbroadcastss), not a load and a shuffle.
        if (e.a.op === 'load') {
          const { ptr, offset } = this.address(e.a.addr);
          return w.loadSplat(offset, ptr);
        }
        return w.unary('f32x4.splat', this.expr(e.a));
      }
      case 'lane':
        if (!Number.isInteger(e.lane) || e.lane < 0 || e.lane > 3) throw this.bug(`lane ${e.lane}`);
        return w.lane(this.expr(e.a), e.lane);
    }
  }

  private bin(e: Extract<Expr, { op: 'bin' }>): WasmExpr {
    const w = this.w;
    if (e.type === 'i32') {
      if (e.fn === 'min' || e.fn === 'max') {
        // a < b ? a : b for min; both operands through temps (each evaluated once).
        const ta = this.temp('i32');
        const tb = this.temp('i32');
        // NOTE: wasm evaluates select's operands as ifTrue, ifFalse, condition.
        return w.select(
          w.binary(e.fn === 'min' ? 'i32.lt_s' : 'i32.gt_s', w.get(ta, 'i32'), w.get(tb, 'i32')),
          w.tee(ta, this.expr(e.a), 'i32'),
          w.tee(tb, this.expr(e.b), 'i32'),
        );
      }
      if (e.fn === 'pmin' || e.fn === 'pmax') throw this.bug(`i32 ${e.fn}`);
      const op = e.fn === 'div' ? 'i32.div_s' : (`i32.${e.fn}` as const);
      return w.binary(op, this.expr(e.a), this.expr(e.b));
    }
    if (e.type === 'f32' && (e.fn === 'pmin' || e.fn === 'pmax')) {
      // No scalar form in wasm: pmin is b < a ? b : a, pmax a < b ? b : a, through temps.
      const ta = this.temp('f32');
      const tb = this.temp('f32');
      const [x, y] = e.fn === 'pmin' ? [tb, ta] : [ta, tb];
      return w.select(
        w.binary('f32.lt', w.get(x, 'f32'), w.get(y, 'f32')),
        w.tee(tb, this.expr(e.b), 'f32'),
        w.tee(ta, this.expr(e.a), 'f32'),
      );
    }
    if (this.relaxed && e.type === 'v128' && e.fn === 'add') {
      // acc + x * y as one relaxed multiply-add.
      const isMul = (x: Expr): x is Extract<Expr, { op: 'bin' }> =>
        x.op === 'bin' && x.fn === 'mul' && x.type === 'v128';
      if (isMul(e.b)) return w.relaxedMadd(this.expr(e.b.a), this.expr(e.b.b), this.expr(e.a));
      if (isMul(e.a)) return w.relaxedMadd(this.expr(e.a.a), this.expr(e.a.b), this.expr(e.b));
    }
    if (e.type === 'v128') return w.binary(`f32x4.${e.fn}`, this.expr(e.a), this.expr(e.b));
    if (e.fn === 'pmin' || e.fn === 'pmax') throw this.bug(`f32 ${e.fn} reached the binary form`);
    return w.binary(`f32.${e.fn}`, this.expr(e.a), this.expr(e.b));
  }

  // ------------------------------------------------------------------------------- addresses

  /** Byte pointer and offset immediate for an element index. */
  private address(e: Expr): { ptr: WasmExpr; offset: number } {
    const w = this.w;
    const lin = this.scope.linear(e);
    const terms = [...lin.terms.values()].filter((t) => t.coef !== 0);
    // Lower bound of the dynamic part, in bytes.
    const lo = this.scope.minimum(terms) * 4;
    const cb = lin.c * 4;
    // ptr = dyn + shift must stay >= 0 (no wrap) and offset = cb - shift >= 0.
    let shift: number;
    if (lo >= 0 && cb >= 0) shift = 0;
    else if (Number.isFinite(lo) && lo + cb >= 0) shift = -lo;
    else shift = cb;
    if (cb - shift > 0xffffffff) shift = cb;
    const offset = cb - shift;

    const { groups, inline } = hoistPlan(terms);
    let ptr: WasmExpr | null = null;
    if (groups.length) {
      // Prefix sums: one local per depth present, each adding its terms to the outer prefix.
      let prev: number | null = null;
      groups.forEach(({ depth, terms: group, key }, i) => {
        const isLast = i === groups.length - 1;
        const k = isLast && shift !== 0 ? `${key}${shift}` : key;
        const frame = this.frames[depth];
        if (!frame) throw this.bug(`address term at depth ${depth}`);
        let local = frame.prefixes.get(k);
        if (local === undefined) {
          let sum: WasmExpr | null = prev === null ? null : w.get(prev, 'i32');
          local = this.temp('i32');
          const counter = frame.counter;
          if (counter && group.length === 1) {
            // The loop's own counter alone: start at its first value, step with it (one add
            // per iteration instead of a shift and an add).
            const bytes = group[0]!.coef * 4;
            const first = bytes * counter.from + (isLast ? shift : 0);
            frame.inductions.push({
              local,
              init: first !== 0 || sum === null ? this.sum(sum, w.i32(first | 0)) : sum,
              step: (bytes * counter.step) | 0,
            });
          } else {
            for (const t of group) sum = this.sum(sum, this.scaled(t));
            if (isLast && shift !== 0) sum = this.sum(sum, w.i32(shift));
            frame.prelude.push(w.set(local, sum!));
          }
          frame.prefixes.set(k, local);
        }
        prev = local;
      });
      ptr = w.get(prev!, 'i32');
    } else if (shift !== 0) {
      ptr = w.i32(shift);
    }
    for (const t of inline) ptr = this.sum(ptr, this.scaled(t));
    return { ptr: ptr ?? w.i32(0), offset };
  }

  private sum(a: WasmExpr | null, b: WasmExpr): WasmExpr {
    return a === null ? b : this.w.binary('i32.add', a, b);
  }

  /** atom * coef * 4 (bytes). */
  private scaled(t: Term): WasmExpr {
    const w = this.w;
    const bytes = (t.coef * 4) | 0;
    const atom = this.expr(t.atom);
    if (bytes === 1) return atom;
    if (isPow2(bytes)) return w.binary('i32.shl', atom, w.i32(Math.log2(bytes)));
    return w.binary('i32.mul', atom, w.i32(bytes));
  }
}
