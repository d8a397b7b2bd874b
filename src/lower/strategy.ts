// The strategy table: for each op, the named implementations that can compute it, in order of
// preference, each with the condition under which it applies (as TVM's op strategies list
// implementations per target). Op definitions (src/layers) know nothing of kernels; the
// lowering asks this table which implementation computes a node, with the exact shapes and the
// target's options. A new kernel for an op (a threaded one, an int8 one) is one more row.
import type { Node, Shape } from '../ir/graph.js';
import { activationSplits, lowerActivation } from './kernels/activation.js';
import {
  batchNormalizationSplits,
  lowerBatchNormalization,
} from './kernels/batch_normalization.js';
import {
  conv2dBandUnits,
  conv2dChannelBlock,
  conv2dRowLocal,
  conv2dWinogradApplies,
  conv2dWinogradStages,
  lowerConv2d,
  lowerConv2dWinograd,
} from './kernels/conv2d.js';
import {
  lowerConv2dTranspose,
  lowerConv2dTransposeWinograd,
  transposeChannelBlock,
  transposeWinogradApplies,
  transposeWinogradStages,
} from './kernels/conv2d_transpose.js';
import { denseChannelBlock, lowerDense } from './kernels/dense.js';
import { bandsKeepBits } from './kernels/epilogue.js';
import { lowerDepthwiseConv2d } from './kernels/depthwise_conv2d.js';
import { lowerGlobalPooling } from './kernels/global_pooling.js';
import { lowerConcatenate, lowerElementwise } from './kernels/merge.js';
import { lowerNormalization, normBandUnits, normSplits } from './kernels/normalization.js';
import { lowerPooling } from './kernels/pooling.js';
import { lowerPrelu } from './kernels/prelu.js';
import { lowerRescaling, rescalingSplits } from './kernels/rescaling.js';
import { lowerSeparableConv2d } from './kernels/separable_conv2d.js';
import { lowerSoftmax, softmaxBandUnits } from './kernels/softmax.js';
import {
  blockBandUnits,
  lowerBlockTranspose,
  lowerPermute,
  lowerTranspose,
} from './kernels/transpose.js';
import { lowerCropping2d } from './kernels/cropping2d.js';
import { lowerResizing } from './kernels/resizing.js';
import { lowerUpSampling2d } from './kernels/up_sampling2d.js';
import { lowerPadding2d, lowerZeroPadding2d } from './kernels/padding2d.js';
import {
  groupNormBandUnits,
  groupNormChannelsLast,
  lowerGroupNormChannelsLast,
} from './kernels/group_normalization.js';
import { winogradBandRows } from './kernels/winograd.js';
import { lowerUnitNormalization, unitNormSplits } from './kernels/unit_normalization.js';
import type { LoweredNode, LowerOptions } from './program.js';

type Lower = (node: Node, inputShapes: readonly Shape[], opts: LowerOptions) => LoweredNode;

