// conv2d_transpose kernel: a gather, not a scatter. Output cell y takes tap t from input
// (y + pad - t * d) / s when that divides and lands inside; outputs of one phase (y mod s) with
// the same taps form a run, decided at build time, so nothing is tested at run time. The kernel
// is packed from [kh, kw, filters, in] to [kh, kw, in, filters] for the convolution core, by
// blocks of filters ([filters / T][kh, kw, in][T]) with SIMD. With strides 2, 16+ channels and
// kernels up to 6 wide, the wasm target computes it as four stride-1 3x3 Winograd phases over
// one input window instead (winograd.ts); with fewer than 4 filters, by the dot-product core.
import type { Node, Shape } from '../../ir/graph.js';
import { pair } from '../../ir/op.js';
import type { Schedule } from '../schedule.js';
import type { LowerOptions, LoweredNode, Pack } from '../program.js';
import { convChannelBlock, convCore, weightBlock } from './conv_core.js';
import type { ConvSpec } from './tile.js';
import { windowTag } from './conv2d.js';
import { dotApplies } from './dot_core.js';
import { activationDoc, activationTag, nodeActivation } from './epilogue.js';
import { bandSlice, bandTags, channelTags, sharedBandTags, transposeRuns } from './spatial.js';
import {
  transposeWindow,
  winogradChannels,
  phaseOffsets,
  winogradPays,
  winogradBand,
  winogradBandShift,
  winogradChannelShift,
  winogradCore,
  winogradPrepare,
  winogradScratch,
  winogradOneBlock,
  stageTags,
  type WinogradSpec,
} from './winograd.js';
import type { Activation } from '../../layers/activations.js';
import { add, i32, type Expr } from '../../kir/kir.js';
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

/** The node's geometry, and its Winograd phases when it has stride 2 and no dilation. */
function transposeGeometry(node: Node, [shape]: readonly Shape[]) {
  const [H, W, C] = shape as [number, number, number];
  const [OH, OW, F] = node.shape as [number, number, number];
  const k = pair(node.attrs, 'kernel_size');
  const s = pair(node.attrs, 'strides');
  const d = pair(node.attrs, 'dilation_rate');
  const [pt, pl] = node.attrs['pads'] as readonly number[];
  const win = [0, 1].map((ax) =>
    s[ax] === 2 && d[ax] === 1 ? transposeWindow(k[ax]!, [pt!, pl!][ax]!) : null,
  );
  const taps = win[0] && win[1] ? transposePhases(win[0], win[1]) : null;
  return { H, W, C, OH, OW, F, k, s, d, pt: pt!, pl: pl!, win, taps };
}

/** Whether the four-phase Winograd form computes this conv2d_transpose: strides 2, every
 * phase reading some tap along each axis (a 1-wide kernel's odd phase reads none), enough
 * channels and tiles. */
export function transposeWinogradApplies(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): boolean {
  const { C, F, OH, OW, taps } = transposeGeometry(node, shapes);
  return (
    taps !== null &&
    winogradChannels(C, F, opts.schedule.simd) &&
    taps.every((p) => p.rows.some((t) => t >= 0) && p.cols.some((t) => t >= 0)) &&
    winogradPays({ OH, OW, C, F, stride: 2, schedule: opts.schedule }, taps)
  );
}

/** A stride-2 conv2d_transpose by four Winograd phases (see transposeWinogradApplies). */
export function lowerConv2dTransposeWinograd(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const { k, win, taps } = transposeGeometry(node, shapes);
  const act = nodeActivation(node.attrs);
  return lowerWinogradTranspose(
    node,
    shapes[0]!,
    win[0]!,
    win[1]!,
    taps!,
    k,
    act,
    weight(node, 'bias'),
    opts.schedule,
    opts.band,
    opts.channels,
    opts.stage,
  );
}

/** Whether the Winograd conv2d_transpose can be split in stages between threads
 * (LowerOptions.stage): it is computed in one block of tile rows. */
