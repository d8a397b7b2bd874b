// The address-induction pass: every element address becomes a byte pointer plus a constant
// offset (loadAt, storeAt), with the pointer's loop-invariant parts hoisted and the parts that
// step with a loop carried by the loop (strength reduction).
//
// An element index is split into a linear form (affine.ts: terms coef * atom plus a constant).
// Terms over parameters and loop counters are hoisted: their byte sum is computed once per
// iteration of the innermost loop they depend on (at the kernel's start for parameters alone),
// by a pointer let at the head of that loop's body, shared by every address with the same terms;
// the part a loop's own counter adds is an induction pointer (`Pointer` on the loop: set before
// it, advanced by a constant after each iteration: one add, not a shift and an add). Other terms
// are computed where the address is. The constant goes into the offset whenever interval bounds
// on the terms prove the pointer is never negative (a wasm effective address does not wrap);
// otherwise into the pointer. Measured (in the wasm backend): a 1x1 conv2d 2.47 -> 2.30 ms,
// ResNet-50 about 4 % faster end to end.
//
// Pointers are locals named `@p0`, `@p1`, ... (no kernel local starts with `@`); a pointer let's
// value is the pointer of the enclosing depth plus its terms. Byte scalings are `mul` by a
// constant (a printer may shift by a power of two). Loops of no trip are dropped.
import { AffineScope, hoistPlan, type Term } from './affine.js';
import type { Expr, Pointer, Stmt } from './kir.js';
import { walk } from './visit.js';

/** A loop being rewritten (depth 0 is the kernel body). */
interface Frame {
  /** Pointer lets run at the start of each iteration (the kernel's start for depth 0). */
  readonly prelude: Stmt[];
  /** Pointers by the key of their terms. */
  readonly prefixes: Map<string, string>;
  /** A loop's counter start and step (none for the kernel body). */
  readonly counter?: { readonly from: number; readonly step: number };
  readonly pointers: Pointer[];
}

/** Whether `name` is a pointer this pass introduced. */
export const isPointerName = (name: string): boolean => name.startsWith('@');

const i32 = (value: number): Expr => ({ op: 'const', type: 'i32', value });
const get = (name: string): Expr => ({ op: 'get', type: 'i32', name });
/** a + b, unfolded (the printers print what the pass built). */
const sum = (a: Expr | null, b: Expr): Expr =>
  a === null ? b : { op: 'bin', type: 'i32', fn: 'add', a, b };

/** Rewrites a kernel body's addresses as pointers (see the header). */
export function addressInduction(body: readonly Stmt[], params: readonly string[]): Stmt[] {
  return new Induction(body, params).run(body);
}

class Induction {
  private readonly scope: AffineScope;
  private readonly frames: Frame[] = [];
  private pointers = 0;

  constructor(body: readonly Stmt[], params: readonly string[]) {
    this.scope = new AffineScope(new Set(params), mutables(body));
  }

  run(body: readonly Stmt[]): Stmt[] {
    const frame = this.push();
    const stmts = this.stmts(body);
    this.frames.pop();
    return [...frame.prelude, ...stmts];
  }

  private push(counter?: Frame['counter']): Frame {
    const f: Frame = {
      prelude: [],
      prefixes: new Map(),
      pointers: [],
      ...(counter ? { counter } : {}),
    };
    this.frames.push(f);
    return f;
  }

  private stmts(stmts: readonly Stmt[]): Stmt[] {
    const out: Stmt[] = [];
    for (const s of stmts) {
      const t = this.stmt(s);
      if (t !== null) out.push(t);
    }
    return out;
  }

  private stmt(s: Stmt): Stmt | null {
    switch (s.op) {
      case 'comment':
        return s;
      case 'let': {
        const value = this.expr(s.value);
        if (s.type === 'i32') this.scope.define(s.name, s.value);
        return { ...s, value };
      }
      case 'set':
        return { ...s, value: this.expr(s.value) };
      case 'store': {
        const { ptr, offset } = this.address(s.addr);
        return { op: 'storeAt', type: s.type, ptr, offset, value: this.expr(s.value) };
      }
      case 'if': {
        const cond = this.expr(s.cond);
        const then = this.stmts(s.then);
        return s.else && s.else.length
          ? { op: 'if', cond, then, else: this.stmts(s.else) }
          : { op: 'if', cond, then };
      }
      case 'for':
        return this.loop(s);
      case 'storeAt':
        throw new Error('induction: the pass runs once');
    }
  }

