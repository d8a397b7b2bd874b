// conv2d kernel: the convolution core over conv runs, groups and dilation included.
import type { Node, Shape } from '../../ir/graph.js';
import { num, pair } from '../../ir/op.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { blockPack, convChannelBlock, convCore, weightBlock } from './conv_core.js';
import type { ConvSpec } from './tile.js';
import { dotApplies, dotPack } from './dot_core.js';
import { activationDoc, activationTag, nodeActivation } from './epilogue.js';
import { paddedInput } from './padded_input.js';
import {
  bandRuns,
  bandSlice,
  bandTags,
  channelTags,
  convRuns,
  plainRuns,
  sharedBandTags,
} from './spatial.js';
import {
  CONV_3X3,
  winogradApplies,
  winogradCore,
  winogradScratch,
  winogradBand,
  winogradBandShift,
  winogradChannelShift,
  winogradPrepare,
  winogradOneBlock,
  stageTags,
  type WinogradSpec,
} from './winograd.js';
import {
  dims,
  finish,
  Names,
  needWeight,
  scratchBase,
  weight,
  inputBase,
  outputBase,
} from './util.js';
import type { Activation } from '../../layers/activations.js';
import type { Expr } from '../../kir/kir.js';
import type { Run } from './spatial.js';

/** Name parts of a 2-D window: `k3x3`, `s2x2`, `d2x2` (only when dilated), `p1_1_1_1`. */
export function windowTag(
  k: readonly number[],
  s: readonly number[],
  d: readonly number[],
  pads: readonly number[],
): string[] {
  const dilated = d.some((v) => v !== 1);
  return [`k${dims(k)}`, `s${dims(s)}`, ...(dilated ? [`d${dims(d)}`] : []), `p${pads.join('_')}`];
}

/** Words for a 2-D window in kernel docs. */
export function windowDoc(
  k: readonly number[],
  s: readonly number[],
  d: readonly number[],
  pads: readonly number[],
): string {
  return `kernel ${dims(k)}, strides ${dims(s)}, dilation ${dims(d)}, pads ${pads.join(' ')} (top bottom left right)`;
}

/** The node's geometry, as the conv2d lowerings read it. */
function conv2dGeometry(node: Node, [shape, residualShape]: readonly Shape[]) {
  const [H, W, C] = shape as [number, number, number];
  const [OH, OW, F] = node.shape as [number, number, number];
  return {
    H,
    W,
    C,
    OH,
    OW,
    F,
    k: pair(node.attrs, 'kernel_size'),
    s: pair(node.attrs, 'strides'),
    d: pair(node.attrs, 'dilation_rate'),
    pads: node.attrs['pads'] as readonly number[],
    groups: num(node.attrs, 'groups'),
    act: nodeActivation(node.attrs),
    b: weight(node, 'bias'),
    residual: residualShape ? inputBase(1) : null,
  };
}

/** Whether a conv2d is pointwise (1x1, stride 1, no padding): a GEMM over its pixels. */
function isPointwise(node: Node): boolean {
  const k = pair(node.attrs, 'kernel_size');
  const s = pair(node.attrs, 'strides');
  const pads = node.attrs['pads'] as readonly number[];
  return k[0] === 1 && k[1] === 1 && s[0] === 1 && s[1] === 1 && pads.every((p) => p === 0);
}

/** Whether a band of the direct conv2d's output rows reads only the same rows of its input:
 * a pointwise one (Implementation.rowLocal). */
export const conv2dRowLocal = (node: Node): boolean => isPointwise(node);

/** What LowerOptions.band counts for the direct conv2d: output rows, or the pixels of a
 * pointwise one (a 7x7 map splits into 8 equal bands of pixels, not 7 rows); how many. */
export function conv2dBandUnits(node: Node): number {
  const [OH, OW] = node.shape as [number, number];
  return isPointwise(node) ? OH * OW : OH;
}

/** The output channels a conv2d part may be cut at (LowerOptions.channels), or 0: the direct
 * and Winograd lowerings both take blocks of convChannelBlock. */
export function conv2dChannelBlock(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): number {
  const { groups, F } = conv2dGeometry(node, shapes);
  return convChannelBlock(groups, F, opts);
}

