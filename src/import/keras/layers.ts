// Each Keras layer class netc translates: the netc calls it becomes, with their attributes
// rendered as .net text, and the weights each call takes (netc's slot names, Keras's order).
import { formatFloat } from '../../onnx/import.js';
import type { Json, KLayer } from './model.js';

/** A layer netc cannot translate; the message gives the reason (the caller names the layer). */
export class LayerRefusal extends Error {}

/** One netc call of a translated layer. */
export interface Step {
  readonly fn: string;
  /** Rendered attributes (positional first), without `name:`. */
  readonly args: readonly string[];
  /** The weights it takes, in Keras's variable order. */
  readonly slots?: readonly string[];
  /** Named `LAYER` (undefined) or `LAYER_SUFFIX` (an extra call a Keras layer needs). */
  readonly suffix?: string;
  readonly comment?: string;
}

/** What a layer becomes: the same tensor (identity at inference), or calls in a chain. */
export type Translation =
  { readonly kind: 'alias' } | { readonly kind: 'calls'; readonly steps: readonly Step[] };

// ------------------------------------------------------------------------------ reading config

function num(c: Json, key: string, dflt?: number): number {
  const v = c[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if ((v === undefined || v === null) && dflt !== undefined) return dflt;
  throw new LayerRefusal(`${key} ${JSON.stringify(v)} is not a number`);
}

function optNum(c: Json, key: string): number | null {
  const v = c[key];
  if (v === undefined || v === null) return null;
  return num(c, key);
}

function bool(c: Json, key: string, dflt: boolean): boolean {
  const v = c[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean')
    throw new LayerRefusal(`${key} ${JSON.stringify(v)} is not a boolean`);
  return v;
}

function str(c: Json, key: string, dflt: string): string {
  const v = c[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string') throw new LayerRefusal(`${key} ${JSON.stringify(v)} is not a string`);
  return v;
}

function ints(v: unknown, key: string): number[] {
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'number' && Number.isInteger(x)))
    throw new LayerRefusal(`${key} ${JSON.stringify(v)} is not a list of integers`);
  return list as number[];
}

/** An int or [h, w] attribute as [h, w]. */
function pairOf(c: Json, key: string, dflt: [number, number]): [number, number] {
  const v = c[key];
  if (v === undefined || v === null) return dflt;
  const l = ints(v, key);
  if (l.length === 1) return [l[0]!, l[0]!];
  if (l.length !== 2) throw new LayerRefusal(`${key} ${JSON.stringify(v)} is not 2-D`);
  return [l[0]!, l[1]!];
}

const pairText = ([h, w]: readonly [number, number]): string =>
  h === w ? String(h) : `[${h}, ${w}]`;

/** `p`, `[ph, pw]` or `[[t, b], [l, r]]` from Keras's ZeroPadding2D / Cropping2D amounts. */
function amounts(c: Json, key: string): string {
  const v = c[key];
  let tb: number[];
  let lr: number[];
  if (typeof v === 'number') tb = lr = [v, v];
  else if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number'))
    [tb, lr] = [
      [v[0] as number, v[0] as number],
      [v[1] as number, v[1] as number],
    ];
  else if (Array.isArray(v) && v.length === 2 && v.every((x) => Array.isArray(x))) {
    tb = ints(v[0], key);
    lr = ints(v[1], key);
    if (tb.length !== 2 || lr.length !== 2)
      throw new LayerRefusal(`${key} ${JSON.stringify(v)} is not [[top, bottom], [left, right]]`);
  } else throw new LayerRefusal(`${key} ${JSON.stringify(v)} is not 2-D`);
  const [t, b] = tb as [number, number];
  const [l, r] = lr as [number, number];
  if (t === b && l === r) return t === l ? String(t) : `[${t}, ${l}]`;
  return `[[${t}, ${b}], [${l}, ${r}]]`;
}

/** Keras's channels_last is netc's data format; channels_first layers are refused. */
function channelsLast(c: Json): void {
  const f = c['data_format'];
  if (f !== undefined && f !== null && f !== 'channels_last')
    throw new LayerRefusal(
      `data_format ${JSON.stringify(f)}: netc imports Keras models channels_last (the TensorFlow default)`,
    );
}

function padding(c: Json, pooling = false): string | null {
  const p = str(c, 'padding', 'valid').toLowerCase();
  if (p === 'valid') return null;
  if (p === 'same') return 'padding: same';
  throw new LayerRefusal(
    `padding '${p}': netc ${pooling ? 'pools' : 'convolves'} with valid or same padding`,
  );
}

function numbers(v: unknown, key: string): string {
  if (typeof v === 'number') return formatFloat(v);
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number'))
    return v.length === 1
      ? formatFloat(v[0] as number)
      : `[${v.map((x) => formatFloat(x as number)).join(', ')}]`;
  throw new LayerRefusal(`${key} ${JSON.stringify(v)} is neither a number nor a list of numbers`);
}

// ----------------------------------------------------------------------------- activations

/** Keras activation names netc's `activation:` takes as they are (Keras's formulas). */
const SAME_ACTIVATIONS = new Set([
  'relu',
  'relu6',
  'elu',
  'selu',
  'sigmoid',
  'tanh',
  'softmax',
  'swish',
  'hard_swish',
  'gelu',
  'mish',
  'softplus',
  'softsign',
  'exponential',
]);
const RENAMED_ACTIVATIONS: Record<string, string> = {
  silu: 'swish',
  hard_silu: 'hard_swish',
  hardSigmoid: 'hard_sigmoid',
};

/** An activation in a config: a name, or Keras 3's serialized function. */
function activationName(v: unknown): string {
  if (v === undefined || v === null) return 'linear';
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null) {
    const o = v as Json;
    if (typeof o['config'] === 'string') return o['config'];
    if (typeof o['class_name'] === 'string' && o['class_name'] !== 'function')
      return o['class_name'];
  }
  throw new LayerRefusal(`activation ${JSON.stringify(v)} is not an activation name`);
}