export function transposeWinogradStages(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): boolean {
  const { C, F, OH, OW, taps } = transposeGeometry(node, shapes);
  const phases = taps!.filter((p) => p.ry < OH && p.rx < OW);
  return winogradOneBlock({ OH, OW, C, F, stride: 2, schedule: opts.schedule, phases });
}

/** The output channels a conv2d_transpose part may be cut at (LowerOptions.channels), or 0:
 * the direct and Winograd lowerings both take blocks of convChannelBlock. */
export function transposeChannelBlock(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): number {
  return convChannelBlock(1, transposeGeometry(node, shapes).F, opts);
}

/** conv2d_transpose by the direct core (a gather over phase runs). */
export function lowerConv2dTranspose(
  node: Node,
  shapes: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const shape = shapes[0];
  const { H, W, C, OH, OW, F, k, s, d, pt, pl } = transposeGeometry(node, shapes);
  const act = nodeActivation(node.attrs);
  const b = weight(node, 'bias');
  // A band: its rows relative to moved bases (bandSlice), so bands alike are one kernel.
  const allRows = transposeRuns(OH, H, k[0], s[0], d[0], pt!);
  const band = opts.band;
  const sliced = band ? bandSlice(allRows, band.from, band.count) : undefined;
  // A block of output channels: every row, bases moved to its first channel (output, packed
  // kernel, bias).
  const ch = opts.channels;
  if (ch && band) throw new Error('conv2d_transpose: a part is a band or a block of channels');
  const tags = ch ? channelTags(ch.count) : band ? sharedBandTags(band.count) : bandTags(undefined);
  const spec: ConvSpec = {
    x: inputBase(0),
    y: outputBase,
    w: needWeight(node, 'kernel'),
    b,
    inW: W,
    inC: C,
    outW: OW,
    outC: F,
    rows: sliced?.runs ?? allRows,
    cols: transposeRuns(OW, W, k[1], s[1], d[1], pl!),
    kh: k[0],
    kw: k[1],
    groups: 1,
    cg: C,
    fg: ch ? ch.count : F,
    schedule: opts.schedule,
    act,
  };
  const body = convCore(spec, new Names());
  // [kh, kw, F, C] to [kh, kw, C, F], or by output-channel blocks T to [F / T][kh, kw, C][T].
  const block = weightBlock(spec);
  const pack: Pack = block
    ? { shape: [k[0], k[1], F / block, block, C], perm: [2, 0, 1, 4, 3] }
    : { shape: [k[0], k[1], F, C], perm: [0, 1, 3, 2] };
  // The dot-product core reads [kh, kw, F, C]: the kernel as Keras lays it out.
  const packs = node.weights.map((w) => (w.name === 'kernel' && !dotApplies(spec) ? pack : null));
  return finish(node, {
    name: [
      'conv2d_transpose',
      `i${dims(shape!)}`,
      `o${dims(node.shape)}`,
      ...windowTag(k, s, d, [pt!, pl!]),
      !b && 'nobias',
      activationTag(act),
      tags.name,
    ],
    doc: [
      `conv2d_transpose ${dims(shape!)} -> ${dims(node.shape)}: kernel ${dims(k)}, strides ${dims(s)}, ` +
        `dilation ${dims(d)}, pad_before ${pt} ${pl} (top left)`,
      `${b ? 'bias' : 'no bias'}, activation ${activationDoc(act)}; kernel packed to [kh, kw, in, filters]` +
        (block ? ` in blocks of ${block} filters` : ''),
      ...tags.doc,
    ],
    body,
    weights: ['kernel', 'bias'],
    packs,
    ...(band && sliced ? { bandShift: { y: band.from * OW * F, x: [sliced.shift * W * C] } } : {}),
    ...(ch
      ? {
          bandShift: {
            y: ch.from,
            x: [0],
            w: node.weights.map((wt) =>
              wt.name === 'kernel' ? ch.from * k[0] * k[1] * C : ch.from,
            ),
          },
        }
      : {}),
  });
}

