// KIR passes: the generic visitor reaches every child, and each rewrite pass keeps a kernel's
// meaning. The interpreter is the oracle: a kernel runs before and after a pass on the same
// random memory, and the two memories must agree bit for bit.
import { scheduleFor } from '../src/lower/schedule.js';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../src/frontend/index.js';
import {
  add,
  and,
  cmp,
  comment,
  f32,
  get,
  i32,
  if_,
  lane,
  let_,
  load,
  loop,
  math,
  mul,
  pmax,
  select,
  set,
  splat,
  store,
  type Expr,
  type Kernel,
  type Stmt,
} from '../src/kir/kir.js';
import { AffineScope, hoistPlan } from '../src/kir/affine.js';
import { runKernel } from '../src/kir/interpret.js';
import { scalarize } from '../src/kir/scalarize.js';
import { unroll } from '../src/kir/unroll.js';
import { addressInduction } from '../src/kir/induction.js';
import {
  exprChildren,
  mapChildren,
  mapExpr,
  mapStmt,
  mapStmts,
  stmtBodies,
  stmtExprs,
  walk,
  walkExpr,
} from '../src/kir/visit.js';
import { lowerGraph } from '../src/lower/index.js';
import type { KernelProgram } from '../src/lower/program.js';
import { runPasses } from '../src/passes/pipeline.js';

// ------------------------------------------------------------------------------------ visitor

/** One expression of every op, each leaf a distinct `get` so a walk can tell them apart. */
function everyOp(): { expr: Expr; leaves: string[] } {
  const leaves: string[] = [];
  const leaf = (type: 'i32' | 'f32' | 'v128'): Expr => {
    const name = `x${leaves.length}`;
    leaves.push(name);
    return get(name, type);
  };
  const f = add(
    add(
      { op: 'neg', type: 'f32', a: leaf('f32') },
      { op: 'sqrt', type: 'f32', a: math('exp', leaf('f32')) },
    ),
    add(
      lane(splat(load(leaf('i32'))), 2),
      select(
        and(cmp('lt', leaf('i32'), leaf('i32')), cmp('ge', leaf('f32'), f32(0))),
        abs(leaf('f32')),
        leaf('f32'),
      ),
    ),
  );
  return { expr: f, leaves };
}

function abs(a: Expr): Expr {
  return { op: 'abs', type: a.type as 'f32', a };
}

const OPS: readonly Expr['op'][] = [
  'const',
  'get',
  'load',
  'bin',
  'neg',
  'sqrt',
  'abs',
  'math',
  'cmp',
  'and',
  'select',
  'splat',
  'lane',
];

