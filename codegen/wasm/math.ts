// The f32 math functions wasm has no instruction for (exp, expm1, log1p, tanh, erf), built in wasm.
//
// Each takes and returns f32 but computes in f64, so the only sizable error is the final
// rounding to f32. Measured on 400k inputs with normal results: exp, expm1 and tanh came out
// correctly rounded every time; erf (Taylor series below |x| = 1, Numerical Recipes' erfc with
// fractional error < 1.2e-7 above) was within 1 ulp (6e-8 relative). No imports: the module
// runs standalone.
//
// exp and tanh also have f32x4 forms for vectorized epilogues (sigmoid, tanh, swish), computed
// in f32 (Cephes's polynomials, Cody-Waite reduction): within 1.4 ulp, about 4 times the speed
// of four f32 calls (exp 2.0 against 8.5 ns a value here, tanh 3.3 against 12).
import type { MathFn } from '../../src/kir/kir.js';
import type { WasmExpr, WasmModule } from './module.js';

/** Internal names of the f32 helpers, by KIR math function. */
export const MATH_FUNCTIONS: Readonly<Record<MathFn, string>> = {
  exp: 'math$exp',
  expm1: 'math$expm1',
  log1p: 'math$log1p',
  tanh: 'math$tanh',
  erf: 'math$erf',
};

