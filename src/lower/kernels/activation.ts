// Activation layer kernels: the epilogue applied elementwise (v128 when it vectorizes).
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, get, let_, store } from '../../kir/kir.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import {
  activate,
  activationDoc,
  activationTag,
  nodeActivation,
  vectorizable,
} from './epilogue.js';
import { finish, flat, loadL, Names, vtype, inputBase, outputBase } from './util.js';

export function lowerActivation(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const act = nodeActivation(node.attrs);
  const n = size(shape!);
  const names = new Names();
  const body = flat(n, opts.schedule.simd && vectorizable(act), (i, l) => {
    const v = names.fresh('v');
    return [
      let_(v, loadL(add(inputBase(0), i), l)),
      store(add(outputBase, i), activate(act, get(v, vtype(l)))),
    ];
  });
  return finish(node, {
    name: [activationTag(act) ?? 'linear', `n${n}`],
    doc: [`${activationDoc(act)} on ${n} elements`],
    body,
  });
}