describe('KIR visitor', () => {
  it('walks every expression op and every leaf, parents first, in evaluation order', () => {
    const { expr, leaves } = everyOp();
    const seen: Expr[] = [];
    walkExpr(expr, (e) => seen.push(e));
    expect(new Set(seen.map((e) => e.op))).toEqual(new Set(OPS));
    expect(seen.filter((e) => e.op === 'get').map((e) => (e as { name: string }).name)).toEqual(
      leaves,
    );
    expect(seen[0]).toBe(expr);
    // Every node is reached once: the count equals the nodes below the root, by children.
    const count = (e: Expr): number => 1 + exprChildren(e).reduce((n, c) => n + count(c), 0);
    expect(seen.length).toBe(count(expr));
  });

  it('lists the children of each op', () => {
    const x = get('x', 'f32');
    const y = get('y', 'f32');
    const c = get('c');
    expect(exprChildren(i32(1))).toEqual([]);
    expect(exprChildren(x)).toEqual([]);
    expect(exprChildren(load(c))).toEqual([c]);
    expect(exprChildren(add(x, y))).toEqual([x, y]);
    expect(exprChildren(select(c, x, y))).toEqual([c, x, y]);
    expect(exprChildren(lane(splat(x), 1))).toEqual([splat(x)]);
    const s = store(c, x);
    expect(stmtExprs(s)).toEqual([c, x]);
    expect(stmtExprs(let_('a', x))).toEqual([x]);
    expect(stmtExprs(set('a', y))).toEqual([y]);
    const body = [store(get('i'), x)];
    expect(stmtBodies(loop('i', 0, 4, body))).toEqual([body]);
    expect(stmtBodies(if_(c, body))).toEqual([body]);
    expect(stmtBodies(if_(c, body, []))).toEqual([body, []]);
    expect(stmtExprs(comment('hi'))).toEqual([]);
  });

  it('rebuilds every node it maps (leaves kept), and an identity map is the same tree', () => {
    const { expr } = everyOp();
    const copy = mapExpr(expr, (e) => e);
    expect(copy).toEqual(expr);
    const nodes: Expr[] = [];
    walkExpr(expr, (e) => nodes.push(e));
    const copies: Expr[] = [];
    walkExpr(copy, (e) => copies.push(e));
    nodes.forEach((e, i) =>
      exprChildren(e).length ? expect(copies[i]).not.toBe(e) : expect(copies[i]).toBe(e),
    );
    // mapChildren replaces exactly the children, in order.
    const renamed = mapChildren(select(get('c'), get('a', 'f32'), get('b', 'f32')), (c, field) =>
      get(`${field}!`, c.type),
    );
    expect(exprChildren(renamed).map((e) => (e as { name: string }).name)).toEqual([
      'cond!',
      'a!',
      'b!',
    ]);
  });

  it('walks statements: their expressions, then nested lists; an absent else stays absent', () => {
    const stmts: Stmt[] = [
      let_('a', get('p')),
      loop('i', 0, 2, [
        if_(cmp('lt', get('i'), 1), [set('a', get('q'))], [store(get('r'), get('s', 'f32'))]),
      ]),
      if_(get('t'), [comment('x')]),
    ];
    const reads: string[] = [];
    const ops: string[] = [];
    walk(stmts, {
      stmt: (s) => void ops.push(s.op),
      expr: (e) => {
        if (e.op === 'get') reads.push(e.name);
      },
    });
    expect(ops).toEqual(['let', 'for', 'if', 'set', 'store', 'if', 'comment']);
    expect(reads).toEqual(['p', 'i', 'q', 'r', 's', 't']);
    const mapped = mapStmts(stmts, (e) => (e.op === 'get' && e.name === 'p' ? i32(7) : e));
    expect(mapped[0]).toEqual(let_('a', i32(7)));
    expect('else' in mapped[2]!).toBe(false);
    expect(
      mapStmt(
        comment('c'),
        (e) => e,
        (b) => b,
      ),
    ).toEqual(comment('c'));
  });
});

// ------------------------------------------------------------------------------------- oracle

/** A small seeded PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomMemory(n: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => next() * 4 - 2);
}

/** `k` run on a fresh copy of the random memory for these sizes (the same for equal sizes). */
function runOn(k: Kernel, floats: number, args: readonly number[]): Float32Array {
  const M = randomMemory(floats, floats + args.length);
  runKernel(k, M, args);
  return M;
}

/** `b`'s result must equal `want` (`a`'s, run on the same memory) bit for bit. */
function expectSameBits(a: Kernel, want: Float32Array, b: Kernel, args: readonly number[]): void {
  const B = runOn(b, want.length, args);
  const x = new Uint32Array(want.buffer);
  const y = new Uint32Array(B.buffer);
  let diff = -1;
  for (let i = 0; i < x.length && diff < 0; i++) if (x[i] !== y[i]) diff = i;
  expect(diff, `${a.name}: M[${diff}] ${want[diff]} != ${B[diff]}`).toBe(-1);
}

/** Runs `a` and `b` on copies of the same random memory; the results must be equal bits. */
function expectSameRun(a: Kernel, b: Kernel, floats: number, args: readonly number[]): void {
  expectSameBits(a, runOn(a, floats, args), b, args);
}