/** Whether Winograd F(2x2, 3x3) computes this conv2d (3x3, stride 1, enough tiles). */
export function conv2dWinogradApplies(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): boolean {
  return winogradApplies({ ...conv2dGeometry(node, shapes), schedule: opts.schedule });
}

/** Whether the Winograd conv2d can be split in stages between threads (LowerOptions.stage):
 * it is computed in one block of tile rows. */
export function conv2dWinogradStages(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): boolean {
  const { OH, OW, C, F } = conv2dGeometry(node, shapes);
  return winogradOneBlock({ OH, OW, C, F, stride: 1, schedule: opts.schedule, phases: [CONV_3X3] });
}

/** conv2d, and conv2d_add (a second input added before the activation: `residual`), by the
 * direct core (the dot-product core for fewer than 4 filters). */
export function lowerConv2d(node: Node, shapes: readonly Shape[], opts: LowerOptions): LoweredNode {
  const shape = shapes[0]!;
  const { H, W, C, OH, OW, F, k, s, d, pads, groups, act, b, residual } = conv2dGeometry(
    node,
    shapes,
  );
  const pointwise = isPointwise(node);
  const padded =
    groups === 1
      ? paddedInput(inputBase(0), scratchBase, [H, W, C], [OH, OW, F], k, s, d, pads, opts.schedule)
      : null;
  // The map the kernel reads: the input, or its zero-padded copy (then no padding is left).
  const [inH, inW] = padded ? [padded.h, padded.w] : [H, W];
  const band = opts.band;
  // A block of output channels (LowerOptions.channels): every row, channels [0, count) of
  // bases moved to the block's first channel (output, residual, packed kernel, bias).
  const ch = opts.channels;
  if (ch && band) throw new Error('conv2d: a part is a band of rows or a block of channels');
  // A band (LowerOptions.band): its rows of the map, or its pixels of a pointwise GEMM's row
  // (conv2dBandUnits: a pointwise layer is split by pixels). Relative to moved bases
  // (bandSlice), so interior bands of one height are one kernel; in place when the input is
  // copied padded into scratch (small maps), which a moved input base cannot follow.
  let shiftIn = 0;
  const cut = (runs: Run[]): Run[] => {
    if (!band) return runs;
    if (padded) return bandRuns(runs, band.from, band.count);
    const sliced = bandSlice(runs, band.from, band.count);
    shiftIn = sliced.shift;
    return sliced.runs;
  };
  const spec: ConvSpec = {
    x: padded ? scratchBase : inputBase(0),
    y: outputBase,
    w: needWeight(node, 'kernel'),
    b,
    inC: C,
    outC: F,
    // A pointwise convolution (1x1, stride 1, no padding) is a GEMM over all pixels as one row.
    ...(pointwise
      ? { inW: H * W, outW: OH * OW, rows: plainRuns(1), cols: cut(plainRuns(OH * OW)) }
      : {
          inW,
          outW: OW,
          rows: cut(convRuns(OH, inH, k[0], s[0], d[0], padded ? 0 : pads[0]!)),
          cols: convRuns(OW, inW, k[1], s[1], d[1], padded ? 0 : pads[2]!),
        }),
    kh: k[0],
    kw: k[1],
    groups,
    cg: C / groups,
    fg: ch ? ch.count : F / groups,
    schedule: opts.schedule,
    act,
    residual,
  };
  const body = [...(padded?.body ?? []), ...convCore(spec, new Names())];
  const block = weightBlock(spec);
  const kernelPack = dotApplies(spec)
    ? dotPack([k[0], k[1]], C, F)
    : block
      ? blockPack([k[0], k[1], C / groups], F, block)
      : null;
  const packs = node.weights.map((w) => (w.name === 'kernel' ? kernelPack : null));
  // A relative band's bases: the output (and the residual, laid out alike) by its first
  // output, the input by the first input it reads (pixels of a pointwise layer, else rows).
  const [outPer, inPer] = pointwise ? [F, C] : [OW * F, W * C];
  const bandShift =
    band && !padded
      ? {
          y: band.from * outPer,
          x: [shiftIn * inPer, ...(residual ? [band.from * outPer] : [])],
        }
      : undefined;
  const channelShift = ch && {
    y: ch.from,
    x: [0, ...(residual ? [ch.from] : [])],
    w: node.weights.map((w) => (w.name === 'kernel' ? ch.from * k[0] * k[1] * C : ch.from)),
  };
  const tags = ch
    ? channelTags(ch.count)
    : bandShift
      ? sharedBandTags(band!.count)
      : bandTags(band);
  return finish(node, {
    name: [
      'conv2d',
      `i${dims(shape!)}`,
      `o${dims(node.shape)}`,
      ...windowTag(k, s, d, pads),
      groups !== 1 && `g${groups}`,
      !b && 'nobias',
      residual && 'add',
      activationTag(act),
      tags.name,
    ],
    doc: [
      `conv2d ${dims(shape!)} -> ${dims(node.shape)}: ${windowDoc(k, s, d, pads)}, groups ${groups}`,
      epilogueDoc(b, residual, act),
      ...(padded ? [`input copied into a zero-padded ${padded.h}x${padded.w} map in scratch`] : []),
      ...tags.doc,
    ],
    body,
    weights: ['kernel', 'bias'],
    ...(padded ? { scratch: padded.floats } : {}),
    packs,
    ...(bandShift ? { bandShift } : {}),
    ...(channelShift ? { bandShift: channelShift } : {}),
  });
}

