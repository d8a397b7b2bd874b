// Keras weight initializers by name, and the seeded initialization of a whole network's weights.

import { Rng, fnv1a32, seedWords } from './random.js';

/** The initializer names netc accepts (Keras's). */
export const INITIALIZERS = [
  'glorot_uniform',
  'glorot_normal',
  'he_uniform',
  'he_normal',
  'lecun_uniform',
  'lecun_normal',
  'zeros',
  'ones',
  'random_uniform',
  'random_normal',
  'truncated_normal',
] as const;
export type InitializerName = (typeof INITIALIZERS)[number];

export function isInitializerName(name: string): name is InitializerName {
  return (INITIALIZERS as readonly string[]).includes(name);
}

/**
 * Keras's `compute_fans`: for a shape `[..., a, b]` with receptive field `r` (the product of the
 * leading axes) `fan_in = a * r` and `fan_out = b * r`; a 1-D shape `[n]` has both fans `n`, a
 * scalar both 1.
 */
export function computeFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0] as number, fanOut: shape[0] as number };
  let receptive = 1;
  for (const d of shape.slice(0, -2)) receptive *= d;
  return {
    fanIn: (shape[shape.length - 2] as number) * receptive,
    fanOut: (shape[shape.length - 1] as number) * receptive,
  };
}

/** The standard deviation of a unit normal truncated to [-2, 2] (Keras's constant). */
export const TRUNCATED_NORMAL_STDDEV = 0.87962566103423978;

/** What an initializer draws from. */
export type Distribution =
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'uniform'; readonly lo: number; readonly hi: number }
  | { readonly kind: 'normal'; readonly mean: number; readonly std: number }
  | { readonly kind: 'truncated_normal'; readonly mean: number; readonly std: number };

/** Keras's VarianceScaling: `scale / n` with `n` a fan (at least 1), as uniform or truncated normal. */
function varianceScaling(
  shape: readonly number[],
  scale: number,
  mode: 'fan_in' | 'fan_avg',
  distribution: 'uniform' | 'truncated_normal',
): Distribution {
  const { fanIn, fanOut } = computeFans(shape);
  const n = mode === 'fan_in' ? fanIn : (fanIn + fanOut) / 2;
  const variance = scale / Math.max(1, n);
  if (distribution === 'uniform') {
    const limit = Math.sqrt(3 * variance);
    return { kind: 'uniform', lo: -limit, hi: limit };
  }
  return { kind: 'truncated_normal', mean: 0, std: Math.sqrt(variance) / TRUNCATED_NORMAL_STDDEV };
}

/** The distribution an initializer draws from for a weight of the given shape. */
export function initializerDistribution(
  name: InitializerName,
  shape: readonly number[],
): Distribution {
  switch (name) {
    case 'glorot_uniform':
      return varianceScaling(shape, 1, 'fan_avg', 'uniform');
    case 'glorot_normal':
      return varianceScaling(shape, 1, 'fan_avg', 'truncated_normal');
    case 'he_uniform':
      return varianceScaling(shape, 2, 'fan_in', 'uniform');
    case 'he_normal':
      return varianceScaling(shape, 2, 'fan_in', 'truncated_normal');
    case 'lecun_uniform':
      return varianceScaling(shape, 1, 'fan_in', 'uniform');
    case 'lecun_normal':
      return varianceScaling(shape, 1, 'fan_in', 'truncated_normal');
    case 'zeros':
      return { kind: 'constant', value: 0 };
    case 'ones':
      return { kind: 'constant', value: 1 };
    case 'random_uniform':
      return { kind: 'uniform', lo: -0.05, hi: 0.05 };
    case 'random_normal':
      return { kind: 'normal', mean: 0, std: 0.05 };
    case 'truncated_normal':
      return { kind: 'truncated_normal', mean: 0, std: 0.05 };
  }
}

/**
 * Fills a new array of the shape's size with the named initializer, drawing the elements in
 * row-major order from `rng` (constant initializers draw nothing).
 */
export function initialize(name: string, shape: readonly number[], rng: Rng): Float32Array {
  if (!isInitializerName(name)) {
    throw new RangeError(
      `unknown initializer '${name}'; expected one of ${INITIALIZERS.join(', ')}`,
    );
  }
  let size = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(`invalid weight shape [${shape.join(', ')}]`);
    }
    size *= d;
  }
  const out = new Float32Array(size);
  const dist = initializerDistribution(name, shape);
  switch (dist.kind) {
    case 'constant':
      out.fill(dist.value);
      break;
    case 'uniform':
      for (let i = 0; i < size; i++) out[i] = rng.uniform(dist.lo, dist.hi);
      break;
    case 'normal':
      for (let i = 0; i < size; i++) out[i] = rng.normal(dist.mean, dist.std);
      break;
    case 'truncated_normal':
      for (let i = 0; i < size; i++) out[i] = rng.truncatedNormal(dist.mean, dist.std);
      break;
  }
  return out;
}

/** The generator for one tensor: derived from (seed, tensor name) alone. */
export function tensorRng(seed: number, name: string): Rng {
  return new Rng([...seedWords(seed), fnv1a32(name)]);
}

export interface InitializerSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly initializer: string;
}

/**
 * Initializes a network's weights from a seed. Each tensor's stream depends only on the seed and
 * the tensor's name, so adding or removing a layer leaves the other layers' weights unchanged.
 */
export function initializeNetworkWeights(
  specs: readonly InitializerSpec[],
  seed: number,
): Float32Array[] {
  return specs.map((s) => initialize(s.initializer, s.shape, tensorRng(seed, s.name)));
}
