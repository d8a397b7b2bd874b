// depthwise_conv2d kernel: depth_multiplier 1 is the channelwise core (vectorized over
// channels); larger multipliers are the convolution core with one group per input channel
// (vectorized over the multiplier). The depthwise stage of separable_conv2d reuses it.
import type { Activation } from '../../layers/activations.js';
import type { Node, Shape } from '../../ir/graph.js';
import { add, mul, type Expr, type Stmt } from '../../kir/kir.js';
import { num, pair } from '../../ir/op.js';
import type { Schedule } from '../schedule.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { channelwiseCore } from './channelwise_core.js';
import { convCore } from './conv_core.js';
import { windowDoc, windowTag } from './conv2d.js';
import { activationDoc, activationTag, nodeActivation } from './epilogue.js';
import { bandSlice, bandTags, convRuns, sharedBandTags, type Run } from './spatial.js';
import {
  dims,
  floatBinary,
  fconst,
  finish,
  loadL,
  Names,
  needWeight,
  weight,
  inputBase,
  outputBase,
} from './util.js';

export interface DepthwiseStage {
  readonly x: Expr;
  readonly y: Expr;
  readonly w: Expr;
  readonly b: Expr | null;
  readonly act: Activation;
  readonly schedule: Schedule;
  /** Output rows to compute (default: all), with y pointing at the first one's row. */
  readonly rows?: readonly Run[];
}

/** The depthwise convolution of `node`'s geometry: y[oy, ox, c*dm+m] from x and w [kh, kw, C, dm]. */
export function depthwiseStage(
  node: Node,
  shape: Shape,
  stage: DepthwiseStage,
  names: Names,
): Stmt[] {
  const [H, W, C] = shape as [number, number, number];
  const [OH, OW] = node.shape as [number, number, number];
  const dm = num(node.attrs, 'depth_multiplier');
  const k = pair(node.attrs, 'kernel_size');
  const s = pair(node.attrs, 'strides');
  const d = pair(node.attrs, 'dilation_rate');
  const pads = node.attrs['pads'] as readonly number[];
  const frame = {
    x: stage.x,
    y: stage.y,
    inW: W,
    inC: C,
    outW: OW,
    outC: C * dm,
    rows: stage.rows ?? convRuns(OH, H, k[0], s[0], d[0], pads[0]!),
    cols: convRuns(OW, W, k[1], s[1], d[1], pads[2]!),
    schedule: stage.schedule,
    act: stage.act,
  };
  if (dm > 1)
    return convCore(
      { ...frame, w: stage.w, b: stage.b, kh: k[0], kw: k[1], groups: C, cg: 1, fg: dm },
      names,
    );
  const b = stage.b;
  return channelwiseCore(
    {
      ...frame,
      init: (c, l) => (b ? loadL(add(b, c), l) : fconst(0, l)),
      weight: (ty, tx, c) => add(stage.w, add(mul(add(mul(ty, k[1]), tx), C), c)),
      step: (acc, x, w) => floatBinary('add', acc, floatBinary('mul', x, w!)),
      finish: (acc) => acc,
      // 4 pixels along wide rows share their overlapping input columns (4 channels x 4 pixels
      // a tile); narrow maps have short runs between their borders: pairs (8 channels).
      pixels: OW >= 28 ? 4 : 2,
    },
    names,
  );
}

/** The row runs of every output row of a depthwise geometry. */
function allRows(node: Node, shape: Shape): Run[] {
  const k = pair(node.attrs, 'kernel_size');
  const s = pair(node.attrs, 'strides');
  const d = pair(node.attrs, 'dilation_rate');
  const pads = node.attrs['pads'] as readonly number[];
  return convRuns(node.shape[0]!, shape[0]!, k[0], s[0], d[0], pads[0]!);
}

/** Name parts and doc words of a depthwise geometry (shared with separable_conv2d). */
export function depthwiseTags(node: Node, shape: Shape): { name: string[]; doc: string } {
  const k = pair(node.attrs, 'kernel_size');
  const s = pair(node.attrs, 'strides');
  const d = pair(node.attrs, 'dilation_rate');
  const pads = node.attrs['pads'] as readonly number[];
  const dm = num(node.attrs, 'depth_multiplier');
  return {
    name: [
      `i${dims(shape)}`,
      `o${dims(node.shape)}`,
      ...windowTag(k, s, d, pads),
      ...(dm > 1 ? [`m${dm}`] : []),
    ],
    doc: `${dims(shape)} -> ${dims(node.shape)}: ${windowDoc(k, s, d, pads)}, depth_multiplier ${dm}`,
  };
}

export function lowerDepthwiseConv2d(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const act = nodeActivation(node.attrs);
  const b = weight(node, 'bias');
  const w = needWeight(node, 'depthwise_kernel');
  const band = opts.band;
  // A band: its rows relative to moved bases (bandSlice), so bands alike are one kernel.
  const sliced = band ? bandSlice(allRows(node, shape!), band.from, band.count) : undefined;
  const [, W, C] = shape as [number, number, number];
  const [, OW, F] = node.shape as [number, number, number];
  const body = depthwiseStage(
    node,
    shape!,
    {
      x: inputBase(0),
      y: outputBase,
      w,
      b,
      act,
      schedule: opts.schedule,
      ...(sliced ? { rows: sliced.runs } : {}),
    },
    new Names(),
  );
  const tags = depthwiseTags(node, shape!);
  const bt = band ? sharedBandTags(band.count) : bandTags(undefined);
  return finish(node, {
    name: ['depthwise_conv2d', ...tags.name, !b && 'nobias', activationTag(act), bt.name],
    doc: [
      `depthwise_conv2d ${tags.doc}`,
      `${b ? 'bias' : 'no bias'}, activation ${activationDoc(act)}`,
      ...bt.doc,
    ],
    body,
    weights: ['depthwise_kernel', 'bias'],
    ...(band && sliced ? { bandShift: { y: band.from * OW * F, x: [sliced.shift * W * C] } } : {}),
  });
}
