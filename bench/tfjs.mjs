// The TF.js peer: a netc graph as a plan of fused TF.js ops (batch normalization folded by hand,
// as a TF.js user would), built in the parent; the child runs the plan with tf ops, NHWC.

const FUSABLE = new Set(['relu', 'relu6', 'sigmoid', 'elu', 'leaky_relu']);
const TF_ACT = {
  relu: 'relu',
  relu6: 'relu6',
  sigmoid: 'sigmoid',
  elu: 'elu',
  leaky_relu: 'leakyrelu',
};

const pair = (v) => [v[0], v[1]];
const padOf = (p) => (p === 'same' || p === 'valid' ? p : [[0, 0], pair(p[0]), pair(p[1]), [0, 0]]);
const activationOf = (attrs) => {
  const a = attrs.activation;
  return a && typeof a === 'object' && !Array.isArray(a) ? a : { fn: 'linear' };
};

/**
 * Builds the plan for a channels_last graph at batch 1. `params` maps `LAYER/WEIGHT` to the
 * unfolded weights. Returns `{ steps, weights, macs, notes }`: steps name their operands by step
 * index and their weights by [offset, length, shape] in `weights`.
 */
export function tfjsPlan(graph, params) {
  if (graph.dataFormat !== 'channels_last')
    throw new Error('the TF.js plan takes channels_last networks');
  const consumers = graph.nodes.map(() => []);
  for (const n of graph.nodes) for (const i of n.inputs) consumers[i].push(n.id);
  const isOutput = new Set(graph.outputs.map((p) => p.node));
  const chunks = [];
  let offset = 0;
  const weight = (data, shape) => {
    const f = Float32Array.from(data);
    chunks.push(f);
    const ref = { offset, length: f.length, shape };
    offset += f.length;
    return ref;
  };
  const steps = [];
  /** graph node id -> step index of its value */
  const at = new Map();
  let macs = 0;
  const notes = [];
  const w = (n, slot) => {
    const use = n.weights.find((u) => u.name === slot);
    if (!use) return null;
    if (use.value.op !== 'param') throw new Error('the TF.js plan takes unfolded graphs');
    return Float64Array.from(params.get(use.value.key));
  };
  const push = (n, step) => {
    steps.push({ ...step, layer: n.name });
    at.set(n.id, steps.length - 1);
    return steps.length - 1;
  };
  const only = (id) =>
    consumers[id].length === 1 && !isOutput.has(id) ? graph.nodes[consumers[id][0]] : null;

  /**
   * A channel-affine layer: fold a following batch normalization into its kernel and bias
   * (kernel viewed as [outer, channels, inner]), then fuse a following activation. Returns the
   * folded kernel, bias, activation and the nodes it absorbed.
   */
  const fold = (n, kernel, bias, channels, inner) => {
    let act = activationOf(n.attrs);
    const absorbed = [];
    let tail = n;
    if (act.fn === 'linear') {
      const bn = only(n.id);
      if (
        bn &&
        bn.layer.kind === 'batch_normalization' &&
        bn.attrs.channel_axis === bn.shape.length - 1
      ) {
        const eps = bn.attrs.epsilon;
        const gamma = w(bn, 'gamma');
        const beta = w(bn, 'beta');
        const mean = w(bn, 'moving_mean');
        const variance = w(bn, 'moving_variance');
        const b = bias ?? new Float64Array(channels);
        for (let c = 0; c < channels; c++) {
          const s = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
          for (let o = 0; o < kernel.length / (channels * inner); o++)
            for (let i = 0; i < inner; i++) kernel[(o * channels + c) * inner + i] *= s;
          b[c] = (b[c] - mean[c]) * s + (beta ? beta[c] : 0);
        }
        bias = b;
        absorbed.push(bn);
        tail = bn;
      }
      const next = only(tail.id);
      if (
        next &&
        FUSABLE.has(next.layer.kind) &&
        !(next.layer.kind === 'elu' && next.attrs.activation.alpha !== 1)
      ) {
        act = next.attrs.activation;
        absorbed.push(next);
      }
    }
    return { kernel, bias, act, absorbed };
  };
  const fusedAct = (act) =>
    FUSABLE.has(act.fn) && !(act.fn === 'elu' && act.alpha !== 1) ? act : null;
  const finish = (n, idx, absorbed, act) => {
    let out = idx;
    // An activation TF.js cannot fuse runs as its own op.
    if (act && act.fn !== 'linear' && !fusedAct(act)) {
      steps.push({ op: 'act', x: out, act, layer: `${n.name}/activation` });
      out = steps.length - 1;
    }
    at.set(n.id, out);
    for (const a of absorbed) at.set(a.id, out);
  };
  const x = (n, i = 0) => at.get(n.inputs[i]);
  const inShape = (n, i = 0) => graph.nodes[n.inputs[i]].shape;

  for (const n of graph.nodes) {
    if (at.has(n.id)) continue;
    const a = n.attrs;
    switch (n.layer.kind) {
      case 'input':
        push(n, { op: 'input', name: n.name, shape: [1, ...n.shape] });
        break;
      case 'conv2d': {
        const [kh, kw] = a.kernel_size;
        const [, , c] = inShape(n);
        const f = n.shape[2];
        const groups = a.groups;
        if (groups !== 1) throw new Error(`${n.name}: TF.js conv2d has no groups`);
        const r = fold(n, w(n, 'kernel'), w(n, 'bias'), f, 1);
        macs += n.shape[0] * n.shape[1] * f * kh * kw * c;
        const idx = push(n, {
          op: 'conv2d',
          x: x(n),
          filter: weight(r.kernel, [kh, kw, c, f]),
          bias: r.bias ? weight(r.bias, [f]) : null,
          strides: pair(a.strides),
          dilations: pair(a.dilation_rate),
          pad: padOf(a.padding),
          activation: fusedAct(r.act),
        });
        finish(n, idx, r.absorbed, r.act);
        break;
      }
      case 'depthwise_conv2d': {
        const [kh, kw] = a.kernel_size;
        const c = inShape(n)[2];
        const dm = a.depth_multiplier;
        const r = fold(n, w(n, 'depthwise_kernel'), w(n, 'bias'), c * dm, 1);
        macs += n.shape[0] * n.shape[1] * c * dm * kh * kw;
        const idx = push(n, {
          op: 'depthwise',
          x: x(n),
          filter: weight(r.kernel, [kh, kw, c, dm]),
          bias: r.bias ? weight(r.bias, [c * dm]) : null,
          strides: pair(a.strides),
          dilations: pair(a.dilation_rate),
          pad: padOf(a.padding),
          activation: fusedAct(r.act),
        });
        finish(n, idx, r.absorbed, r.act);
        break;
      }
      case 'separable_conv2d': {
        // tf.separableConv2d is a depthwise then a 1x1 conv2d: the same two ops, fused epilogue.
        const [kh, kw] = a.kernel_size;
        const c = inShape(n)[2];
        const dm = a.depth_multiplier;
        const f = n.shape[2];
        const dwIdx = steps.length;
        steps.push({
          op: 'depthwise',
          x: x(n),
          filter: weight(w(n, 'depthwise_kernel'), [kh, kw, c, dm]),
          bias: null,
          strides: pair(a.strides),
          dilations: pair(a.dilation_rate),
          pad: padOf(a.padding),
          activation: null,
          layer: `${n.name}/depthwise`,
        });
        const r = fold(n, w(n, 'pointwise_kernel'), w(n, 'bias'), f, 1);
        macs += n.shape[0] * n.shape[1] * c * dm * (kh * kw + f);
        const idx = push(n, {
          op: 'conv2d',
          x: dwIdx,
          filter: weight(r.kernel, [1, 1, c * dm, f]),
          bias: r.bias ? weight(r.bias, [f]) : null,
          strides: [1, 1],
          dilations: [1, 1],
          pad: 'valid',
          activation: fusedAct(r.act),
        });
        finish(n, idx, r.absorbed, r.act);
        break;
      }
      case 'conv2d_transpose': {
        const [kh, kw] = a.kernel_size;
        const [ih, iw, c] = inShape(n);
        const [oh, ow, f] = n.shape;
        if (a.dilation_rate[0] !== 1 || a.dilation_rate[1] !== 1)
          throw new Error(`${n.name}: TF.js conv2dTranspose has no dilation`);
        // Kernel [kh, kw, filters, in]: the output channel is axis -2.
        const r = fold(n, w(n, 'kernel'), w(n, 'bias'), f, c);
        macs += ih * iw * c * f * kh * kw;
        const idx = push(n, {
          op: 'conv2dTranspose',
          x: x(n),
          filter: weight(r.kernel, [kh, kw, f, c]),
          bias: r.bias ? weight(r.bias, [f]) : null,
          outShape: [1, oh, ow, f],
          strides: pair(a.strides),
          pad: a.padding,
          activation: r.act.fn === 'linear' ? null : r.act,
        });
        at.set(n.id, idx);
        for (const b of r.absorbed) at.set(b.id, idx);
        break;
      }
      case 'dense': {
        const s = inShape(n);
        const units = a.units;
        const inDim = s[s.length - 1];
        const r = fold(n, w(n, 'kernel'), w(n, 'bias'), units, 1);
        macs += (s.reduce((p, d) => p * d, 1) / inDim) * inDim * units;
        const idx = push(n, {
          op: 'matMul',
          x: x(n),
          b: weight(r.kernel, [inDim, units]),
          bias: r.bias ? weight(r.bias, [units]) : null,
          outShape: [1, ...n.shape],
          activation: fusedAct(r.act),
        });
        finish(n, idx, r.absorbed, r.act);
        break;
      }
      case 'batch_normalization': {
        // Not after a channel-affine layer: y = x * s + t.
        notes.push(`${n.name}: batch normalization left unfolded`);
        const axis = a.channel_axis;
        const C = n.shape[axis];
        const gamma = w(n, 'gamma');
        const beta = w(n, 'beta');
        const mean = w(n, 'moving_mean');
        const variance = w(n, 'moving_variance');
        const s = new Float64Array(C);
        const t = new Float64Array(C);
        for (let ch = 0; ch < C; ch++) {
          s[ch] = (gamma ? gamma[ch] : 1) / Math.sqrt(variance[ch] + a.epsilon);
          t[ch] = (beta ? beta[ch] : 0) - mean[ch] * s[ch];
        }
        const bshape = [1, ...n.shape.map((d, i) => (i === axis ? d : 1))];
        push(n, { op: 'affine', x: x(n), scale: weight(s, bshape), shift: weight(t, bshape) });
        break;
      }
      case 'max_pooling2d':
      case 'average_pooling2d':
        push(n, {
          op: n.layer.kind === 'max_pooling2d' ? 'maxPool' : 'avgPool',
          x: x(n),
          size: pair(a.pool_size),
          strides: pair(a.stride),
          pad: a.padding,
        });
        break;
      case 'global_average_pooling2d':
      case 'global_max_pooling2d':
        push(n, {
          op: n.layer.kind === 'global_max_pooling2d' ? 'max' : 'mean',
          x: x(n),
          keepdims: n.shape.length === 3,
        });
        break;
      case 'zero_padding2d':
        push(n, {
          op: 'pad',
          x: x(n),
          pads: [[0, 0], pair(a.padding[0]), pair(a.padding[1]), [0, 0]],
        });
        break;
      case 'up_sampling2d':
        push(n, {
          op: a.interpolation === 'bilinear' ? 'resizeBilinear' : 'resizeNearest',
          x: x(n),
          size: [n.shape[0], n.shape[1]],
        });
        break;
      case 'flatten':
      case 'reshape':
        push(n, { op: 'reshape', x: x(n), shape: [1, ...n.shape] });
        break;
      case 'add':
      case 'multiply':
        push(n, { op: n.layer.kind, xs: n.inputs.map((i) => at.get(i)) });
        break;
      case 'concatenate':
        push(n, { op: 'concat', xs: n.inputs.map((i) => at.get(i)), axis: 1 + a.concat_axis });
        break;
      case 'dropout':
      case 'linear':
        at.set(n.id, x(n));
        break;
      case 'softmax':
        if (a.softmax_axis !== n.shape.length - 1)
          throw new Error(`${n.name}: softmax on a non-last axis`);
        push(n, { op: 'softmax', x: x(n) });
        break;
      default:
        if (n.layer.traits.activation !== undefined) {
          push(n, { op: 'act', x: x(n), act: a.activation });
          break;
        }
        throw new Error(`${n.name}: ${n.layer.kind} has no TF.js plan`);
    }
  }
  const weights = new Float32Array(offset);
  let o = 0;
  for (const c of chunks) {
    weights.set(c, o);
    o += c.length;
  }
  return {
    steps,
    outputs: graph.outputs.map((p) => ({ name: p.name, step: at.get(p.node) })),
    weights,
    macs,
    notes,
  };
}