/** One way to compute an op. */
export interface Implementation {
  /** What it is, for kernel docs and tests: `winograd`, `direct`. */
  readonly name: string;
  /** Whether it computes this node with these options; absent: always (the fallback). */
  readonly applies?: (node: Node, inputShapes: readonly Shape[], opts: LowerOptions) => boolean;
  readonly lower: Lower;
  /** It honours `LowerOptions.rows`: asked for rows [from, from + count) of its output, it
   * computes those alone (streaming computes a large output by slices of rows). */
  readonly sliceRows?: boolean;
  /** It honours `LowerOptions.band` for bands starting at a multiple of this many rows (a
   * layer split between threads); absent: it runs whole, on one thread. */
  readonly bands?: number;
  /** With `bands`: whether this node may be split (absent: always). */
  readonly splits?: (node: Node) => boolean;
  /** With `bands`: whether splitting this node between threads pays (absent: yes). Its bands
   * are still correct and tested; a module keeps the layer whole where this says no. */
  readonly pays?: (node: Node) => boolean;
  /** With `bands`: how many units `LowerOptions.band` counts over (absent: output rows). */
  readonly bandUnits?: (node: Node) => number;
  /** With `bands`: it splits an output of any rank, its rows the first per-example axis
   * (absent: rank-3 outputs only). */
  readonly anyRank?: boolean;
  /** It honours `LowerOptions.channels` for blocks of output channels (dense: units) that
   * start and end at multiples of the number this returns for the node (0: not for this
   * node); absent: never. */
  readonly channelBlock?: (node: Node, inputShapes: readonly Shape[], opts: LowerOptions) => number;
  /** With `channelBlock`: each block repeats work over the whole input (Winograd's input
   * transform), so blocks are taken only of at least this many channels, and only where rows
   * give fewer parts; absent: blocks whenever rows give fewer parts or the weights outweigh
   * the input. */
  readonly minBlockChannels?: number;
  /** With `bands` and `channelBlock`: whether the node can be split in two phases instead
   * (`LowerOptions.stage`: Winograd's input transform by bands of rows into a V all threads
   * share, then the GEMMs and output transform by blocks of channels, so no block repeats the
   * transform and no band re-reads all of U); absent: never. */
  readonly stages?: (node: Node, inputShapes: readonly Shape[], opts: LowerOptions) => boolean;
  /** With `bands`: whether a band of this node's output rows reads only the same rows of its
   * first input, so that it can run in the part that computed them (the bands of the layer
   * before, fused: no barrier between); absent: no. */
  readonly rowLocal?: (node: Node) => boolean;
}

/** Convolutions whose bands compute the whole layer's bits (see bandsKeepBits). */
const convSplits = (node: Node): boolean =>
  bandsKeepBits(node.shape[node.shape.length - 1]!, node.shape[1]! * node.shape[2]!, node.attrs);

const only = (name: string, lower: Lower): readonly Implementation[] => [{ name, lower }];
/** One implementation that can be split in bands of rows (of the first axis, at any rank). */
const banded = (name: string, lower: Lower): readonly Implementation[] => [
  { name, lower, bands: 1, anyRank: true },
];

/** A Winograd block transforms the whole input again, which costs about as much as a GEMM of
 * a few dozen channels. Measured in one process against bands: DCGAN's transposed layers
 * (blocks of 8 and 16 channels) ran 2.4-3.3x slower at 2 threads; ResNet-50's 7x7 layers
 * (4 tile rows) gain from blocks of 64. */
const WINOGRAD_MIN_BLOCK = 64;

const conv2dImplementations: readonly Implementation[] = [
  {
    name: 'winograd',
    applies: conv2dWinogradApplies,
    lower: lowerConv2dWinograd,
    bands: winogradBandRows(1),
    channelBlock: conv2dChannelBlock,
    minBlockChannels: WINOGRAD_MIN_BLOCK,
    stages: conv2dWinogradStages,
  },
  {
    name: 'direct',
    lower: lowerConv2d,
    bands: 1,
    splits: convSplits,
    bandUnits: conv2dBandUnits,
    channelBlock: conv2dChannelBlock,
    rowLocal: conv2dRowLocal,
  },
];

/** Normalizations: split in bands of rows when their statistics lie within rows, a group
 * normalization in bands of groups. */
const normalizationImplementations: readonly Implementation[] = [
  {
    name: 'reduce',
    lower: lowerNormalization,
    bands: 1,
    splits: normSplits,
    bandUnits: normBandUnits,
    anyRank: true,
  },
];

