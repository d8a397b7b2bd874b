// Prints a kernel as a TypeScript function over the module's Float32Array `M` (and its `erf`).
//
// The KIR passes run first (TS_PASSES: unroll, scalarize), so the output has only number
// locals. Integer index arithmetic that is affine (sums of locals times constants) prints in one
// canonical form, `x0 + oy * 24 + ox * 3 + 5`; f32 arithmetic keeps the kernel's association
// order. With `types` (the default) the parameters carry `: number`, the result `: void`, and
// loads a non-null mark (`M[i]!`, for projects using noUncheckedIndexedAccess); without, it is
// plain JavaScript. Locals never reassigned are `const`. Arithmetic runs in float64 and rounds
// to f32 when stored. A kernel longer than the schedule's `functionLines` (V8 leaves
// long functions to its interpreter) is printed as calls of nested part functions taking the
// locals they read.
import type { CmpFn, Expr, Kernel, MathFn, Stmt } from '../../src/kir/kir.js';
import { applyPasses, TS_PASSES } from '../../src/kir/passes.js';
import { SCALAR_V8 } from '../../src/lower/schedule.js';
import { stmtBodies, stmtExprs, walkExpr } from '../../src/kir/visit.js';
import { CodeWriter } from './writer.js';

/** `function NAME(y: number, ...): void { ... }`, headed by the kernel's doc comment. */
export function printKernelTS(
  kernel: Kernel,
  /** `partLines`: lines per function (default: the TS target's schedule, SCALAR_V8). */
  opts: { types?: boolean; partLines?: number } = {},
): string {
  const types = opts.types ?? true;
  const body = applyPasses(kernel.body, TS_PASSES, kernel.params);
  const w = new CodeWriter();
  for (const line of kernel.doc) w.line(comment(line));
  /** `function NAME(a: number, ...): void {`, or without the types. */
  const header = (name: string, params: readonly string[]): string =>
    `function ${name}(${params.map((p) => (types ? `${p}: number` : p)).join(', ')})${types ? ': void' : ''} {`;
  const ctx: Ctx = {
    // Locals that some `set` reassigns; the others print as `const`.
    mutable: namesOf(body).sets,
    name: kernel.name,
    limit: opts.partLines ?? SCALAR_V8.functionLines,
    parts: [],
    exprs: new Exprs(types ? '!' : ''),
  };
  w.block(header(kernel.name, kernel.params), () => {
    printStmts(w, body, ctx);
    // Parts print after the body (declarations hoist); a part may make parts of its own.
    for (let i = 0; i < ctx.parts.length; i++) {
      const part = ctx.parts[i]!;
      w.block(header(part.name, part.params), () => printStmts(w, part.body, ctx));
    }
  });
  return w.toString();
}

interface Part {
  readonly name: string;
  readonly params: readonly string[];
  readonly body: readonly Stmt[];
}

interface Ctx {
  readonly mutable: ReadonlySet<string>;
  readonly name: string;
  /** Lines per function (the schedule's `functionLines`: the TS target's unless given). */
  readonly limit: number;
  readonly parts: Part[];
  readonly exprs: Exprs;
}

/** Lines a statement list prints as (before any parts are made). */
function lines(stmts: readonly Stmt[]): number {
  let n = 0;
  for (const s of stmts)
    n +=
      s.op === 'for'
        ? 2 + lines(s.body)
        : s.op === 'if'
          ? 3 + lines(s.then) + (s.else ? lines(s.else) : 0)
          : 1;
  return n;
}

/** Names a statement declares (lets), reads and sets, nested ones included (but no loop's own
 * variable). */
interface Names {
  readonly decls: Set<string>;
  readonly reads: Set<string>;
  readonly sets: Set<string>;
}