/**
 * A Keras activation as netc: `fused` for `activation:`, or calls after the layer. `keras3`
 * picks the formulas that changed between Keras 2 (and TF.js) and Keras 3.
 */
export function activation(v: unknown, keras3: boolean): { fused?: string; after: Step[] } {
  const raw = activationName(v);
  const name = RENAMED_ACTIVATIONS[raw] ?? raw;
  if (name === 'linear') return { after: [] };
  if (SAME_ACTIVATIONS.has(name)) return { fused: name, after: [] };
  if (name === 'hard_sigmoid') {
    if (keras3) return { fused: 'hard_sigmoid', after: [] };
    // Keras 2 and TF.js: clip(0.2 * x + 0.5, 0, 1).
    return {
      after: [
        {
          fn: 'rescaling',
          args: ['0.2', 'offset: 0.5'],
          suffix: 'hard_sigmoid_scale',
          comment: "Keras 2's hard_sigmoid: clip(0.2 * x + 0.5, 0, 1)",
        },
        { fn: 'relu', args: ['max_value: 1'], suffix: 'hard_sigmoid_clip' },
      ],
    };
  }
  if (name === 'leaky_relu')
    // keras.activations.leaky_relu's default slope is 0.2.
    return { after: [{ fn: 'leaky_relu', args: ['negative_slope: 0.2'], suffix: 'leaky_relu' }] };
  throw new LayerRefusal(`activation '${raw}' has no netc equivalent`);
}

/** The activation of a layer applied after its own call: fused, or extra steps. */
function withActivation(main: Step, c: Json, keras3: boolean): Step[] {
  const a = activation(c['activation'], keras3);
  const args = a.fused ? [...main.args, `activation: ${a.fused}`] : main.args;
  return [{ ...main, args }, ...a.after];
}

// ---------------------------------------------------------------------------------- layers

/** Keras classes that are the identity at inference. */
const IDENTITY = new Set([
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'ActivityRegularization',
  'Identity',
  'InputLayer',
]);

/** Keras's variable order of each translated class's weights, as netc's slots. */
export function weightSlots(l: KLayer): string[] {
  const c = l.config;
  const bias = (): string[] => (bool(c, 'use_bias', true) ? ['bias'] : []);
  switch (l.cls) {
    case 'Conv2D':
    case 'Conv2DTranspose':
    case 'Dense':
      return ['kernel', ...bias()];
    case 'DepthwiseConv2D':
      return ['depthwise_kernel', ...bias()];
    case 'SeparableConv2D':
      return ['depthwise_kernel', 'pointwise_kernel', ...bias()];
    case 'BatchNormalization':
      return [
        ...(bool(c, 'scale', true) ? ['gamma'] : []),
        ...(bool(c, 'center', true) ? ['beta'] : []),
        'moving_mean',
        'moving_variance',
      ];
    case 'LayerNormalization':
    case 'GroupNormalization':
      return [
        ...(bool(c, 'scale', true) ? ['gamma'] : []),
        ...(bool(c, 'center', true) ? ['beta'] : []),
      ];
    case 'PReLU':
      return ['alpha'];
    case 'Normalization':
      // Read when translating (its values become a rescaling's), never a netc weight.
      return ['mean', 'variance', 'count'];
    default:
      return [];
  }
}