const PASSES: readonly [string, (s: readonly Stmt[], params: readonly string[]) => Stmt[]][] = [
  ['unroll', unroll],
  ['scalarize', scalarize],
  ['unroll, scalarize', (s) => scalarize(unroll(s))],
  // The wasm printer's passes: byte pointers, hoisted and carried by the loops.
  ['unroll, address induction', (s, params) => addressInduction(unroll(s), params)],
];

/** Every pass on every kernel of a program, against the kernel as lowered. */
function checkProgram(program: KernelProgram): void {
  const seen = new Set<string>();
  for (const step of [...program.prepare, ...program.steps]) {
    if (seen.has(step.kernel)) continue;
    seen.add(step.kernel);
    const k = program.kernels.find((x) => x.name === step.kernel)!;
    // The kernel as lowered runs once; each pass's result is compared with it.
    const want = runOn(k, program.memoryFloats, step.args);
    for (const [name, pass] of PASSES) {
      const after: Kernel = { ...k, name: `${k.name} after ${name}`, body: pass(k.body, k.params) };
      expectSameBits(k, want, after, step.args);
    }
  }
}

function lower(src: string, simd: boolean): KernelProgram {
  const r = compileSource(src);
  expect(r.diagnostics).toEqual([]);
  return lowerGraph(runPasses(r.graphs[0]!), { schedule: scheduleFor(simd) });
}

const NETWORK = `network passes {
  input image: [9, 10, 5]
  a = image -> conv2d(16, 3, padding: same, activation: relu)
  b = a -> depthwise_conv2d(3, padding: same, activation: relu6)
        -> conv2d(16, 3, padding: same)
        -> batch_normalization
  c = relu(add(a, b)) -> max_pooling2d(2) -> conv2d_transpose(6, 3, strides: 2)
  output y = c -> separable_conv2d(7, 3, activation: tanh) -> flatten
               -> dense(10, activation: gelu) -> softmax
}`;

describe('KIR passes keep a kernel’s meaning (the interpreter as oracle)', () => {
  for (const simd of [true, false])
    it(`every KIR pass on every kernel of a network (simd ${simd})`, () =>
      checkProgram(lower(NETWORK, simd)));

  it('every KIR pass on a hand-written kernel with every op', () => {
    const v = (n: string): Expr => get(n, 'v128');
    const body: Stmt[] = [
      let_('acc', splat(f32(0.5))),
      let_('u', splat(load(get('x')))),
      loop(
        'i',
        0,
        8,
        [
          let_('t', mul(load(add(get('x'), mul(get('i'), 4)), 'v128'), v('u'))),
          set('acc', pmax(add(v('acc'), v('t')), splat(lane(v('acc'), 3)))),
          if_(
            and(cmp('lt', get('i'), 5), cmp('gt', lane(v('t'), 0), 0)),
            [store(add(get('y'), get('i')), math('tanh', lane(v('t'), 1)))],
            [store(add(get('y'), get('i')), abs(lane(v('t'), 2)))],
          ),
        ],
        2,
        true,
      ),
      store(add(get('y'), 8), v('acc')),
    ];
    const k: Kernel = { name: 'every_op', params: ['x', 'y'], body, doc: [] };
    for (const [name, pass] of PASSES)
      expectSameRun(
        k,
        { ...k, name: `every_op after ${name}`, body: pass(body, k.params) },
        64,
        [0, 40],
      );
  });
});

// ------------------------------------------------------------------------------ address analysis

/** The value of an i32 expression under `env` (the operations the address analysis reads). */
function evalI32(e: Expr, env: ReadonlyMap<string, number>): number {
  switch (e.op) {
    case 'const':
      return e.value;
    case 'get':
      return env.get(e.name)!;
    case 'bin': {
      const a = evalI32(e.a, env);
      const b = evalI32(e.b, env);
      const ops: Record<string, number> = {
        add: a + b,
        sub: a - b,
        mul: a * b,
        min: Math.min(a, b),
        max: Math.max(a, b),
      };
      return ops[e.fn]!;
    }
    case 'select':
      return evalI32(e.cond, env) ? evalI32(e.a, env) : evalI32(e.b, env);
    case 'cmp':
      return evalI32(e.a, env) < evalI32(e.b, env) ? 1 : 0;
    default:
      throw new Error(e.op);
  }
}