function namesOf(
  stmts: readonly Stmt[],
  out: Names = { decls: new Set(), reads: new Set(), sets: new Set() },
): Names {
  for (const s of stmts) {
    if (s.op === 'for') {
      // A loop variable is the loop's own (names repeat from loop to loop).
      const inner = namesOf(s.body);
      for (const [from, to] of [
        [inner.decls, out.decls],
        [inner.reads, out.reads],
        [inner.sets, out.sets],
      ] as const)
        for (const v of from) if (v !== s.v) to.add(v);
      continue;
    }
    if (s.op === 'let') out.decls.add(s.name);
    else if (s.op === 'set') out.sets.add(s.name);
    for (const e of stmtExprs(s))
      walkExpr(e, (x) => {
        if (x.op === 'get') out.reads.add(x.name);
      });
    for (const body of stmtBodies(s)) namesOf(body, out);
  }
  return out;
}

/** A run of statements printed in place, or as a call of a part function. */
interface Chunk {
  readonly part: boolean;
  readonly stmts: Stmt[];
}

/**
 * A statement list cut into runs printed in place and runs that become parts (under `limit`
 * lines each). A part holds every declaration it sets, and nothing after it uses what it
 * declares; what it reads from outside (loop variables, parameters) it takes as parameters.
 */
function chunks(stmts: readonly Stmt[], limit: number): Chunk[] {
  const size = stmts.map((s) => lines([s]));
  if (size.reduce((a, b) => a + b, 0) <= limit) return [{ part: false, stmts: [...stmts] }];
  const info = stmts.map((s) => namesOf([s]));
  const lastUse = new Map<string, number>();
  info.forEach((n, i) => {
    for (const v of n.reads) lastUse.set(v, i);
    for (const v of n.sets) lastUse.set(v, i);
  });
  const out: Chunk[] = [];
  const inline = (s: Stmt): void => {
    const last = out[out.length - 1];
    if (last && !last.part) last.stmts.push(s);
    else out.push({ part: false, stmts: [s] });
  };
  for (let i = 0; i < stmts.length;) {
    const decls = new Set<string>();
    let total = 0;
    let reach = -1;
    let end = -1;
    for (let j = i; j < stmts.length; j++) {
      total += size[j]!;
      if (total > limit) break;
      for (const v of info[j]!.decls) {
        decls.add(v);
        reach = Math.max(reach, lastUse.get(v) ?? -1);
      }
      if ([...info[j]!.sets].some((v) => !decls.has(v))) break;
      if (reach <= j) end = j;
    }
    if (end < 0) inline(stmts[i++]!);
    else {
      out.push({ part: true, stmts: stmts.slice(i, end + 1) });
      i = end + 1;
    }
  }
  return out;
}

/** A line comment; line terminators (including U+2028 and U+2029) cannot end it early. */
const comment = (text: string): string =>
  `// ${text.replace(/[\r\n\u2028\u2029]+/g, ' ')}`.trimEnd();

// ---------------------------------------------------------------------------------- statements

function printStmts(w: CodeWriter, stmts: readonly Stmt[], ctx: Ctx): void {
  for (const chunk of chunks(stmts, ctx.limit)) {
    if (!chunk.part) {
      for (const s of chunk.stmts) printStmt(w, s, ctx);
      continue;
    }
    const n = namesOf(chunk.stmts);
    const params = [...n.reads].filter((v) => !n.decls.has(v));
    const name = `${ctx.name}_part${ctx.parts.length}`;
    ctx.parts.push({ name, params, body: chunk.stmts });
    w.line(`${name}(${params.join(', ')});`);
  }
}

const COMPOUND: Readonly<Record<string, string>> = { add: '+=', sub: '-=', mul: '*=', div: '/=' };

