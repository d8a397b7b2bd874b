// Pass fold_zero_padding: a zero_padding2d (or a padding2d in mode constant with the value 0)
// read only by convolutions becomes their padding.
//
// Identity: a convolution (conv2d, depthwise_conv2d, separable_conv2d) of x padded with zeros
// by (t, b, l, r) and then by its own pads (pt, pb, pl, pr) is the same convolution of x with
// pads (t + pt, b + pb, l + pl, r + pr): every tap that read a padded zero reads a padding
// zero instead. The convolution takes the sum as explicit padding, so its shape rule gives the
// same output shape and pads. Keras builds strided MobileNet and ResNet layers this way
// (ZeroPadding2D, then a valid convolution); folded, the padded copy of the input is never
// made.
// Preconditions: every consumer of the zero_padding2d is one of those convolutions (pooling
// and transposed convolutions treat padding differently); it is no graph output.
import type { Graph, Node } from '../ir/graph.js';
import { amounts } from '../ir/op.js';
import { describeNode, Rewrite } from './rewrite.js';

const CONVOLUTIONS = new Set(['conv2d', 'depthwise_conv2d', 'separable_conv2d']);

/** Pads with zeros: zero_padding2d, or padding2d(mode: constant, constant_value: 0). */
const padsZeros = (n: Node): boolean =>
  n.layer.kind === 'zero_padding2d' ||
  (n.layer.kind === 'padding2d' &&
    n.attrs['mode'] === 'constant' &&
    n.attrs['constant_value'] === 0);

export function foldZeroPadding(graph: Graph): Graph {
  const rw = new Rewrite(graph);
  for (const n of graph.nodes) {
    if (!padsZeros(n) || rw.isOutput(n.id)) continue;
    const users = [...new Set(rw.consumers(n.id))];
    if (users.length === 0 || !users.every((u) => CONVOLUTIONS.has(rw.node(u).layer.kind)))
      continue;
    const [[t, b], [l, r]] = amounts(n.attrs, 'padding');
    for (const u of users) {
      const c = rw.node(u);
      const [pt, pb, pl, pr] = c.attrs['pads'] as readonly number[];
      const pads = [t! + pt!, b! + pb!, l! + pl!, r! + pr!];
      const padding = [
        [pads[0]!, pads[1]!],
        [pads[2]!, pads[3]!],
      ];
      rw.replace({ ...c, attrs: { ...c.attrs, padding, pads } } satisfies Node);
    }
    rw.remove(n.id, rw.node(n.id).inputs[0]!);
    rw.note(
      `${describeNode(n)} folded into the padding of ${users.map((u) => describeNode(rw.node(u))).join(', ')}`,
    );
  }
  return rw.finish();
}