  private loop(s: Extract<Stmt, { op: 'for' }>): Stmt | null {
    if (s.step <= 0) throw new Error(`induction: loop ${s.v} has step ${s.step}`);
    const trips = Math.ceil((s.to - s.from) / s.step);
    if (trips <= 0) return null;
    if (this.scope.isCounter(s.v)) throw new Error(`induction: nested loops share ${s.v}`);
    const last = s.from + (trips - 1) * s.step;
    this.scope.enterLoop(s.v, this.frames.length, s.from, last);
    const frame = this.push({ from: s.from, step: s.step });
    const body = this.stmts(s.body);
    this.frames.pop();
    this.scope.leaveLoop(s.v);
    return {
      ...s,
      body: [...frame.prelude, ...body],
      ...(frame.pointers.length ? { pointers: frame.pointers } : {}),
    };
  }

  private expr(e: Expr): Expr {
    switch (e.op) {
      case 'const':
      case 'get':
        return e;
      case 'load': {
        const { ptr, offset } = this.address(e.addr);
        return { op: 'loadAt', type: e.type, ptr, offset };
      }
      case 'loadAt':
        throw new Error('induction: the pass runs once');
      case 'bin':
      case 'cmp':
      case 'and':
        return { ...e, a: this.expr(e.a), b: this.expr(e.b) };
      case 'select': {
        const cond = this.expr(e.cond);
        const a = this.expr(e.a);
        return { ...e, cond, a, b: this.expr(e.b) };
      }
      case 'neg':
      case 'abs':
      case 'sqrt':
      case 'math':
      case 'splat':
      case 'lane':
        return { ...e, a: this.expr(e.a) };
    }
  }

  /** Byte pointer and offset for an element index. */
  private address(e: Expr): { ptr: Expr; offset: number } {
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
    let ptr: Expr | null = null;
    if (groups.length) {
      // Prefix sums: one pointer per depth present, each adding its terms to the outer one.
      let prev: string | null = null;
      groups.forEach(({ depth, terms: group, key }, i) => {
        const isLast = i === groups.length - 1;
        const k = isLast && shift !== 0 ? `${key}${shift}` : key;
        const frame = this.frames[depth];
        if (!frame) throw new Error(`induction: address term at depth ${depth}`);
        let name = frame.prefixes.get(k);
        if (name === undefined) {
          let value: Expr | null = prev === null ? null : get(prev);
          name = `@p${this.pointers++}`;
          const counter = frame.counter;
          if (counter && group.length === 1) {
            // The loop's own counter alone: start at its first value, step with it.
            const bytes = group[0]!.coef * 4;
            const first = bytes * counter.from + (isLast ? shift : 0);
            frame.pointers.push({
              name,
              init: first !== 0 || value === null ? sum(value, i32(first | 0)) : value,
              step: (bytes * counter.step) | 0,
            });
          } else {
            for (const t of group) value = sum(value, this.scaled(t));
            if (isLast && shift !== 0) value = sum(value, i32(shift));
            frame.prelude.push({ op: 'let', name, type: 'i32', value: value! });
          }
          frame.prefixes.set(k, name);
        }
        prev = name;
      });
      ptr = get(prev!);
    } else if (shift !== 0) {
      ptr = i32(shift);
    }
    for (const t of inline) ptr = sum(ptr, this.scaled(t));
    return { ptr: ptr ?? i32(0), offset };
  }

  /** atom * coef * 4 (bytes). */
  private scaled(t: Term): Expr {
    const bytes = (t.coef * 4) | 0;
    const atom = this.expr(t.atom);
    if (bytes === 1) return atom;
    return { op: 'bin', type: 'i32', fn: 'mul', a: atom, b: i32(bytes) };
  }
}

/** The locals some `set` assigns or that are declared twice: they get no interval. */
function mutables(body: readonly Stmt[]): Set<string> {
  const lets = new Set<string>();
  const out = new Set<string>();
  walk(body, {
    stmt: (s) => {
      if (s.op === 'let') {
        if (lets.has(s.name)) out.add(s.name);
        lets.add(s.name);
      } else if (s.op === 'set') out.add(s.name);
    },
  });
  return out;
}
