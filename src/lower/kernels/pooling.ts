// max_pooling2d and average_pooling2d kernels: the channelwise core over pooling runs. Border
// runs read only the cells inside, which is -inf padding for max and a count that leaves the
// padding out for average (the divisor is a constant per run).
import type { Node, Shape } from '../../ir/graph.js';
import { f32 } from '../../kir/kir.js';
import { pair } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { channelwiseCore } from './channelwise_core.js';
import { windowDoc, windowTag } from './conv2d.js';
import { bandSlice, bandTags, convRuns, sharedBandTags } from './spatial.js';
import { bcast, dims, floatBinary, fconst, finish, Names, inputBase, outputBase } from './util.js';

/** The lowering of max (true) or average (false) pooling. */
export function lowerPooling(max: boolean) {
  return (node: Node, [shape]: readonly Shape[], opts: LowerOptions): LoweredNode => {
    const [H, W, C] = shape as [number, number, number];
    const [OH, OW] = node.shape as [number, number, number];
    const k = pair(node.attrs, 'pool_size');
    const s = pair(node.attrs, 'stride');
    const pads = node.attrs['pads'] as readonly number[];
    // A band: its rows relative to moved bases (bandSlice), so bands alike are one kernel.
    const allRows = convRuns(OH, H, k[0], s[0], 1, pads[0]!);
    const band = opts.band;
    const sliced = band ? bandSlice(allRows, band.from, band.count) : undefined;
    const tags = band ? sharedBandTags(band.count) : bandTags(undefined);
    const body = channelwiseCore(
      {
        x: inputBase(0),
        y: outputBase,
        inW: W,
        inC: C,
        outW: OW,
        outC: C,
        rows: sliced?.runs ?? allRows,
        cols: convRuns(OW, W, k[1], s[1], 1, pads[2]!),
        schedule: opts.schedule,
        act: { fn: 'linear' },
        init: (_c, l) => fconst(max ? -Infinity : 0, l),
        weight: null,
        step: (acc, x) => floatBinary(max ? 'max' : 'add', acc, x),
        finish: (acc, n) =>
          max ? acc : floatBinary('div', acc, bcast(f32(n), acc.type === 'v128' ? 4 : 1)),
        pixels: 1,
      },
      new Names(),
    );
    const kind = max ? 'max_pooling2d' : 'average_pooling2d';
    return finish(node, {
      name: [
        kind,
        `i${dims(shape!)}`,
        `o${dims(node.shape)}`,
        ...windowTag(k, s, [1, 1], pads),
        tags.name,
      ],
      doc: [
        `${kind} ${dims(shape!)} -> ${dims(node.shape)}: ${windowDoc(k, s, [1, 1], pads)}`,
        ...tags.doc,
      ],
      body,
      ...(band && sliced
        ? { bandShift: { y: band.from * OW * C, x: [sliced.shift * W * C] } }
        : {}),
    });
  };
}
