// The kernel program: what the backends print. One flat f32 memory holds the weights (first)
// and the activations (laid out by a static planner); steps call kernels with base offsets.
import type { Param, Shape, WeightExpr } from '../ir/graph.js';
import type { Kernel } from '../kir/kir.js';
import type { IoSpec } from '../runtime/net.js';
import type { Schedule } from './schedule.js';

/** A permutation applied to a folded weight before the kernel reads it (packing). */
export interface Pack {
  /** The weight's shape before packing. */
  readonly shape: Shape;
  /** out axis i = in axis perm[i]. */
  readonly perm: readonly number[];
}

export interface WeightSegment {
  /** `conv2d_1/kernel`: the layer and slot it feeds. */
  readonly label: string;
  readonly offset: number;
  readonly size: number;
  /** How to compute it from the unfolded weights. */
  readonly value: WeightExpr;
  readonly pack: Pack | null;
}

/** An input or output buffer: the runtime's own description of it (`IoSpec`), which the module
 * carries as data. */
export type IoBuffer = IoSpec;

export interface Step {
  readonly kernel: string;
  /** Base offsets, in the kernel's parameter order. */
  readonly args: readonly number[];
  /** The layer it computes and its source line, for comments and per-layer timing. */
  readonly layer: string;
  readonly line: number;
}

export interface KernelProgram {
  readonly name: string;
  /** Fixed batch size, or null for any. */
  readonly batch: number | null;
  /** Total memory in f32 elements. */
  readonly memoryFloats: number;
  /** The weights occupy [0, weightFloats): [0, storedFloats) are stored in the module (the
   * packed segments); the prepared weights, computed from some of them by `prepare`, lie
   * after the others and may cover the taps they are computed from (stored last). */
  readonly weightFloats: number;
  readonly storedFloats: number;
  /** Set when a prepared weight covers stored taps that a later prepare step reads: the
   * prepare steps must run in their order (largest first), on one thread. */
  readonly preparesInOrder?: boolean;
  readonly weights: readonly WeightSegment[];
  /** The unfolded weights `load({ weights })` expects (the weight file's tensors). */
  readonly params: readonly Param[];
  readonly inputs: readonly IoBuffer[];
  readonly outputs: readonly IoBuffer[];
  /** Distinct kernels, each printed once. */
  readonly kernels: readonly Kernel[];
  readonly steps: readonly Step[];
  /** Steps run once after the weights are in memory (weight transforms), before any `steps`. */
  readonly prepare: readonly Step[];
  /** Outputs computed after `steps`, a slice of rows at a time into a small buffer that the
   * caller copies out while it is in cache (a large output otherwise goes to memory twice). */
  readonly streams: readonly Stream[];
  /** The same steps split between threads (ProgramOptions.parallel), or none. */
  readonly parallel?: Parallel;
}

/**
 * A kernel program's steps split between threads, for a module with shared memory: phases run
 * in order with a barrier after each; a phase's parts run on any thread, in any order, each
 * once. A part computes whole output elements exactly as the one-thread step does (a band of
 * rows: LowerOptions.band), so results are the same for every thread count. The weights,
 * inputs, outputs and activations are where the one-thread program has them; each thread's
 * scratch is its own (`scratchFloats` per thread, after everything else).
 */
export interface Parallel {
  /** The kernels the parts call (distinct names; some are the one-thread steps' own). */
  readonly kernels: readonly Kernel[];
  readonly phases: readonly Phase[];
  /** Scratch floats each thread needs. */
  readonly scratchFloats: number;
  /** Whether load()'s `threads: 'auto'` runs the network on one thread: its split layers have
   * too few multiply-adds to repay workers (`ParallelOptions.minAutoMacs`). */
  readonly autoOne: boolean;
}

export interface Phase {
  /** Each part: calls run in order by one thread. */
  readonly parts: readonly (readonly PartCall[])[];
}

export interface PartCall extends Step {
  /** The argument that is scratch: the thread's scratch base is passed there instead. */
  readonly scratchArg: number | null;
}

/**
 * An output made slice by slice: slice i is computed into the output's buffer (`IoBuffer.offset`,
 * room for the largest slice) and its `size` floats belong at element `at` of the example's
 * output. The slices are in groups of alike slices: slice j of a group calls `kernel` with
 * `args[k] + j * argStep[k]` and belongs at `at + j * atStep`.
 */
