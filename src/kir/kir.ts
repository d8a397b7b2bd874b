// The kernel IR: loop nests over one flat f32 memory, with every shape, stride and size a
// constant. Layers build kernels in it; both backends (TypeScript, wasm) print it.
//
// Addresses are element indices (f32 units) into the one memory. Kernels take i32 parameters
// (the base offsets of their output, inputs and weights), so one specialization serves every
// layer with the same shapes. `v128` is four f32 lanes; the TypeScript backend scalarizes it.

export type Type = 'i32' | 'f32' | 'v128';
/** `pmin(a, b) = b < a ? b : a` and `pmax(a, b) = a < b ? b : a` (f32 and v128 only): wasm's
 * one-instruction pseudo-minimum and maximum. They equal min and max but where b is NaN (a is
 * kept) and for two zeros (a is kept); wasm's min and max take 8 instructions and a scratch
 * register on x64, so activations that clamp against a constant use these. */
export type BinFn = 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max' | 'pmin' | 'pmax';
export type CmpFn = 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne';
/** f32 functions with no wasm instruction: backends call a helper. */
export type MathFn = 'exp' | 'expm1' | 'log1p' | 'tanh' | 'erf';

export type Expr =
  | { readonly op: 'const'; readonly type: 'i32' | 'f32'; readonly value: number }
  | { readonly op: 'get'; readonly type: Type; readonly name: string }
  | { readonly op: 'load'; readonly type: 'f32' | 'v128'; readonly addr: Expr }
  | {
      readonly op: 'bin';
      readonly type: Type;
      readonly fn: BinFn;
      readonly a: Expr;
      readonly b: Expr;
    }
  | { readonly op: 'neg' | 'sqrt' | 'abs'; readonly type: 'f32' | 'v128'; readonly a: Expr }
  /** f32; v128 only for exp and tanh (see codegen/wasm/math.ts). */
  | { readonly op: 'math'; readonly type: 'f32' | 'v128'; readonly fn: MathFn; readonly a: Expr }
  /** An i32 that is 1 when the comparison holds (operands of `cmpType`). */
  | {
      readonly op: 'cmp';
      readonly type: 'i32';
      readonly fn: CmpFn;
      readonly cmpType: 'i32' | 'f32';
      readonly a: Expr;
      readonly b: Expr;
    }
  | { readonly op: 'and'; readonly type: 'i32'; readonly a: Expr; readonly b: Expr }
  /** cond ? a : b (both evaluated). */
  | {
      readonly op: 'select';
      readonly type: Type;
      readonly cond: Expr;
      readonly a: Expr;
      readonly b: Expr;
    }
  | { readonly op: 'splat'; readonly type: 'v128'; readonly a: Expr }
  | { readonly op: 'lane'; readonly type: 'f32'; readonly a: Expr; readonly lane: number }
  /** A load at the byte address ptr + offset (offset a constant >= 0): the addresses the
   * address-induction pass (induction.ts) writes for the wasm printer, as its load's operand
   * and offset immediate. */
  | {
      readonly op: 'loadAt';
      readonly type: 'f32' | 'v128';
      readonly ptr: Expr;
      readonly offset: number;
    };

/** A pointer a loop carries (address induction): set to `init` before the loop's first
 * iteration, advanced by `step` bytes after each one. */
export interface Pointer {
  readonly name: string;
  readonly init: Expr;
  readonly step: number;
}

