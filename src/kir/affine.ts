// Address analysis, for any backend: the linear form of an i32 index expression (terms
// coef * atom plus a constant, where an atom is a parameter, a loop counter or anything else),
// interval bounds on i32 values, and how an address's terms hoist out of loops.
//
// The analysis runs in the scope of a kernel as a printer walks it, after the KIR passes: the
// parameters (never negative: they are element offsets), the loops around the point reached
// (each counter's depth and range) and the immutable i32 lets met so far (each one's interval,
// and its linear form when it is affine in parameters and loop counters alone, so an address
// reading it expands it and hoists).
import type { Expr } from './kir.js';

/** A closed interval of integers (bounds may be infinite). */
export type Interval = readonly [number, number];
export const ANY: Interval = [-Infinity, Infinity];

/** coef * atom, where atom is a parameter, a loop counter or (inline) anything else. */
export interface Term {
  readonly key: string;
  readonly atom: Expr;
  coef: number;
  /** Loop depth it varies at (0: parameters), or null: computed where used. */
  readonly depth: number | null;
}

export interface Linear {
  readonly terms: Map<string, Term>;
  c: number;
}

/** Hoisted terms of one depth, and the key of the prefix sum of every group up to this one. */
export interface PrefixGroup {
  readonly depth: number;
  readonly terms: readonly Term[];
  readonly key: string;
}

export class AffineScope {
  /** Active loop counters: depth and range. */
  private readonly loops = new Map<string, { depth: number; range: Interval }>();
  /** Immutable i32 lets: their value's interval, and its linear form when that is affine in
   * parameters and loop counters only. */
  private readonly lets = new Map<string, { range: Interval; linear: Linear | null }>();
  private inlineAtoms = 0;

  /** `mutable`: the locals some `set` assigns (or declared twice); they get no interval. */
  constructor(
    private readonly params: ReadonlySet<string>,
    private readonly mutable: ReadonlySet<string>,
  ) {}

  /** Enters loop `v` at `depth`, its counter running over [from, last]. */
  enterLoop(v: string, depth: number, from: number, last: number): void {
    this.loops.set(v, { depth, range: [from, last] });
  }

  leaveLoop(v: string): void {
    this.loops.delete(v);
  }

  /** Whether `name` is the counter of a loop around the point reached. */
  isCounter(name: string): boolean {
    return this.loops.has(name);
  }

  /** Records a let met in order (only immutable i32 ones matter). */
  define(name: string, value: Expr): void {
    if (value.type === 'i32' && !this.mutable.has(name))
      this.lets.set(name, { range: this.interval(value), linear: this.affine(value) });
  }

  /** The linear form of an i32 element index. */
  linear(e: Expr, scale = 1, acc: Linear = { terms: new Map(), c: 0 }): Linear {
    if (e.op === 'const') {
      acc.c += scale * e.value;
    } else if (e.op === 'bin' && (e.fn === 'add' || e.fn === 'sub')) {
      this.linear(e.a, scale, acc);
      this.linear(e.b, e.fn === 'sub' ? -scale : scale, acc);
    } else if (e.op === 'bin' && e.fn === 'mul' && e.b.op === 'const') {
      this.linear(e.a, scale * e.b.value, acc);
    } else if (e.op === 'bin' && e.fn === 'mul' && e.a.op === 'const') {
      this.linear(e.b, scale * e.a.value, acc);
    } else if (e.op === 'get' && this.expandable(e.name)) {
      const l = this.lets.get(e.name)!.linear!;
      acc.c += scale * l.c;
      for (const t of l.terms.values()) addTerm(acc, t.key, t.atom, t.depth, scale * t.coef);
    } else if (e.op === 'get') {
      const depth = this.params.has(e.name) ? 0 : (this.loops.get(e.name)?.depth ?? null);
      addTerm(acc, e.name, e, depth, scale);
    } else {
      addTerm(acc, `#${this.inlineAtoms++}`, e, null, scale);
    }
    return acc;
  }

