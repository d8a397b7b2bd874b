// Activation layer kernels: the epilogue applied elementwise (v128 when it vectorizes).
import { size, type Node, type Shape } from '../../ir/graph.js';
import { add, get, let_, store } from '../../kir/kir.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import {
  activate,
  activationDoc,
  activationTag,
  nodeActivation,
  transcendental,
  vectorizable,
} from './epilogue.js';
import { bandElements } from './rows.js';
import { bandTags } from './spatial.js';
import { finish, flat, loadL, Names, vtype, inputBase, outputBase } from './util.js';

export function lowerActivation(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const act = nodeActivation(node.attrs);
  const n = size(shape!);
  // A band: its rows' elements (see bandsSplitActivation).
  const band = bandElements(shape!, opts.band);
  const names = new Names();
  const body = flat(band.n, opts.schedule.simd && vectorizable(act), (j, l) => {
    const i = band.at ? add(j, band.at) : j;
    const v = names.fresh('v');
    return [
      let_(v, loadL(add(inputBase(0), i), l)),
      store(add(outputBase, i), activate(act, get(v, vtype(l)))),
    ];
  });
  const tags = bandTags(opts.band);
  return finish(node, {
    name: [activationTag(act) ?? 'linear', `n${n}`, tags.name],
    doc: [`${activationDoc(act)} on ${n} elements`, ...tags.doc],
    body,
  });
}

/** Whether an activation layer's bands compute the whole layer's bits: not when a
 * transcendental one (whose f32 and v128 forms may differ in the last bit) would end a band
 * with f32 elements the whole layer computes in v128 (rows not whole vectors). */
export function activationSplits(node: Node): boolean {
  const row = node.shape.slice(1).reduce((p, d) => p * d, 1);
  return row % 4 === 0 || !transcendental(nodeActivation(node.attrs));
}