export type Stmt =
  /** Declares (or re-sets, in a loop) a local. Names are unique within a kernel. */
  | { readonly op: 'let'; readonly name: string; readonly type: Type; readonly value: Expr }
  | { readonly op: 'set'; readonly name: string; readonly value: Expr }
  | {
      readonly op: 'store';
      readonly type: 'f32' | 'v128';
      readonly addr: Expr;
      readonly value: Expr;
    }
  /** A store at the byte address ptr + offset (see loadAt). */
  | {
      readonly op: 'storeAt';
      readonly type: 'f32' | 'v128';
      readonly ptr: Expr;
      readonly offset: number;
      readonly value: Expr;
    }
  /** for (v = from; v < to; v += step): constant bounds. `unroll` asks the backends to unroll.
   * `pointers` (address induction) are set before the loop and advanced after each iteration. */
  | {
      readonly op: 'for';
      readonly v: string;
      readonly from: number;
      readonly to: number;
      readonly step: number;
      readonly body: readonly Stmt[];
      readonly unroll?: boolean;
      readonly pointers?: readonly Pointer[];
    }
  | {
      readonly op: 'if';
      readonly cond: Expr;
      readonly then: readonly Stmt[];
      readonly else?: readonly Stmt[];
    }
  | { readonly op: 'comment'; readonly text: string };

export interface Kernel {
  /** Encodes the specialization: `conv2d_k5x5_s1_i28x28x1_o28x28x32_relu`. Equal names mean equal code. */
  readonly name: string;
  /** i32 parameters: base element offsets, e.g. ['y', 'x', 'w', 'b']. */
  readonly params: readonly string[];
  readonly body: readonly Stmt[];
  /** Lines for the comment heading the kernel (what it is, where it came from). */
  readonly doc: readonly string[];
}

// ---------------------------------------------------------------------------------- builders

const bodyTexts = new WeakMap<readonly Stmt[], string>();

/** A kernel body as text (JSON), made once per body: kernels are named by its digest, and two
 * kernels with one name are checked to have the same text. */
export function bodyText(body: readonly Stmt[]): string {
  let text = bodyTexts.get(body);
  if (text === undefined) bodyTexts.set(body, (text = JSON.stringify(body)));
  return text;
}

export const i32 = (value: number): Expr => ({ op: 'const', type: 'i32', value });
export const f32 = (value: number): Expr => ({
  op: 'const',
  type: 'f32',
  value: Math.fround(value),
});
export const get = (name: string, type: Type = 'i32'): Expr => ({ op: 'get', type, name });

const bin =
  (fn: BinFn) =>
  (a: Expr | number, b: Expr | number): Expr => {
    const x = typeof a === 'number' ? i32(a) : a;
    const y = typeof b === 'number' ? (x.type === 'i32' ? i32(b) : f32(b)) : b;
    return fold({ op: 'bin', type: x.type, fn, a: x, b: y });
  };
export const add = bin('add');
export const sub = bin('sub');
export const mul = bin('mul');
export const div = bin('div');
export const min = bin('min');
export const max = bin('max');
export const pmin = bin('pmin');
export const pmax = bin('pmax');

export const load = (addr: Expr, type: 'f32' | 'v128' = 'f32'): Expr => ({
  op: 'load',
  type,
  addr,
});
export const splat = (a: Expr): Expr => ({ op: 'splat', type: 'v128', a });
export const lane = (a: Expr, n: number): Expr => ({ op: 'lane', type: 'f32', a, lane: n });
export const math = (fn: MathFn, a: Expr): Expr => {
  if (a.type === 'i32') throw new Error(`math ${fn} takes f32 or v128`);
  return { op: 'math', type: a.type, fn, a };
};
export const cmp = (fn: CmpFn, a: Expr, b: Expr | number): Expr => {
  const y = typeof b === 'number' ? (a.type === 'i32' ? i32(b) : f32(b)) : b;
  return fold({ op: 'cmp', type: 'i32', fn, cmpType: a.type as 'i32' | 'f32', a, b: y });
};
export const and = (a: Expr, b: Expr): Expr => fold({ op: 'and', type: 'i32', a, b });
export const select = (cond: Expr, a: Expr, b: Expr): Expr => ({
  op: 'select',
  type: a.type,
  cond,
  a,
  b,
});