const MERGES: Record<string, string> = {
  Add: 'add',
  Multiply: 'multiply',
  Subtract: 'subtract',
  Average: 'average',
  Maximum: 'maximum',
  Minimum: 'minimum',
};

/**
 * A convolution's call: filters (not for depthwise_conv2d) and kernel_size, then strides and
 * padding, then the attributes `order` names in the layer's Keras order (dilation_rate, groups,
 * depth_multiplier, output_padding), each only where it differs from its default, then use_bias
 * and the activation.
 */
function convolution(
  l: KLayer,
  keras3: boolean,
  fn: string,
  order: readonly string[],
): Translation {
  const c = l.config;
  channelsLast(c);
  const args = fn === 'depthwise_conv2d' ? [] : [String(num(c, 'filters'))];
  args.push(pairText(pairOf(c, 'kernel_size', [1, 1])));
  const s = pairOf(c, 'strides', [1, 1]);
  if (s[0] !== 1 || s[1] !== 1) args.push(`strides: ${pairText(s)}`);
  const p = padding(c);
  if (p) args.push(p);
  for (const name of order) {
    if (name === 'dilation_rate') {
      const d = pairOf(c, 'dilation_rate', [1, 1]);
      if (d[0] !== 1 || d[1] !== 1) args.push(`dilation_rate: ${pairText(d)}`);
    } else if (name === 'output_padding') {
      if (c['output_padding'] !== undefined && c['output_padding'] !== null)
        args.push(`output_padding: ${pairText(pairOf(c, 'output_padding', [0, 0]))}`);
    } else {
      const v = num(c, name, 1);
      if (v !== 1) args.push(`${name}: ${v}`);
    }
  }
  if (!bool(c, 'use_bias', true)) args.push('use_bias: false');
  return { kind: 'calls', steps: withActivation({ fn, args, slots: weightSlots(l) }, c, keras3) };
}

