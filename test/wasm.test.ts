// Tests for the WebAssembly backend (codegen/wasm): hand-written and random KIR kernels run in
// wasm against the KIR interpreter, the math helpers against Math and an accurate erf, module
// shape and determinism. (Layer lowerings against the references: test/layers.test.ts.)
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { emitWasm, emitWasmText } from '../codegen/wasm/emit.js';
import { runKernel } from '../src/kir/interpret.js';
import {
  add,
  and,
  cmp,
  div,
  f32,
  get,
  i32,
  if_,
  lane,
  let_,
  load,
  loop,
  math,
  max,
  min,
  mul,
  pmax,
  pmin,
  select,
  set,
  splat,
  store,
  sub,
} from '../src/kir/kir.js';
import type { CmpFn, Expr, Kernel, MathFn, Stmt } from '../src/kir/kir.js';
import { erf } from '../src/runtime/erf.js';
import type { KernelProgram } from '../src/lower/program.js';
import { programOf as program } from './helpers/layer_check.js';

// ------------------------------------------------------------------------------------ helpers

const kernel = (name: string, params: string[], body: Stmt[]): Kernel => ({
  name,
  params,
  body,
  doc: [],
});

interface Instance {
  memory: Float32Array;
  run: () => void;
  exports: WebAssembly.Exports;
}

async function instantiate(bytes: Uint8Array): Promise<Instance> {
  const { instance } = await WebAssembly.instantiate(bytes as Uint8Array<ArrayBuffer>);
  const ex = instance.exports;
  return {
    memory: new Float32Array((ex.memory as WebAssembly.Memory).buffer),
    run: ex.run as () => void,
    exports: ex,
  };
}

/** Runs the program in wasm on a copy of `init` (the low memory); returns the whole memory. */
async function runWasm(p: KernelProgram, init: Float32Array): Promise<Float32Array> {
  const inst = await instantiate(emitWasm(p));
  inst.memory.set(init);
  inst.run();
  return inst.memory.slice(0, p.memoryFloats);
}

function runInterpreter(p: KernelProgram, init: Float32Array): Float32Array {
  const M = new Float32Array(p.memoryFloats);
  M.set(init);
  for (const s of p.steps)
    runKernel(
      p.kernels.find((k) => k.name === s.kernel)!,
      M,
      s.args,
    );
  return M;
}

/** Bit-level agreement (any NaN equals any NaN; -0 differs from +0). */
function expectSame(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++)
    if (!Object.is(actual[i], expected[i]))
      throw new Error(`memory[${i}] = ${actual[i]}, interpreter says ${expected[i]}`);
}

async function agree(p: KernelProgram, init: Float32Array): Promise<Float32Array> {
  const got = await runWasm(p, init);
  expectSame(got, runInterpreter(p, init));
  return got;
}

