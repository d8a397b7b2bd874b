// The activation epilogue as KIR: the activation table's functions on an f32 or v128 value.
// relu, relu6, leaky_relu, hard_sigmoid and hard_swish are min/max/mul (pmin/pmax in v128);
// sigmoid, tanh and swish call `math` functions with v128 forms (each lane computed as the f32
// form would); elu (a per-lane choice) and gelu (erf) are f32 only, so a v128 value is stored
// lane by lane.
import type { Attrs } from '../../ir/graph.js';
import { activationOf, type Activation } from '../../layers/activations.js';
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
  type Stmt,
} from '../../kir/kir.js';
import { fbin, fconst, loadL, numTag, type Lanes } from './util.js';

const VECTOR = new Set([
  'linear',
  'relu',
  'relu6',
  'leaky_relu',
  'hard_sigmoid',
  'hard_swish',
  'sigmoid',
  'tanh',
  'swish',
]);

/** Activations whose f32 form calls a math function (exp, tanh) per value. */
export const TRANSCENDENTAL: ReadonlySet<string> = new Set(['sigmoid', 'tanh', 'swish']);

/** Whether the activation has a v128 form. */
export const vectorizable = (act: Activation): boolean => VECTOR.has(act.fn);

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

const param = (act: Activation, name: string): number => {
  const v = act[name];
  if (typeof v !== 'number') throw new Error(`activation ${act.fn} lacks ${name}`);
  return v;
};

/**
 * act(x). `x` is read several times, so pass a local (`get`). v128 only when vectorizable.
 */
export function activate(act: Activation, x: Expr): Expr {
  const lanes: Lanes = x.type === 'v128' ? 4 : 1;
  const c = (v: number): Expr => fconst(v, lanes);
  // Clamps keep x first: pmin and pmax (one instruction, against 8 for f32x4.min and max on
  // x64) then agree with min and max but for the sign of a zero result; a NaN x stays NaN.
  // Measured: a 1x1 conv2d with relu 2.68 -> 2.47 ms, MobileNetV1's layers 33.4 -> 30.8 ms.
  const [lo, hi]: ['max' | 'pmax', 'min' | 'pmin'] =
    lanes === 4 ? ['pmax', 'pmin'] : ['max', 'min'];
  const relu6 = (v: Expr): Expr => fbin(hi, fbin(lo, v, c(0)), c(6));
  const hardSigmoid = (v: Expr): Expr => fbin('div', relu6(fbin('add', v, c(3))), c(6));
  if (lanes === 4 && !vectorizable(act)) throw new Error(`activation ${act.fn} has no v128 form`);
  switch (act.fn) {
    case 'linear':
      return x;
    case 'relu':
      return fbin(lo, x, c(0));
    case 'relu6':
      return relu6(x);
    case 'leaky_relu': {
      // x >= 0 ? x : a * x is max(x, a * x) for a <= 1 and min(x, a * x) for a > 1.
      const a = param(act, 'negative_slope');
      return fbin(a <= 1 ? lo : hi, x, fbin('mul', x, c(a)));
    }
    case 'hard_sigmoid':
      return hardSigmoid(x);
    case 'hard_swish':
      return fbin('mul', x, hardSigmoid(x));
    case 'elu': {
      const alpha = f32(param(act, 'alpha'));
      return select(cmp('gt', x, 0), x, fbin('mul', alpha, math('expm1', x)));
    }
    case 'sigmoid':
      return sigmoid(x, lanes);
    case 'tanh':
      return math('tanh', x);
    case 'swish':
      return fbin('mul', x, sigmoid(x, lanes));
    case 'gelu': {
      const e = math('erf', fbin('mul', x, f32(Math.SQRT1_2)));
      return fbin('mul', fbin('mul', f32(0.5), x), fbin('add', f32(1), e));
    }
    default:
      throw new Error(`no kernel epilogue for activation ${act.fn}`);
  }
}

const sigmoid = (x: Expr, lanes: Lanes): Expr => {
  const one = fconst(1, lanes);
  const type = lanes === 4 ? 'v128' : 'f32';
  return fbin('div', one, fbin('add', one, math('exp', { op: 'neg', type, a: x })));
};

/** v plus the residual tensor's element(s) at `at` (conv2d_add's sum), or v when there is none. */
export function plusResidual(v: Expr, at: Expr | null | undefined): Expr {
  return at ? fbin('add', v, loadL(at, v.type === 'v128' ? 4 : 1)) : v;
}

/** Stores act(v) at addr; v is a local (`get`) of f32 or v128. */
export function storeActivated(addr: Expr, v: Expr, act: Activation): Stmt[] {
  if (v.type === 'v128' && !vectorizable(act))
    return [0, 1, 2, 3].map((i) => store(add(addr, i32(i)), activate(act, lane(v, i))));
  return [store(addr, activate(act, v))];
}
