// Shared pieces of the kernel builders: parameters, weight lookup, fresh local names, lane-typed
// constants, channel tiling, contiguous copies and fills, and kernel naming.
import type { Node, Shape } from '../../ir/graph.js';
import {
  add,
  bodyText,
  f32,
  get,
  i32,
  let_,
  load,
  loop,
  mul,
  splat,
  store,
  type BinFn,
  type Expr,
  type Stmt,
} from '../../kir/kir.js';
import type { BandShift, LoweredNode, Pack, PreparedWeight } from '../program.js';
import { walk } from '../../kir/visit.js';

/** Lanes per value: 4 for v128, 1 for f32. */
export type Lanes = 1 | 4;

/** The kernel parameters' base offsets (see kernelParams): the output, the scratch, input i. */
export const outputBase = get('y');
export const scratchBase = get('s');
export const inputBase = (i: number): Expr => get(`x${i}`);

/** The kernel parameters: 'y', one per input, one per weight, then 's' for scratch. */
export function kernelParams(node: Node, scratch: boolean): string[] {
  return [
    'y',
    ...node.inputs.map((_, i) => `x${i}`),
    ...node.weights.map((_, i) => `w${i}`),
    ...(scratch ? ['s'] : []),
  ];
}

/** The base offset of the node's weight `name`, or null when it has none by that name. */
export function weight(node: Node, name: string): Expr | null {
  const i = node.weights.findIndex((w) => w.name === name);
  return i < 0 ? null : get(`w${i}`);
}

export function needWeight(node: Node, name: string): Expr {
  const w = weight(node, name);
  if (!w) throw new Error(`${node.layer.kind} ${node.name} has no weight ${name}`);
  return w;
}

/** Fresh local names (`acc0`, `acc1`, ...), unique within one kernel. Bases must not end in
 * a digit or be a parameter prefix, so names never meet parameters or unrolled copies. */
export class Names {
  private readonly next = new Map<string, number>();
  fresh(base: string): string {
    const n = this.next.get(base) ?? 0;
    this.next.set(base, n + 1);
    return `${base}${n}`;
  }
}

// ------------------------------------------------------------------------- lane-typed values

export const vtype = (lanes: Lanes): 'f32' | 'v128' => (lanes === 4 ? 'v128' : 'f32');
export const loadL = (addr: Expr, lanes: Lanes): Expr => load(addr, vtype(lanes));
/** A scalar f32 expression broadcast to `lanes`. */
export const bcast = (e: Expr, lanes: Lanes): Expr => (lanes === 4 ? splat(e) : e);
/** An f32 constant with `lanes` lanes. */
export const fconst = (v: number, lanes: Lanes): Expr => bcast(f32(v), lanes);
/** A binary operation on two f32 or two v128 values (the type of `a`). */
export const floatBinary = (fn: BinFn, a: Expr, b: Expr): Expr => ({
  op: 'bin',
  type: a.type,
  fn,
  a,
  b,
});

/** Element index of (row r, column col, channel ch) in an [H, width, channels] map at base. */
export const hwc = (
  base: Expr,
  width: number,
  channels: number,
  r: Expr,
  col: Expr,
  ch: Expr,
): Expr => add(base, add(mul(add(mul(r, width), col), channels), ch));

/** `value` bound to a fresh local (appended to `out`), for reading it more than once. */
export function bind(names: Names, out: Stmt[], base: string, value: Expr): Expr {
  const name = names.fresh(base);
  out.push(let_(name, value));
  return get(name, value.type);
}

// ---------------------------------------------------------------------------------- tiling

/** Channels [from, to) in steps of lanes * vecs: each step holds `vecs` values of `lanes`. */
export interface Tile {
  readonly from: number;
  readonly to: number;
  readonly lanes: Lanes;
  readonly vecs: number;
}

export const tileStep = (t: Tile): number => t.lanes * t.vecs;

/** Splits n channels into tiles: v128 groups of up to maxVecs (with simd), then f32 ones. */
export function channelTiles(n: number, simd: boolean, maxVecs = 4): Tile[] {
  const tiles: Tile[] = [];
  let at = 0;
  const push = (lanes: Lanes, vecs: number, count: number): void => {
    if (vecs <= 0 || count <= 0) return;
    tiles.push({ from: at, to: at + count * lanes * vecs, lanes, vecs });
    at += count * lanes * vecs;
  };
  if (simd) {
    const nv = Math.floor(n / 4);
    const v = Math.min(maxVecs, nv);
    if (v > 0) {
      push(4, v, Math.floor(nv / v));
      push(4, nv % v, 1);
    }
  }
  const rest = n - at;
  const v = Math.min(maxVecs, rest);
  if (v > 0) {
    push(1, v, Math.floor(rest / v));
    push(1, rest % v, 1);
  }
  return tiles;
}

