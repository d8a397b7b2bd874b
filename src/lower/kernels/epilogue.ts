// The activation epilogue as KIR: each activation's formula (src/layers/activations.ts)
// evaluated on an f32 or v128 value. A formula is vectorizable when every operation it uses
// has a v128 form (clamps are pmin/pmax; exp and tanh have f32x4 helpers); a per-value choice
// (elu, selu), erf (gelu), expm1 or log1p (softplus, mish) make it f32 only, and a v128 value
// is then stored lane by lane.
import type { Attrs } from '../../ir/graph.js';
import {
  ACTIVATION_BY_NAME,
  activationOf,
  paramsOf,
  type Activation,
  type Arith,
} from '../../layers/activations.js';
import {
  add,
  cmp,
  f32,
  i32,
  lane,
  math,
  select,
  store,
  type Expr,
  type MathFn,
  type Stmt,
} from '../../kir/kir.js';
import { floatBinary, fconst, loadL, numTag, type Lanes } from './util.js';

/** KIR expressions of `lanes` lanes. Clamps keep x first: pmin and pmax (one instruction,
 * against 8 for f32x4.min and max on x64) then agree with min and max but for the sign of a
 * zero result; a NaN x stays NaN. Measured: a 1x1 conv2d with relu 2.68 -> 2.47 ms,
 * MobileNetV1's layers 33.4 -> 30.8 ms. */
function kirArith(lanes: Lanes): Arith<Expr> {
  const type = lanes === 4 ? 'v128' : 'f32';
  const fn = (f: MathFn) => (a: Expr) => math(f, a);
  return {
    c: (v) => fconst(v, lanes),
    add: (a, b) => floatBinary('add', a, b),
    sub: (a, b) => floatBinary('sub', a, b),
    mul: (a, b) => floatBinary('mul', a, b),
    div: (a, b) => floatBinary('div', a, b),
    max: (x, b) => floatBinary(lanes === 4 ? 'pmax' : 'max', x, b),
    min: (x, b) => floatBinary(lanes === 4 ? 'pmin' : 'min', x, b),
    neg: (a) => ({ op: 'neg', type, a }),
    abs: (a) => ({ op: 'abs', type, a }),
    exp: fn('exp'),
    expm1: fn('expm1'),
    log1p: fn('log1p'),
    tanh: fn('tanh'),
    erf: fn('erf'),
    ifPositive: (a, then, otherwise) => select(cmp('gt', a, 0), then, otherwise),
  };
}

/** What an activation's formula uses, found by evaluating it on a probe. */
function uses(act: Activation): { scalarOnly: boolean; math: boolean } {
  const def = ACTIVATION_BY_NAME.get(act.fn);
  if (!def) throw new Error(`no kernel epilogue for activation ${act.fn}`);
  const seen = { scalarOnly: false, math: false };
  const scalar = (): null => ((seen.scalarOnly = seen.math = true), null);
  const probe: Arith<null> = {
    c: () => null,
    add: () => null,
    sub: () => null,
    mul: () => null,
    div: () => null,
    max: () => null,
    min: () => null,
    neg: () => null,
    abs: () => null,
    exp: () => ((seen.math = true), null),
    tanh: () => ((seen.math = true), null),
    expm1: scalar,
    log1p: scalar,
    erf: scalar,
    ifPositive: () => ((seen.scalarOnly = true), null),
  };
  def.formula(null, probe, paramsOf(act));
  return seen;
}

/** Whether the activation has a v128 form. */
export const vectorizable = (act: Activation): boolean => !uses(act).scalarOnly;

/** Whether its f32 form calls a math function (exp, tanh) per value while a v128 form exists
 * (sigmoid, tanh, swish, exponential): worth a separate v128 pass after scalar sums. */
export const transcendental = (act: Activation): boolean => {
  const u = uses(act);
  return u.math && !u.scalarOnly;
};

/** The node's activation (`{ fn: 'linear' }` when it has none). */
export const nodeActivation = (attrs: Attrs): Activation => activationOf(attrs);

/** Name part: null for linear, else `relu`, `leaky_relu_0p3`, `elu_1`. */
export function activationTag(act: Activation): string | null {
  if (act.fn === 'linear') return null;
  const params = Object.keys(act)
    .filter((k) => k !== 'fn')
    .sort()
    .map((k) => numTag(Number(act[k])));
  return [act.fn, ...params].join('_');
}

/** Words for kernel docs: `relu`, `leaky_relu(negative_slope: 0.3)`. */
export function activationDoc(act: Activation): string {
  const params = Object.keys(act)
    .filter((k) => k !== 'fn')
    .sort()
    .map((k) => `${k}: ${String(act[k])}`);
  return params.length ? `${act.fn}(${params.join(', ')})` : act.fn;
}

/**
 * act(x). `x` is read several times, so pass a local (`get`). v128 only when vectorizable.
 */
export function activate(act: Activation, x: Expr): Expr {
  const lanes: Lanes = x.type === 'v128' ? 4 : 1;
  if (lanes === 4 && !vectorizable(act)) throw new Error(`activation ${act.fn} has no v128 form`);
  const def = ACTIVATION_BY_NAME.get(act.fn);
  if (!def) throw new Error(`no kernel epilogue for activation ${act.fn}`);
  return def.formula(x, kirArith(lanes), paramsOf(act));
}

/** v plus the residual tensor's element(s) at `at` (conv2d_add's sum), or v when there is none. */
export function plusResidual(v: Expr, at: Expr | null | undefined): Expr {
  return at ? floatBinary('add', v, loadL(at, v.type === 'v128' ? 4 : 1)) : v;
}

/** Stores act(v) at addr; v is a local (`get`) of f32 or v128. */
export function storeActivated(addr: Expr, v: Expr, act: Activation): Stmt[] {
  if (v.type === 'v128' && !vectorizable(act))
    return [0, 1, 2, 3].map((i) => store(add(addr, i32(i)), activate(act, lane(v, i))));
  return [store(addr, activate(act, v))];
}

/**
 * Whether a layer of `filters` output channels and `rowElements` elements per output row can
 * be split in bands of rows with results unchanged: not when the dot-product core (fewer than
 * 4 filters) ends on a transcendental activation, which it applies in one vector pass over the
 * output, unless each row is whole vectors (then a band's pass, starting at its first row,
 * groups the elements in the same vectors as the whole output's pass; else it would leave other
 * elements to the scalar tail, with other bits).
 */
export const bandsKeepBits = (filters: number, rowElements: number, attrs: Attrs): boolean =>
  filters >= 4 || rowElements % 4 === 0 || !transcendental(nodeActivation(attrs));