  /** Whether a let expands into its linear form here: its loop counters are still active. */
  private expandable(name: string): boolean {
    const l = this.lets.get(name)?.linear;
    if (!l) return false;
    for (const t of l.terms.values())
      if (t.depth !== 0 && (t.atom.op !== 'get' || this.loops.get(t.atom.name)?.depth !== t.depth))
        return false;
    return true;
  }

  /** The linear form of a let's value when every term hoists (parameters, loop counters). */
  private affine(e: Expr): Linear | null {
    if (e.type !== 'i32') return null;
    const l = this.linear(e);
    for (const t of l.terms.values()) if (t.depth === null) return null;
    return l;
  }

  atomInterval(atom: Expr): Interval {
    if (atom.op !== 'get') return this.interval(atom);
    if (this.params.has(atom.name)) return [0, Infinity];
    const loop = this.loops.get(atom.name);
    if (loop) return loop.range;
    return this.lets.get(atom.name)?.range ?? ANY;
  }

  /** Bounds on an i32 expression's value. */
  interval(e: Expr): Interval {
    switch (e.op) {
      case 'const':
        return [e.value, e.value];
      case 'get':
        return this.atomInterval(e);
      case 'cmp':
      case 'and':
        return [0, 1];
      case 'select': {
        const a = this.interval(e.a);
        const b = this.interval(e.b);
        return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
      }
      case 'bin': {
        if (e.type !== 'i32') return ANY;
        const a = this.interval(e.a);
        const b = this.interval(e.b);
        switch (e.fn) {
          case 'add':
            return [a[0] + b[0], a[1] + b[1]];
          case 'sub':
            return [a[0] - b[1], a[1] - b[0]];
          case 'mul': {
            const p = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]];
            if (p.some(Number.isNaN)) return ANY;
            return [Math.min(...p), Math.max(...p)];
          }
          case 'min':
            return [Math.min(a[0], b[0]), Math.min(a[1], b[1])];
          case 'max':
            return [Math.max(a[0], b[0]), Math.max(a[1], b[1])];
          case 'div':
          case 'pmin':
          case 'pmax':
            return ANY;
        }
      }
      // falls through (not reached: every i32 bin case returns)
      default:
        return ANY;
    }
  }

  /** A lower bound on the sum of `terms` (-Infinity when unbounded). */
  minimum(terms: readonly Term[]): number {
    let lo = 0;
    for (const t of terms) {
      const [a, b] = this.atomInterval(t.atom);
      const x = Math.min(t.coef * a, t.coef * b);
      lo += Number.isNaN(x) ? -Infinity : x;
    }
    return lo;
  }
}

function addTerm(acc: Linear, key: string, atom: Expr, depth: number | null, coef: number): void {
  const t = acc.terms.get(key);
  if (t) t.coef += coef;
  else acc.terms.set(key, { key, atom, coef, depth });
}

/**
 * How an address's terms hoist: those of parameters and loop counters by depth, outermost
 * first (by key within a depth), each depth's group keyed by the prefix sum up to it, so
 * addresses sharing a prefix share its local; and the terms computed where the address is.
 */
export function hoistPlan(terms: readonly Term[]): { groups: PrefixGroup[]; inline: Term[] } {
  const hoisted = terms
    .filter((t) => t.depth !== null)
    .sort((a, b) => a.depth! - b.depth! || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const groups: PrefixGroup[] = [];
  let key = '';
  for (let i = 0; i < hoisted.length;) {
    const depth = hoisted[i]!.depth!;
    let j = i;
    while (j < hoisted.length && hoisted[j]!.depth === depth) j++;
    const group = hoisted.slice(i, j);
    i = j;
    key += group.map((t) => `${t.key}*${t.coef}`).join('+') + '|';
    groups.push({ depth, terms: group, key });
  }
  return { groups, inline: terms.filter((t) => t.depth === null) };
}
