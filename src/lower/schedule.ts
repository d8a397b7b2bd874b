// The schedule: what the cores need to know about the machine their kernels will run on (V8 on
// x64 today), apart from the algorithm. The cores read tile sizes and cache budgets from here,
// never from constants of their own, as Halide separates a generator's algorithm from its
// per-target schedule. A new target (threads, relaxed SIMD by default, an ARM laptop, a GPU)
// is a new schedule, not an edit of the cores. Each number carries the measurement behind it.

export interface Schedule {
  /** Its name, for docs and tests. */
  readonly name: string;
  /** Whether kernels use v128 (four f32 lanes); the TypeScript backend scalarizes them anyway. */
  readonly simd: boolean;
  /** Whether the module runs kernels on several threads (none does yet). */
  readonly threads: boolean;
  /** Most live accumulators per tile of the convolution core (pixels x vectors). */
  readonly accumulators: number;
  /** Output pixels per group along a row in the convolution core; remainders go in a pair,
   * then alone. */
  readonly pixels: number;
  /** Most live accumulators per tile of the channelwise core (depthwise, pooling). */
  readonly channelwiseAccumulators: number;
  /** Weight bytes above which the channel-tile loop goes outside the pixel loops, so one
   * tile's weights stay in cache while every pixel reads them (the input is re-read instead). */
  readonly weightsOuterBytes: number;
  /** Most taps along an axis that are unrolled (in hot pixel groups). */
  readonly unrollTaps: number;
  /** Scratch bytes one block of Winograd tile rows may use for V and M together (about an L2). */
  readonly winogradBlockBytes: number;
  /** Tiles per phase below which Winograd's transformed weights are read too few times per
   * run to repay streaming them from memory. */
  readonly winogradMinTiles: number;
  /** Transformed-weight bytes that stay in cache from run to run, whatever the tile count. */
  readonly cachedWeightBytes: number;
  /** Bytes of depthwise output one band of separable_conv2d rows may take (stays in L2 for the
   * pointwise stage). */
  readonly bandBytes: number;
  /** When a convolution first copies a small input into a zero-padded map (padded_input.ts):
   * the largest map copied (floats), the most extra taps it may read (a fraction of those the
   * border runs read), and the fewest multiply-adds per float copied. */
  readonly paddedInput: {
    readonly maxFloats: number;
    readonly maxExtraTaps: number;
    readonly minMacsPerFloat: number;
  };
  /** Lines a generated TypeScript function aims to stay under (codegen/ts/print.ts cuts longer
   * kernels into part functions). */
  readonly functionLines: number;
}

/** WebAssembly SIMD in V8 on x64 (a core with 2 MB of L2), the target every number below was
 * measured on. */
export const WASM_SIMD_X64: Schedule = {
  name: 'wasm-simd-x64',
  simd: true,
  threads: false,
  // 8 f32x4 accumulators: 12 reach the mul+add ceiling only with broadcast loads hoisted,
  // which V8 does not do; more spill.
  accumulators: 8,
  // Four pixels x 2 vectors read half the weights per multiply-add of a pair x 4 vectors, for
  // twice the input loads, which hit L1: each layer's best of many runs, alone, summed over the
  // network: ResNet-50 128.1 -> 124.8 ms, MobileNetV1 27.9 -> 24.5, DCGAN 5.56 -> 5.10, the
  // separable example 11.8 -> 11.5 (with weights in blocks of 8 channels, against pairs with
  // blocks of 16).
  pixels: 4,
  // Fewer than the convolution core's: a hot group also keeps every input vector its unrolled
  // column taps share live (pixels + taps - 1 per vector), and more accumulators spill them.
  // MobileNetV1's 13 depthwise layers took 1.37 ms in all with 4 (4 pixels x 1 vector, pairs x
  // 2) against 1.63 with 8; the separable example's fused layer 11.65 ms against 12.51.
  channelwiseAccumulators: 4,
  weightsOuterBytes: 256 * 1024,
  unrollTaps: 7,
  // Each block reads all of the transformed weights once, so fewer, larger blocks read them
  // fewer times: ResNet-50's Winograd layers took 50-53 ms in all with 2 MB blocks against
  // 55-57 ms with 1 MB (4 MB: 52 ms), measured in the network.
  winogradBlockBytes: 2 << 20,
  // Each transformed float feeds one multiply-add per tile, and one core multiply-adds about 7
  // floats in the time it reads one from DRAM. DCGAN's 4x4x512 -> 8x8x256 layer (4 tiles, 33.5
  // MB of transformed weights against 13 MB of kernel) ran its network in 7.0-7.5 ms direct
  // against 8.1-8.2 ms by Winograd.
  winogradMinTiles: 8,
  cachedWeightBytes: 1 << 20,
  bandBytes: 64 * 1024,
  paddedInput: {
    // A few KB, next to the convolution's own work.
    maxFloats: 4096,
    maxExtraTaps: 0.125,
    // The copy must be noise next to the convolution: autoencoder's 14x14x16 -> 7x7x32, 63
    // per float, measured 14% slower padded; mnist's 28x28x1 -> 28x28x32, 612 per float, the
    // same speed.
    minMacsPerFloat: 256,
  },
  // V8 leaves a function of over 60 KB of bytecode to its interpreter (about 1,500 lines of
  // these kernels), where it runs some 50 times slower: DCGAN's transposed convolutions, up to
  // 3,300 lines each, took 3.3 s a run instead of 67 ms.
  functionLines: 400,
};

/** Scalar code (the TypeScript backend): the same budgets, without v128. */
export const SCALAR_V8: Schedule = { ...WASM_SIMD_X64, name: 'scalar-v8', simd: false };

/** The schedule for kernels with or without v128. */
export const scheduleFor = (simd: boolean): Schedule => (simd ? WASM_SIMD_X64 : SCALAR_V8);