function printStmt(w: CodeWriter, s: Stmt, ctx: Ctx): void {
  const { mutable, exprs } = ctx;
  switch (s.op) {
    case 'let':
      w.line(`${mutable.has(s.name) ? 'let' : 'const'} ${s.name} = ${exprs.value(s.value)};`);
      return;
    case 'set': {
      const v = s.value;
      const op = v.op === 'bin' && v.type === 'f32' ? COMPOUND[v.fn] : undefined;
      if (op && v.op === 'bin' && v.a.op === 'get' && v.a.name === s.name)
        w.line(`${s.name} ${op} ${exprs.value(v.b)};`);
      else w.line(`${s.name} = ${exprs.value(v)};`);
      return;
    }
    case 'storeAt':
      throw new Error('printKernelTS: byte addresses are for the wasm printer (address induction)');
    case 'store':
      if (s.type !== 'f32') throw new Error('printKernelTS: v128 store after scalarize');
      w.line(`M[${exprs.value(s.addr)}] = ${exprs.value(s.value)};`);
      return;
    case 'for': {
      const inc = s.step === 1 ? `${s.v}++` : `${s.v} += ${s.step}`;
      w.block(`for (let ${s.v} = ${s.from}; ${s.v} < ${s.to}; ${inc}) {`, () =>
        printStmts(w, s.body, ctx),
      );
      return;
    }
    case 'if':
      w.line(`if (${exprs.cond(s.cond)[0]}) {`).indent(() => printStmts(w, s.then, ctx));
      if (s.else) {
        const otherwise = s.else;
        w.line('} else {').indent(() => printStmts(w, otherwise, ctx));
      }
      w.line('}');
      return;
    case 'comment':
      w.line(comment(s.text));
      return;
  }
}

// --------------------------------------------------------------------------------- expressions

/** A printed expression and its JavaScript precedence (higher binds tighter). */
type Printed = readonly [string, number];

const ATOM = 20;
const UNARY = 14;
const MUL = 12;
const ADD = 11;
const REL = 9;
const EQ = 8;
const AND = 4;
const COND = 2;

/** `e` printed to sit where an operand of precedence `min` or tighter is needed. */
function at(p: Printed, min: number): string {
  return p[1] >= min ? p[0] : `(${p[0]})`;
}

const MATH: Readonly<Record<MathFn, string>> = {
  exp: 'Math.exp',
  expm1: 'Math.expm1',
  log1p: 'Math.log1p',
  tanh: 'Math.tanh',
  erf: 'erf',
};
const CMP: Readonly<Record<CmpFn, readonly [string, number]>> = {
  lt: ['<', REL],
  le: ['<=', REL],
  gt: ['>', REL],
  ge: ['>=', REL],
  eq: ['===', EQ],
  ne: ['!==', EQ],
};

/** Prints expressions; `nonNull` is the mark after a load: `!` in TypeScript, nothing in JavaScript. */
class Exprs {
  constructor(private readonly nonNull: string) {}

  value(e: Expr): string {
    return this.expr(e)[0];
  }

  expr(e: Expr): Printed {
    switch (e.op) {
      case 'const':
        return number(e.type === 'f32' ? f32Literal(e.value) : String(e.value));
      case 'get':
        return [e.name, ATOM];
      case 'load':
        return [`M[${this.value(e.addr)}]${this.nonNull}`, ATOM];
      case 'loadAt':
        throw new Error(
          'printKernelTS: byte addresses are for the wasm printer (address induction)',
        );
      case 'bin': {
        if (e.type === 'i32') {
          const lin = affine(e);
          if (lin) return printAffine(lin);
          if (e.fn === 'div') return [`Math.trunc(${this.value(e.a)} / ${this.value(e.b)})`, ATOM];
        }
        if (e.fn === 'min' || e.fn === 'max')
          return [`Math.${e.fn}(${this.value(e.a)}, ${this.value(e.b)})`, ATOM];
        if (e.fn === 'pmin' || e.fn === 'pmax')
          throw new Error(`print: ${e.fn} reaches the printer (scalarize makes it a select)`);
        const [op, p] =
          e.fn === 'add'
            ? ['+', ADD]
            : e.fn === 'sub'
              ? ['-', ADD]
              : e.fn === 'mul'
                ? ['*', MUL]
                : ['/', MUL];
        return [`${at(this.expr(e.a), p)} ${op} ${at(this.expr(e.b), p + 1)}`, p];
      }
      case 'neg': {
        const a = at(this.expr(e.a), UNARY);
        return [a.startsWith('-') ? `-(${a})` : `-${a}`, UNARY];
      }
      case 'sqrt':
      case 'abs':
        return [`Math.${e.op}(${this.value(e.a)})`, ATOM];
      case 'math':
        return [`${MATH[e.fn]}(${this.value(e.a)})`, ATOM];
      case 'cmp':
      case 'and':
        return [`${at(this.cond(e), COND + 1)} ? 1 : 0`, COND];
      case 'select':
        return [
          `${at(this.cond(e.cond), COND + 1)} ? ${at(this.expr(e.a), COND + 1)} : ${at(this.expr(e.b), COND)}`,
          COND,
        ];
      case 'splat':
      case 'lane':
        throw new Error(`printKernelTS: ${e.op} after scalarize`);
    }
  }

