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
// Addresses come from the address-induction pass (src/kir/induction.ts, in WASM_PASSES): a
// load or store is at a byte pointer plus its offset immediate, pointer lets head the loop
// bodies, and a loop's pointers are set before it and advanced after each iteration. The printer
// prints them as they are (a byte scaling by a power of two as a shift); a loop whose body reads
// its counter nowhere counts its trips with its first pointer. A pointer's local is declared
// where it is first read (after the pointers its value reads), so locals keep the order of
// their first uses.
import { InternalError } from '../../src/diag/diagnostics.js';
import type { Expr, Kernel, MathFn, Stmt, Type } from '../../src/kir/kir.js';
import { isPointerName } from '../../src/kir/induction.js';
import { applyPasses, WASM_PASSES } from '../../src/kir/passes.js';
import { someExpr, walk, walkExpr } from '../../src/kir/visit.js';
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
 * each on its own cache line; then a part counter per phase for each thread, a thread's counters
 * on cache lines of their own, `counterStride` apart), then each thread's scratch
 * (`scratchAt + tid * scratchBytes`). The loader sizes the memory for its thread count.
 */
export interface ThreadMemory {
  readonly syncAt: number;
  /** Bytes from one thread's part counters to the next thread's. */
  readonly counterStride: number;
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
  const counterStride = alignLine(4 * par.phases.length);
  const scratchAt = alignLine(syncAt + SYNC.counters + maxThreads * counterStride);
  const scratchBytes = alignLine(par.scratchFloats * 4);
  const bytes = scratchAt + maxThreads * scratchBytes;
  const widest = Math.max(1, ...par.phases.map((p) => p.parts.length));
  return {
    syncAt,
    counterStride,
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
  if (threads && !program.preparesInOrder) {
    // preparePart(i): prepare step i (largest first), or 0 past the last: the threads build's
    // prepare split between the threads that load it, each taking the next i until it gets 0
    // (a prepare whose steps must run in order, `preparesInOrder`, runs on one thread). Each
    // part is the one-thread prepare's call, so the prepared weights are the same bits.
    const parts = calls(program.prepare).map((call, i) =>
      w.if(
        w.binary('i32.eq', w.get(0, 'i32'), w.i32(i)),
        w.block(null, [call, w.return(w.i32(1))]),
      ),
    );
    w.addFunction('preparePart', ['i32'], 'i32', [], w.block(null, [...parts, w.i32(0)], 'i32'));
    w.exportFunction('preparePart', 'preparePart');
  }
  w.addFunction('abi', [], 'i32', [], w.i32(ABI_VERSION));
  w.exportFunction('abi', 'abi');
}

/** The thread counts the threads build has room for (each thread's scratch). */
export const THREADS_BUILT_FOR = 16;
/** Times a waiting thread looks at the word it waits on before it sleeps (memory.atomic.wait32):
 * a few hundred microseconds, longer than one thread usually finishes its share of a phase after
 * another, and than a run's caller takes between runs; a sleeping thread's wake-up costs more
 * (measured on 2 threads: MobileNetV1, DCGAN and ResNet-50 1-5 % faster than with 16 K looks). */
const SPINS = 1 << 18;

/**
 * The thread pool's functions in the threads build (locals: params first):
 * - `run(T, canWait)`: the calling thread's: resets the part counters, starts a run (the run
 *   generation, workers notified), takes its share (`work(0, ...)`), returns after the last
 *   phase's barrier.
 * - `worker(tid, T)`: a worker's whole life: waits for a run (spins, then sleeps), works it,
 *   until `stop()`.
 * - `work(tid, T, canWait)`: every phase: takes parts until none is left (`next`), then the
 *   barrier.
 * - `next(counters, P, tid, T)`: the next part of a phase of P parts for thread tid, or -1.
 *   Thread u owns the parts uP/T to (u+1)P/T - 1, taken in order through its own counter (an
 *   atomic add); a thread takes its own first, then what is left of the others' (u = tid + 1,
 *   ...). Owning a fixed share keeps a band's rows on one thread from layer to layer (the
 *   rows it wrote are in its cache when the next layer reads them); taking the others' keeps
 *   a late thread from holding up the barrier.
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

  // next(counters, P, tid, T); locals j, u, i.
  const u = (): WasmExpr => get(5);
  const start = (owner: WasmExpr) =>
    w.binary('i32.div_s', w.binary('i32.mul', owner, get(1)), get(3));
  w.addFunction(
    'next',
    ['i32', 'i32', 'i32', 'i32'],
    'i32',
    ['i32', 'i32', 'i32'],
    w.block(
      null,
      [
        w.loop(
          'owners',
          w.block(null, [
            w.set(5, w.binary('i32.add', get(2), get(4))),
            w.if(w.binary('i32.ge_s', u(), get(3)), w.set(5, w.binary('i32.sub', u(), get(3)))),
            w.set(
              6,
              w.binary(
                'i32.add',
                start(u()),
                w.atomicAdd(
                  w.binary('i32.add', get(0), w.binary('i32.mul', u(), i32(mem.counterStride))),
                  i32(1),
                ),
              ),
            ),
            w.if(
              w.binary('i32.lt_u', get(6), start(w.binary('i32.add', u(), i32(1)))),
              w.return(get(6)),
            ),
            w.set(4, w.binary('i32.add', get(4), i32(1))),
            w.br('owners', w.binary('i32.lt_u', get(4), get(3))),
          ]),
        ),
        i32(-1),
      ],
      'i32',
    ),
  );

  // work(tid, T, canWait); local i.
  const body: WasmExpr[] = [];
  par.phases.forEach((phase, k) => {
    const counters = at(SYNC.counters + 4 * k);
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
            'i32.ge_s',
            w.tee(
              3,
              w.call('next', [counters, i32(phase.parts.length), get(0), get(1)], 'i32'),
              'i32',
            ),
            i32(0),
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
      w.fill(at(SYNC.counters), i32(0), i32(mem.maxThreads * mem.counterStride)),
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

interface Local {
  readonly index: number;
  readonly type: ValType;
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

class KernelEmitter {
  private readonly locals = new Map<string, Local>();
  private readonly vars: ValType[] = [];
  private readonly params: ReadonlySet<string>;
  /** Each pointer's value (a pointer let's, or a loop pointer's start). */
  private readonly pointers = new Map<string, Expr>();
  private labels = 0;

