// A plain KIR interpreter: the independent oracle the backends are tested against.
//
// f32 semantics: every f32 operation rounds (Math.fround); v128 is four f32 lanes; min and max
// propagate NaN and order -0 < +0 (as wasm's f32.min/max do). i32 arithmetic wraps; `and` is
// bitwise (its operands are 0/1 comparisons). Memory accesses out of bounds or at a
// non-integer address throw, as a wasm trap would.
import { erf } from '../runtime/erf.js';
import type { Expr, Kernel, MathFn, Stmt } from './kir.js';

type Value = number | Float32Array;

const MATH: Readonly<Record<MathFn, (x: number) => number>> = {
  exp: Math.exp,
  expm1: Math.expm1,
  log1p: Math.log1p,
  tanh: Math.tanh,
  erf,
};

const fmin = (a: number, b: number): number => Math.fround(Math.min(a, b));
const fmax = (a: number, b: number): number => Math.fround(Math.max(a, b));

function f32bin(fn: string, a: number, b: number): number {
  switch (fn) {
    case 'add':
      return Math.fround(a + b);
    case 'sub':
      return Math.fround(a - b);
    case 'mul':
      return Math.fround(a * b);
    case 'div':
      return Math.fround(a / b);
    case 'min':
      return fmin(a, b);
    case 'max':
      return fmax(a, b);
    case 'pmin':
      return b < a ? b : a;
    case 'pmax':
      return a < b ? b : a;
  }
  throw new Error(`kir: unknown f32 op ${fn}`);
}

function i32bin(fn: string, a: number, b: number): number {
  switch (fn) {
    case 'add':
      return (a + b) | 0;
    case 'sub':
      return (a - b) | 0;
    case 'mul':
      return Math.imul(a, b);
    case 'div':
      if (b === 0) throw new Error('kir: i32 division by zero');
      return Math.trunc(a / b) | 0;
    case 'min':
      return Math.min(a, b);
    case 'max':
      return Math.max(a, b);
  }
  throw new Error(`kir: unknown i32 op ${fn}`);
}

function compare(fn: string, a: number, b: number): number {
  switch (fn) {
    case 'lt':
      return a < b ? 1 : 0;
    case 'le':
      return a <= b ? 1 : 0;
    case 'gt':
      return a > b ? 1 : 0;
    case 'ge':
      return a >= b ? 1 : 0;
    case 'eq':
      return a === b ? 1 : 0;
    case 'ne':
      return a !== b ? 1 : 0;
  }
  throw new Error(`kir: unknown comparison ${fn}`);
}

class Interpreter {
  private readonly env = new Map<string, Value>();

  constructor(
    private readonly M: Float32Array,
    private readonly name: string,
  ) {}

  bind(name: string, v: Value): void {
    this.env.set(name, v);
  }

  private addr(e: Expr, width: number): number {
    const a = this.num(e);
    if (!Number.isInteger(a) || a < 0 || a + width > this.M.length)
      throw new Error(
        `kir: kernel ${this.name}: access at ${a} outside memory [0, ${this.M.length})`,
      );
    return a;
  }

  /** The element index of byte address ptr + offset (a whole element). */
  private byteAddr(ptr: Expr, offset: number, width: number): number {
    const bytes = this.num(ptr) + offset;
    if (bytes % 4 !== 0)
      throw new Error(`kir: kernel ${this.name}: byte address ${bytes} is not a whole element`);
    return this.addr({ op: 'const', type: 'i32', value: bytes / 4 }, width);
  }

  private num(e: Expr): number {
    const v = this.expr(e);
    if (typeof v !== 'number') throw new Error(`kir: kernel ${this.name}: expected a scalar`);
    return v;
  }

  private vec(e: Expr): Float32Array {
    const v = this.expr(e);
    if (typeof v === 'number') throw new Error(`kir: kernel ${this.name}: expected a v128`);
    return v;
  }

  private lanes(a: Float32Array, f: (x: number, i: number) => number): Float32Array {
    return Float32Array.from(a, f);
  }