  /** An i32 expression as a JavaScript boolean. */
  cond(e: Expr): Printed {
    switch (e.op) {
      case 'cmp': {
        const [op, p] = CMP[e.fn];
        return [`${at(this.expr(e.a), p + 1)} ${op} ${at(this.expr(e.b), p + 1)}`, p];
      }
      case 'and':
        return [`${at(this.cond(e.a), AND)} && ${at(this.cond(e.b), AND + 1)}`, AND];
      case 'const':
        return [e.value ? 'true' : 'false', ATOM];
      default:
        return [`${at(this.expr(e), EQ + 1)} !== 0`, EQ];
    }
  }
}

const number = (text: string): Printed => [text, text.startsWith('-') ? UNARY : ATOM];

/** The shortest decimal that reads back as the same f32 (`0.3`, not `0.30000001192092896`). */
export function f32Literal(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (Object.is(v, -0)) return '-0';
  for (let p = 1; p <= 17; p++) {
    const n = Number(v.toPrecision(p));
    if (Math.fround(n) === v) return String(n);
  }
  return String(v);
}

// --------------------------------------------------------------------- affine integer indices

interface Affine {
  /** Coefficient per local, in order of first appearance. */
  readonly terms: Map<string, number>;
  readonly c: number;
}

/** `e` as a sum of locals times constants plus a constant, or null when it is not one. */
function affine(e: Expr): Affine | null {
  switch (e.op) {
    case 'const':
      return { terms: new Map(), c: e.value };
    case 'get':
      return { terms: new Map([[e.name, 1]]), c: 0 };
    case 'bin': {
      if (e.type !== 'i32') return null;
      if (e.fn === 'add' || e.fn === 'sub') {
        const a = affine(e.a);
        const b = affine(e.b);
        if (!a || !b) return null;
        const sign = e.fn === 'add' ? 1 : -1;
        const terms = new Map(a.terms);
        for (const [v, k] of b.terms) terms.set(v, (terms.get(v) ?? 0) + sign * k);
        return { terms, c: a.c + sign * b.c };
      }
      if (e.fn === 'mul') {
        const a = affine(e.a);
        const b = affine(e.b);
        if (!a || !b) return null;
        const [lin, k] = a.terms.size === 0 ? [b, a.c] : b.terms.size === 0 ? [a, b.c] : [null, 0];
        if (!lin) return null;
        return { terms: new Map([...lin.terms].map(([v, x]) => [v, x * k])), c: lin.c * k };
      }
      return null;
    }
    default:
      return null;
  }
}

function printAffine({ terms, c }: Affine): Printed {
  const parts: string[] = [];
  for (const [v, k] of terms) {
    if (k === 0) continue;
    const mag = Math.abs(k) === 1 ? v : `${v} * ${Math.abs(k)}`;
    parts.push(parts.length === 0 ? (k < 0 ? `-${mag}` : mag) : `${k < 0 ? '-' : '+'} ${mag}`);
  }
  if (parts.length === 0) return number(String(c));
  if (c !== 0) parts.push(`${c < 0 ? '-' : '+'} ${Math.abs(c)}`);
  if (parts.length > 1) return [parts.join(' '), ADD];
  const only = parts[0]!;
  return [only, only.startsWith('-') ? UNARY : only.includes('*') ? MUL : ATOM];
}
