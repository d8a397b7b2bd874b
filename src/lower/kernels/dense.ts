// dense kernel: every row of the last axis times kernel [in, units], as a 1x1 convolution core
// over the rows (vectorized over units, tiled over rows).
import { size, type Node, type Shape } from '../../ir/graph.js';
import { num } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { blockPack, convChannelBlock, convCore, weightBlock } from './conv_core.js';
import type { ConvSpec } from './tile.js';
import { dotApplies, dotPack } from './dot_core.js';
import { activationDoc, activationTag, nodeActivation } from './epilogue.js';
import { channelTags, plainRuns } from './spatial.js';
import { finish, Names, needWeight, weight, inputBase, outputBase } from './util.js';

export function lowerDense(node: Node, [shape]: readonly Shape[], opts: LowerOptions): LoweredNode {
  const inDim = shape![shape!.length - 1]!;
  const units = num(node.attrs, 'units');
  const rows = size(shape!) / inDim;
  const act = nodeActivation(node.attrs);
  const b = weight(node, 'bias');
  // A block of units (LowerOptions.channels): bases moved to its first unit (output, packed
  // kernel [units / T][in][T], bias), units [0, count) of rows `units` apart.
  const ch = opts.channels;
  const spec: ConvSpec = {
    x: inputBase(0),
    y: outputBase,
    w: needWeight(node, 'kernel'),
    b,
    inW: rows,
    inC: inDim,
    outW: rows,
    outC: units,
    rows: plainRuns(1),
    cols: plainRuns(rows),
    kh: 1,
    kw: 1,
    groups: 1,
    cg: inDim,
    fg: ch ? ch.count : units,
    schedule: opts.schedule,
    act,
  };
  const body = convCore(spec, new Names());
  const block = weightBlock(spec);
  const kernelPack = dotApplies(spec)
    ? dotPack([], inDim, units)
    : block
      ? blockPack([inDim], units, block)
      : null;
  const packs = node.weights.map((w) => (w.name === 'kernel' ? kernelPack : null));
  const tags = ch ? channelTags(ch.count) : null;
  return finish(node, {
    name: [
      'dense',
      `r${rows}`,
      `i${inDim}`,
      `u${units}`,
      !b && 'nobias',
      activationTag(act),
      tags ? tags.name : null,
    ],
    doc: [
      `dense: ${rows} row${rows === 1 ? '' : 's'} of ${inDim} -> ${units} units`,
      `${b ? 'bias' : 'no bias'}, activation ${activationDoc(act)}`,
      ...(tags?.doc ?? []),
    ],
    body,
    weights: ['kernel', 'bias'],
    packs,
    ...(ch
      ? {
          bandShift: {
            y: ch.from,
            x: [0],
            w: node.weights.map((w) => (w.name === 'kernel' ? ch.from * inDim : ch.from)),
          },
        }
      : {}),
  });
}

/** The block of units a dense layer may be split by (LowerOptions.channels), or 0. */
export function denseChannelBlock(
  node: Node,
  _shapes: readonly Shape[],
  opts: LowerOptions,
): number {
  return convChannelBlock(1, num(node.attrs, 'units'), opts);
}