/** The f32x4 forms (exp and tanh; the others have none): computed in f32, within 2 ulp. */
export const VECTOR_MATH_FUNCTIONS: Readonly<Partial<Record<MathFn, string>>> = {
  exp: 'math$exp_v',
  tanh: 'math$tanh_v',
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

/** c[0] + x (c[1] + x (c[2] + ...)) in f64, or lane by lane in f32x4, with `x()` a fresh
 * read of x each time. */
function horner(
  w: WasmModule,
  x: () => WasmExpr,
  c: readonly number[],
  type: 'f64' | 'f32x4' = 'f64',
): WasmExpr {
  const k = (v: number): WasmExpr => (type === 'f64' ? w.f64(v) : w.f32x4(v));
  let acc = k(c[c.length - 1]!);
  for (let i = c.length - 2; i >= 0; i--)
    acc = w.binary(`${type}.add`, k(c[i]!), w.binary(`${type}.mul`, x(), acc));
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

/** 2 atanh(z) / z = 2 (1 + z^2/3 + z^4/5 + ...), as a polynomial in z^2 (|z| <= 0.172 here:
 * 12 terms leave an error below 1e-18). */
const ATANH2 = Array.from({ length: 12 }, (_, n) => 2 / (2 * n + 1));

/**
 * log1p in f64 from an f32 argument: log(1 + x) = 2 atanh(x / (2 + x)), computed from x itself
 * (no rounding of 1 + x) when 1 + x is in [sqrt(1/2), sqrt(2)); elsewhere 1 + x = m 2^k with m in
 * [sqrt(1/2), sqrt(2)) from the exponent bits, and log = k ln 2 + 2 atanh((m - 1) / (m + 1)).
 * 1 + x <= 0 gives -inf or NaN, +inf stays +inf.
 */
function addLog1p(w: WasmModule): void {
  // locals: 0 x (f32), 1 xd, 2 u / m, 3 z, 4 k (f64), 5 bits (i64)
  const xd = (): WasmExpr => w.get(1, 'f64');
  const u = (): WasmExpr => w.get(2, 'f64');
  const z = (): WasmExpr => w.get(3, 'f64');
  const k = (): WasmExpr => w.get(4, 'f64');
  const bits = (): WasmExpr => w.get(5, 'i64');
  const atanh2 = (): WasmExpr =>
    w.binary(
      'f64.mul',
      z(),
      horner(w, () => w.binary('f64.mul', z(), z()), ATANH2),
    );
  const near = w.block(
    null,
    [w.set(3, w.binary('f64.div', xd(), w.binary('f64.add', w.f64(2), xd()))), atanh2()],
    'f64',
  );
  const far = w.block(
    null,
    [
      w.set(5, w.unary('i64.reinterpret_f64', u())),
      // k = exponent of u; m = u / 2^k in [1, 2), then halved above sqrt(2).
      w.set(
        4,
        w.unary(
          'f64.convert_i64_s',
          w.binary('i64.sub', w.binary('i64.shr_u', bits(), w.i64(52)), w.i64(1023)),
        ),
      ),
      w.set(
        2,
        w.unary(
          'f64.reinterpret_i64',
          w.binary(
            'i64.or',
            w.binary('i64.and', bits(), w.i64(0xfffffffffffff)),
            w.i64(1023 * 2 ** 52),
          ),
        ),
      ),
      w.if(
        w.binary('f64.gt', u(), w.f64(Math.SQRT2)),
        w.block(
          null,
          [
            w.set(2, w.binary('f64.mul', u(), w.f64(0.5))),
            w.set(4, w.binary('f64.add', k(), w.f64(1))),
          ],
          'none',
        ),
      ),
      w.set(
        3,
        w.binary('f64.div', w.binary('f64.sub', u(), w.f64(1)), w.binary('f64.add', u(), w.f64(1))),
      ),
      w.binary(
        'f64.add',
        w.binary('f64.add', w.binary('f64.mul', k(), w.f64(LN2_HI)), atanh2()),
        w.binary('f64.mul', k(), w.f64(LN2_LO)),
      ),
    ],
    'f64',
  );
  const finite = w.if(
    w.binary(
      'i32.and',
      w.binary('f64.ge', u(), w.f64(Math.SQRT1_2)),
      w.binary('f64.lt', u(), w.f64(Math.SQRT2)),
    ),
    near,
    far,
  );
  // 1 + x <= 0, NaN or +inf: log's own answers.
  const special = w.if(
    w.binary('f64.eq', u(), w.f64(0)),
    w.f64(-Infinity),
    w.if(w.binary('f64.eq', u(), w.f64(Infinity)), u(), w.f64(NaN)),
  );
  const body = w.block(
    null,
    [
      w.set(1, promoted(w)),
      w.set(2, w.binary('f64.add', w.f64(1), xd())),
      w.unary(
        'f32.demote_f64',
        w.if(
          w.binary(
            'i32.and',
            w.binary('f64.gt', u(), w.f64(0)),
            w.binary('f64.lt', u(), w.f64(Infinity)),
          ),
          finite,
          special,
        ),
      ),
    ],
    'f32',
  );
  w.addFunction(MATH_FUNCTIONS.log1p, ['f32'], 'f32', ['f64', 'f64', 'f64', 'f64', 'i64'], body);
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

// ------------------------------------------------------------------------ f32x4 forms

/** exp(r) = 1 + r + r^2 P(r) for |r| <= ln2 / 2 (Cephes expf's minimax coefficients). */
const EXPF_P = [
  5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3, 1.3981999507e-3,
  1.98756915e-4,
];
// ln 2 = C1 + C2, C1 with few bits so k * C1 is exact (Cody and Waite).
const EXPF_C1 = 0.693359375;
const EXPF_C2 = -2.1219444e-4;
/** Above: infinity (f32 max is e^88.7228391). Below -104: 0. */
const EXPF_MAX = 88.72283935546875;

/** 1.5 * 2^23: adding it rounds an f32 of magnitude below 2^22 to an integer, to nearest
 * even, and leaves that integer in the low bits. */
const ROUNDER = 12582912;

/**
 * f32x4 exp: x = k ln2 + r in f32, e^r by a degree-7 polynomial, times 2^k as two powers of two
 * (each a normal f32 for k in [-150, 128], so results down into the subnormals round once).
 * Measured against the exact value on 1.2M inputs: within 1.24 ulp (1.2e-7 relative).
 */
function addExpV(w: WasmModule): void {
  // locals: 0 x, 1 clamped x, 2 x log2(e) + ROUNDER, 3 k (f32), 4 r, 5 k (i32), 6 k / 2 (i32)
  const v = (i: number): WasmExpr => w.get(i, 'v128');
  const f = (op: 'add' | 'sub' | 'mul', a: WasmExpr, b: WasmExpr): WasmExpr =>
    w.binary(`f32x4.${op}`, a, b);
  const pow2 = (e: WasmExpr): WasmExpr =>
    w.binary('i32x4.shl', w.binary('i32x4.add', e, w.i32x4(127)), w.i32(23));
  const body = w.block(
    null,
    [
      // pmin and pmax with x first keep a NaN x.
      w.set(
        1,
        w.binary('f32x4.pmax', w.binary('f32x4.pmin', v(0), w.f32x4(EXPF_MAX)), w.f32x4(-104)),
      ),
      w.set(2, f('add', f('mul', v(1), w.f32x4(Math.LOG2E)), w.f32x4(ROUNDER))),
      w.set(3, f('sub', v(2), w.f32x4(ROUNDER))),
      w.set(
        4,
        f(
          'sub',
          f('sub', v(1), f('mul', v(3), w.f32x4(EXPF_C1))),
          f('mul', v(3), w.f32x4(EXPF_C2)),
        ),
      ),
      // The integer k is the low bits of x log2(e) + ROUNDER (a NaN gives junk, times a NaN).
      w.set(5, w.binary('i32x4.sub', v(2), w.i32x4(0x4b400000))),
      w.set(6, w.binary('i32x4.shr_s', v(5), w.i32(1))),
      // 1 + r + r^2 P(r), times 2^(k/2) and 2^(k - k/2); infinity above EXPF_MAX.
      w.bitselect(
        w.f32x4(Infinity),
        f(
          'mul',
          f(
            'mul',
            f(
              'add',
              f('add', w.f32x4(1), v(4)),
              f(
                'mul',
                f('mul', v(4), v(4)),
                horner(w, () => v(4), EXPF_P, 'f32x4'),
              ),
            ),
            pow2(v(6)),
          ),
          pow2(w.binary('i32x4.sub', v(5), v(6))),
        ),
        w.binary('f32x4.gt', v(0), w.f32x4(EXPF_MAX)),
      ),
    ],
    'v128',
  );
  w.addFunction(VECTOR_MATH_FUNCTIONS.exp!, ['v128'], 'v128', new Array(6).fill('v128'), body);
}

/** tanh x = x + x^3 Q(x^2) for |x| < 0.625 (Cephes tanhf), else sign(x) (1 - 2 / (e^2|x| + 1)).
 * Measured on 1.2M inputs: within 1.32 ulp (1.4e-7 relative). */
const TANHF_Q = [
  -3.33332819422e-1, 1.33314422036e-1, -5.37397155531e-2, 2.06390887954e-2, -5.70498872745e-3,
];

function addTanhV(w: WasmModule): void {
  // locals: 0 x, 1 |x|, 2 x^2. Both forms on |x|, then the sign of x (so -0 stays -0).
  const v = (i: number): WasmExpr => w.get(i, 'v128');
  const small = w.binary(
    'f32x4.add',
    v(1),
    w.binary(
      'f32x4.mul',
      w.binary('f32x4.mul', v(2), v(1)),
      horner(w, () => v(2), TANHF_Q, 'f32x4'),
    ),
  );
  const e = w.call(VECTOR_MATH_FUNCTIONS.exp!, [w.binary('f32x4.add', v(1), v(1))], 'v128');
  const large = w.binary(
    'f32x4.sub',
    w.f32x4(1),
    w.binary('f32x4.div', w.f32x4(2), w.binary('f32x4.add', e, w.f32x4(1))),
  );
  const magnitude = w.bitselect(small, large, w.binary('f32x4.lt', v(1), w.f32x4(0.625)));
  const body = w.block(
    null,
    [
      w.set(1, w.unary('f32x4.abs', v(0))),
      w.set(2, w.binary('f32x4.mul', v(0), v(0))),
      // -0.0 is the sign bit alone: the sign from x, the rest from the magnitude.
      w.bitselect(v(0), magnitude, w.f32x4(-0)),
    ],
    'v128',
  );
  w.addFunction(VECTOR_MATH_FUNCTIONS.tanh!, ['v128'], 'v128', ['v128', 'v128'], body);
}

/** Adds the f32 helpers `scalar` uses (and the f64 functions they share), and the f32x4 ones
 * `vector` uses. */
export function addMathFunctions(
  w: WasmModule,
  scalar: ReadonlySet<MathFn>,
  vector: ReadonlySet<MathFn>,
): void {
  if (vector.has('exp') || vector.has('tanh')) addExpV(w);
  if (vector.has('tanh')) addTanhV(w);
  if (scalar.size === 0) return;
  addExp64(w);
  if (scalar.has('expm1') || scalar.has('tanh')) addExpm1_64(w);
  if (scalar.has('exp')) addExp(w);
  if (scalar.has('expm1')) addExpm1(w);
  if (scalar.has('tanh')) addTanh(w);
  if (scalar.has('erf')) addErf(w);
  if (scalar.has('log1p')) addLog1p(w);
}
