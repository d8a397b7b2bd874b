// The weights library: safetensors files, seeded random numbers and Keras initializers.

export {
  SUPPORTED_DTYPES,
  WeightsError,
  bf16ToF32,
  checkWeights,
  editDistance,
  f16ToF32,
  loadWeights,
  parseSafetensors,
  writeSafetensors,
} from '../runtime/safetensors.js';
export type {
  Dtype,
  ExpectedTensor,
  NamedTensor,
  ParseOptions,
  ParsedSafetensors,
  RawTensor,
} from '../runtime/safetensors.js';
export { Rng, fnv1a32, seedWords } from './random.js';
export {
  INITIALIZERS,
  TRUNCATED_NORMAL_STDDEV,
  computeFans,
  initialize,
  initializeNetworkWeights,
  initializerDistribution,
  isInitializerName,
  tensorRng,
} from './initializers.js';
export type { Distribution, InitializerName, InitializerSpec } from './initializers.js';
