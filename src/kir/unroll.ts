// The unroll pass: loops marked `unroll` (and loops of one trip) become copies of their body
// with the counter a constant, indices folded; ifs whose condition folds to a constant go.
import { fold, i32, isConst, type Expr, type Stmt } from './kir.js';
import { mapExpr, mapStmt, walk } from './visit.js';

/** Replaces a variable by a constant (or expression) everywhere in an expression, folding. */
export function substExpr(e: Expr, name: string, by: Expr): Expr {
  return mapExpr(e, (x) => (x.op === 'get' ? (x.name === name ? by : x) : fold(x)));
}

/** `s` with the locals it declares renamed and the variable `name` replaced by `by`, folding. */
function substStmt(s: Stmt, name: string, by: Expr, rename: (n: string) => string): Stmt {
  const expr = (e: Expr): Expr =>
    mapExpr(e, (x) => {
      if (x.op !== 'get') return fold(x);
      const renamed = rename(x.name);
      return renamed === name ? by : { ...x, name: renamed };
    });
  const t = mapStmt(s, expr, (body) => body.map((u) => substStmt(u, name, by, rename)));
  return t.op === 'let' || t.op === 'set' ? { ...t, name: rename(t.name) } : t;
}

/** Locals declared (by let) anywhere in these statements. */
function declared(stmts: readonly Stmt[]): Set<string> {
  const out = new Set<string>();
  walk(stmts, {
    stmt: (s) => {
      if (s.op === 'let') out.add(s.name);
    },
  });
  return out;
}

/** Unrolls loops marked `unroll` (and any loop of one trip), folding indices; drops dead ifs. */
export function unroll(stmts: readonly Stmt[]): Stmt[] {
  const out: Stmt[] = [];
  for (const s of stmts) {
    if (s.op === 'for') {
      const body = unroll(s.body);
      const trips = Math.max(0, Math.ceil((s.to - s.from) / s.step));
      if (trips === 0) continue;
      if (s.unroll || trips === 1) {
        // Locals declared in the body get a per-iteration suffix so each copy is independent.
        const locals = declared(body);
        for (let v = s.from; v < s.to; v += s.step) {
          const rename = (n: string): string => (locals.has(n) ? `${n}_${v}` : n);
          out.push(...unroll(body.map((t) => substStmt(t, s.v, i32(v), rename))));
        }
      } else out.push({ ...s, body });
    } else if (s.op === 'if') {
      const c = fold(s.cond);
      if (isConst(c)) out.push(...unroll(c.value ? s.then : (s.else ?? [])));
      else
        out.push({
          ...s,
          cond: c,
          then: unroll(s.then),
          ...(s.else ? { else: unroll(s.else) } : {}),
        });
    } else out.push(s);
  }
  return out;
}