export interface Stream {
  readonly output: string;
  readonly groups: readonly SliceGroup[];
}

export interface SliceGroup {
  readonly kernel: string;
  readonly args: readonly number[];
  readonly argStep: readonly number[];
  readonly count: number;
  readonly at: number;
  readonly atStep: number;
  readonly size: number;
  readonly layer: string;
  readonly line: number;
}

/** What a layer's lowering returns for one node. */
export interface LoweredNode {
  /** Parameters, in order: 'y' (output), one per input ('x0', 'x1', ...), one per weight
   * ('w0', ...) in the node's weight order, then 's' when `scratch` is asked for. */
  readonly kernel: Kernel;
  /** Packing per weight (null: as folded, Keras layout). */
  readonly packs?: readonly (Pack | null)[];
  /** Floats of scratch memory the kernel needs (live only during the kernel). */
  readonly scratch?: number;
  /** Per weight: a transform the kernel reads instead of the weight (Winograd's), or null. */
  readonly prepares?: readonly (PreparedWeight | null)[];
  /** With `LowerOptions.rows`: floats the first input's base moves by (the slice's first input
   * row), so that slices alike are one kernel. */
  readonly xShift?: number;
  /** With `LowerOptions.band`, for a band computed relative to moved bases (not in place):
   * floats the output base (`y`) and each input's base (`x`, per input) move by, so that
   * bands alike (interior bands of equal height) are one kernel. */
  readonly bandShift?: BandShift;
}

/** Where a band's kernel reads and writes: see LoweredNode.bandShift. */
export interface BandShift {
  readonly y: number;
  readonly x: readonly number[];
  /** Per weight (the node's weight order, as the kernel's 'w' parameters): floats its base
   * moves by (a block of output channels reads its own share of the weights); absent: none. */
  readonly w?: readonly number[];
  /** Floats the scratch base moves by (a Winograd 'input' stage band's place in the shared V). */
  readonly s?: number;
}

/**
 * A weight the kernel reads transformed: the folded weight (packed by the node's `packs`) is
 * what the module ships and what `load({ weights })` writes; `kernel` (parameters 'u', 'g')
 * computes the `size` floats the layer's kernel reads from it, once, when the module loads.
 * So transforms that grow the weights (Winograd's 16 matrices for 9 taps) cost no download.
 */
export interface PreparedWeight {
  readonly kernel: Kernel;
  readonly size: number;
}

/** Options the backend passes to the lowerings. */
export interface LowerOptions {
  /** The target's facts the kernels are scheduled for (v128 or not, tile and cache budgets). */
  readonly schedule: Schedule;
  /** Output rows [from, from + count) only, written from the output buffer's start: for
   * layers with `sliceRows`, when the program streams their output (see Stream). */
  readonly rows?: { readonly from: number; readonly count: number };
  /** Output rows [from, from + count) only, in place (the output and input bases unmoved): one
   * part of a layer split between threads (see Parallel), for layers whose implementation has
   * `bands` (in the units its `bandUnits` counts, when it has one: a pointwise conv2d's pixels). Each output is computed as the whole layer's kernel computes it, in the same order,
   * so results do not depend on the split. */
  readonly band?: { readonly from: number; readonly count: number };
  /** Output channels [from, from + count) only, over every row: one part of a layer split
   * between threads by blocks of output channels (layers with few rows and large weights), for
   * implementations with `channelBlock` (`from` and `count` multiples of it). Relative to moved
   * bases (LoweredNode.bandShift: the output, a residual, the weights), so blocks of one size
   * are one kernel; each output computed as the whole layer's kernel computes it. */
  readonly channels?: { readonly from: number; readonly count: number };
  /** One of the two phases of a Winograd layer split in stages (`Implementation.stages`):
   * 'input', the input transform of a band of rows (`band`) into the whole layer's V, at the
   * scratch base the step passes (shared, not the thread's: the one-thread step's scratch);
   * 'rest', the GEMMs and output transform of a block of channels (`channels`, or all), V read
   * at the input base the step passes, M in the thread's scratch. */
  readonly stage?: 'input' | 'rest';
}
