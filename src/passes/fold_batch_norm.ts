// Pass fold_batch_norm: batch normalization folds into the channel-affine layer before it.
//
// Identity: with s = gamma / sqrt(var + eps) (gamma absent: 1), BN(y)[c] = (y[c] - mean[c]) * s[c]
// + beta[c] (beta absent: 0). When y[c] = sum W[.., c, ..] x + b[c] (traits.channelAffine), then
// BN(y)[c] = sum (W[.., c, ..] * s[c]) x + ((b[c] - mean[c]) * s[c] + beta[c]): the kernel scaled
// over its output channels (`channelAxis`), the bias shifted (b absent: 0, and the layer gains a
// bias).
// Preconditions: the BN reads the producer P; P has traits.channelAffine and a linear activation
// (a nonlinearity in between breaks the identity); the BN is P's only consumer and P is not a graph
// output (otherwise P's own output would still be needed unnormalized); the BN's channel axis is
// P's channel axis, the last one.
// The folded node keeps P's name; the BN node disappears and its consumers read P.
import { InternalError } from '../diag/diagnostics.js';
import { size, type Graph, type Node, type WeightExpr } from '../ir/graph.js';
import { isLinear } from '../layers/activations.js';
import { num } from '../ir/op.js';
import { describeNode, Rewrite, weight, withUseBias, withWeight } from './rewrite.js';

export function foldBatchNorm(graph: Graph): Graph {
  const rw = new Rewrite(graph);
  for (const n of graph.nodes) {
    if (!n.layer.traits.isBatchNorm || n.inputs.length !== 1) continue;
    const bn = rw.node(n.id);
    const p = bn.inputs[0]!;
    const producer = rw.node(p);
    const affine = producer.layer.traits.channelAffine;
    if (!affine || !isLinear(producer.attrs)) continue;
    if (rw.soleConsumer(p) !== bn.id || rw.isOutput(p)) continue;
    const last = producer.shape.length - 1;
    if (num(bn.attrs, 'channel_axis') !== last) continue;
    const channels = producer.shape[last]!;
    const kernel = weight(producer, affine.kernel);
    if (!kernel) throw new InternalError(`${describeNode(producer)} has no ${affine.kernel}`);
    const stat = (name: string): WeightExpr | null => weight(bn, name)?.value ?? null;
    const mean = stat('moving_mean');
    const variance = stat('moving_variance');
    if (!mean || !variance) throw new InternalError(`${describeNode(bn)} lacks its statistics`);
    const s: WeightExpr = {
      op: 'bn_scale',
      gamma: stat('gamma'),
      variance,
      epsilon: num(bn.attrs, 'epsilon'),
    };
    const axis =
      affine.channelAxis < 0 ? kernel.shape.length + affine.channelAxis : affine.channelAxis;
    const outer = size(kernel.shape.slice(0, axis));
    const inner = size(kernel.shape) / (outer * channels);
    if (!Number.isInteger(inner) || inner < 1)
      throw new InternalError(
        `${describeNode(producer)} kernel does not span ${channels} channels`,
      );
    const scaled: WeightExpr = { op: 'scale', x: kernel.value, s, outer, channels, inner };
    const shifted: WeightExpr = {
      op: 'bn_shift',
      bias: weight(producer, affine.bias)?.value ?? { op: 'zeros', size: channels },
      mean,
      scale: s,
      beta: stat('beta'),
    };
    let weights = withWeight(producer.weights, { ...kernel, value: scaled });
    weights = withWeight(weights, { name: affine.bias, shape: [channels], value: shifted });
    const folded: Node = { ...producer, attrs: withUseBias(producer, true), weights };
    rw.replace(folded);
    rw.remove(bn.id, p);
    rw.note(`${describeNode(bn)} folded into ${describeNode(producer)}`);
  }
  return rw.finish();
}