export const let_ = (name: string, value: Expr): Stmt => ({
  op: 'let',
  name,
  type: value.type,
  value,
});
export const set = (name: string, value: Expr): Stmt => ({ op: 'set', name, value });
export const store = (addr: Expr, value: Expr): Stmt => ({
  op: 'store',
  type: value.type as 'f32' | 'v128',
  addr,
  value,
});
export const loop = (
  v: string,
  from: number,
  to: number,
  body: readonly Stmt[],
  step = 1,
  unroll = false,
): Stmt => ({
  op: 'for',
  v,
  from,
  to,
  step,
  body,
  unroll,
});
export const if_ = (cond: Expr, then: readonly Stmt[], otherwise?: readonly Stmt[]): Stmt =>
  otherwise ? { op: 'if', cond, then, else: otherwise } : { op: 'if', cond, then };
export const comment = (text: string): Stmt => ({ op: 'comment', text });

// ------------------------------------------------------------------------------------ folding

export const isConst = (e: Expr): e is Extract<Expr, { op: 'const' }> => e.op === 'const';

/** Folds constant i32 arithmetic and identities (x + 0, x * 1, x * 0), reassociating constants. */
export function fold(e: Expr): Expr {
  if (e.op === 'bin' && e.type === 'i32') {
    const { a, b, fn } = e;
    if (isConst(a) && isConst(b)) {
      const v =
        fn === 'add'
          ? a.value + b.value
          : fn === 'sub'
            ? a.value - b.value
            : fn === 'mul'
              ? Math.imul(a.value, b.value)
              : fn === 'min'
                ? Math.min(a.value, b.value)
                : fn === 'max'
                  ? Math.max(a.value, b.value)
                  : Math.trunc(a.value / b.value);
      return i32(v | 0);
    }
    if (fn === 'add' || fn === 'sub') {
      if (isConst(b) && b.value === 0) return a;
      if (fn === 'add' && isConst(a) && a.value === 0) return b;
      // (x + c1) + c2 -> x + (c1 + c2)
      if (isConst(b) && a.op === 'bin' && a.fn === 'add' && isConst(a.b)) {
        const c = fn === 'add' ? a.b.value + b.value : a.b.value - b.value;
        return fold({ ...a, b: i32(c) });
      }
      if (fn === 'sub' && isConst(b))
        return fold({ op: 'bin', type: 'i32', fn: 'add', a, b: i32(-b.value) });
      if (fn === 'add' && isConst(a))
        return fold({ op: 'bin', type: 'i32', fn: 'add', a: b, b: a });
    }
    if (fn === 'mul') {
      if (isConst(b) && b.value === 1) return a;
      if (isConst(a) && a.value === 1) return b;
      if ((isConst(b) && b.value === 0) || (isConst(a) && a.value === 0)) return i32(0);
      if (isConst(a)) return fold({ op: 'bin', type: 'i32', fn: 'mul', a: b, b: a });
      // (x + c1) * c2 -> x * c2 + c1 * c2
      if (isConst(b) && a.op === 'bin' && a.fn === 'add' && isConst(a.b))
        return fold({
          op: 'bin',
          type: 'i32',
          fn: 'add',
          a: fold({ op: 'bin', type: 'i32', fn: 'mul', a: a.a, b }),
          b: i32(Math.imul(a.b.value, b.value)),
        });
    }
  }
  if (e.op === 'cmp' && e.cmpType === 'i32' && isConst(e.a) && isConst(e.b)) {
    const x = e.a.value;
    const y = e.b.value;
    const r =
      e.fn === 'lt'
        ? x < y
        : e.fn === 'le'
          ? x <= y
          : e.fn === 'gt'
            ? x > y
            : e.fn === 'ge'
              ? x >= y
              : e.fn === 'eq'
                ? x === y
                : x !== y;
    return i32(r ? 1 : 0);
  }
  if (e.op === 'and') {
    if (isConst(e.a)) return e.a.value ? e.b : i32(0);
    if (isConst(e.b)) return e.b.value ? e.a : i32(0);
  }
  return e;
}