describe('KIR address analysis (affine.ts)', () => {
  // Scope: parameter x; loops i over 0..3 (depth 1) and j over 1, 3, 5 (depth 2); lets
  // a = x + 5i (affine: it expands) and m = min(i, j) (not affine: an inline atom).
  const a = add(get('x'), mul(get('i'), 5));
  const m = { op: 'bin', type: 'i32', fn: 'min', a: get('i'), b: get('j') } as const;
  const scope = (): AffineScope => {
    const s = new AffineScope(new Set(['x']), new Set());
    s.enterLoop('i', 1, 0, 3);
    s.enterLoop('j', 2, 1, 5);
    s.define('a', a);
    s.define('m', m);
    return s;
  };
  const next = rng(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const leaf = (): Expr =>
    pick([get('x'), get('i'), get('j'), get('a'), get('m'), i32(pick([-3, 0, 2, 7]))]);
  const random = (depth: number): Expr => {
    if (depth === 0) return leaf();
    const fn = pick(['add', 'sub', 'mul', 'max', 'sel'] as const);
    if (fn === 'sel') return select(cmp('lt', leaf(), leaf()), random(depth - 1), leaf());
    if (fn === 'mul') return mul(random(depth - 1), i32(pick([-2, 3, 4])));
    const b: Expr = { op: 'bin', type: 'i32', fn, a: random(depth - 1), b: random(depth - 1) };
    return b;
  };
  const envs: Map<string, number>[] = [];
  for (const x of [0, 1, 17, 1000])
    for (const i of [0, 1, 2, 3])
      for (const j of [1, 3, 5]) {
        const env = new Map([
          ['x', x],
          ['i', i],
          ['j', j],
        ]);
        env.set('a', evalI32(a, env));
        env.set('m', evalI32(m, env));
        envs.push(env);
      }

  it('a linear form has the value of its expression; hoisted terms are parameters and counters', () => {
    for (let n = 0; n < 300; n++) {
      const e = random(3);
      const lin = scope().linear(e);
      for (const t of lin.terms.values())
        if (t.depth !== null) {
          expect(t.atom.op).toBe('get');
          expect(['x', 'i', 'j']).toContain((t.atom as { name: string }).name);
          expect(t.depth).toBe({ x: 0, i: 1, j: 2 }[(t.atom as { name: 'x' | 'i' | 'j' }).name]);
        }
      for (const env of envs) {
        let v = lin.c;
        for (const t of lin.terms.values()) v += t.coef * evalI32(t.atom, env);
        expect(v | 0, JSON.stringify(e)).toBe(evalI32(e, env) | 0);
      }
    }
  });

  it('interval bounds hold the value, and minimum bounds a sum of terms', () => {
    for (let n = 0; n < 300; n++) {
      const e = random(3);
      const s = scope();
      const [lo, hi] = s.interval(e);
      const terms = [...s.linear(e).terms.values()];
      const least = s.minimum(terms);
      for (const env of envs) {
        const v = evalI32(e, env);
        expect(v >= lo && v <= hi, `${v} in [${lo}, ${hi}]: ${JSON.stringify(e)}`).toBe(true);
        let sum = 0;
        for (const t of terms) sum += t.coef * evalI32(t.atom, env);
        expect(sum).toBeGreaterThanOrEqual(least);
      }
    }
  });

  it('hoists by depth, outermost first, keys naming each prefix', () => {
    const lin = scope().linear(add(add(mul(get('j'), 3), get('a')), m));
    const { groups, inline } = hoistPlan([...lin.terms.values()]);
    expect(groups.map((g) => [g.depth, g.key])).toEqual([
      [0, 'x*1|'],
      [1, 'x*1|i*5|'],
      [2, 'x*1|i*5|j*3|'],
    ]);
    expect(inline.map((t) => t.atom)).toEqual([m]);
  });
});
