// Generic traversal of the kernel IR (after TVM's StmtExprVisitor / StmtExprMutator).
//
// The children of every node are listed once, in the tables below, in evaluation order; every
// walker and rewriter goes through them. A new KIR op is its definition in kir.ts, its row
// here (the type checker asks for it), and its meaning in the interpreter and the printers.
//
// Rewriters always build a new node for a node with children (even when no child changed) and
// pass leaves (const, get) through as they are: passes may key maps by node identity.
import type { Expr, Stmt } from './kir.js';

type ExprOp = Expr['op'];
type StmtOp = Stmt['op'];
/** The member of union U whose op admits K (`neg`, `sqrt` and `abs` share one member). */
type NodeOf<U extends { readonly op: string }, K> = U extends unknown
  ? K extends U['op']
    ? U
    : never
  : never;
/** The fields of a node that hold an expression. */
type ExprFields<N> = { [F in keyof N]-?: N[F] extends Expr ? F : never }[keyof N];
/** The fields of a statement that hold a statement list (`else` is optional). */
type BodyFields<N> = {
  [F in keyof N]-?: NonNullable<N[F]> extends readonly Stmt[] ? F : never;
}[keyof N];

/** Each expression op's child expressions, in evaluation order. */
const EXPR_CHILDREN: { readonly [K in ExprOp]: readonly ExprFields<NodeOf<Expr, K>>[] } = {
  const: [],
  get: [],
  load: ['addr'],
  bin: ['a', 'b'],
  neg: ['a'],
  sqrt: ['a'],
  abs: ['a'],
  math: ['a'],
  cmp: ['a', 'b'],
  and: ['a', 'b'],
  select: ['cond', 'a', 'b'],
  splat: ['a'],
  lane: ['a'],
  loadAt: ['ptr'],
};

/** Each statement op's expressions (evaluated first, in this order) and nested statement lists. */
const STMT_CHILDREN: {
  readonly [K in StmtOp]: {
    readonly exprs: readonly ExprFields<NodeOf<Stmt, K>>[];
    readonly bodies: readonly BodyFields<NodeOf<Stmt, K>>[];
  };
} = {
  let: { exprs: ['value'], bodies: [] },
  set: { exprs: ['value'], bodies: [] },
  store: { exprs: ['addr', 'value'], bodies: [] },
  storeAt: { exprs: ['ptr', 'value'], bodies: [] },
  for: { exprs: [], bodies: ['body'] },
  if: { exprs: ['cond'], bodies: ['then', 'else'] },
  comment: { exprs: [], bodies: [] },
};

type Fields = Readonly<Record<string, unknown>>;
const exprFields = (e: Expr): readonly string[] => EXPR_CHILDREN[e.op] as readonly string[];
const stmtExprFields = (s: Stmt): readonly string[] =>
  STMT_CHILDREN[s.op].exprs as readonly string[];
const stmtBodyFields = (s: Stmt): readonly string[] =>
  STMT_CHILDREN[s.op].bodies as readonly string[];

// ---------------------------------------------------------------------------------- children

/** The child expressions of an expression, in evaluation order. */
export function exprChildren(e: Expr): Expr[] {
  return exprFields(e).map((f) => (e as unknown as Fields)[f] as Expr);
}

/** Calls `f` on each child of `e` with the field holding it (`'cond'`, `'a'`, ...). */
export function forEachChild(e: Expr, f: (child: Expr, field: string) => void): void {
  for (const field of exprFields(e)) f((e as unknown as Fields)[field] as Expr, field);
}

/** A copy of `e` with each child replaced by `f(child, field)`, children in evaluation order. */
export function mapChildren(e: Expr, f: (child: Expr, field: string) => Expr): Expr {
  const fields = exprFields(e);
  if (fields.length === 0) return e;
  const out: Record<string, unknown> = { ...e };
  for (const field of fields) out[field] = f((e as unknown as Fields)[field] as Expr, field);
  return out as unknown as Expr;
}

/** The expressions a statement evaluates itself (not those of nested statements), in order.
 * A loop's are its pointers' starts (address induction), evaluated before the loop. */
export function stmtExprs(s: Stmt): Expr[] {
  if (s.op === 'for') return (s.pointers ?? []).map((p) => p.init);
  return stmtExprFields(s).map((f) => (s as unknown as Fields)[f] as Expr);
}

/** The statement lists nested in a statement (a loop's body; an if's then and else, if any). */
export function stmtBodies(s: Stmt): (readonly Stmt[])[] {
  const out: (readonly Stmt[])[] = [];
  for (const f of stmtBodyFields(s)) {
    const body = (s as unknown as Fields)[f] as readonly Stmt[] | undefined;
    if (body) out.push(body);
  }
  return out;
}

/** A copy of `s` with its expressions mapped by `expr` (first, in order), then its nested
 * statement lists by `stmts`. An absent `else` stays absent. */
export function mapStmt(
  s: Stmt,
  expr: (e: Expr) => Expr,
  stmts: (body: readonly Stmt[]) => readonly Stmt[],
): Stmt {
  const exprs = stmtExprFields(s);
  const bodies = stmtBodyFields(s);
  if (exprs.length === 0 && bodies.length === 0) return s;
  const src = s as unknown as Fields;
  const out: Record<string, unknown> = { ...s };
  if (s.op === 'for' && s.pointers)
    out.pointers = s.pointers.map((p) => ({ ...p, init: expr(p.init) }));
  for (const f of exprs) out[f] = expr(src[f] as Expr);
  for (const f of bodies) if (src[f] !== undefined) out[f] = stmts(src[f] as readonly Stmt[]);
  return out as unknown as Stmt;
}

// ----------------------------------------------------------------------------------- walking

/** Visits `e` and every expression below it, parents first, children in evaluation order. */
export function walkExpr(e: Expr, visit: (e: Expr) => void): void {
  visit(e);
  forEachChild(e, (c) => walkExpr(c, visit));
}

export interface StmtVisitor {
  /** Called on each statement before its expressions and nested lists; `false` skips them. */
  readonly stmt?: (s: Stmt) => void | boolean;
  /** Called on every expression (sub-expressions included), parents first. */
  readonly expr?: (e: Expr) => void;
}

/** Visits statements in order: each statement, its expressions, then its nested lists. */
export function walk(stmts: readonly Stmt[], v: StmtVisitor): void {
  for (const s of stmts) {
    if (v.stmt?.(s) === false) continue;
    if (v.expr) for (const e of stmtExprs(s)) walkExpr(e, v.expr);
    for (const body of stmtBodies(s)) walk(body, v);
  }
}

/** Whether `pred` holds for some expression in `stmts` (nested statements included). */
export function someExpr(stmts: readonly Stmt[], pred: (e: Expr) => boolean): boolean {
  let found = false;
  walk(stmts, {
    stmt: () => !found,
    expr: (e) => {
      if (!found && pred(e)) found = true;
    },
  });
  return found;
}

// --------------------------------------------------------------------------------- rewriting

/** Rewrites an expression bottom-up: `f` sees each node with its children already rewritten. */
export function mapExpr(e: Expr, f: (e: Expr) => Expr): Expr {
  return f(mapChildren(e, (c) => mapExpr(c, f)));
}

/** Rewrites every expression in `stmts` (nested statements included) with `mapExpr(_, f)`. */
export function mapStmts(stmts: readonly Stmt[], f: (e: Expr) => Expr): Stmt[] {
  return stmts.map((s) =>
    mapStmt(
      s,
      (e) => mapExpr(e, f),
      (body) => mapStmts(body, f),
    ),
  );
}