/** Deterministic pseudo-random f32 data in [-2, 2). */
function data(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

const abs = (a: Expr): Expr => ({ op: 'abs', type: a.type as 'f32' | 'v128', a });
const sqrt = (a: Expr): Expr => ({ op: 'sqrt', type: a.type as 'f32' | 'v128', a });

const Y = get('y');
const X = get('x');
const I = get('i');

// --------------------------------------------------------------------------- hand-written ops

describe('wasm backend: every op against the interpreter', () => {
  test('scalar f32 arithmetic, neg/abs/sqrt, lets and sets', async () => {
    const body: Stmt[] = [
      loop('i', 0, 16, [
        let_('a', load(add(X, I), 'f32')),
        let_('b', load(add(add(X, I), 16), 'f32')),
        let_('acc', f32(0)),
        set('acc', add(get('acc', 'f32'), mul(get('a', 'f32'), get('b', 'f32')))),
        set('acc', sub(get('acc', 'f32'), div(get('a', 'f32'), get('b', 'f32')))),
        store(add(Y, I), get('acc', 'f32')),
        store(add(add(Y, I), 16), min(get('a', 'f32'), get('b', 'f32'))),
        store(add(add(Y, I), 32), max(get('a', 'f32'), get('b', 'f32'))),
        store(add(add(Y, I), 48), { op: 'neg', type: 'f32', a: get('a', 'f32') }),
        store(add(add(Y, I), 64), abs(get('a', 'f32'))),
        store(add(add(Y, I), 80), sqrt(get('a', 'f32'))),
      ]),
    ];
    const p = program(
      [kernel('scalar', ['y', 'x'], body)],
      [{ kernel: 'scalar', args: [64, 0] }],
      160,
    );
    const init = data(32);
    init[3] = -0;
    init[19] = 0;
    init[5] = NaN;
    init[7] = Infinity;
    init[23] = -Infinity;
    await agree(p, init);
  });

  test('v128 loops: load, store, arithmetic, splat, lanes, select', async () => {
    const v = (name: string): Expr => get(name, 'v128');
    const body: Stmt[] = [
      loop(
        'i',
        0,
        32,
        [
          let_('a', load(add(X, I), 'v128')),
          let_('b', load(add(add(X, I), 32), 'v128')),
          let_('s', mul(add(v('a'), v('b')), splat(f32(0.5)))),
          store(add(Y, I), v('s')),
          store(add(add(Y, I), 32), div(sub(v('a'), v('b')), v('b'))),
          store(add(add(Y, I), 64), min(v('a'), max(v('b'), splat(f32(-1))))),
          store(add(add(Y, I), 96), { op: 'neg', type: 'v128', a: abs(v('a')) }),
          store(add(add(Y, I), 128), sqrt(v('b'))),
          store(add(add(Y, I), 160), select(cmp('lt', I, 16), v('a'), v('b'))),
          // lanes, reversed, as scalars
          store(add(add(Y, I), 192), lane(v('a'), 3)),
          store(add(add(Y, I), 193), lane(v('a'), 2)),
          store(add(add(Y, I), 194), lane(v('a'), 1)),
          store(add(add(Y, I), 195), lane(v('a'), 0)),
        ],
        4,
      ),
    ];
    const p = program([kernel('simd', ['y', 'x'], body)], [{ kernel: 'simd', args: [64, 0] }], 288);
    const init = data(64, 7);
    init[1] = NaN;
    init[34] = -0;
    init[2] = 0;
    await agree(p, init);
  });

  test('pmin and pmax, f32 and v128, keep their first operand on NaN and on two zeros', async () => {
    const body: Stmt[] = [
      loop('i', 0, 8, [
        store(add(Y, I), pmin(load(add(X, I)), load(add(add(X, I), 8)))),
        store(add(add(Y, I), 8), pmax(load(add(X, I)), load(add(add(X, I), 8)))),
      ]),
      loop(
        'i',
        0,
        8,
        [
          let_('a', load(add(X, I), 'v128')),
          let_('b', load(add(add(X, I), 8), 'v128')),
          store(add(add(Y, I), 16), pmin(get('a', 'v128'), get('b', 'v128'))),
          store(add(add(Y, I), 24), pmax(get('a', 'v128'), get('b', 'v128'))),
          // A clamp against constants, as relu6 is.
          store(add(add(Y, I), 32), pmin(pmax(get('a', 'v128'), splat(f32(0))), splat(f32(1)))),
        ],
        4,
      ),
    ];
    const p = program(
      [kernel('pseudo', ['y', 'x'], body)],
      [{ kernel: 'pseudo', args: [16, 0] }],
      56,
    );
    // Pairs (x[i], x[i + 8]): NaN on either side, zeros of both signs, infinities, plain values.
    const init = Float32Array.from([
      NaN,
      1,
      -0,
      0,
      Infinity,
      -3,
      0.5,
      -0,
      ...[2, NaN, 0, -0, 1, -Infinity, 0.25, -0],
    ]);
    const got = await agree(p, init);
    const y = (k: number): number[] => [...got.subarray(16 + 8 * k, 24 + 8 * k)];
    expect(y(0)).toEqual([NaN, 1, -0, 0, 1, -Infinity, 0.25, -0]);
    expect(y(1)).toEqual([NaN, 1, -0, 0, Infinity, -3, 0.5, -0]);
    expect(y(2)).toEqual(y(0));
    expect(y(3)).toEqual(y(1));
    expect(y(4)).toEqual([NaN, 1, -0, 0, 1, 0, 0.5, -0]);
  });

  test('comparisons (i32 and f32, every fn), and, select, if/else', async () => {
    const fns: CmpFn[] = ['lt', 'le', 'gt', 'ge', 'eq', 'ne'];
    const a = load(add(X, I), 'f32');
    const b = load(add(add(X, I), 8), 'f32');
    const body: Stmt[] = [
      loop('i', 0, 8, [
        ...fns.flatMap((fn, k) => [
          store(add(add(Y, I), 8 * k), select(cmp(fn, a, b), a, b)),
          store(add(add(Y, I), 48 + 8 * k), select(cmp(fn, I, 4), f32(1), f32(-1))),
        ]),
        if_(
          and(cmp('ge', I, 2), cmp('gt', a, f32(0))),
          [store(add(add(Y, I), 96), a)],
          [store(add(add(Y, I), 96), f32(-7))],
        ),
        if_(cmp('ne', I, 5), [store(add(add(Y, I), 104), b)]),
      ]),
    ];
    const p = program([kernel('cmp', ['y', 'x'], body)], [{ kernel: 'cmp', args: [16, 0] }], 128);
    const init = data(16, 3);
    init[0] = NaN;
    init[9] = NaN;
    init[2] = -0;
    init[10] = 0;
    init[4] = init[12]!;
    await agree(p, init);
  });

  test('i32 min, max, div and mul in addresses; nested loops; row-base lets', async () => {
    const body: Stmt[] = [
      loop('r', 0, 5, [
        let_('row', add(X, mul(get('r'), 7))),
        loop('c', 0, 7, [
          let_('cl', min(max(sub(get('c'), 1), 0), 4)),
          let_('h', div(get('c'), 2)),
          store(
            add(add(Y, mul(get('r'), 7)), get('c')),
            add(load(add(get('row'), get('cl')), 'f32'), load(add(X, get('h')), 'f32')),
          ),
        ]),
      ]),
    ];
    const p = program(
      [kernel('i32ops', ['y', 'x'], body)],
      [{ kernel: 'i32ops', args: [40, 0] }],
      80,
    );
    await agree(p, data(40, 5));
  });

  test('addresses with constant offsets: positive, negative, pure constants, zero base', async () => {
    // Weights at base 0 with a "padded" index that is negative outside the guard: the constant
    // must not go into the offset immediate when the pointer could wrap.
    const body: Stmt[] = [
      loop('o', 0, 6, [
        let_('iy', sub(get('o'), 1)),
        if_(
          and(cmp('ge', get('iy'), 0), cmp('lt', get('iy'), 4)),
          [store(add(Y, get('o')), load(add(add(get('w'), mul(get('iy'), 4)), 3), 'f32'))],
          [store(add(Y, get('o')), f32(0))],
        ),
        store(add(add(Y, get('o')), 8), load(i32(5), 'f32')),
        // q = o - 1 through min (not affine, so not expanded): w + q*4 + 5 is valid for o = 0
        // although w + q*4 is negative, so 5 must not become the offset immediate.
        let_('q', sub(min(get('o'), 100), 1)),
        store(add(add(Y, get('o')), 40), load(add(add(get('w'), mul(get('q'), 4)), 5), 'f32')),
      ]),
      loop('o', 1, 5, [
        store(add(add(Y, get('o')), 15), load(sub(add(get('x'), get('o')), 1), 'f32')),
      ]),
      loop(
        'o',
        0,
        8,
        [store(add(add(Y, get('o')), 24), load(add(add(get('w'), get('o')), 4), 'v128'))],
        4,
      ),
    ];
    const p = program(
      [kernel('addr', ['y', 'x', 'w'], body)],
      [{ kernel: 'addr', args: [32, 16, 0] }],
      96,
    );
    await agree(p, data(32, 9));
  });

  test('unrolled loops (lets renamed per copy) and one-trip loops', async () => {
    const body: Stmt[] = [
      loop('i', 0, 4, [
        let_('acc', splat(f32(0))),
        loop(
          'k',
          0,
          3,
          [
            let_('t', load(add(add(X, mul(I, 4)), mul(get('k'), 4)), 'v128')),
            set('acc', add(get('acc', 'v128'), mul(get('t', 'v128'), splat(f32(1.5))))),
          ],
          1,
          true,
        ),
        loop('u', 2, 3, [store(add(add(Y, mul(I, 4)), get('u')), lane(get('acc', 'v128'), 0))]),
        store(add(add(Y, mul(I, 4)), 16), get('acc', 'v128')),
      ]),
      loop('z', 0, 0, [store(Y, f32(1))]),
      loop('z2', 3, 1, [store(Y, f32(1))]),
    ];
    const p = program(
      [kernel('unroll', ['y', 'x'], body)],
      [{ kernel: 'unroll', args: [32, 0] }],
      72,
    );
    await agree(p, data(32, 11));
  });

  test('several kernels, steps calling one kernel with different args', async () => {
    const scale = kernel(
      'scale',
      ['y', 'x'],
      [loop('i', 0, 8, [store(add(Y, I), mul(load(add(X, I), 'f32'), f32(3)))])],
    );
    const addk = kernel(
      'addk',
      ['y', 'x0', 'x1'],
      [
        loop(
          'i',
          0,
          8,
          [store(add(Y, I), add(load(add(get('x0'), I)), load(add(get('x1'), I))))],
          4,
        ),
      ],
    );
    const addv = kernel(
      'addv',
      ['y', 'x0', 'x1'],
      [
        loop(
          'i',
          0,
          8,
          [store(add(Y, I), add(load(add(get('x0'), I), 'v128'), load(add(get('x1'), I), 'v128')))],
          4,
        ),
      ],
    );
    const p = program(
      [scale, addk, addv],
      [
        { kernel: 'scale', args: [8, 0] },
        { kernel: 'scale', args: [16, 8] },
        { kernel: 'addv', args: [24, 0, 16] },
        { kernel: 'addk', args: [32, 8, 24] },
      ],
      48,
    );
    await agree(p, data(8, 13));
  });
});

// ---------------------------------------------------------------------------------- math fns

/** Applies `fn` to memory [0, n) into [n, 2n) in wasm: f32 by f32, or (`v128`) four at a time
 * through the f32x4 form. */
async function wasmMath(fn: MathFn, xs: Float32Array, v128 = false): Promise<Float32Array> {
  const n = xs.length;
  if (v128 && n % 4 !== 0) throw new Error('wasmMath: v128 needs a multiple of 4 values');
  const type = v128 ? 'v128' : 'f32';
  const body = [loop('i', 0, n, [store(add(Y, I), math(fn, load(add(X, I), type)))], v128 ? 4 : 1)];
  const p = program([kernel(fn, ['y', 'x'], body)], [{ kernel: fn, args: [n, 0] }], 2 * n);
  const inst = await instantiate(emitWasm(p));
  inst.memory.set(xs);
  inst.run();
  return inst.memory.slice(n, 2 * n);
}

const EXACT: Record<MathFn, (x: number) => number> = {
  exp: Math.exp,
  expm1: Math.expm1,
  log1p: Math.log1p,
  tanh: Math.tanh,
  erf,
};

/** Inputs: a dense grid over each function's interesting range, plus random f32s. */
function mathInputs(fn: MathFn): Float32Array {
  const xs: number[] = [];
  const range = fn === 'exp' || fn === 'expm1' ? 110 : fn === 'tanh' ? 12 : fn === 'log1p' ? 60 : 7;
  for (let i = -20000; i <= 20000; i++) xs.push((i / 20000) * range);
  for (let e = -40; e <= 2; e++) for (const s of [1, -1, 1.37, -2.9]) xs.push(s * 2 ** e);
  let s = 12345;
  for (let i = 0; i < 20000; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    xs.push(((s / 2 ** 32) * 2 - 1) * range);
  }
  // log1p: its domain, x > -1 (special values are tested apart), with large arguments too.
  if (fn === 'log1p') {
    for (let e = 0; e <= 127; e++) xs.push(1.3 * 2 ** e, -1 + 2 ** -(e % 24));
    return Float32Array.from(xs.filter((x) => x > -1));
  }
  return Float32Array.from(xs);
}

/**
 * The largest relative error of `got` against the exact values where they are normal f32s;
 * where they are subnormal, zero or overflow, `got` must be the correctly rounded f32 (within
 * one subnormal step).
 */
function worstError(
  fn: MathFn,
  xs: Float32Array,
  got: Float32Array,
): { worst: number; at: number } {
  let worst = 0;
  let at = 0;
  for (let i = 0; i < xs.length; i++) {
    const want = EXACT[fn](xs[i]!);
    const g = got[i]!;
    if (Math.abs(want) < 2 ** -126 || Math.abs(want) > 3.4028234663852886e38) {
      const cr = Math.fround(want);
      if (!(Math.abs(g - cr) <= 2 ** -149 || g === cr))
        throw new Error(`${fn}(${xs[i]}) = ${g}, expected ${cr}`);
      continue;
    }
    const err = Math.abs(g - want) / Math.abs(want);
    if (err > worst) [worst, at] = [err, xs[i]!];
  }
  return { worst, at };
}

/** Inputs where math functions go wrong first: NaN, infinities, signed zeros, the edges of
 * exp's range, underflow and overflow. */
const SPECIALS = [
  NaN,
  Infinity,
  -Infinity,
  0,
  -0,
  89,
  88.72,
  -104,
  -103.9,
  -200,
  200,
  1e-30,
  -1e-30,
  3.4e38,
  -3.4e38,
];

describe('wasm math functions', () => {
  for (const fn of ['exp', 'expm1', 'log1p', 'tanh', 'erf'] as const) {
    test(`${fn}: within 1 ulp of the exact value`, async () => {
      const xs = mathInputs(fn);
      const { worst, at } = worstError(fn, xs, await wasmMath(fn, xs));
      // Measured: 6e-8 (half an ulp) for all five; the spec allows 1e-6.
      expect(worst, `${fn} at x = ${at}`).toBeLessThan(1.2e-7);
    });
  }

  test('special values', async () => {
    const xs = Float32Array.from(SPECIALS);
    const exp = await wasmMath('exp', xs);
    const expm1 = await wasmMath('expm1', xs);
    const tanh = await wasmMath('tanh', xs);
    const erfs = await wasmMath('erf', xs);
    const log1ps = await wasmMath('log1p', Float32Array.from([...SPECIALS, -1, -1.5]));
    [...SPECIALS, -1, -1.5].forEach((x, i) =>
      expect(log1ps[i], `log1p(${x})`).toBe(Math.fround(Math.log1p(Math.fround(x)))),
    );
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      expect(exp[i]).toBe(Math.fround(Math.exp(x)));
      expect(expm1[i]).toBe(Math.fround(Math.expm1(x)));
      expect(tanh[i]).toBe(Math.fround(Math.tanh(x)));
      // erf(-0) is -0 in wasm; the reference erf says +0.
      expect(erfs[i]! + 0).toBe(Math.fround(erf(x)) + 0);
    }
  });

  for (const fn of ['exp', 'tanh'] as const)
    test(`${fn}, f32x4 form: within 2 ulp of the exact value; special values exact`, async () => {
      const grid = mathInputs(fn);
      const xs = new Float32Array(Math.ceil(grid.length / 4) * 4);
      xs.set(grid);
      const { worst, at } = worstError(fn, xs, await wasmMath(fn, xs, true));
      // Measured: 1.24 ulp (exp) and 1.32 ulp (tanh); 2 ulp of f32 is 2.4e-7 relative.
      expect(worst, `${fn} at x = ${at}`).toBeLessThan(2.4e-7);
      // The special values, and tanh's and exp's own edges; padded to whole vectors.
      const specials = [...SPECIALS, 40, -40, 0.6249, -0.6251];
      const xs4 = new Float32Array(Math.ceil(specials.length / 4) * 4);
      xs4.set(specials);
      const sv = await wasmMath(fn, xs4, true);
      for (let i = 0; i < specials.length; i++) {
        const want = Math.fround(EXACT[fn](xs4[i]!));
        if (!Number.isFinite(want) || want === 0 || Math.abs(want) === 1) expect(sv[i]).toBe(want);
        else if (Math.abs(want) < 2 ** -126)
          // Subnormal: within one subnormal step of the correctly rounded f32.
          expect(Math.abs(sv[i]! - want)).toBeLessThanOrEqual(2 ** -149);
        else expect(Math.abs(sv[i]! - want) / Math.abs(want)).toBeLessThan(2.4e-7);
      }
    });

  test('expm1 and erf have no f32x4 form: a netc bug, not a wrong module', async () => {
    for (const fn of ['expm1', 'erf'] as const)
      await expect(wasmMath(fn, new Float32Array(4), true)).rejects.toThrow(
        `no v128 form of ${fn}`,
      );
  });
});

