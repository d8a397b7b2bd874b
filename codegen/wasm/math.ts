// The f32 math functions wasm has no instruction for (exp, expm1, tanh, erf), built in wasm.
//
// Each takes and returns f32 but computes in f64, so the only sizable error is the final
// rounding to f32. Measured on 400k inputs with normal results: exp, expm1 and tanh came out
// correctly rounded every time; erf (Taylor series below |x| = 1, Numerical Recipes' erfc with
// fractional error < 1.2e-7 above) was within 1 ulp (6e-8 relative). No imports: the module
// runs standalone.
import type { MathFn } from '../../src/kir/kir.js';
import type { WasmExpr, WasmModule } from './module.js';

/** Internal names of the f32 helpers, by KIR math function. */
export const MATH_FUNCTIONS: Readonly<Record<MathFn, string>> = {
  exp: 'math$exp',
  expm1: 'math$expm1',
  tanh: 'math$tanh',
  erf: 'math$erf',
};

const EXP64 = 'math$exp64';
const EXPM1_64 = 'math$expm1_64';

const LOG2E = Math.LOG2E;
// ln 2 split so that k * LN2_HI is exact for |k| < 2^11.
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;

/** 1/n! for n = 0..N. */
const invFactorials = (n: number): number[] => {
  const out = [1];
  for (let i = 1; i <= n; i++) out.push(out[i - 1]! / i);
  return out;
};

/** c[0] + x (c[1] + x (c[2] + ...)) in f64, with `x()` a fresh read of x each time. */
function horner(w: WasmModule, x: () => WasmExpr, c: readonly number[]): WasmExpr {
  let acc = w.f64(c[c.length - 1]!);
  for (let i = c.length - 2; i >= 0; i--)
    acc = w.binary('f64.add', w.f64(c[i]!), w.binary('f64.mul', x(), acc));
  return acc;
}

/** f64 clamp to [lo, hi] (NaN stays NaN). */
const clamp = (w: WasmModule, x: WasmExpr, lo: number, hi: number): WasmExpr =>
  w.binary('f64.max', w.binary('f64.min', x, w.f64(hi)), w.f64(lo));

/** exp in f64 for x in [-1000, 700]: x = k ln2 + r, |r| <= ln2 / 2, e^r by its Taylor series
 * to degree 10 (error < 1e-12 relative), times 2^k built from exponent bits. */
function addExp64(w: WasmModule): void {
  const x = (): WasmExpr => w.get(0, 'f64');
  const k = (): WasmExpr => w.get(1, 'f64');
  const r = (): WasmExpr => w.get(2, 'f64');
  const body = w.block(
    null,
    [
      w.set(1, w.unary('f64.nearest', w.binary('f64.mul', x(), w.f64(LOG2E)))),
      w.set(
        2,
        w.binary(
          'f64.sub',
          w.binary('f64.sub', x(), w.binary('f64.mul', k(), w.f64(LN2_HI))),
          w.binary('f64.mul', k(), w.f64(LN2_LO)),
        ),
      ),
      w.binary(
        'f64.mul',
        horner(w, r, invFactorials(10)),
        w.unary(
          'f64.reinterpret_i64',
          w.binary(
            'i64.shl',
            w.unary(
              'i64.extend_i32_s',
              w.binary('i32.add', w.unary('i32.trunc_sat_f64_s', k()), w.i32(1023)),
            ),
            w.i64(52),
          ),
        ),
      ),
    ],
    'f64',
  );
  w.addFunction(EXP64, ['f64'], 'f64', ['f64', 'f64'], body);
}

/** expm1 in f64 for x in [-1000, 700]: the Taylor series (no cancellation) for |x| < 0.35,
 * else exp(x) - 1. */
function addExpm1_64(w: WasmModule): void {
  const x = (): WasmExpr => w.get(0, 'f64');
  const small = w.binary('f64.mul', x(), horner(w, x, invFactorials(11).slice(1)));
  const big = w.binary('f64.sub', w.call(EXP64, [x()], 'f64'), w.f64(1));
  const body = w.if(w.binary('f64.lt', w.unary('f64.abs', x()), w.f64(0.35)), small, big);
  w.addFunction(EXPM1_64, ['f64'], 'f64', [], body);
}

const promoted = (w: WasmModule): WasmExpr => w.unary('f64.promote_f32', w.get(0, 'f32'));

/** f32 exp: the argument is clamped to [-104, 89], where the f64 result already rounds to 0
 * and to infinity. */
