// global_average_pooling2d and global_max_pooling2d kernels: per channel tile, a reduction
// over every pixel (vectorized over channels).
import type { Node, Shape } from '../../ir/graph.js';
import {
  add,
  f32,
  get,
  i32,
  let_,
  loop,
  mul,
  set,
  store,
  type Expr,
  type Stmt,
} from '../../kir/kir.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import {
  bcast,
  channelTiles,
  dims,
  floatBinary,
  fconst,
  finish,
  loadL,
  Names,
  tileLoop,
  vtype,
  inputBase,
  outputBase,
  type Tile,
} from './util.js';

function reduceTile(
  t: Tile,
  c: Expr,
  pixels: number,
  channels: number,
  max: boolean,
  names: Names,
): Stmt[] {
  const L = t.lanes;
  const type = vtype(L);
  const accs = Array.from({ length: t.vecs }, () => names.fresh('acc'));
  const at = (v: number): Expr => add(c, i32(v * L));
  const p = get('p');
  const body = accs.map((a, v) =>
    set(
      a,
      floatBinary(
        max ? 'max' : 'add',
        get(a, type),
        loadL(add(inputBase(0), add(mul(p, channels), at(v))), L),
      ),
    ),
  );
  const result = (a: string): Expr =>
    max ? get(a, type) : floatBinary('div', get(a, type), bcast(f32(pixels), L));
  return [
    ...accs.map((a) => let_(a, fconst(max ? -Infinity : 0, L))),
    loop('p', 0, pixels, body),
    ...accs.map((a, v) => store(add(outputBase, at(v)), result(a))),
  ];
}

/** The lowering of global max (true) or average (false) pooling. */
export function lowerGlobalPooling(max: boolean) {
  return (node: Node, [shape]: readonly Shape[], opts: LowerOptions): LoweredNode => {
    const [H, W, C] = shape as [number, number, number];
    const names = new Names();
    const body = channelTiles(C, opts.schedule.simd).flatMap((t) =>
      tileLoop('c', t, (c) => reduceTile(t, c, H * W, C, max, names)),
    );
    const kind = max ? 'global_max_pooling2d' : 'global_average_pooling2d';
    return finish(node, {
      name: [kind, `i${dims(shape!)}`, `o${dims(node.shape)}`],
      doc: [`${kind} ${dims(shape!)} -> ${dims(node.shape)}`],
      body,
    });
  };
}