/** Translates one layer (not a nested model, not an input). */
export function translateLayer(l: KLayer, keras3: boolean): Translation {
  const c = l.config;
  const slots = weightSlots(l);
  const calls = (...steps: Step[]): Translation => ({ kind: 'calls', steps });
  if (IDENTITY.has(l.cls)) return { kind: 'alias' };
  if (MERGES[l.cls]) return calls({ fn: MERGES[l.cls]!, args: [] });
  switch (l.cls) {
    case 'Conv2D':
      return convolution(l, keras3, 'conv2d', ['dilation_rate', 'groups']);
    case 'DepthwiseConv2D':
      return convolution(l, keras3, 'depthwise_conv2d', ['depth_multiplier', 'dilation_rate']);
    case 'SeparableConv2D':
      return convolution(l, keras3, 'separable_conv2d', ['dilation_rate', 'depth_multiplier']);
    case 'Conv2DTranspose':
      return convolution(l, keras3, 'conv2d_transpose', ['output_padding', 'dilation_rate']);
    case 'Dense': {
      if (c['lora_rank'] !== undefined && c['lora_rank'] !== null)
        throw new LayerRefusal('a LoRA-adapted Dense (lora_rank) is not supported');
      const args = [String(num(c, 'units'))];
      if (!bool(c, 'use_bias', true)) args.push('use_bias: false');
      return { kind: 'calls', steps: withActivation({ fn: 'dense', args, slots }, c, keras3) };
    }
    case 'BatchNormalization': {
      const args: string[] = [];
      const axis = c['axis'];
      const ax = Array.isArray(axis) ? ints(axis, 'axis') : [num(c, 'axis', -1)];
      if (ax.length !== 1)
        throw new LayerRefusal(`axis ${JSON.stringify(axis)}: netc normalizes along one axis`);
      if (ax[0] !== -1) args.push(`axis: ${ax[0]}`);
      const eps = num(c, 'epsilon', 0.001);
      if (eps !== 0.001) args.push(`epsilon: ${formatFloat(eps)}`);
      if (!bool(c, 'center', true)) args.push('center: false');
      if (!bool(c, 'scale', true)) args.push('scale: false');
      if (bool(c, 'renorm', false))
        throw new LayerRefusal('batch renormalization is not supported');
      return calls({ fn: 'batch_normalization', args, slots });
    }
    case 'LayerNormalization': {
      if (bool(c, 'rms_scaling', false))
        throw new LayerRefusal('rms_scaling: netc normalizes with the mean and variance');
      const axis = c['axis'];
      const ax = Array.isArray(axis) ? ints(axis, 'axis') : [num(c, 'axis', -1)];
      const args: string[] = [];
      if (!(ax.length === 1 && ax[0] === -1))
        args.push(`axis: ${ax.length === 1 ? ax[0] : `[${ax.join(', ')}]`}`);
      const eps = num(c, 'epsilon', 0.001);
      if (eps !== 0.001) args.push(`epsilon: ${formatFloat(eps)}`);
      if (!bool(c, 'center', true)) args.push('center: false');
      if (!bool(c, 'scale', true)) args.push('scale: false');
      return calls({ fn: 'layer_normalization', args, slots });
    }
    case 'UnitNormalization': {
      // netc's unit_normalization (an extension): x / sqrt(max(sum(x^2), 1e-12)), as Keras 2's
      // (tf.math.l2_normalize); Keras 3 bounds the norm rather than its square by 1e-12.
      const axis = c['axis'];
      const ax = Array.isArray(axis) ? ints(axis, 'axis') : [num(c, 'axis', -1)];
      const args =
        ax.length === 1 && ax[0] === -1
          ? []
          : [`axis: ${ax.length === 1 ? ax[0] : `[${ax.join(', ')}]`}`];
      return calls({ fn: 'unit_normalization', args, slots });
    }
    case 'GroupNormalization': {
      const args = [String(num(c, 'groups', 32))];
      const ax = num(c, 'axis', -1);
      if (ax !== -1) args.push(`axis: ${ax}`);
      const eps = num(c, 'epsilon', 0.001);
      if (eps !== 0.001) args.push(`epsilon: ${formatFloat(eps)}`);
      if (!bool(c, 'center', true)) args.push('center: false');
      if (!bool(c, 'scale', true)) args.push('scale: false');
      return calls({ fn: 'group_normalization', args, slots });
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      channelsLast(c);
      const k = pairOf(c, 'pool_size', [2, 2]);
      const s = pairOf(c, 'strides', k);
      const args = [pairText(k)];
      if (s[0] !== k[0] || s[1] !== k[1]) args.push(`strides: ${pairText(s)}`);
      const p = padding(c, true);
      if (p) args.push(p);
      return calls({
        fn: l.cls === 'MaxPooling2D' ? 'max_pooling2d' : 'average_pooling2d',
        args,
      });
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D': {
      channelsLast(c);
      const fn =
        l.cls === 'GlobalMaxPooling2D' ? 'global_max_pooling2d' : 'global_average_pooling2d';
      return calls({ fn, args: bool(c, 'keepdims', false) ? ['keepdims: true'] : [] });
    }
    case 'ZeroPadding2D':
      channelsLast(c);
      return calls({ fn: 'zero_padding2d', args: [amounts(c, 'padding')] });
    case 'Cropping2D':
      channelsLast(c);
      return calls({ fn: 'cropping2d', args: [amounts(c, 'cropping')] });
    case 'UpSampling2D': {
      channelsLast(c);
      const interp = str(c, 'interpolation', 'nearest');
      if (interp !== 'nearest' && interp !== 'bilinear')
        throw new LayerRefusal(`interpolation '${interp}': netc upsamples by nearest or bilinear`);
      const args = [pairText(pairOf(c, 'size', [2, 2]))];
      if (interp === 'bilinear') args.push('interpolation: bilinear');
      return calls({ fn: 'up_sampling2d', args });
    }
    case 'Resizing': {
      channelsLast(c);
      if (bool(c, 'pad_to_aspect_ratio', false))
        throw new LayerRefusal('pad_to_aspect_ratio: netc resizes without padding');
      const interp = str(c, 'interpolation', 'bilinear');
      if (interp !== 'nearest' && interp !== 'bilinear')
        throw new LayerRefusal(`interpolation '${interp}': netc resizes by nearest or bilinear`);
      if (bool(c, 'antialias', false)) throw new LayerRefusal('antialias: netc does not antialias');
      const args = [String(num(c, 'height')), String(num(c, 'width'))];
      if (interp === 'nearest') args.push('nearest');
      if (bool(c, 'crop_to_aspect_ratio', false)) args.push('crop_to_aspect_ratio: true');
      return calls({ fn: 'resizing', args });
    }
    case 'Rescaling': {
      const scale = c['scale'] ?? 1;
      const offset = c['offset'] ?? 0;
      const args = [numbers(scale, 'scale')];
      if (!(typeof offset === 'number' && offset === 0))
        args.push(`offset: ${numbers(offset, 'offset')}`);
      return calls({ fn: 'rescaling', args });
    }
    case 'Flatten':
      channelsLast(c);
      return calls({ fn: 'flatten', args: [] });
    case 'Reshape':
      return calls({
        fn: 'reshape',
        args: [`[${ints(c['target_shape'], 'target_shape').join(', ')}]`],
      });
    case 'Permute':
      return calls({ fn: 'permute', args: [`[${ints(c['dims'], 'dims').join(', ')}]`] });
    case 'Concatenate':
      return calls({
        fn: 'concatenate',
        args: num(c, 'axis', -1) === -1 ? [] : [`axis: ${num(c, 'axis')}`],
      });
    case 'Dropout':
    case 'SpatialDropout2D':
      return calls({ fn: 'dropout', args: [formatFloat(num(c, 'rate', 0))] });
    case 'Activation': {
      const a = activation(c['activation'], keras3);
      if (a.fused) return calls({ fn: a.fused, args: [] });
      if (a.after.length === 0) return { kind: 'alias' };
      // The first extra call carries the layer's own name.
      const [first, ...rest] = a.after;
      const { suffix, ...own } = first!;
      void suffix;
      return calls(own, ...rest);
    }
    case 'ReLU': {
      const max = optNum(c, 'max_value');
      const slope = num(c, 'negative_slope', 0);
      const t = num(c, 'threshold', 0);
      if (slope === 0 && t === 0 && max === 6) return calls({ fn: 'relu6', args: [] });
      const args: string[] = [];
      if (max !== null) args.push(`max_value: ${formatFloat(max)}`);
      if (slope !== 0) args.push(`negative_slope: ${formatFloat(slope)}`);
      if (t !== 0) args.push(`threshold: ${formatFloat(t)}`);
      return calls({ fn: 'relu', args });
    }
    case 'ThresholdedReLU':
      return calls({ fn: 'relu', args: [`threshold: ${formatFloat(num(c, 'theta', 1))}`] });
    case 'LeakyReLU': {
      // Keras 2 and TF.js: alpha; Keras 3: negative_slope. Both default to 0.3.
      const slope = c['negative_slope'] ?? c['alpha'] ?? 0.3;
      if (typeof slope !== 'number')
        throw new LayerRefusal(`negative_slope ${JSON.stringify(slope)} is not a number`);
      return calls({
        fn: 'leaky_relu',
        args: slope === 0.3 ? [] : [`negative_slope: ${formatFloat(slope)}`],
      });
    }
    case 'ELU': {
      const a = num(c, 'alpha', 1);
      return calls({ fn: 'elu', args: a === 1 ? [] : [`alpha: ${formatFloat(a)}`] });
    }
    case 'PReLU': {
      const shared = c['shared_axes'];
      const args =
        shared === undefined || shared === null
          ? []
          : [`shared_axes: [${ints(shared, 'shared_axes').join(', ')}]`];
      return calls({ fn: 'prelu', args, slots });
    }
    case 'Softmax': {
      const axis = c['axis'];
      const ax = Array.isArray(axis) ? ints(axis, 'axis') : [num(c, 'axis', -1)];
      if (ax.length !== 1)
        throw new LayerRefusal(`axis ${JSON.stringify(axis)}: netc takes softmax along one axis`);
      return calls({ fn: 'softmax', args: ax[0] === -1 ? [] : [`axis: ${ax[0]}`] });
    }
    case 'Lambda':
      throw new LayerRefusal(
        'a Lambda layer holds Python code, which its config does not describe; rebuild the model with Keras layers',
      );
    case 'TFOpLambda':
    case 'SlicingOpLambda':
      throw new LayerRefusal(
        `a TensorFlow function (${typeof c['function'] === 'string' ? c['function'] : 'tf op'}) called on a Keras tensor has no netc layer`,
      );
    default:
      throw new LayerRefusal(`netc has no layer for Keras class ${l.cls}`);
  }
}
