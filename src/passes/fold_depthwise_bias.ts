// Pass fold_depthwise_bias: a depthwise convolution's bias moves into the following pointwise one.
//
// Identity: with y = D(x) + b_dw (a per-channel bias, the same at every position) and the 1x1
// convolution z = W_pw^T y + b_pw (W_pw [1, 1, M, F] viewed [M, F]), z = W_pw^T D(x) + b' with
// b' = b_pw + W_pw^T b_dw (b_pw absent: zeros, and the pointwise layer gains a bias).
// Preconditions: the producer has traits.biasIntoPointwise (depthwise_conv2d) and a bias, a
// linear activation (nothing nonlinear between), no consumer other than the pointwise layer and is
// not a graph output (its biased output would still be needed); the consumer is pointwise
// (traits.pointwise: 1x1, stride 1, no padding, where a padded cell would miss b_dw; groups 1).
// SeparableConv2D has a single bias already, after its pointwise stage: nothing to do there.
import { InternalError } from '../diag/diagnostics.js';
import type { Graph, Node } from '../ir/graph.js';
import { isLinear } from '../layers/activations.js';
import { describeNode, Rewrite, weight, withUseBias, withWeight } from './rewrite.js';

export function foldDepthwiseBias(graph: Graph): Graph {
  const rw = new Rewrite(graph);
  for (const n of graph.nodes) {
    const traits = n.layer.traits;
    if (!traits.biasIntoPointwise || !traits.channelAffine) continue;
    const dw = rw.node(n.id);
    const bias = weight(dw, traits.channelAffine.bias);
    if (!bias || !isLinear(dw.attrs) || rw.isOutput(dw.id)) continue;
    const c = rw.soleConsumer(dw.id);
    if (c === null) continue;
    const pw = rw.node(c);
    const pwAffine = pw.layer.traits.channelAffine;
    if (!pwAffine || !pw.layer.traits.pointwise?.(pw)) continue;
    const kernel = weight(pw, pwAffine.kernel);
    if (!kernel) throw new InternalError(`${describeNode(pw)} has no ${pwAffine.kernel}`);
    const rows = dw.shape[dw.shape.length - 1]!;
    const cols = pw.shape[pw.shape.length - 1]!;
    if (kernel.shape.reduce((a, d) => a * d, 1) !== rows * cols)
      throw new InternalError(`${describeNode(pw)} kernel is not [${rows}, ${cols}]`);
    const pwBias = weight(pw, pwAffine.bias);
    const newPw: Node = {
      ...pw,
      attrs: withUseBias(pw, true),
      weights: withWeight(pw.weights, {
        name: pwAffine.bias,
        shape: [cols],
        value: {
          op: 'matvec_add',
          bias: pwBias?.value ?? { op: 'zeros', size: cols },
          w: kernel.value,
          v: bias.value,
          rows,
          cols,
        },
      }),
    };
    const newDw: Node = {
      ...dw,
      attrs: withUseBias(dw, false),
      weights: dw.weights.filter((w) => w !== bias),
    };
    rw.replace(newDw);
    rw.replace(newPw);
    rw.note(`${describeNode(dw)} bias folded into ${describeNode(pw)}`);
  }
  return rw.finish();
}