// ------------------------------------------------------------------------- random kernels

/** Random f32 / v128 expressions over loads at x + i * stride + c (i in [0, 8)). */
function exprs(
  addr: fc.Arbitrary<Expr> = fc
    .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -8, max: 8 }))
    .map(([s, c]) => add(add(X, mul(I, s)), c)),
): { f32: fc.Arbitrary<Expr>; v128: fc.Arbitrary<Expr> } {
  const cmpFn = fc.constantFrom<CmpFn>('lt', 'le', 'gt', 'ge', 'eq', 'ne');
  const binFn = fc.constantFrom('add', 'sub', 'mul', 'div', 'min', 'max' as const);
  const tie = fc.letrec<{ f: Expr; v: Expr; c: Expr }>((t) => ({
    f: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      addr.map((a) => load(a, 'f32')),
      fc.float({ noNaN: true, min: -4, max: 4 }).map((v) => f32(v)),
      fc
        .tuple(binFn, t('f'), t('f'))
        .map(([fn, a, b]): Expr => ({ op: 'bin', type: 'f32', fn, a, b })),
      fc
        .tuple(fc.constantFrom('neg', 'abs', 'sqrt' as const), t('f'))
        .map(([op, a]): Expr => ({ op, type: 'f32', a })),
      fc.tuple(t('c'), t('f'), t('f')).map(([c, a, b]) => select(c, a, b)),
      fc.tuple(t('v'), fc.integer({ min: 0, max: 3 })).map(([v, k]) => lane(v, k)),
    ),
    v: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      addr.map((a) => load(a, 'v128')),
      t('f').map(splat),
      fc
        .tuple(binFn, t('v'), t('v'))
        .map(([fn, a, b]): Expr => ({ op: 'bin', type: 'v128', fn, a, b })),
      fc
        .tuple(fc.constantFrom('neg', 'abs', 'sqrt' as const), t('v'))
        .map(([op, a]): Expr => ({ op, type: 'v128', a })),
      fc.tuple(t('c'), t('v'), t('v')).map(([c, a, b]) => select(c, a, b)),
    ),
    c: fc.oneof(
      fc.tuple(cmpFn, t('f'), t('f')).map(([fn, a, b]) => cmp(fn, a, b)),
      fc.tuple(cmpFn, fc.integer({ min: 0, max: 8 })).map(([fn, k]) => cmp(fn, I, k)),
    ),
  }));
  return { f32: tie.f, v128: tie.v };
}