/** Makes the plan's weight tensors once; returns `predict(feeds) -> Float32Array[]` (outputs). */
export function tfjsModel(tf, plan, weights) {
  const tensors = new Map();
  const t = (ref) => {
    if (!ref) return undefined;
    let v = tensors.get(ref.offset);
    if (!v) {
      v = tf.tensor(weights.subarray(ref.offset, ref.offset + ref.length), ref.shape);
      tensors.set(ref.offset, v);
    }
    return v;
  };
  const act = (x, a) => {
    switch (a.fn) {
      case 'relu':
        return tf.relu(x);
      case 'relu6':
        return tf.relu6(x);
      case 'sigmoid':
        return tf.sigmoid(x);
      case 'tanh':
        return tf.tanh(x);
      case 'elu':
        return a.alpha === 1
          ? tf.elu(x)
          : tf.where(tf.greater(x, 0), x, tf.mul(a.alpha, tf.expm1(x)));
      case 'leaky_relu':
        return tf.leakyRelu(x, a.negative_slope);
      case 'swish':
        return tf.mul(x, tf.sigmoid(x));
      case 'hard_sigmoid':
        return tf.div(tf.relu6(tf.add(x, 3)), 6);
      case 'hard_swish':
        return tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));
      case 'gelu':
        return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
      case 'linear':
        return x;
      default:
        throw new Error(`activation ${a.fn}`);
    }
  };
  const fused = (a) => (a ? TF_ACT[a.fn] : 'linear');
  const leaky = (a) => (a && a.fn === 'leaky_relu' ? { leakyreluAlpha: a.negative_slope } : {});
  // Make every weight tensor now (load time), not in the first run.
  for (const s of plan.steps)
    for (const k of ['filter', 'bias', 'b', 'scale', 'shift']) if (s[k]) t(s[k]);

  return (feeds) => {
    const out = tf.tidy(() => {
      const v = [];
      for (const s of plan.steps) {
        let y;
        switch (s.op) {
          case 'input':
            y = tf.tensor(feeds[s.name], s.shape);
            break;
          case 'conv2d':
            y = tf.fused.conv2d({
              x: v[s.x],
              filter: t(s.filter),
              strides: s.strides,
              pad: s.pad,
              dilations: s.dilations,
              bias: t(s.bias),
              activation: fused(s.activation),
              ...leaky(s.activation),
            });
            break;
          case 'depthwise':
            y = tf.fused.depthwiseConv2d({
              x: v[s.x],
              filter: t(s.filter),
              strides: s.strides,
              pad: s.pad,
              dilations: s.dilations,
              bias: t(s.bias),
              activation: fused(s.activation),
              ...leaky(s.activation),
            });
            break;
          case 'conv2dTranspose':
            y = tf.conv2dTranspose(v[s.x], t(s.filter), s.outShape, s.strides, s.pad);
            if (s.bias) y = tf.add(y, t(s.bias));
            if (s.activation) y = act(y, s.activation);
            break;
          case 'matMul': {
            let a = v[s.x];
            const inDim = s.b.shape[0];
            if (a.rank !== 2) a = tf.reshape(a, [-1, inDim]);
            y = tf.fused.matMul({
              a,
              b: t(s.b),
              bias: t(s.bias),
              activation: fused(s.activation),
              ...leaky(s.activation),
            });
            if (s.outShape.length !== 2) y = tf.reshape(y, s.outShape);
            break;
          }
          case 'affine':
            y = tf.add(tf.mul(v[s.x], t(s.scale)), t(s.shift));
            break;
          case 'maxPool':
            y = tf.maxPool(v[s.x], s.size, s.strides, s.pad);
            break;
          case 'avgPool':
            y = tf.avgPool(v[s.x], s.size, s.strides, s.pad);
            break;
          case 'mean':
            y = tf.mean(v[s.x], [1, 2], s.keepdims);
            break;
          case 'max':
            y = tf.max(v[s.x], [1, 2], s.keepdims);
            break;
          case 'pad':
            y = tf.pad(v[s.x], s.pads);
            break;
          case 'resizeNearest':
            y = tf.image.resizeNearestNeighbor(v[s.x], s.size, false, false);
            break;
          case 'resizeBilinear':
            y = tf.image.resizeBilinear(v[s.x], s.size, false, true);
            break;
          case 'reshape':
            y = tf.reshape(v[s.x], s.shape);
            break;
          case 'add':
            y = s.xs.length === 2 ? tf.add(v[s.xs[0]], v[s.xs[1]]) : tf.addN(s.xs.map((i) => v[i]));
            break;
          case 'multiply':
            y = s.xs.map((i) => v[i]).reduce((p, q) => tf.mul(p, q));
            break;
          case 'concat':
            y = tf.concat(
              s.xs.map((i) => v[i]),
              s.axis,
            );
            break;
          case 'softmax':
            y = tf.softmax(v[s.x]);
            break;
          case 'act':
            y = act(v[s.x], s.act);
            break;
          default:
            throw new Error(`plan op ${s.op}`);
        }
        v.push(y);
      }
      return plan.outputs.map((o) => v[o.step]);
    });
    const data = out.map((x) => x.dataSync());
    for (const x of out) x.dispose();
    return data;
  };
}
