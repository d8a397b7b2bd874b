// Did-you-mean: nearest names by edit distance, plus words other frameworks use for Keras's names.

/** Edit distance counting a swap of two neighbours as one edit (`imgae` -> `image`), small
 * inputs only (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let before: number[] = [];
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2]! + 1);
      cur.push(d);
    }
    before = prev;
    prev = cur;
  }
  return prev[n]!;
}

/** The closest candidate within a distance that scales with the word, or undefined. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.floor(w.length / 3));
  return bestD <= limit ? best : undefined;
}

/** Attribute words from Keras 1, PyTorch and other frameworks, mapped to netc's (Keras 3) names. */
export const ATTRIBUTE_ALIASES: Readonly<Record<string, string>> = {
  subsample: 'strides',
  stride: 'strides',
  border_mode: 'padding',
  pad: 'padding',
  pads: 'padding',
  nb_filter: 'filters',
  out_channels: 'filters',
  num_filters: 'filters',
  num_output: 'filters',
  kernel: 'kernel_size',
  nb_row: 'kernel_size',
  nb_col: 'kernel_size',
  kernel_shape: 'kernel_size',
  ksize: 'kernel_size',
  dilation: 'dilation_rate',
  dilations: 'dilation_rate',
  atrous_rate: 'dilation_rate',
  bias: 'use_bias',
  output_dim: 'units',
  out_features: 'units',
  init: 'kernel_initializer',
  eps: 'epsilon',
  alpha: 'alpha',
  dim: 'axis',
  p: 'rate',
  scale_factor: 'size',
  mode: 'interpolation',
  pool: 'pool_size',
  kernel_size_pool: 'pool_size',
  groups: 'groups',
  group: 'groups',
  channel_multiplier: 'depth_multiplier',
  keep_dims: 'keepdims',
  keepdim: 'keepdims',
};

/** Layer names from other frameworks (PyTorch, Keras 1, ONNX) mapped to netc's. */
export const LAYER_ALIASES: Readonly<Record<string, string>> = {
  conv: 'conv2d',
  convolution: 'conv2d',
  convolution2d: 'conv2d',
  conv2D: 'conv2d',
  linear: 'dense',
  fully_connected: 'dense',
  fc: 'dense',
  gemm: 'dense',
  batchnorm: 'batch_normalization',
  batch_norm: 'batch_normalization',
  batchnorm2d: 'batch_normalization',
  bn: 'batch_normalization',
  maxpool: 'max_pooling2d',
  maxpool2d: 'max_pooling2d',
  max_pool2d: 'max_pooling2d',
  maxpooling2d: 'max_pooling2d',
  avgpool: 'average_pooling2d',
  avgpool2d: 'average_pooling2d',
  avg_pool2d: 'average_pooling2d',
  averagepooling2d: 'average_pooling2d',
  conv_transpose2d: 'conv2d_transpose',
  convtranspose2d: 'conv2d_transpose',
  deconv2d: 'conv2d_transpose',
  deconvolution2d: 'conv2d_transpose',
  upsample: 'up_sampling2d',
  upsampling2d: 'up_sampling2d',
  zeropad2d: 'zero_padding2d',
  zeropadding2d: 'zero_padding2d',
  cat: 'concatenate',
  concat: 'concatenate',
  sum: 'add',
  mul: 'multiply',
  silu: 'swish',
  hardswish: 'hard_swish',
  hardsigmoid: 'hard_sigmoid',
  leakyrelu: 'leaky_relu',
  globalaveragepooling2d: 'global_average_pooling2d',
  adaptive_avg_pool2d: 'global_average_pooling2d',
  view: 'reshape',
  pixel_shuffle: 'depth_to_space',
  pixelshuffle: 'depth_to_space',
  depthtospace: 'depth_to_space',
  pixel_unshuffle: 'space_to_depth',
  pixelunshuffle: 'space_to_depth',
  spacetodepth: 'space_to_depth',
  transpose: 'permute',
  crop: 'cropping2d',
  crop2d: 'cropping2d',
  pad: 'padding2d',
  reflectionpad2d: 'padding2d',
  reflection_pad2d: 'padding2d',
  replicationpad2d: 'padding2d',
  replication_pad2d: 'padding2d',
  resize: 'resizing',
  interpolate: 'resizing',
  identity: 'linear',
};

/** A " (did you mean 'x'?)" suffix, from aliases first, then edit distance. */
export function didYouMean(
  word: string,
  candidates: Iterable<string>,
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const list = [...candidates];
  const alias = Object.prototype.hasOwnProperty.call(aliases, word)
    ? aliases[word]
    : Object.prototype.hasOwnProperty.call(aliases, word.toLowerCase())
      ? aliases[word.toLowerCase()]
      : undefined;
  if (alias !== undefined && list.includes(alias)) return alias;
  return closest(word, list);
}