/** A loop over [from, to) by step, or the body inline (v constant) when it runs once. */
export function range(
  v: string,
  from: number,
  to: number,
  body: (i: Expr) => Stmt[],
  step = 1,
  unroll = false,
): Stmt[] {
  const trips = Math.max(0, Math.ceil((to - from) / step));
  if (trips === 0) return [];
  if (trips === 1) return body(i32(from));
  return [loop(v, from, to, body(get(v)), step, unroll)];
}

/** A loop over one tile's channel offsets. */
export function tileLoop(v: string, t: Tile, body: (c: Expr) => Stmt[]): Stmt[] {
  return range(v, t.from, t.to, body, tileStep(t));
}

/** body(i, lanes) over i in [0, n): v128 steps with simd (when `vector`), then f32. */
export function flat(
  n: number,
  simd: boolean,
  body: (i: Expr, lanes: Lanes) => Stmt[],
  v = 'i',
): Stmt[] {
  return channelTiles(n, simd, 1).flatMap((t) => {
    const step = tileStep(t);
    return range(v, t.from, t.to, (i) => body(i, t.lanes), step, (t.to - t.from) / step <= 4);
  });
}

/** dst[0..n) = src[0..n). */
export function copy(dst: Expr, src: Expr, n: number, simd: boolean, v = 'i'): Stmt[] {
  return flat(n, simd, (i, l) => [store(add(dst, i), loadL(add(src, i), l))], v);
}

/** dst[0..n) = value. */
export function fill(dst: Expr, n: number, value: number, simd: boolean, v = 'i'): Stmt[] {
  return flat(n, simd, (i, l) => [store(add(dst, i), fconst(value, l))], v);
}

// ---------------------------------------------------------------------------------- naming

/** A number as identifier characters: 0.3 -> 0p3, -1 -> m1, 1e-7 -> 1em7. */
export function numTag(v: number): string {
  return String(v).replace(/\+/g, '').replace(/\./g, 'p').replace(/-/g, 'm');
}

export const dims = (shape: Shape): string => shape.join('x');

/** The greatest common divisor of two non-negative integers. */
export const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Whether any statement uses a v128 value. */
export function usesV128(stmts: readonly Stmt[]): boolean {
  let found = false;
  walk(stmts, {
    stmt: (s) => {
      if (s.op === 'store' && s.type === 'v128') found = true;
    },
    expr: (e) => {
      if (e.type === 'v128') found = true;
    },
  });
  return found;
}

export interface KernelSpec {
  /** Name parts, joined with `_`; empty ones are dropped. `simd` is appended when v128 is used. */
  readonly name: readonly (string | null | false)[];
  readonly doc: readonly string[];
  readonly body: readonly Stmt[];
  /** Floats of scratch memory ('s'). */
  readonly scratch?: number;
  readonly packs?: readonly (Pack | null)[];
  readonly prepares?: readonly (PreparedWeight | null)[];
  /** See LoweredNode.xShift. */
  readonly xShift?: number;
  /** See LoweredNode.bandShift; the name then ends in a digest of the body (bands of one
   * layer and height differ at its borders; alike ones share the name and the kernel). */
  readonly bandShift?: BandShift;
  /** The layer's weights in their declared order; any other order is named in the kernel. */
  readonly weights?: readonly string[];
}

/** `worder_bias_kernel` when the node's weights are not in the declared order, else null. */
function weightOrderTag(node: Node, declared: readonly string[]): string | null {
  const names = node.weights.map((w) => w.name);
  const ranks = names.map((n) => declared.indexOf(n));
  const inOrder = ranks.every((r, i) => r >= 0 && (i === 0 || r > ranks[i - 1]!));
  return inOrder ? null : `worder_${names.join('_')}`;
}

/** The lowered node: a kernel named by its specialization, with the node's parameters. */
export function finish(node: Node, spec: KernelSpec): LoweredNode {
  const simd = usesV128(spec.body);
  const order = spec.weights ? weightOrderTag(node, spec.weights) : null;
  const digest = spec.bandShift ? `h${fnv1a(bodyText(spec.body))}` : null;
  const parts = [...spec.name, order, simd && 'simd', digest].filter((p): p is string => !!p);
  const name = parts.join('_').replace(/[^A-Za-z0-9_]/g, '_');
  const scratch = spec.scratch ?? 0;
  const kernel = {
    name,
    params: kernelParams(node, scratch > 0),
    body: spec.body,
    doc: spec.doc,
  };
  return {
    kernel,
    ...(scratch > 0 ? { scratch } : {}),
    ...(spec.packs ? { packs: spec.packs } : {}),
    ...(spec.prepares ? { prepares: spec.prepares } : {}),
    ...(spec.xShift !== undefined ? { xShift: spec.xShift } : {}),
    ...(spec.bandShift ? { bandShift: spec.bandShift } : {}),
  };
}

/** FNV-1a of a string, 8 hex digits (a name for code: equal names are checked for equal code). */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
