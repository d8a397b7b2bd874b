// rescaling: Keras Rescaling, y = x * scale + offset; scale and offset are numbers or lists of
// one number per channel, along the channel axis of the network's data format.
import { defineLayer } from '../ir/op.js';
import type { AttrValue, Shape } from '../ir/types.js';
import { type OnnxMapping } from '../ir/onnx.js';

/** The value for channel c of a number or a per-channel list. */
export const perChannel = (v: AttrValue, c: number): number =>
  Array.isArray(v) ? (v.length === 1 ? (v[0] as number) : (v[c] as number)) : (v as number);

const rescalingOnnx: OnnxMapping = {
  export(n, b) {
    const v = b.value(n.inputs[0]!);
    const axis = n.attrs['channel_axis'] as number;
    // A per-channel list as a constant along the channel axis (x's axes in its order).
    const constant = (name: string): string => {
      const a = n.attrs[name] as number | readonly number[];
      if (!Array.isArray(a)) return b.scalar(a as number);
      const list = a as readonly number[];
      const dims = v.perm.map((p) => (p === axis ? list.length : 1));
      return b.init(`${n.name}/${name}`, dims, [...list]);
    };
    const y = b.op('Mul', [v.name, constant('scale')], n.name, n.name);
    return { name: b.op('Add', [y, constant('offset')], n.name, n.name), perm: v.perm };
  },
};

export const rescaling = defineLayer({
  kind: 'rescaling',
  onnx: rescalingOnnx,
  doc: 'x * scale + offset, scalars or one per channel (Keras Rescaling)',
  samples: [
    { source: 'network t { input x: [5, 7, 6]  output y = x -> rescaling(1 / 127.5, -1) }' },
    {
      source:
        'network t(data_format: channels_first) { input x: [3, 5, 7]  output y = x -> rescaling([0.5, 2, -1], offset: [1, 0, -2]) }',
    },
    {
      source:
        'network t(data_format: channels_first) { input x: [3, 10]  output y = x -> rescaling([0.5, 2, -1]) }',
    },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'scale', kind: { type: 'numbers' }, default: undefined },
    { name: 'offset', kind: { type: 'numbers' }, default: 0 },
  ],
  traits: {
    constantAffine(node) {
      const axis = node.attrs['channel_axis'] as number;
      const C = node.shape[axis]!;
      const { scale, offset } = node.attrs;
      const lists = [scale!, offset!].some((v) => Array.isArray(v) && v.length > 1);
      // Numbers: the same for every channel; lists: along the last axis only.
      if (lists && axis !== node.shape.length - 1) return null;
      const last = node.shape[node.shape.length - 1]!;
      const n = lists ? C : last;
      return {
        scale: Array.from({ length: n }, (_, c) => perChannel(scale!, c)),
        offset: Array.from({ length: n }, (_, c) => perChannel(offset!, c)),
      };
    },
  },
  infer(ctx) {
    const s = ctx.inputs[0]!;
    // The channel axis: the last internal axis for images in either format (and for any rank
    // in channels_last); the first axis of an example of another rank in channels_first.
    const axis = ctx.dataFormat === 'channels_first' && s.length !== 3 ? 0 : s.length - 1;
    const c = s[axis]!;
    for (const name of ['scale', 'offset']) {
      const v = ctx.attrs[name];
      if (Array.isArray(v) && v.length !== 1 && v.length !== c) {
        const where =
          s.length === 1
            ? 'its one axis'
            : ctx.dataFormat === 'channels_first'
              ? 'axis 1'
              : 'the last axis';
        ctx.error(
          `${name} lists ${v.length} numbers, but ${ctx.describe(0)} has ${c} channels (${where})`,
          name,
          `give one number, or a list of ${c} (one per channel)`,
        );
        return null;
      }
    }
    return { shape: s, attrs: { channel_axis: axis } };
  },
  macs: () => 0,
  reference(node, [x], [shape]) {
    const axis = node.attrs['channel_axis'] as number;
    const C = (shape as Shape)[axis]!;
    const inner = (shape as Shape).slice(axis + 1).reduce((p, d) => p * d, 1);
    const out = new Float64Array(x!.length);
    for (let i = 0; i < x!.length; i++) {
      const c = Math.floor(i / inner) % C;
      out[i] = x![i]! * perChannel(node.attrs['scale']!, c) + perChannel(node.attrs['offset']!, c);
    }
    return out;
  },
});