describe('wasm backend: random kernels agree with the interpreter', () => {
  test('random elementwise loops (scalar and v128, unrolled or not)', async () => {
    const { f32: fe, v128: ve } = exprs();
    const stmt = fc.oneof(
      fc
        .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 7 }), fe)
        .map(([s, c, e]) => store(add(add(Y, mul(I, s)), c), e)),
      fc
        .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 4 }), ve)
        .map(([s, c, e]) => store(add(add(Y, mul(I, s)), c), e)),
    );
    const loopArb = fc
      .record({
        from: fc.integer({ min: 0, max: 3 }),
        to: fc.integer({ min: 0, max: 8 }),
        step: fc.integer({ min: 1, max: 3 }),
        unroll: fc.boolean(),
        body: fc.array(stmt, { minLength: 1, maxLength: 3 }),
      })
      .map((l) => loop('i', l.from, l.to, l.body, l.step, l.unroll));
    const memory = fc.array(fc.float(), { minLength: 48, maxLength: 48 });
    await fc.assert(
      fc.asyncProperty(loopArb, memory, async (l, init) => {
        const p = program(
          [kernel('rand', ['y', 'x'], [l])],
          [{ kernel: 'rand', args: [64, 16] }],
          112,
        );
        await agree(p, Float32Array.from(init));
      }),
      { numRuns: 120, seed: 20240601 },
    );
  });

  test('random nested loops with row-base lets, padding-like guards and unrolling', async () => {
    // r = x + (j + d) * 8 may point before x (d < 0); reads through it are guarded by j + d >= 0
    // where the constant part could otherwise wrap the pointer.
    const R = get('r');
    const addr = fc
      .tuple(fc.boolean(), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 8 }))
      .map(([viaRow, s, c]) => add(add(viaRow ? R : X, mul(I, s)), c));
    const { f32: fe, v128: ve } = exprs(addr);
    const J = get('j');
    const body = fc
      .record({
        d: fc.integer({ min: -2, max: 0 }),
        value: fc.oneof(fe, ve),
        ys: fc.integer({ min: 1, max: 4 }),
        yc: fc.integer({ min: 0, max: 4 }),
        guard: fc.boolean(),
      })
      .map(({ d, value, ys, yc, guard }): Stmt[] => {
        const st = store(add(add(add(Y, mul(J, 40)), mul(I, ys)), yc), value);
        return [
          let_('r', add(X, mul(add(J, d), 8))),
          loop('i', 0, 7, [guard || d < 0 ? if_(cmp('ge', add(J, d), 0), [st]) : st], 1 + (yc % 2)),
        ];
      });
    const outer = fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.boolean(), body)
      .map(([n, unrolled, b]) => loop('j', 0, n, b, 1, unrolled));
    const memory = fc.array(fc.float(), { minLength: 96, maxLength: 96 });
    await fc.assert(
      fc.asyncProperty(outer, memory, async (l, init) => {
        // x = 0 (like the weights): r is negative whenever j + d < 0.
        const p = program(
          [kernel('nest', ['y', 'x'], [l])],
          [{ kernel: 'nest', args: [96, 0] }],
          264,
        );
        await agree(p, Float32Array.from(init));
      }),
      { numRuns: 120, seed: 20240602 },
    );
  });
});

