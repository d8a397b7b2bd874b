// separable_conv2d kernel: the depthwise stage into scratch, then the pointwise convolution
// (a 1x1 convolution core over all pixels) with the bias and the activation.
import type { Node, Shape } from '../../ir/graph.js';
import { num } from '../../layers/layer.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { blockPack, convCore, weightBlock, type ConvSpec } from './conv_core.js';
import { depthwiseStage, depthwiseTags } from './depthwise_conv2d.js';
import { dotApplies, dotPack } from './dot_core.js';
import { activationDoc, activationTag, nodeActivation } from './epilogue.js';
import { plainRuns } from './spatial.js';
import { finish, Names, needWeight, S, weight, X, Y } from './util.js';

export function lowerSeparableConv2d(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const [OH, OW, F] = node.shape as [number, number, number];
  const mid = shape![2]! * num(node.attrs, 'depth_multiplier');
  const act = nodeActivation(node.attrs);
  const names = new Names();
  const b = weight(node, 'bias');
  const dw = depthwiseStage(
    node,
    shape!,
    {
      x: X(0),
      y: S,
      w: needWeight(node, 'depthwise_kernel'),
      b: null,
      act: { fn: 'linear' },
      simd: opts.simd,
    },
    names,
  );
  const pixels = OH * OW;
  const pwSpec: ConvSpec = {
    x: S,
    y: Y,
    w: needWeight(node, 'pointwise_kernel'),
    b,
    inW: pixels,
    inC: mid,
    outW: pixels,
    outC: F,
    rows: plainRuns(1),
    cols: plainRuns(pixels),
    kh: 1,
    kw: 1,
    groups: 1,
    cg: mid,
    fg: F,
    simd: opts.simd,
    act,
  };
  const pw = convCore(pwSpec, names);
  const block = weightBlock(pwSpec);
  const pointwisePack = dotApplies(pwSpec)
    ? dotPack([1, 1], mid, F)
    : block
      ? blockPack([1, 1, mid], F, block)
      : null;
  const packs = node.weights.map((w) => (w.name === 'pointwise_kernel' ? pointwisePack : null));
  const tags = depthwiseTags(node, shape!);
  return finish(node, {
    name: ['separable_conv2d', ...tags.name, `f${F}`, !b && 'nobias', activationTag(act)],
    doc: [
      `separable_conv2d ${tags.doc}, then pointwise ${mid} -> ${F} channels`,
      `${b ? 'bias' : 'no bias'}, activation ${activationDoc(act)}; depthwise result in scratch`,
    ],
    body: [...dw, ...pw],
    weights: ['depthwise_kernel', 'pointwise_kernel', 'bias'],
    scratch: pixels * mid,
    packs,
  });
}