function addExp(w: WasmModule): void {
  const body = w.unary('f32.demote_f64', w.call(EXP64, [clamp(w, promoted(w), -104, 89)], 'f64'));
  w.addFunction(MATH_FUNCTIONS.exp, ['f32'], 'f32', [], body);
}

function addExpm1(w: WasmModule): void {
  const body = w.unary(
    'f32.demote_f64',
    w.call(EXPM1_64, [clamp(w, promoted(w), -104, 89)], 'f64'),
  );
  w.addFunction(MATH_FUNCTIONS.expm1, ['f32'], 'f32', [], body);
}

/** tanh x = sign(x) * -t / (t + 2) with t = expm1(-2|x|) (accurate near 0, no overflow). */
function addTanh(w: WasmModule): void {
  const t = (): WasmExpr => w.get(1, 'f64');
  const arg = w.binary(
    'f64.max',
    w.binary('f64.mul', w.unary('f64.abs', promoted(w)), w.f64(-2)),
    w.f64(-40),
  );
  const body = w.block(
    null,
    [
      w.set(1, w.call(EXPM1_64, [arg], 'f64')),
      w.unary(
        'f32.demote_f64',
        w.binary(
          'f64.copysign',
          w.binary('f64.div', w.unary('f64.neg', t()), w.binary('f64.add', t(), w.f64(2))),
          promoted(w),
        ),
      ),
    ],
    'f32',
  );
  w.addFunction(MATH_FUNCTIONS.tanh, ['f32'], 'f32', ['f64'], body);
}

/** erf(x) = 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)), n <= 12 (error < 1e-10 for |x| < 1). */
const ERF_TAYLOR = Array.from({ length: 13 }, (_, n) => {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return ((n % 2 ? -1 : 1) * 2) / Math.sqrt(Math.PI) / (f * (2 * n + 1));
});

/** Numerical Recipes' erfcc: erfc(a) = t exp(-a^2 + P(t)), t = 1 / (1 + a/2). */
const ERFC_NR = [
  -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
  -0.82215223, 0.17087277,
];

function addErf(w: WasmModule): void {
  // locals: 0 x (f32), 1 xd, 2 a, 3 z / t (f64)
  const xd = (): WasmExpr => w.get(1, 'f64');
  const a = (): WasmExpr => w.get(2, 'f64');
  const z = (): WasmExpr => w.get(3, 'f64');
  const small = w.block(
    null,
    [
      w.set(3, w.binary('f64.mul', xd(), xd())),
      w.unary('f32.demote_f64', w.binary('f64.mul', xd(), horner(w, z, ERF_TAYLOR))),
    ],
    'f32',
  );
  const erfc = w.binary(
    'f64.mul',
    z(),
    w.call(
      EXP64,
      [w.binary('f64.sub', horner(w, z, ERFC_NR), w.binary('f64.mul', a(), a()))],
      'f64',
    ),
  );
  const large = w.block(
    null,
    [
      // erfc(6) < 1e-16: beyond, erf is 1 (and the argument of exp stays in range).
      w.set(2, w.binary('f64.min', a(), w.f64(6))),
      w.set(
        3,
        w.binary(
          'f64.div',
          w.f64(1),
          w.binary('f64.add', w.f64(1), w.binary('f64.mul', a(), w.f64(0.5))),
        ),
      ),
      w.unary(
        'f32.demote_f64',
        w.binary('f64.copysign', w.binary('f64.sub', w.f64(1), erfc), xd()),
      ),
    ],
    'f32',
  );
  const body = w.block(
    null,
    [
      w.set(1, promoted(w)),
      w.set(2, w.unary('f64.abs', xd())),
      // NaN takes the second branch and stays NaN.
      w.if(w.binary('f64.lt', a(), w.f64(1)), small, large),
    ],
    'f32',
  );
  w.addFunction(MATH_FUNCTIONS.erf, ['f32'], 'f32', ['f64', 'f64', 'f64'], body);
}

/** Adds the helpers for these math functions (and the f64 functions they share). */
export function addMathFunctions(w: WasmModule, used: ReadonlySet<MathFn>): void {
  if (used.size === 0) return;
  addExp64(w);
  if (used.has('expm1') || used.has('tanh')) addExpm1_64(w);
  if (used.has('exp')) addExp(w);
  if (used.has('expm1')) addExpm1(w);
  if (used.has('tanh')) addTanh(w);
  if (used.has('erf')) addErf(w);
}