/** Implementations per op kind, preferred first; the last of each list always applies. */
export const STRATEGIES: Readonly<Record<string, readonly Implementation[]>> = {
  conv2d: conv2dImplementations,
  conv2d_add: conv2dImplementations,
  conv2d_transpose: [
    {
      name: 'winograd',
      applies: transposeWinogradApplies,
      lower: lowerConv2dTransposeWinograd,
      bands: winogradBandRows(2),
      channelBlock: transposeChannelBlock,
      minBlockChannels: WINOGRAD_MIN_BLOCK,
      stages: transposeWinogradStages,
    },
    {
      name: 'direct',
      lower: lowerConv2dTranspose,
      bands: 1,
      splits: convSplits,
      channelBlock: transposeChannelBlock,
    },
  ],
  depthwise_conv2d: banded('channelwise', lowerDepthwiseConv2d),
  separable_conv2d: [{ name: 'banded', lower: lowerSeparableConv2d, sliceRows: true, bands: 1 }],
  dense: [{ name: 'direct', lower: lowerDense, channelBlock: denseChannelBlock }],
  batch_normalization: [
    {
      name: 'affine',
      lower: lowerBatchNormalization,
      bands: 1,
      splits: batchNormalizationSplits,
      anyRank: true,
    },
  ],
  max_pooling2d: banded('channelwise', lowerPooling(true)),
  average_pooling2d: banded('channelwise', lowerPooling(false)),
  global_max_pooling2d: only('reduce', lowerGlobalPooling(true)),
  global_average_pooling2d: only('reduce', lowerGlobalPooling(false)),
  zero_padding2d: banded('copy', lowerZeroPadding2d),
  up_sampling2d: banded('gather', lowerUpSampling2d),
  add: banded('elementwise', lowerElementwise('add')),
  multiply: banded('elementwise', lowerElementwise('multiply')),
  subtract: banded('elementwise', lowerElementwise('subtract')),
  average: banded('elementwise', lowerElementwise('average')),
  maximum: banded('elementwise', lowerElementwise('maximum')),
  minimum: banded('elementwise', lowerElementwise('minimum')),
  prelu: banded('elementwise', lowerPrelu),
  rescaling: [
    { name: 'affine', lower: lowerRescaling, bands: 1, splits: rescalingSplits, anyRank: true },
  ],
  layer_normalization: normalizationImplementations,
  group_normalization: [
    {
      name: 'channels',
      applies: groupNormChannelsLast,
      lower: lowerGroupNormChannelsLast,
      bands: 1,
      // Measured at 2 threads, idle: 1.5-1.9x slower than one thread from 1 M to 8 M elements.
      // Bands of channels of a channels-last tensor each stream every pixel, so the threads
      // share each cache line's traffic instead of splitting it (group_normalization.ts).
      pays: () => false,
      bandUnits: groupNormBandUnits,
      anyRank: true,
    },
    ...normalizationImplementations,
  ],
  concatenate: [{ name: 'copy', lower: lowerConcatenate, bands: 1, anyRank: true }],
  softmax: [
    { name: 'rows', lower: lowerSoftmax, bands: 1, bandUnits: softmaxBandUnits, anyRank: true },
  ],
  transpose: [{ name: 'copy', lower: lowerTranspose, bands: 1, anyRank: true }],
  depth_to_space: [
    { name: 'copy', lower: lowerBlockTranspose(true), bands: 1, bandUnits: blockBandUnits },
  ],
  space_to_depth: banded('copy', lowerBlockTranspose(false)),
  permute: [{ name: 'copy', lower: lowerPermute, bands: 1, anyRank: true }],
  cropping2d: banded('copy', lowerCropping2d),
  padding2d: banded('copy', lowerPadding2d),
  resizing: banded('separable', lowerResizing),
  unit_normalization: [
    { name: 'reduce', lower: lowerUnitNormalization, bands: 1, splits: unitNormSplits },
  ],
  divide: banded('elementwise', lowerElementwise('divide')),
};

/** Every activation layer (the `activation` trait): the epilogue, elementwise. */
const ACTIVATION: readonly Implementation[] = [
  {
    name: 'elementwise',
    lower: lowerActivation,
    bands: 1,
    splits: activationSplits,
    anyRank: true,
  },
];

/** The implementations of a node's op, preferred first (empty for inputs and views). */
export function implementationsOf(node: Node): readonly Implementation[] {
  return STRATEGIES[node.layer.kind] ?? (node.layer.traits.activation ? ACTIVATION : []);
}

/** The implementation that computes the node: the first that applies. */
export function implementationFor(
  node: Node,
  inputShapes: readonly Shape[],
  opts: LowerOptions,
): Implementation | undefined {
  return implementationsOf(node).find((i) => !i.applies || i.applies(node, inputShapes, opts));
}

/** Lowers one node by the implementation that computes it. */
export function lowerNode(
  node: Node,
  inputShapes: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const impl = implementationFor(node, inputShapes, opts);
  if (!impl) throw new Error(`layer ${node.layer.kind} has no kernel`);
  return impl.lower(node, inputShapes, opts);
}
