// The pass pipeline: named, pure graph -> graph passes, in order.
import type { Graph } from '../ir/graph.js';
import { foldBatchNorm } from './fold_batch_norm.js';
import { foldDepthwiseBias } from './fold_depthwise_bias.js';
import { foldZeroPadding } from './fold_zero_padding.js';
import { fuseActivation } from './fuse_activation.js';
import { fuseResidual } from './fuse_residual.js';
import { foldRescaling } from './fold_rescaling.js';
import { removeIdentity } from './remove_identity.js';

export interface Pass {
  readonly name: string;
  /** What it does, one line. */
  readonly doc: string;
  run(graph: Graph): Graph;
}

/**
 * The passes, in the order they run. Each file states the identity it relies on and its
 * preconditions; tests verify the graph after every pass and check that it computes the same.
 *
 * NOTE: there is no remove_zero_bias pass: no fold creates a bias that stays zero (a bias a
 * fold adds is `bn_shift` or `matvec_add` of a zero start, nonzero in general), and a declared
 * bias is the user's weight, whose values are only known at load time.
 */
export const PASSES: readonly Pass[] = [
  // First, so the folds below see producers and consumers directly connected.
  {
    name: 'remove_identity',
    doc: 'removes dropout and linear activation layers (identity at inference)',
    run: removeIdentity,
  },
  // Before the other folds: rescaling -> conv2d -> batch_normalization scales the kernel's
  // input channels, then its output channels.
  {
    name: 'fold_rescaling',
    doc: 'folds rescaling into the kernel and bias of the conv2d or dense layer after it',
    run: foldRescaling,
  },
  // Before fuse_activation: conv -> batch_normalization -> relu folds the BN, then fuses the relu.
  {
    name: 'fold_batch_norm',
    doc: 'folds batch normalization into the preceding channel-affine layer',
    run: foldBatchNorm,
  },
  // After fold_batch_norm (a BN folded into the depthwise layer leaves it a bias to move), and
  // before fuse_activation (which would give the depthwise layer a nonlinear epilogue).
  {
    name: 'fold_depthwise_bias',
    doc: 'moves a depthwise bias into the following pointwise convolution',
    run: foldDepthwiseBias,
  },
  {
    name: 'fold_zero_padding',
    doc: 'folds zero_padding2d into the padding of the convolutions that read it',
    run: foldZeroPadding,
  },
  {
    name: 'fuse_activation',
    doc: 'fuses activation layers into the preceding layer as its epilogue',
    run: fuseActivation,
  },
  // After fuse_activation: the convolution before the sum is left linear, the relu after it
  // is still a node of its own.
  {
    name: 'fuse_residual',
    doc: 'fuses a sum with a convolution before it and an activation after it into the convolution',
    run: fuseResidual,
  },
];

/** The pass names, in order (for --dump-ir after:PASS). */
export const PASS_NAMES: readonly string[] = PASSES.map((p) => p.name);

/** Runs the pipeline; `until` stops after the named pass (for --dump-ir). */
export function runPasses(graph: Graph, until?: string): Graph {
  if (until !== undefined && !PASS_NAMES.includes(until))
    throw new RangeError(`no pass '${until}'; the passes are ${PASS_NAMES.join(', ')}`);
  let g = graph;
  for (const p of PASSES) {
    g = p.run(g);
    if (p.name === until) break;
  }
  return g;
}