  constructor(
    private readonly w: WasmModule,
    private readonly kernel: Kernel,
    private readonly math: { readonly scalar: Set<MathFn>; readonly vector: Set<MathFn> },
    private readonly relaxed = false,
  ) {
    this.params = new Set(kernel.params);
    if (this.params.size !== kernel.params.length) throw this.bug('repeated parameter names');
    kernel.params.forEach((p, i) => this.locals.set(p, { index: i, type: 'i32' }));
  }

  emit(fn: string): void {
    const body = applyPasses(this.kernel.body, WASM_PASSES, this.kernel.params);
    this.declare(body);
    const all = this.body(body);
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

  /** Declares every local but the pointers (declared where first read); checks assignments. */
  private declare(body: readonly Stmt[]): void {
    const lets = new Set<string>();
    const mutable = new Set<string>();
    const counters = new Set<string>();
    walk(body, {
      stmt: (s) => {
        if (s.op === 'let' && isPointerName(s.name)) this.pointers.set(s.name, s.value);
        else if (s.op === 'let') {
          this.local(s.name, s.type);
          if (lets.has(s.name)) mutable.add(s.name);
          lets.add(s.name);
        } else if (s.op === 'set') mutable.add(s.name);
        else if (s.op === 'for') {
          this.local(s.v, 'i32');
          counters.add(s.v);
          for (const p of s.pointers ?? []) this.pointers.set(p.name, p.init);
        }
      },
    });
    for (const p of this.params) if (mutable.has(p)) throw this.bug(`parameter ${p} is set`);
    for (const v of counters)
      if (mutable.has(v) || lets.has(v)) throw this.bug(`loop counter ${v} is assigned`);
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
    if (l) return l;
    const value = this.pointers.get(name);
    if (!value) throw this.bug(`unknown variable ${name}`);
    // A pointer's first read: the pointers its value reads first.
    walkExpr(value, (e) => {
      if (e.op === 'get' && isPointerName(e.name)) this.lookup(e.name);
    });
    this.temp('i32', name);
    return this.locals.get(name)!;
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

  /** A function's or loop's body: its pointer lets (at its head) first, though printed after
   * the rest, so locals are declared in the order of their first reads. */
  private body(stmts: readonly Stmt[]): WasmExpr[] {
    let n = 0;
    while (n < stmts.length) {
      const s = stmts[n]!;
      if (s.op !== 'let' || !isPointerName(s.name)) break;
      n++;
    }
    const rest = this.stmts(stmts.slice(n));
    return [...this.stmts(stmts.slice(0, n)), ...rest];
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
      case 'let':
        if (isPointerName(s.name)) return w.set(this.lookup(s.name).index, this.pointer(s.value));
        return w.set(this.lookup(s.name).index, this.expr(s.value));
      case 'set':
        return w.set(this.lookup(s.name).index, this.expr(s.value));
      case 'storeAt':
        return w.store(s.type, s.offset, this.pointer(s.ptr), this.expr(s.value));
      case 'store':
        throw this.bug('a store with an element address (the address-induction pass did not run)');
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
    const v = this.lookup(s.v).index;
    const body = this.body(s.body);
    const label = `L${this.labels++}`;
    const ind = (s.pointers ?? []).map((p) => ({ ...p, local: this.lookup(p.name).index }));
    const step = (p: (typeof ind)[number]): WasmExpr =>
      w.binary('i32.add', w.get(p.local, 'i32'), w.i32(p.step));
    const advance = (ps: typeof ind): WasmExpr[] => ps.map((p) => w.set(p.local, step(p)));
    const start = ind.map((p) => w.set(p.local, this.pointer(p.init)));
    if (ind.length && !someExpr(s.body, (e) => e.op === 'get' && e.name === s.v)) {
      // Nothing reads the counter: the first pointer counts the trips (it reaches its start +
      // trips * step exactly).
      const [first, ...rest] = ind as [(typeof ind)[number], ...typeof ind];
      const end = this.temp('i32');
      const next = w.binary('i32.ne', w.tee(first.local, step(first), 'i32'), w.get(end, 'i32'));
      const inner = w.block(null, [...body, ...advance(rest), w.br(label, next)]);
      const endAt = w.binary('i32.add', w.get(first.local, 'i32'), w.i32((trips * first.step) | 0));
      return w.block(null, [...start, w.set(end, endAt), w.loop(label, inner)]);
    }
    const next = w.binary(
      'i32.lt_s',
      w.tee(v, w.binary('i32.add', w.get(v, 'i32'), w.i32(s.step)), 'i32'),
      w.i32(s.to),
    );
    const inner = w.block(null, [...body, ...advance(ind), w.br(label, next)]);
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
        return w.get(l.index, l.type);
      }
      case 'loadAt':
        return w.load(e.type, e.offset, this.pointer(e.ptr));
      case 'load':
        throw this.bug('a load with an element address (the address-induction pass did not run)');
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
        if (e.a.op === 'loadAt') return w.loadSplat(e.a.offset, this.pointer(e.a.ptr));
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

  /** A byte pointer: sums, and byte scalings by a power of two as shifts. */
  private pointer(e: Expr): WasmExpr {
    const w = this.w;
    if (e.op === 'bin' && e.type === 'i32' && e.fn === 'add')
      return w.binary('i32.add', this.pointer(e.a), this.pointer(e.b));
    if (
      e.op === 'bin' &&
      e.type === 'i32' &&
      e.fn === 'mul' &&
      e.b.op === 'const' &&
      isPow2(e.b.value)
    )
      return w.binary('i32.shl', this.expr(e.a), w.i32(Math.log2(e.b.value)));
    return this.expr(e);
  }
}