type Window = NonNullable<ReturnType<typeof transposeWindow>>;

/** The four output parities' taps on the common window (row phase ry, column phase rx). */
const transposePhases = (rows: Window, cols: Window) =>
  [0, 1].flatMap((ry) =>
    [0, 1].map((rx) => ({ ry, rx, rows: rows.taps[ry]!, cols: cols.taps[rx]! })),
  );

/** A stride-2 conv2d_transpose as four Winograd F(2x2, 3x3) phases sharing one input
 * transform (see winograd.ts). */
function lowerWinogradTranspose(
  node: Node,
  shape: Shape,
  rows: Window,
  cols: Window,
  taps: ReturnType<typeof transposePhases>,
  k: readonly number[],
  act: Activation,
  b: Expr | null,
  schedule: Schedule,
  band: LowerOptions['band'] | undefined,
  ch?: LowerOptions['channels'],
  stage?: LowerOptions['stage'],
): LoweredNode {
  if (ch && band) throw new Error('conv2d_transpose: a part is a band or a block of channels');
  const [H, W, C] = shape as [number, number, number];
  const [OH, OW, F] = node.shape as [number, number, number];
  const w = needWeight(node, 'kernel');
  // Each phase's U where winogradPrepare puts it (fewer matrices along an axis of 2 taps or 1).
  const { at } = phaseOffsets(taps);
  const phases = taps.map((t, q) => ({ ...t, w: add(w, i32(at[q]! * C * F)) }));
  const spec: WinogradSpec = {
    x: inputBase(0),
    y: outputBase,
    phases: phases.filter((p) => p.ry < OH && p.rx < OW),
    stride: 2,
    b,
    s: scratchBase,
    H,
    W,
    C,
    OH,
    OW,
    F,
    padTop: -rows.e0,
    padLeft: -cols.e0,
    act,
    schedule,
    tileRows: winogradBand(band, 2),
    relative: band !== undefined,
    ...(ch ? { channels: ch.count } : {}),
    ...(stage ? { stage } : {}),
  };
  const tags = stageTags(
    stage,
    ch ? channelTags(ch.count) : band ? sharedBandTags(band.count) : bandTags(undefined),
  );
  // The prepare kernel reads the kernel as [kh, kw, C, F]: packed so from Keras's [kh, kw, F, C].
  const prepared = winogradPrepare(k[0]!, k[1]!, C, F, taps, schedule);
  const pack: Pack = { shape: [k[0]!, k[1]!, F, C], perm: [0, 1, 3, 2] };
  const [pt, pl] = node.attrs['pads'] as readonly number[];
  return finish(node, {
    name: [
      'conv2d_transpose',
      `i${dims(shape)}`,
      `o${dims(node.shape)}`,
      `k${dims(k)}`,
      's2x2',
      `p${pt}_${pl}`,
      'winograd',
      !b && 'nobias',
      activationTag(act),
      tags.name,
    ],
    doc: [
      `conv2d_transpose ${dims(shape)} -> ${dims(node.shape)}: kernel ${dims(k)}, strides 2x2, pad_before ${pt} ${pl}`,
      `as 4 phases of Winograd F(2x2, 3x3) (F(2, 2) or F(2, 1) along axes with fewer taps) over one loaded input window; ${b ? 'bias' : 'no bias'}, activation ${activationDoc(act)}`,
      ...tags.doc,
    ],
    body: winogradCore(spec, new Names()),
    weights: ['kernel', 'bias'],
    scratch: winogradScratch(spec),
    packs: node.weights.map((wt) => (wt.name === 'kernel' ? pack : null)),
    prepares: node.weights.map((wt) => (wt.name === 'kernel' ? prepared : null)),
    ...(band ? { bandShift: winogradBandShift(spec) } : {}),
    ...(ch ? { bandShift: winogradChannelShift(spec, ch.from, node) } : {}),
  });
}