// -------------------------------------------------------------------------- module contract

describe('wasm module', () => {
  const copy = kernel(
    'copy',
    ['y', 'w'],
    [loop('i', 0, 8, [store(add(Y, I), load(add(get('w'), I), 'v128'))], 4)],
  );

  test('exports memory, prepare, run, slice and abi; weights land at byte 0; memory is sized in pages', async () => {
    // prepare copies weights 0..7 to 8..15 (as a weight transform would), run copies them on.
    const p = {
      ...program([copy], [{ kernel: 'copy', args: [16, 8] }], 20000, 16),
      prepare: [{ kernel: 'copy', args: [8, 0], layer: 'test', line: 1 }],
    };
    const w8 = [1, 2, 3, 4, 5, 6, 7, -0.5];
    const zeros = new Array<number>(8).fill(0);
    const { instance, module } = await WebAssembly.instantiate(
      emitWasm(p, { weights: Float32Array.from([...w8, ...zeros]) }) as Uint8Array<ArrayBuffer>,
    );
    expect(
      WebAssembly.Module.exports(module)
        .map((e) => `${e.kind} ${e.name}`)
        .sort(),
    ).toEqual([
      'function abi',
      'function prepare',
      'function run',
      'function slice',
      'memory memory',
    ]);
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    const ex = instance.exports;
    expect((ex.abi as () => number)()).toBe(3);
    const mem = ex.memory as WebAssembly.Memory;
    expect(mem.buffer.byteLength).toBe(2 * 65536);
    expect(Array.from(new Float32Array(mem.buffer, 0, 24))).toEqual([...w8, ...zeros, ...zeros]);
    (ex.prepare as () => void)();
    (ex.run as () => void)();
    expect(Array.from(new Float32Array(mem.buffer, 0, 24))).toEqual([...w8, ...w8, ...w8]);
  });

  test('slice(i) runs slice i of the streamed outputs: groups with stepped arguments', async () => {
    const group = (args: number[], argStep: number[], count: number) => ({
      kernel: 'copy',
      args,
      argStep,
      count,
      at: 0,
      atStep: 0,
      size: 8,
      layer: 'test',
      line: 1,
    });
    const p = {
      ...program([copy], [], 20000, 8),
      // Slices 0-2 copy the weights to 100, 108, 116; slice 3 to 200; slice 4 is no slice.
      streams: [{ output: 'y', groups: [group([100, 0], [8, 0], 3), group([200, 0], [0, 0], 1)] }],
    };
    const w8 = [1, 2, 3, 4, 5, 6, 7, -0.5];
    const { instance } = await WebAssembly.instantiate(
      emitWasm(p, { weights: Float32Array.from(w8) }) as Uint8Array<ArrayBuffer>,
    );
    const slice = instance.exports.slice as (i: number) => void;
    const mem = new Float32Array((instance.exports.memory as WebAssembly.Memory).buffer);
    const at = (o: number): number[] => Array.from(mem.subarray(o, o + 8));
    const nothing = new Array<number>(8).fill(0);
    slice(1);
    expect([at(100), at(108), at(116)]).toEqual([nothing, w8, nothing]);
    slice(0);
    slice(2);
    slice(4);
    expect([at(100), at(116), at(124), at(200)]).toEqual([w8, w8, nothing, nothing]);
    slice(3);
    expect(at(200)).toEqual(w8);
  });

  test('deterministic: the same program gives identical bytes', () => {
    const p = program([copy], [{ kernel: 'copy', args: [8, 0] }], 16, 8);
    const w = data(8);
    expect(
      Buffer.from(emitWasm(p, { weights: w })).equals(Buffer.from(emitWasm(p, { weights: w }))),
    ).toBe(true);
  });

  test('an invalid kernel is reported as a netc bug', () => {
    const bad = kernel(
      'bad',
      ['y'],
      [
        // A v128 value stored as f32: the module does not validate.
        { op: 'store', type: 'f32', addr: Y, value: splat(f32(1)) },
      ],
    );
    const p = program([bad], [{ kernel: 'bad', args: [0] }], 16);
    expect(() => emitWasm(p)).toThrow(/^netc bug:/);
    const unknown = program([bad], [{ kernel: 'nope', args: [0] }], 16);
    expect(() => emitWasm(unknown)).toThrow(/^netc bug:/);
  });

  test('code: v128 accesses use offset immediates; loops compute invariant addresses outside', () => {
    const k = kernel(
      'conv',
      ['y', 'x'],
      [
        loop('r', 0, 4, [
          loop(
            'c',
            0,
            16,
            [
              store(
                add(add(Y, mul(get('r'), 16)), get('c')),
                add(
                  load(add(add(add(X, mul(get('r'), 20)), get('c')), 4), 'v128'),
                  load(add(add(add(X, mul(get('r'), 20)), get('c')), 8), 'v128'),
                ),
              ),
            ],
            4,
          ),
        ]),
      ],
    );
    // Called twice with different args, so the parameters stay parameters.
    const p = program(
      [k],
      [
        { kernel: 'conv', args: [0, 100] },
        { kernel: 'conv', args: [64, 200] },
      ],
      400,
    );
    const text = emitWasmText(p, { optimize: true });
    expect(text).toMatch(/v128\.load offset=16/);
    expect(text).toMatch(/v128\.load offset=32/);
    // The two loads share one pointer: x*4 + r*80 + c*4 is computed once per iteration.
    const fn = text.slice(text.indexOf('(func $k$conv'));
    expect(fn.match(/i32\.mul|i32\.shl/g)?.length ?? 0).toBeLessThanOrEqual(6);
  });

  test('an innermost loop steps its address pointers: no shift inside, no counter when unread', async () => {
    // y[i] = x[i] * x[i + 64] over 64 floats: two pointers (x, y), one counting the trips.
    const k = kernel(
      'sq',
      ['y', 'x'],
      [
        loop(
          'i',
          0,
          64,
          [store(add(Y, I), mul(load(add(X, I), 'v128'), load(add(add(X, I), 64), 'v128')))],
          4,
        ),
      ],
    );
    const p = program(
      [k],
      [
        { kernel: 'sq', args: [128, 0] },
        { kernel: 'sq', args: [192, 0] },
      ],
      256,
    );
    const text = emitWasmText(p, { optimize: true });
    const body = text.slice(text.indexOf('(loop'), text.indexOf('(br_if'));
    expect(body).not.toMatch(/i32\.shl|i32\.mul/);
    expect(text.slice(text.indexOf('(br_if'))).toMatch(/i32\.ne/);
    await agree(p, data(256, 3));
  });

  test('relaxed: a v128 acc + x * w is one f32x4.relaxed_madd; the plain build keeps mul and add', () => {
    const V = (name: string) => get(name, 'v128');
    const body = [
      loop(
        'i',
        0,
        16,
        [
          store(add(Y, I), add(load(add(Y, I), 'v128'), mul(load(add(X, I), 'v128'), V('w')))),
          store(add(Y, I), add(mul(V('w'), V('w')), load(add(Y, I), 'v128'))),
        ],
        4,
      ),
    ];
    const k = kernel('madd', ['y', 'x'], [let_('w', splat(f32(2))), ...body]);
    const p = program([k], [{ kernel: 'madd', args: [0, 16] }], 32);
    const relaxed = emitWasmText(p, { relaxed: true });
    expect(relaxed.match(/f32x4\.relaxed_madd/g)).toHaveLength(2);
    expect(relaxed).not.toMatch(/f32x4\.(mul|add)/);
    const plain = emitWasmText(p);
    expect(plain).not.toMatch(/relaxed/);
    expect(plain.match(/f32x4\.mul/g)).toHaveLength(2);
  });
});

// Layer lowerings against the float64 reference: test/layers.test.ts, over every layer's
// declared samples.