  expr(e: Expr): Value {
    switch (e.op) {
      case 'const':
        return e.type === 'f32' ? Math.fround(e.value) : e.value | 0;
      case 'get': {
        const v = this.env.get(e.name);
        if (v === undefined)
          throw new Error(`kir: kernel ${this.name}: unknown variable ${e.name}`);
        return v;
      }
      case 'load': {
        if (e.type === 'f32') return this.M[this.addr(e.addr, 1)]!;
        const a = this.addr(e.addr, 4);
        return this.M.slice(a, a + 4);
      }
      case 'loadAt': {
        const a = this.byteAddr(e.ptr, e.offset, e.type === 'f32' ? 1 : 4);
        return e.type === 'f32' ? this.M[a]! : this.M.slice(a, a + 4);
      }
      case 'bin': {
        if (e.type === 'i32') return i32bin(e.fn, this.num(e.a), this.num(e.b));
        if (e.type === 'f32') return f32bin(e.fn, this.num(e.a), this.num(e.b));
        const a = this.vec(e.a);
        const b = this.vec(e.b);
        return this.lanes(a, (x, i) => f32bin(e.fn, x, b[i]!));
      }
      case 'neg':
      case 'abs':
      case 'sqrt': {
        const f =
          e.op === 'neg'
            ? (x: number) => -x
            : e.op === 'abs'
              ? Math.abs
              : (x: number) => Math.fround(Math.sqrt(x));
        return e.type === 'v128' ? this.lanes(this.vec(e.a), f) : f(this.num(e.a));
      }
      case 'math': {
        const f = (x: number): number => Math.fround(MATH[e.fn](x));
        return e.type === 'v128' ? this.lanes(this.vec(e.a), f) : f(this.num(e.a));
      }
      case 'cmp':
        return compare(e.fn, this.num(e.a), this.num(e.b));
      case 'and':
        return this.num(e.a) & this.num(e.b);
      case 'select': {
        // Both operands are evaluated (they may trap), as in wasm.
        const c = this.num(e.cond);
        const a = this.expr(e.a);
        const b = this.expr(e.b);
        return c !== 0 ? a : b;
      }
      case 'splat':
        return new Float32Array(4).fill(this.num(e.a));
      case 'lane': {
        const v = this.vec(e.a)[e.lane];
        if (v === undefined) throw new Error(`kir: kernel ${this.name}: lane ${e.lane}`);
        return v;
      }
    }
  }

  stmts(stmts: readonly Stmt[]): void {
    for (const s of stmts) this.stmt(s);
  }

  private stmt(s: Stmt): void {
    switch (s.op) {
      case 'comment':
        return;
      case 'let':
      case 'set':
        this.env.set(s.name, this.expr(s.value));
        return;
      case 'store': {
        if (s.type === 'f32') this.M[this.addr(s.addr, 1)] = this.num(s.value);
        else {
          const a = this.addr(s.addr, 4);
          this.M.set(this.vec(s.value), a);
        }
        return;
      }
      case 'storeAt': {
        const a = this.byteAddr(s.ptr, s.offset, s.type === 'f32' ? 1 : 4);
        if (s.type === 'f32') this.M[a] = this.num(s.value);
        else this.M.set(this.vec(s.value), a);
        return;
      }
      case 'for': {
        const pointers = s.pointers ?? [];
        if (s.from < s.to) for (const p of pointers) this.env.set(p.name, this.num(p.init));
        for (let v = s.from; v < s.to; v += s.step) {
          this.env.set(s.v, v);
          this.stmts(s.body);
          for (const p of pointers)
            this.env.set(p.name, ((this.env.get(p.name) as number) + p.step) | 0);
        }
        return;
      }
      case 'if':
        if (this.num(s.cond) !== 0) this.stmts(s.then);
        else if (s.else) this.stmts(s.else);
        return;
    }
  }
}

/** Runs a kernel on memory `M` with its parameters bound to `args` (element offsets). */
export function runKernel(kernel: Kernel, M: Float32Array, args: readonly number[]): void {
  if (args.length !== kernel.params.length)
    throw new Error(
      `kir: kernel ${kernel.name} takes ${kernel.params.length} args, got ${args.length}`,
    );
  const it = new Interpreter(M, kernel.name);
  kernel.params.forEach((p, i) => it.bind(p, args[i]!));
  it.stmts(kernel.body);
}
