// The registry: every layer netc knows. Adding a layer is one file and one line here.
import { activationLayers } from './activations.js';
import { batchNormalization } from './batch_normalization.js';
import { conv2d } from './conv2d.js';
import { conv2dTranspose } from './conv2d_transpose.js';
import { dense } from './dense.js';
import { depthwiseConv2d } from './depthwise_conv2d.js';
import { globalAveragePooling2d, globalMaxPooling2d } from './global_pooling.js';
import type { LayerDef } from '../ir/op.js';
import {
  add,
  average,
  concatenate,
  divide,
  maximum,
  minimum,
  multiply,
  subtract,
} from './merge.js';
import { dropout, inputLayer, softmax, transpose } from './misc.js';
import { averagePooling2d, maxPooling2d } from './pooling.js';
import { prelu } from './prelu.js';
import { rescaling } from './rescaling.js';
import { groupNormalization, layerNormalization } from './normalization.js';
import { flatten, reshape } from './reshape.js';
import { separableConv2d } from './separable_conv2d.js';
import { upSampling2d } from './up_sampling2d.js';
import { zeroPadding2d } from './zero_padding2d.js';
import { conv2dAdd } from './conv2d_add.js';
import { cropping2d } from './cropping2d.js';
import { depthToSpace, spaceToDepth } from './depth_to_space.js';
import { padding2d } from './padding2d.js';
import { permute } from './permute.js';
import { resizing } from './resizing.js';
import { unitNormalization } from './unit_normalization.js';

export const LAYERS: readonly LayerDef[] = [
  conv2d,
  depthwiseConv2d,
  separableConv2d,
  conv2dTranspose,
  dense,
  batchNormalization,
  maxPooling2d,
  averagePooling2d,
  globalAveragePooling2d,
  globalMaxPooling2d,
  zeroPadding2d,
  upSampling2d,
  flatten,
  reshape,
  add,
  multiply,
  concatenate,
  // Broadcasting merges, prelu, rescaling and the normalizations (layers-a).
  subtract,
  average,
  maximum,
  minimum,
  prelu,
  rescaling,
  layerNormalization,
  groupNormalization,
  dropout,
  softmax,
  ...activationLayers,
  // Space and layout: depth_to_space, permute, cropping, NumPy padding, resizing.
  depthToSpace,
  spaceToDepth,
  permute,
  cropping2d,
  padding2d,
  resizing,
  inputLayer,
  transpose,
  conv2dAdd,
  // netc extensions beyond the contract: L2 normalization and division (TF.js graph-models).
  unitNormalization,
  divide,
];

export const LAYER_BY_KIND: ReadonlyMap<string, LayerDef> = new Map(LAYERS.map((l) => [l.kind, l]));

/** Layers a source file may call by name. */
export const PUBLIC_LAYERS: readonly string[] = LAYERS.filter((l) => !l.internal).map(
  (l) => l.kind,
);

export function layer(kind: string): LayerDef {
  const l = LAYER_BY_KIND.get(kind);
  if (!l) throw new Error(`no layer ${kind}`);
  return l;
}