/** Doc words for the epilogue: `bias, plus the second input, activation relu`. */
const epilogueDoc = (b: Expr | null, residual: Expr | null, act: Activation): string =>
  `${b ? 'bias' : 'no bias'}${residual ? ', plus the second input' : ''}, activation ${activationDoc(act)}`;

/** A stride-1 3x3 conv2d (or conv2d_add) by Winograd F(2x2, 3x3) (see winograd.ts). */
export function lowerConv2dWinograd(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const shape = shapes[0]!;
  const { H, W, C, OH, OW, F, pads, act, b, residual } = conv2dGeometry(node, shapes);
  const spec: WinogradSpec = {
    x: inputBase(0),
    y: outputBase,
    phases: [{ ...CONV_3X3, w: needWeight(node, 'kernel'), ry: 0, rx: 0 }],
    stride: 1,
    b,
    s: scratchBase,
    H,
    W,
    C,
    OH,
    OW,
    F,
    padTop: pads[0]!,
    padLeft: pads[2]!,
    act,
    residual,
    schedule: opts.schedule,
    tileRows: winogradBand(opts.band, 1),
    relative: opts.band !== undefined,
    ...(opts.channels ? { channels: opts.channels.count } : {}),
    ...(opts.stage ? { stage: opts.stage } : {}),
  };
  const ch = opts.channels;
  if (ch && opts.band) throw new Error('conv2d: a part is a band of rows or a block of channels');
  const tags = stageTags(
    opts.stage,
    ch ? channelTags(ch.count) : opts.band ? sharedBandTags(opts.band.count) : bandTags(undefined),
  );
  const prepared = winogradPrepare(3, 3, C, F, [CONV_3X3], opts.schedule);
  return finish(node, {
    name: [
      'conv2d',
      `i${dims(shape)}`,
      `o${dims(node.shape)}`,
      ...windowTag([3, 3], [1, 1], [1, 1], pads),
      'winograd',
      !b && 'nobias',
      residual && 'add',
      activationTag(act),
      tags.name,
    ],
    doc: [
      `conv2d ${dims(shape)} -> ${dims(node.shape)}: ${windowDoc([3, 3], [1, 1], [1, 1], pads)}`,
      `by Winograd F(2x2, 3x3); ${epilogueDoc(b, residual, act)}`,
      ...tags.doc,
    ],
    body: winogradCore(spec, new Names()),
    weights: ['kernel', 'bias'],
    scratch: winogradScratch(spec),
    prepares: node.weights.map((w) => (w.name === 'kernel' ? prepared : null)),
    ...(opts.band ? { bandShift: winogradBandShift(spec) } : {}),
    ...(ch ? { bandShift: winogradChannelShift(spec, ch.from, node) } : {}),
  });
}
