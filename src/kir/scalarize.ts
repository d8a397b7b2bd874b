// Scalarization: rewrites v128 code as four f32 lanes, for backends without SIMD (TypeScript).
//
// A v128 local `a` becomes the f32 locals a_0..a_3; a v128 load or store becomes four f32
// accesses at addr + 0..3. Non-trivial addresses and splatted scalars are computed once, into
// a temporary (`_s0`, ...) declared just before the statement that uses them. pmin and pmax,
// which have no scalar operator, become selects over such temporaries.
import { add, cmp, get, i32, select, type Expr, type Stmt } from './kir.js';
import { forEachChild, mapChildren, mapStmt, walk } from './visit.js';

const LANES = [0, 1, 2, 3] as const;

/** The f32 local holding lane `lane` of the v128 local `name`. */
export const laneName = (name: string, lane: number): string => `${name}_${lane}`;

/** Rewrites statements so that no v128 value remains. */
export function scalarize(stmts: readonly Stmt[]): Stmt[] {
  return new Scalarizer(uniformLocals(stmts)).stmts(stmts);
}

/** v128 locals declared as a splat and never set: all lanes equal, so one f32 local each. */
function uniformLocals(stmts: readonly Stmt[]): Set<string> {
  const splats = new Set<string>();
  const sets = new Set<string>();
  walk(stmts, {
    stmt: (s) => {
      if (s.op === 'let' && s.type === 'v128' && s.value.op === 'splat') splats.add(s.name);
      else if (s.op === 'set') sets.add(s.name);
    },
  });
  for (const n of sets) splats.delete(n);
  return splats;
}

/** Per statement: temporaries to declare before it, keyed by the expression they hold. */
interface Hoists {
  readonly pre: Stmt[];
  readonly memo: Map<Expr, Expr>;
}

/** Cheap enough to repeat per lane: a constant, a local, or a local plus a constant. */
const isSimple = (e: Expr): boolean =>
  e.op === 'const' ||
  e.op === 'get' ||
  (e.op === 'bin' && e.fn === 'add' && e.a.op === 'get' && e.b.op === 'const');

/** Whether `e` moves data across lanes (lane, splat, a select's condition) out of the v128
 * local `name`. */
function crossesLanes(e: Expr, name: string, inside = false): boolean {
  if (e.op === 'get') return inside && e.name === name;
  let found = false;
  const across = inside || e.op === 'lane' || e.op === 'splat';
  forEachChild(e, (c, field) => {
    found ||= crossesLanes(c, name, across || (e.op === 'select' && field === 'cond'));
  });
  return found;
}

class Scalarizer {
  private temps = 0;

  constructor(private readonly uniform: ReadonlySet<string>) {}

  stmts(stmts: readonly Stmt[]): Stmt[] {
    return stmts.flatMap((s) => this.stmt(s));
  }

  private stmt(s: Stmt): Stmt[] {
    const h: Hoists = { pre: [], memo: new Map() };
    const out = this.rewrite(s, h);
    return [...h.pre, ...out];
  }

  private rewrite(s: Stmt, h: Hoists): Stmt[] {
    if (s.op === 'let' && s.type === 'v128') {
      if (this.uniform.has(s.name) && s.value.op === 'splat')
        return [{ op: 'let', name: s.name, type: 'f32', value: this.scalar(s.value.a, h) }];
      return LANES.map((i) => ({
        op: 'let',
        name: laneName(s.name, i),
        type: 'f32',
        value: this.lane(s.value, i, h),
      }));
    }
    if (s.op === 'set' && s.value.type === 'v128') {
      const values = LANES.map((i) => this.lane(s.value, i, h));
      if (!crossesLanes(s.value, s.name))
        return LANES.map((i) => ({ op: 'set', name: laneName(s.name, i), value: values[i]! }));
      // Lane i may read lanes j < i that are already overwritten: go through temporaries.
      const temps = values.map((v) => this.declare(v, h));
      return LANES.map((i) => ({ op: 'set', name: laneName(s.name, i), value: temps[i]! }));
    }
    if (s.op === 'store' && s.type === 'v128') {
      const addr = this.hoist(s.addr, this.scalar(s.addr, h), h);
      return LANES.map((i) => ({
        op: 'store',
        type: 'f32',
        addr: add(addr, i32(i)),
        value: this.lane(s.value, i, h),
      }));
    }
    // Scalar statements: scalar expressions (hoisting before this statement), nested lists
    // statement by statement.
    return [
      mapStmt(
        s,
        (e) => this.scalar(e, h),
        (body) => this.stmts(body),
      ),
    ];
  }

  /** f32 pmin (b < a ? b : a) or pmax (a < b ? b : a) as a select, each operand computed once. */
  private pseudo(fn: 'pmin' | 'pmax', a: Expr, b: Expr, h: Hoists): Expr {
    const x = isSimple(a) ? a : this.declare(a, h);
    const y = isSimple(b) ? b : this.declare(b, h);
    return select(fn === 'pmin' ? cmp('lt', y, x) : cmp('lt', x, y), y, x);
  }

  /** A new temporary holding `value`, declared before the statement. */
  private declare(value: Expr, h: Hoists): Expr {
    const name = `_s${this.temps++}`;
    h.pre.push({ op: 'let', name, type: value.type, value });
    return get(name, value.type);
  }

  /** `value` (the scalarized `key`), computed once per statement when it is not trivial. */
  private hoist(key: Expr, value: Expr, h: Hoists): Expr {
    if (isSimple(value)) return value;
    const known = h.memo.get(key);
    if (known) return known;
    const t = this.declare(value, h);
    h.memo.set(key, t);
    return t;
  }

  /** A scalar (i32 or f32) expression, with any lane extraction resolved. */
  private scalar(e: Expr, h: Hoists): Expr {
    if (e.op === 'get' && e.type === 'v128')
      throw new Error('scalarize: v128 get in a scalar position');
    if (e.op === 'splat') throw new Error('scalarize: splat in a scalar position');
    if (e.op === 'lane') return this.lane(e.a, e.lane, h);
    if (e.op === 'bin' && (e.fn === 'pmin' || e.fn === 'pmax'))
      return this.pseudo(e.fn, this.scalar(e.a, h), this.scalar(e.b, h), h);
    return mapChildren(e, (c) => this.scalar(c, h));
  }

  /** Lane `i` of a v128 expression, as an f32 expression. */
  private lane(e: Expr, i: number, h: Hoists): Expr {
    switch (e.op) {
      case 'get':
        return get(this.uniform.has(e.name) ? e.name : laneName(e.name, i), 'f32');
      case 'load': {
        const addr = this.hoist(e.addr, this.scalar(e.addr, h), h);
        return { op: 'load', type: 'f32', addr: add(addr, i32(i)) };
      }
      case 'splat': {
        const a = this.scalar(e.a, h);
        return a.op === 'load' || isSimple(a) ? a : this.hoist(e, a, h);
      }
      case 'bin':
      case 'neg':
      case 'sqrt':
      case 'abs':
      case 'math':
        if (e.op === 'bin' && (e.fn === 'pmin' || e.fn === 'pmax'))
          return this.pseudo(e.fn, this.lane(e.a, i, h), this.lane(e.b, i, h), h);
        // Lane-wise: lane i of the result is the op on lane i of each operand.
        return { ...mapChildren(e, (c) => this.lane(c, i, h)), type: 'f32' } as Expr;
      case 'select': {
        const cond = this.hoist(e.cond, this.scalar(e.cond, h), h);
        return {
          op: 'select',
          type: 'f32',
          cond,
          a: this.lane(e.a, i, h),
          b: this.lane(e.b, i, h),
        };
      }
      default:
        throw new Error(`scalarize: ${e.op} has no v128 form`);
    }
  }
}
