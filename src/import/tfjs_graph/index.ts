// Imports a TensorFlow.js graph-model (model.json of TensorFlow nodes, weights in its shards) as a
// readable channels_last .net source and safetensors weights named after the source's nodes.
import type { ImportResult } from '../../onnx/import.js';
import { formatFloat } from '../../onnx/import.js';
import { transposeConst } from '../../onnx/fold.js';
import {
  boundName,
  identifier,
  importedNetwork,
  isIdentifier,
  keyOption,
  writeChains,
  type ChainStep,
} from '../source.js';
import {
  Attrs,
  checkGraphModel,
  inlineConst,
  isGraphModel,
  readWeights,
  type Const,
  type GraphModelJson,
  type NodeJson,
} from './model.js';

export { isGraphModel } from './model.js';

export interface GraphModelOptions {
  /** The network's name (an identifier); default `imported`. */
  readonly name?: string;
  /** Tensors to cut the graph at (`node` or `node:k`); default the signature's outputs. */
  readonly outputs?: readonly string[];
}

/** A refusal of one node: the message names the node and its op. */
class Refusal extends Error {}

/** The batch size where a Shape op reads it: a value no real axis has. */
const BATCH = 987654321;
/** The largest f32. */
const F32_MAX = 3.4028234663852886e38;

const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, k) => d === b[k]);
const pairText = (h: number, w: number): string => (h === w ? String(h) : `[${h}, ${w}]`);
const padText = (t: number, b: number, l: number, r: number): string =>
  t === b && l === r ? (t === l ? String(t) : `[${t}, ${l}]`) : `[[${t}, ${b}], [${l}, ${r}]]`;
const listText = (v: readonly number[]): string =>
  v.length === 1 ? formatFloat(v[0]!) : `[${v.map(formatFloat).join(', ')}]`;
const quote = (s: string): string => JSON.stringify(s);

/** An activation value: the netc value holding it and its per-example shape (batch dropped). */
interface Act {
  readonly ref: string;
  readonly shape: number[];
  /** The one example of a batch-1 model with its batch axis taken away (Unpack, Squeeze). */
  readonly nobatch?: boolean;
}
type Val = { k: 'const'; c: Const } | { k: 'act'; a: Act };

/** Activation functions a conv2d, depthwise_conv2d, dense or conv2d_transpose can carry. */
const FUSABLE = new Set(['relu', 'relu6', 'sigmoid', 'tanh', 'elu', 'selu']);
/** Activations whose output is never negative. */
const NON_NEGATIVE = new Set(['relu', 'relu6', 'sigmoid']);

/** One layer call of the generated source. */
interface Call {
  fn: string;
  /** Attributes rendered in order (positional first). */
  args: string[];
  readonly inputs: string[];
  readonly output: string;
  readonly name: string;
  weights: { slot: string; shape: number[]; data: Float32Array }[];
  /** conv2d, depthwise_conv2d, dense, conv2d_transpose: the activation, folds allowed. */
  affine?: {
    act: string;
    kernel: Float32Array;
    /** The kernel's shape (Keras layout: TensorFlow's). */
    dims: number[];
    bias: Float32Array | null;
    channels: number;
    /** Output channel of kernel element i. */
    channelOf: (i: number) => number;
  };
  /** rescaling: its scale and offset (one per channel or one). */
  rescale?: { scale: number[]; offset: number[] };
  /** clip (relu, relu6, clip): its bounds. */
  clamp?: { lo: number; hi: number };
}

/** The activation functions, by TensorFlow op. */
const ACT_OPS: Record<string, string> = {
  Relu: 'relu',
  Relu6: 'relu6',
  Elu: 'elu',
  Selu: 'selu',
  Sigmoid: 'sigmoid',
  Tanh: 'tanh',
  Softplus: 'softplus',
  Softsign: 'softsign',
  Exp: 'exponential',
};

/** Ops that pass their first input through. */
const PASS = new Set(['Identity', 'StopGradient', 'Snapshot', 'PreventGradient']);

/** Ops translated (some only with certain inputs); the rest are refused by name. */
const SUPPORTED = new Set([
  ...Object.keys(ACT_OPS),
  ...PASS,
  'Const',
  'Placeholder',
  'NoOp',
  'Cast',
  'Conv2D',
  '_FusedConv2D',
  'DepthwiseConv2dNative',
  'FusedDepthwiseConv2dNative',
  'Conv2DBackpropInput',
  'MatMul',
  '_FusedMatMul',
  'BiasAdd',
  'Add',
  'AddV2',
  'AddN',
  'Sub',
  'Mul',
  'RealDiv',
  'Maximum',
  'Minimum',
  'FloorDiv',
  'Neg',
  'LeakyRelu',
  'Prelu',
  'Softmax',
  'MaxPool',
  'AvgPool',
  'Mean',
  'Max',
  'Pad',
  'PadV2',
  'MirrorPad',
  'ConcatV2',
  'Reshape',
  'Squeeze',
  'ExpandDims',
  'Transpose',
  'ResizeBilinear',
  'ResizeNearestNeighbor',
  'DepthToSpace',
  'SpaceToDepth',
  'SpaceToBatchND',
  'BatchToSpaceND',
  'StridedSlice',
  'SplitV',
  'Split',
  'SparseToDense',
  'Shape',
  'Pack',
  'Unpack',
]);

/** Why some ops are refused (the rest: netc has no layer for the op). */
const REASONS: Record<string, string> = {
  NonMaxSuppressionV3: 'non-max suppression is post-processing netc does not compile',
  NonMaxSuppressionV4: 'non-max suppression is post-processing netc does not compile',
  NonMaxSuppressionV5: 'non-max suppression is post-processing netc does not compile',
  TopKV2: 'top-k is post-processing netc does not compile',
  ArgMax: 'arg-max is post-processing netc does not compile',
  Enter: 'control flow (a while loop) is not compiled by netc',
  Exit: 'control flow (a while loop) is not compiled by netc',
  Merge: 'control flow is not compiled by netc',
  Switch: 'control flow is not compiled by netc',
  LoopCond: 'control flow (a while loop) is not compiled by netc',
  Rsqrt: 'netc has rsqrt only in an L2 normalization (Square, Sum, Maximum, Rsqrt, Mul)',
  Square: 'netc squares only in an L2 normalization (Square, Sum, Maximum, Rsqrt, Mul)',
  Sum: 'netc sums over axes only as pooling or in an L2 normalization (Square, Sum, Maximum, Rsqrt, Mul)',
};

/**
 * Translates a TF.js graph-model to a .net source (`channels_last`: the module takes the
 * model's per-example [H, W, C] input) and safetensors weights. Every node netc cannot
 * translate is listed with its op and the reason; nothing is returned then.
 */
export function importGraphModel(
  json: unknown,
  readShard: (path: string) => Uint8Array | undefined,
  opts: GraphModelOptions = {},
): ImportResult {
  if (!isGraphModel(json))
    return { ok: false, errors: ['not a TF.js graph-model (no modelTopology.node list)'] };
  const errors = checkGraphModel(json);
  if (errors.length) return { ok: false, errors };
  const weights = readWeights(json, readShard, errors);
  if (errors.length) return { ok: false, errors };
  try {
    return new Importer(json, weights, opts).run();
  } catch (e) {
    // A value of the wrong type deep in a node's attributes or the signature (checkGraphModel
    // checks the structure, not every attribute's type): the file is malformed.
    if (e instanceof TypeError || e instanceof RangeError)
      return { ok: false, errors: [`malformed model.json: ${e.message}`] };
    throw e;
  }
}

/** A node's label in messages. */
const label = (n: NodeJson): string => `node '${n.name}' (${n.op})`;

/** `node:k` of an input reference; control inputs (`^node`) are not data. */
function tensorName(ref: string): string {
  const parts = ref.split(':');
  if (parts.length === 1) return `${ref}:0`;
  return `${parts[0]}:${parts[parts.length - 1]}`;
}

class Importer {
  private readonly nodes = new Map<string, NodeJson>();
  private readonly values = new Map<string, Val | null>();
  private readonly calls: Call[] = [];
  private readonly callOf = new Map<string, Call>();
  private readonly consumers = new Map<string, number>();
  private readonly errors: string[] = [];
  private readonly nonNegative = new Set<string>();
  /** Refused or poisoned nodes. */
  private readonly failed = new Set<string>();
  /** Activations consumed by a failed node (where a cut works). */
  private readonly frontier = new Set<string>();
  private readonly outputRefs = new Set<string>();
  private readonly inputDecls: string[] = [];
  /** The source name of each input or output identifier that differs from it (the module's
   * key, written with `name:`). */
  private readonly keys = new Map<string, string>();
  private readonly refNames = new Map<string, string>();
  private readonly usedIds = new Set<string>();
  private fixedBatch = false;
  private visiting = new Set<string>();

  constructor(
    private readonly m: GraphModelJson,
    private readonly weightData: Map<string, Const>,
    private readonly opts: GraphModelOptions,
  ) {
    for (const n of m.modelTopology.node) this.nodes.set(n.name, n);
  }

  private unique(base: string): string {
    let s = base;
    for (let i = 1; this.usedIds.has(s); i++) s = `${base}_${i}`;
    this.usedIds.add(s);
    return s;
  }

  /** The module key for a source name: itself when it is an identifier. */
  private key(source: string, fallback: string): string {
    if (isIdentifier(source) && !this.usedIds.has(source)) {
      this.usedIds.add(source);
      return source;
    }
    const id = this.unique(identifier(source, fallback));
    this.keys.set(id, source);
    return id;
  }

  /** `, name: "KEY"` for an input or output whose key is not its identifier, else ''. */
  private keyOption(id: string): string {
    return keyOption(id, this.keys.get(id));
  }

  run(): ImportResult {
    // The outputs: --outputs, else the signature's, else the nodes nothing consumes.
    const sig = this.m.signature;
    let outs: { key: string; tensor: string }[];
    if (this.opts.outputs?.length) {
      outs = this.opts.outputs.map((o) => ({ key: o.replace(/:0$/, ''), tensor: tensorName(o) }));
      for (const o of outs)
        if (!this.nodes.has(o.tensor.split(':')[0]!))
          this.errors.push(`--outputs: the graph has no tensor '${o.key}'`);
    } else if (sig?.outputs && Object.keys(sig.outputs).length) {
      outs = Object.entries(sig.outputs).map(([k, v]) => ({ key: k, tensor: tensorName(v.name) }));
    } else {
      const used = new Set<string>();
      for (const n of this.nodes.values())
        for (const i of n.input ?? []) used.add(i.replace(/^\^/, '').split(':')[0]!);
      outs = [...this.nodes.values()]
        .filter((n) => !used.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp')
        .map((n) => ({ key: n.name, tensor: `${n.name}:0` }));
    }
    if (this.errors.length) return { ok: false, errors: this.errors };
    // Consumers among the nodes the outputs need.
    const seen = new Set<string>();
    const stack = outs.map((o) => o.tensor.split(':')[0]!);
    while (stack.length) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      for (const i of this.nodes.get(name)?.input ?? []) {
        if (i.startsWith('^')) continue;
        const t = tensorName(i);
        this.consumers.set(t, (this.consumers.get(t) ?? 0) + 1);
        stack.push(t.split(':')[0]!);
      }
    }
    for (const o of outs) this.outputRefs.add(o.tensor);
    // Inputs: in the signature's order where there is one.
    const sigInputs = new Map<string, string>();
    for (const [k, v] of Object.entries(sig?.inputs ?? {})) sigInputs.set(v.name.split(':')[0]!, k);
    const placeholders = [...this.nodes.values()].filter(
      (n) => n.op === 'Placeholder' && seen.has(n.name),
    );
    for (const p of placeholders) this.placeholder(p, sigInputs.get(p.name) ?? p.name);
    if (this.errors.length) return { ok: false, errors: this.errors };

    const results: { id: string; ref: string }[] = [];
    for (const o of outs) {
      const v = this.value(o.tensor);
      if (v === null) continue;
      if (v.k === 'const') {
        this.errors.push(`output '${o.key}' is a constant, not computed from the inputs`);
        continue;
      }
      results.push({ id: this.key(o.key, 'output'), ref: v.a.ref });
    }
    if (this.errors.length) {
      const cut = [...this.frontier].filter((t) => {
        const v = this.values.get(t);
        return v && v.k === 'act';
      });
      if (cut.length && !this.opts.outputs?.length)
        this.errors.push(
          `the graph can be cut before the nodes above with --outputs ${cut.map((t) => t.replace(/:0$/, '')).join(',')}`,
        );
      return { ok: false, errors: this.errors };
    }
    this.nameLayers();
    const source = this.render(results);
    const weights: { name: string; shape: number[]; data: Float32Array }[] = [];
    for (const c of this.calls) {
      this.finishWeights(c);
      for (const w of c.weights)
        weights.push({ name: `${this.display.get(c)!}/${w.slot}`, shape: w.shape, data: w.data });
    }
    return importedNetwork(source, weights);
  }

  private placeholder(n: NodeJson, sourceName: string): void {
    const a = new Attrs(n.attr ?? {});
    const dtype = a.type('dtype') ?? 'DT_FLOAT';
    if (!['DT_FLOAT', 'DT_INT32', 'DT_HALF'].includes(dtype)) {
      this.errors.push(`input '${sourceName}': dtype ${dtype}; netc takes float inputs`);
      return;
    }
    const shape = a.shape('shape');
    if (!shape || shape.length < 2 || shape.slice(1).some((d) => !(d > 0))) {
      this.errors.push(
        `input '${sourceName}' has shape [${(shape ?? []).join(', ')}]: netc needs every dimension but the batch fixed`,
      );
      return;
    }
    if (shape[0] === 1) this.fixedBatch = true;
    const id = this.key(sourceName, 'input');
    const dims = shape.slice(1);
    const note =
      dtype === 'DT_INT32' ? '  # int32 in the source: feed the same integers as floats' : '';
    this.inputDecls.push(`  input ${id}: [${dims.join(', ')}]${this.keyOption(id)}${note}`);
    this.values.set(`${n.name}:0`, { k: 'act', a: { ref: id, shape: dims } });
    this.refNames.set(id, id);
  }

  // --------------------------------------------------------------------------------- values

  /** The value of a tensor (`node:k`), translating its node first; null when it failed. */
  private value(t: string): Val | null {
    if (this.values.has(t)) return this.values.get(t)!;
    const [name, idx] = t.split(':') as [string, string];
    const n = this.nodes.get(name);
    if (!n) throw new Refusal(`no node '${name}' in the graph`);
    if (this.visiting.has(name)) throw new Refusal(`${label(n)} is part of a cycle`);
    this.visiting.add(name);
    try {
      this.translate(n);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      this.errors.push(e.message);
      this.failed.add(n.name);
      for (const i of n.input ?? []) if (!i.startsWith('^')) this.frontier.add(tensorName(i));
    } finally {
      this.visiting.delete(name);
    }
    if (!this.values.has(t)) {
      if (!this.failed.has(name) && idx !== '0')
        this.errors.push(`${label(n)}: output ${idx} is used; netc translates only output 0`);
      this.values.set(t, null);
    }
    return this.values.get(t)!;
  }

  /** Translates a node's inputs; a failed input fails the node (listed only if its op is refused too). */
  private inputs(n: NodeJson): (Val | null)[] {
    return (n.input ?? []).filter((i) => !i.startsWith('^')).map((i) => this.value(tensorName(i)));
  }

  private set(n: NodeJson, v: Val): void {
    this.values.set(`${n.name}:0`, v);
  }

  private constVal(n: NodeJson, c: Const): void {
    this.set(n, { k: 'const', c });
  }

  private act(n: NodeJson, v: Val | null | undefined, what = 'input 0'): Act {
    if (!v || v.k !== 'act')
      throw new Refusal(`${label(n)}: ${what} must be computed from the model's inputs`);
    if (v.a.nobatch)
      throw new Refusal(
        `${label(n)}: ${what} is an example without its batch axis; netc takes it back only through ExpandDims or Pack on axis 0`,
      );
    return v.a;
  }

  private cst(n: NodeJson, v: Val | null | undefined, what: string): Const {
    if (!v || v.k !== 'const') throw new Refusal(`${label(n)}: ${what} must be a constant`);
    return v.c;
  }

  private single(t: string): boolean {
    return (this.consumers.get(t) ?? 0) === 1 && !this.outputRefs.has(t);
  }

  /** Adds a layer call producing node n's output 0. */
  private emit(
    n: NodeJson,
    fn: string,
    inputs: Act[],
    shape: number[],
    args: string[] = [],
    extra: Partial<Call> = {},
    name = n.name,
  ): Act {
    const output = `${name}:0`;
    const call: Call = {
      fn,
      args,
      inputs: inputs.map((a) => a.ref),
      output,
      name,
      weights: [],
      ...extra,
    };
    this.calls.push(call);
    this.callOf.set(output, call);
    const a = { ref: output, shape };
    this.set(n, { k: 'act', a });
    return a;
  }

  // ----------------------------------------------------------------------------- translate

  private translate(n: NodeJson): void {
    if (n.op === 'Placeholder')
      throw new Refusal(`${label(n)}: an input netc could not declare (see above)`);
    if (n.op === 'Const') {
      const c = this.weightData.get(n.name) ?? inlineConst(new Attrs(n.attr ?? {}).tensor('value'));
      if (!c) throw new Refusal(`${label(n)}: its value is neither in the weights nor inline`);
      return this.constVal(n, c);
    }
    // Patterns over several nodes first: PReLU written with Maximum/Minimum or Abs.
    if ((n.op === 'Add' || n.op === 'AddV2') && this.preluPattern(n)) return;
    if (n.op === 'BatchToSpaceND' && this.dilatedPattern(n)) return;
    if ((n.op === 'Mul' || n.op === 'RealDiv') && this.l2Pattern(n)) return;
    const ins = this.inputs(n);
    if (ins.some((v) => v === null)) {
      this.failed.add(n.name);
      if (!SUPPORTED.has(n.op)) throw new Refusal(this.unsupported(n));
      return;
    }
    if (!SUPPORTED.has(n.op)) throw new Refusal(this.unsupported(n));
    const a = new Attrs(n.attr ?? {});
    // Constants in, constant out: folded.
    if (ins.length && ins.every((v) => v!.k === 'const') && n.op !== 'Shape') {
      const c = this.fold(
        n,
        a,
        ins.map((v) => (v as { c: Const }).c),
      );
      if (c) return this.constVal(n, c);
    }
    if (this.batchAxis(n, a, ins as Val[])) return;
    const act = ACT_OPS[n.op];
    if (act) return this.activation(n, this.act(n, ins[0]), act, `${n.name}:0`, ins[0]!);
    if (PASS.has(n.op)) return this.set(n, ins[0]!);
    switch (n.op) {
      case 'NoOp':
        return;
      case 'Cast': {
        const to = a.type('DstT') ?? 'DT_FLOAT';
        if (to !== 'DT_FLOAT' && to !== 'DT_HALF')
          throw new Refusal(`${label(n)}: casts an activation to ${to}; netc computes in float32`);
        return this.set(n, ins[0]!);
      }
      case 'Shape': {
        const v = ins[0]!;
        const dims = v.k === 'const' ? v.c.dims : [BATCH, ...v.a.shape];
        return this.constVal(n, {
          dims: [dims.length],
          data: Float64Array.from(dims),
          dtype: 'int32',
        });
      }
      case 'Conv2D':
      case '_FusedConv2D':
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative':
        return this.conv(n, a, ins as Val[]);
      case 'Conv2DBackpropInput':
        return this.convTranspose(n, a, ins as Val[]);
      case 'MatMul':
      case '_FusedMatMul':
        return this.matmul(n, a, ins as Val[]);
      case 'LeakyRelu': {
        const x = this.act(n, ins[0]);
        this.emit(n, 'leaky_relu', [x], x.shape, [
          `negative_slope: ${formatFloat(a.float('alpha', 0.2))}`,
        ]);
        return;
      }
      case 'Prelu':
        return this.prelu(n, this.act(n, ins[0]), this.cst(n, ins[1], 'the slope (input 1)'));
      case 'Softmax': {
        const x = this.act(n, ins[0]);
        this.emit(n, 'softmax', [x], x.shape);
        return;
      }
      case 'MaxPool':
      case 'AvgPool':
        return this.pool(n, a, this.act(n, ins[0]));
      case 'Mean':
      case 'Max':
        return this.reduce(n, a, this.act(n, ins[0]), this.cst(n, ins[1], 'the axes (input 1)'));
      case 'Pad':
      case 'PadV2':
      case 'MirrorPad':
        return this.pad(n, a, ins as Val[]);
      case 'ConcatV2':
        return this.concat(n, ins as Val[]);
      case 'Reshape': {
        const x = this.act(n, ins[0]);
        const target = Array.from(this.cst(n, ins[1], 'the shape (input 1)').data);
        return this.reshape(n, x, this.perExample(n, x, target));
      }
      case 'Squeeze': {
        const x = this.act(n, ins[0]);
        const r = x.shape.length + 1;
        const axes = a.ints('squeeze_dims', a.ints('axis', [])).map((d) => (d < 0 ? d + r : d));
        if (axes.includes(0)) throw new Refusal(`${label(n)}: squeezes the batch axis`);
        const shape = x.shape.filter((d, k) => (axes.length ? !axes.includes(k + 1) : d !== 1));
        return this.reshape(n, x, shape);
      }
      case 'ExpandDims': {
        const x = this.act(n, ins[0]);
        let ax = this.cst(n, ins[1], 'the axis (input 1)').data[0]!;
        if (ax < 0) ax += x.shape.length + 2;
        if (ax === 0) throw new Refusal(`${label(n)}: adds an axis before the batch`);
        const shape = [...x.shape];
        shape.splice(ax - 1, 0, 1);
        return this.reshape(n, x, shape);
      }
      case 'Transpose': {
        const x = this.act(n, ins[0]);
        const perm = Array.from(this.cst(n, ins[1], 'the permutation (input 1)').data);
        if (perm[0] !== 0)
          throw new Refusal(`${label(n)}: perm [${perm.join(', ')}] moves the batch axis`);
        const dims = perm.slice(1);
        if (dims.every((d, k) => d === k + 1)) return this.set(n, ins[0]!);
        this.emit(
          n,
          'permute',
          [x],
          dims.map((d) => x.shape[d - 1]!),
          [`[${dims.join(', ')}]`],
        );
        return;
      }
      case 'ResizeBilinear':
      case 'ResizeNearestNeighbor':
        return this.resize(n, a, this.act(n, ins[0]), this.cst(n, ins[1], 'the size (input 1)'));
      case 'DepthToSpace':
      case 'SpaceToDepth': {
        const x = this.act(n, ins[0]);
        if (a.str('data_format', 'NHWC') !== 'NHWC')
          throw new Refusal(
            `${label(n)}: data_format ${a.str('data_format', '')}; netc takes NHWC`,
          );
        const b = a.int('block_size', 0);
        const [H, W, C] = x.shape as [number, number, number];
        if (x.shape.length !== 3 || b < 2)
          throw new Refusal(`${label(n)}: needs an image and a block size >= 2`);
        const d2s = n.op === 'DepthToSpace';
        if (d2s ? C % (b * b) : H % b || W % b)
          throw new Refusal(
            `${label(n)}: [${x.shape.join(', ')}] does not split into ${b}x${b} blocks`,
          );
        const shape = d2s ? [H * b, W * b, C / (b * b)] : [H / b, W / b, C * b * b];
        this.emit(n, d2s ? 'depth_to_space' : 'space_to_depth', [x], shape, [String(b)]);
        return;
      }
      case 'SpaceToBatchND':
      case 'BatchToSpaceND':
        throw new Refusal(
          `${label(n)}: netc translates SpaceToBatchND and BatchToSpaceND only around a convolution (TensorFlow's dilated convolution)`,
        );
      case 'StridedSlice':
        return this.stridedSliceAct(n, a, ins as Val[]);
      case 'SplitV':
      case 'Split':
        return this.split(n, a, ins as Val[]);
      case 'SparseToDense':
      case 'Pack':
      case 'FloorDiv':
      case 'Neg':
        throw new Refusal(`${label(n)}: netc translates ${n.op} only on constants (it folds them)`);
      default:
        return this.binary(n, ins as Val[]);
    }
  }

  /**
   * A batch-1 model taking its one example out of the batch (Unpack or Squeeze of axis 0) and
   * putting it back (ExpandDims or Pack on axis 0): the same values, so nothing is emitted.
   */
  private batchAxis(n: NodeJson, a: Attrs, ins: Val[]): boolean {
    const v = ins[0];
    if (!v || v.k !== 'act') return false;
    const x = v.a;
    const axis0 = (d: number | undefined): boolean => d === 0 || d === -(x.shape.length + 1);
    if (x.nobatch) {
      const c = ins[1];
      if (
        (n.op === 'ExpandDims' && c?.k === 'const' && c.c.data[0] === 0) ||
        (n.op === 'Pack' && ins.length === 1 && a.int('axis', 0) === 0)
      ) {
        this.set(n, { k: 'act', a: { ref: x.ref, shape: x.shape } });
        return true;
      }
      return false;
    }
    if (!this.fixedBatch) return false;
    if (
      (n.op === 'Unpack' && a.int('num', 0) === 1 && axis0(a.int('axis', 0))) ||
      (n.op === 'Squeeze' &&
        a.ints('squeeze_dims', a.ints('axis', [])).length === 1 &&
        axis0(a.ints('squeeze_dims', a.ints('axis', []))[0]))
    ) {
      this.set(n, { k: 'act', a: { ref: x.ref, shape: x.shape, nobatch: true } });
      return true;
    }
    return false;
  }

  private unsupported(n: NodeJson): string {
    return `${label(n)}: ${REASONS[n.op] ?? `netc has no layer for TensorFlow op ${n.op}`}`;
  }

  // ------------------------------------------------------------------------ constant folds

  private fold(n: NodeJson, a: Attrs, cs: Const[]): Const | null {
    const c0 = cs[0]!;
    const int = (d: Float64Array) => ({ dims: c0.dims, data: d, dtype: c0.dtype });
    switch (n.op) {
      case 'Identity':
      case 'StopGradient':
      case 'Snapshot':
        return c0;
      case 'Cast': {
        const to = a.type('DstT') ?? 'DT_FLOAT';
        const f = to === 'DT_FLOAT' || to === 'DT_HALF';
        return {
          dims: c0.dims,
          data: c0.data.map((v) => (f ? Math.fround(v) : Math.trunc(v))),
          dtype: f ? 'float32' : 'int32',
        };
      }
      case 'Neg':
        return int(c0.data.map((v) => -v));
      case 'Add':
      case 'AddV2':
      case 'BiasAdd':
      case 'Sub':
      case 'Mul':
      case 'RealDiv':
      case 'FloorDiv':
      case 'Maximum':
      case 'Minimum': {
        const f: Record<string, (x: number, y: number) => number> = {
          Add: (x, y) => x + y,
          AddV2: (x, y) => x + y,
          BiasAdd: (x, y) => x + y,
          Sub: (x, y) => x - y,
          Mul: (x, y) => x * y,
          RealDiv: (x, y) => x / y,
          FloorDiv: (x, y) => Math.floor(x / y),
          Maximum: Math.max,
          Minimum: Math.min,
        };
        return broadcast(cs[0]!, cs[1]!, f[n.op]!);
      }
      case 'Pack': {
        const axis = a.int('axis', 0);
        if (axis !== 0 || cs.some((c) => c.dims.length !== 0)) return null;
        return {
          dims: [cs.length],
          data: Float64Array.from(cs.map((c) => c.data[0]!)),
          dtype: c0.dtype,
        };
      }
      case 'Reshape': {
        const t = Array.from(cs[1]!.data);
        const known = product(t.filter((d) => d >= 0));
        return {
          dims: t.map((d) => (d < 0 ? c0.data.length / known : d)),
          data: c0.data,
          dtype: c0.dtype,
        };
      }
      case 'ExpandDims': {
        let ax = cs[1]!.data[0]!;
        if (ax < 0) ax += c0.dims.length + 1;
        const dims = [...c0.dims];
        dims.splice(ax, 0, 1);
        return { dims, data: c0.data, dtype: c0.dtype };
      }
      case 'Squeeze': {
        const axes = a.ints('squeeze_dims', []).map((d) => (d < 0 ? d + c0.dims.length : d));
        return {
          dims: c0.dims.filter((d, k) => (axes.length ? !axes.includes(k) : d !== 1)),
          data: c0.data,
          dtype: c0.dtype,
        };
      }
      case 'Transpose':
        return transposeConst(c0, Array.from(cs[1]!.data));
      case 'StridedSlice':
        return stridedSlice(n, a, c0, cs[1]!, cs[2]!, cs[3]!);
      case 'SparseToDense':
        return sparseToDense(cs);
      case 'ConcatV2': {
        const axis = cs[cs.length - 1]!.data[0]!;
        const parts = cs.slice(0, -1);
        if (parts.every((c) => c.dims.length === 1) && (axis === 0 || axis === -1))
          return {
            dims: [parts.reduce((s, c) => s + c.data.length, 0)],
            data: Float64Array.from(parts.flatMap((c) => Array.from(c.data))),
            dtype: c0.dtype,
          };
        return null;
      }
      default:
        return null;
    }
  }

  // ---------------------------------------------------------------------------- patterns

  /** The node producing tensor t, when t is its output 0. */
  private producer(t: string): NodeJson | undefined {
    const [name, idx] = tensorName(t).split(':');
    return idx === '0' ? this.nodes.get(name!) : undefined;
  }

  private constOfRef(ref: string): Const | null {
    const p = this.producer(ref);
    if (!p) return null;
    if (p.op === 'Const')
      return this.weightData.get(p.name) ?? inlineConst(new Attrs(p.attr ?? {}).tensor('value'));
    if (PASS.has(p.op) && p.input?.[0]) return this.constOfRef(p.input[0]);
    return null;
  }

  private isZero(ref: string): boolean {
    const c = this.constOfRef(ref);
    return c !== null && c.data.length === 1 && c.data[0] === 0;
  }

  /** t = k * max(x, 0) or (with x itself) t = x: the positive part. */
  private posPart(t: string): { x: string; k: number } | null {
    const p = this.producer(t);
    if (!p) return null;
    const i = (p.input ?? []).filter((s) => !s.startsWith('^'));
    if (p.op === 'Relu') return { x: tensorName(i[0]!), k: 1 };
    if (p.op === 'Maximum' && i.length === 2) {
      if (this.isZero(i[1]!)) return { x: tensorName(i[0]!), k: 1 };
      if (this.isZero(i[0]!)) return { x: tensorName(i[1]!), k: 1 };
    }
    return null;
  }

  /** t = alpha * min(x, 0), alpha a constant (per channel or one): the negative part. */
  private negPart(t: string): { x: string; alpha: Const } | null {
    const p = this.producer(t);
    if (!p) return null;
    const i = (p.input ?? []).filter((s) => !s.startsWith('^'));
    const one: Const = { dims: [], data: Float64Array.of(1), dtype: 'float32' };
    const base = (u: string): { x: string; k: number } | null => {
      const q = this.producer(u);
      if (!q) return null;
      const j = (q.input ?? []).filter((s) => !s.startsWith('^'));
      if (q.op === 'Minimum' && j.length === 2) {
        if (this.isZero(j[1]!)) return { x: tensorName(j[0]!), k: 1 };
        if (this.isZero(j[0]!)) return { x: tensorName(j[1]!), k: 1 };
      }
      // x - |x| = 2 min(x, 0)
      if (q.op === 'Sub' && j.length === 2) {
        const abs = this.producer(j[1]!);
        if (abs?.op === 'Abs' && tensorName(abs.input![0]!) === tensorName(j[0]!))
          return { x: tensorName(j[0]!), k: 2 };
      }
      // -relu(-x) = min(x, 0)
      if (q.op === 'Neg') {
        const r = this.producer(j[0]!);
        const nx = r?.op === 'Relu' ? this.producer(r.input![0]!) : undefined;
        if (nx?.op === 'Neg') return { x: tensorName(nx.input![0]!), k: 1 };
      }
      return null;
    };
    const scaled = (
      b: { x: string; k: number } | null,
      c: Const,
    ): { x: string; alpha: Const } | null =>
      b
        ? { x: b.x, alpha: { dims: c.dims, data: c.data.map((v) => v * b.k), dtype: 'float32' } }
        : null;
    if (p.op === 'Mul' && i.length === 2) {
      for (const [u, w] of [
        [i[0]!, i[1]!],
        [i[1]!, i[0]!],
      ] as const) {
        const c = this.constOfRef(w);
        if (!c) continue;
        // (alpha * (x - |x|)) * 0.5 and the like: a constant times a negative part.
        const inner = this.negPart(u);
        if (inner) return { x: inner.x, alpha: broadcast(inner.alpha, c, (a, b) => a * b) };
        const r = scaled(base(u), c);
        if (r) return r;
      }
      return null;
    }
    return scaled(base(t), one);
  }

  /** Add(max(x, 0), alpha * min(x, 0)) (or x + alpha * min(x, 0)): a prelu of x. */
  private preluPattern(n: NodeJson): boolean {
    const i = (n.input ?? []).filter((s) => !s.startsWith('^'));
    if (i.length !== 2) return false;
    for (const [p, q] of [
      [i[0]!, i[1]!],
      [i[1]!, i[0]!],
    ] as const) {
      const neg = this.negPart(q);
      if (!neg) continue;
      const pos = this.posPart(p);
      let alpha: Const;
      if (pos && pos.x === neg.x) alpha = neg.alpha;
      else if (tensorName(p) === neg.x)
        alpha = { ...neg.alpha, data: neg.alpha.data.map((v) => v + 1) };
      else continue;
      const xv = this.value(neg.x);
      if (xv === null) {
        this.failed.add(n.name);
        return true;
      }
      this.prelu(n, this.act(n, xv), alpha);
      return true;
    }
    return false;
  }

  /**
   * x * Rsqrt(Maximum(Sum(Square(x)), eps)) (or x / Sqrt(...), or without the Maximum): an L2
   * normalization, tf.math.l2_normalize's graph, which is `unit_normalization(axis, epsilon:
   * eps)`. With Add instead of Maximum (x / sqrt(sum + eps)) it is another function: refused as
   * one pattern, naming x, where a cut works.
   */
  private l2Pattern(n: NodeJson): boolean {
    const i = (n.input ?? []).filter((s) => !s.startsWith('^'));
    if (i.length !== 2) return false;
    const pairs = n.op === 'Mul' ? [i, [i[1]!, i[0]!]] : [i];
    for (const [xRef, rRef] of pairs as [string, string][]) {
      const steps: string[] = [];
      let p = this.producer(rRef);
      const want = n.op === 'Mul' ? 'Rsqrt' : 'Sqrt';
      if (p?.op !== want) continue;
      steps.push(p.op);
      p = this.producer(p.input![0]!);
      let eps: number | null = null;
      if (p && ['Maximum', 'Add', 'AddV2'].includes(p.op)) {
        const j = (p.input ?? []).filter((s) => !s.startsWith('^'));
        const k = this.constOfRef(j[1]!) ? 1 : this.constOfRef(j[0]!) ? 0 : -1;
        if (k < 0) continue;
        const c = this.constOfRef(j[k]!)!;
        if (c.data.length !== 1) continue;
        eps = c.data[0]!;
        steps.push(p.op);
        p = this.producer(j[1 - k]!);
      }
      if (p?.op !== 'Sum') continue;
      const sum = p;
      const axes = this.constOfRef(sum.input![1]!);
      const sq = this.producer(sum.input![0]!);
      const base =
        sq?.op === 'Square'
          ? tensorName(sq.input![0]!)
          : sq?.op === 'Mul' && tensorName(sq.input![0]!) === tensorName(sq.input![1]!)
            ? tensorName(sq.input![0]!)
            : null;
      if (!sq || base !== tensorName(xRef)) continue;
      const xv = this.value(base);
      if (xv === null) {
        this.failed.add(n.name);
        return true;
      }
      const where = base.replace(/:0$/, '');
      const axesText = axes ? ` over axes [${Array.from(axes.data).join(', ')}]` : '';
      const added = steps.includes('Add') || steps.includes('AddV2');
      const formula =
        eps === null
          ? 'x / sqrt(sum(x^2))'
          : `x / sqrt(${added ? 'add' : 'max'}(sum(x^2), ${formatFloat(eps)}))`;
      const what = `${label(n)}: an L2 normalization of '${where}'${axesText} (${sq.op}, Sum, ${[...steps].reverse().join(', ')}, ${n.op}: ${formula})`;
      if (added)
        throw new Refusal(
          `${what}; netc's unit_normalization bounds the sum with max, not add; cut before it with --outputs ${where} and normalize the result`,
        );
      if (xv.k !== 'act') return false;
      const x = this.act(n, xv);
      const rank = x.shape.length + 1;
      const keep = new Attrs(sum.attr ?? {}).bool('keep_dims', false);
      const list = axes ? Array.from(axes.data) : [];
      const batch = list.some((a) => a === 0 || a === -rank);
      if (!axes || !list.length || batch || list.some((a) => a < -rank || a >= rank))
        throw new Refusal(
          `${what}; netc normalizes per example over the axes 1 to ${rank - 1}${batch ? ', not the batch' : ''}`,
        );
      if (!keep && list.length < rank - 1)
        throw new Refusal(`${what}; its Sum drops the reduced axes (keep_dims false)`);
      const args = [];
      const perExample = list.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
      if (!(perExample.length === 1 && perExample[0] === rank - 1))
        args.push(
          `axis: ${perExample.length === 1 ? perExample[0] : `[${perExample.join(', ')}]`}`,
        );
      const epsilon = eps ?? 0;
      if (epsilon !== Math.fround(1e-12)) args.push(`epsilon: ${formatFloat(epsilon)}`);
      this.emit(n, 'unit_normalization', [x], x.shape, args);
      return true;
    }
    return false;
  }

  /** SpaceToBatchND -> convolution -> BatchToSpaceND: the convolution dilated. */
  private dilatedPattern(n: NodeJson): boolean {
    const i = (n.input ?? []).filter((s) => !s.startsWith('^'));
    const conv = this.producer(i[0]!);
    if (!conv || !/^(_Fused)?Conv2D$|DepthwiseConv2dNative$/.test(conv.op)) return false;
    const s2b = this.producer((conv.input ?? [])[0]!);
    if (!s2b || s2b.op !== 'SpaceToBatchND') return false;
    const block = this.constOfRef(s2b.input![1]!);
    const pads = this.constOfRef(s2b.input![2]!);
    const block2 = this.constOfRef(i[1]!);
    const crops = this.constOfRef(i[2]!);
    if (!block || !pads || !block2 || !crops || block.data.length !== 2) return false;
    if (block.data.some((d, k) => d !== block2.data[k])) return false;
    if (!this.single(`${conv.name}:0`) || !this.single(`${s2b.name}:0`)) return false;
    const [dh, dw] = [block.data[0]!, block.data[1]!];
    const ca = new Attrs(conv.attr ?? {});
    if (
      ca.str('padding', 'VALID') !== 'VALID' ||
      ca.ints('strides', [1, 1, 1, 1]).some((s) => s !== 1)
    )
      return false;
    const p = Array.from(pads.data);
    const c = Array.from(crops.data);
    const explicit = [p[0]! - c[0]!, p[1]! - c[1]!, p[2]! - c[2]!, p[3]! - c[3]!];
    if (explicit.some((v) => v < 0)) return false;
    const ins = (conv.input ?? [])
      .filter((u) => !u.startsWith('^'))
      .slice(1)
      .map((u) => this.value(tensorName(u)));
    const x = this.value(tensorName(s2b.input![0]!));
    if (x === null || ins.some((v) => v === null)) {
      this.failed.add(n.name);
      return true;
    }
    this.conv(conv, ca, [x, ...(ins as Val[])], {
      dilation: [dh, dw],
      pads: explicit as [number, number, number, number],
      as: n,
    });
    return true;
  }

  // -------------------------------------------------------------------------------- layers

  /** An activation on x: fused into the layer producing x when it may, else a layer. */
  private activation(n: NodeJson, x: Act, fn: string, out: string, xv: Val): void {
    const call = this.callOf.get(x.ref);
    const t = tensorName(n.input![0]!);
    if (call?.affine && call.affine.act === 'linear' && FUSABLE.has(fn) && this.single(t)) {
      call.affine.act = fn;
      this.set(n, xv);
      if (NON_NEGATIVE.has(fn)) this.nonNegative.add(x.ref);
      return;
    }
    if (fn === 'relu' || fn === 'relu6') {
      this.emit(n, 'clip', [x], x.shape, [], {
        clamp: { lo: 0, hi: fn === 'relu' ? Infinity : 6 },
      });
    } else this.emit(n, fn, [x], x.shape);
    if (NON_NEGATIVE.has(fn)) this.nonNegative.add(out);
  }

  private prelu(n: NodeJson, x: Act, alpha: Const, name = n.name): void {
    const C = x.shape[x.shape.length - 1]!;
    const k = alpha.data.length;
    if (k !== 1 && (k !== C || alpha.dims.slice(0, -1).some((d) => d !== 1)))
      throw new Refusal(
        `${label(n)}: a slope of shape [${alpha.dims.join(', ')}]; netc takes one per channel or one`,
      );
    const shape = x.shape.map((d, j) => (j === x.shape.length - 1 && k === C ? d : 1));
    const shared = x.shape.flatMap((d, j) => (shape[j] === 1 ? [j + 1] : []));
    const args = shared.length ? [`shared_axes: [${shared.join(', ')}]`] : [];
    this.emit(
      n,
      'prelu',
      [x],
      x.shape,
      args,
      {
        weights: [{ slot: 'alpha', shape, data: Float32Array.from(alpha.data) }],
      },
      name,
    );
  }

  private strides(n: NodeJson, a: Attrs, name: string): [number, number] {
    const s = a.ints(name, [1, 1, 1, 1]);
    if (s.length !== 4 || s[0] !== 1 || s[3] !== 1)
      throw new Refusal(`${label(n)}: ${name} [${s.join(', ')}] step over the batch or channels`);
    return [s[1]!, s[2]!];
  }

  /** Padding of a conv or pool: 'same', 'valid' or explicit [t, b, l, r]. */
  private padding(n: NodeJson, a: Attrs): 'same' | 'valid' | [number, number, number, number] {
    const p = a.str('padding', 'VALID');
    if (p === 'SAME') return 'same';
    if (p === 'VALID') return 'valid';
    if (p === 'EXPLICIT') {
      const e = a.ints('explicit_paddings', []);
      if (e.length !== 8 || e[0] || e[1] || e[6] || e[7])
        throw new Refusal(
          `${label(n)}: explicit_paddings [${e.join(', ')}] pad the batch or channels`,
        );
      return [e[2]!, e[3]!, e[4]!, e[5]!];
    }
    throw new Refusal(`${label(n)}: padding '${p}'`);
  }

  private conv(
    n: NodeJson,
    a: Attrs,
    ins: Val[],
    dilated?: { dilation: [number, number]; pads: [number, number, number, number]; as: NodeJson },
  ): void {
    const x = this.act(n, ins[0]);
    if (x.shape.length !== 3)
      throw new Refusal(
        `${label(n)}: netc convolves images [H, W, C]; the input is [${x.shape.join(', ')}]`,
      );
    if (a.str('data_format', 'NHWC') !== 'NHWC')
      throw new Refusal(`${label(n)}: data_format ${a.str('data_format', '')}; netc takes NHWC`);
    const [H, W, C] = x.shape as [number, number, number];
    const f = this.cst(n, ins[1], 'the filter (input 1)');
    if (f.dims.length !== 4) throw new Refusal(`${label(n)}: a filter of rank ${f.dims.length}`);
    const [KH, KW, FI, FO] = f.dims as [number, number, number, number];
    const depthwise = n.op.includes('Depthwise');
    const str = this.strides(n, a, 'strides');
    const dil = dilated ? dilated.dilation : this.strides(n, a, 'dilations');
    const pad = dilated ? dilated.pads : this.padding(n, a);
    if (depthwise ? FI !== C : C % FI !== 0)
      throw new Refusal(
        `${label(n)}: filter [${f.dims.join(', ')}] does not fit input channels ${C}`,
      );
    const out = depthwise ? C * FO : FO;
    const keh = (KH - 1) * dil[0] + 1;
    const kew = (KW - 1) * dil[1] + 1;
    const size = (i: number, k: number, s: number, before: number, after: number): number =>
      Math.floor((i + before + after - k) / s) + 1;
    let oh: number;
    let ow: number;
    let padArg = '';
    if (pad === 'same') {
      [oh, ow] = [Math.ceil(H / str[0]), Math.ceil(W / str[1])];
      padArg = 'padding: same';
    } else if (pad === 'valid') {
      [oh, ow] = [size(H, keh, str[0], 0, 0), size(W, kew, str[1], 0, 0)];
    } else {
      const [t, b, l, r] = pad;
      [oh, ow] = [size(H, keh, str[0], t, b), size(W, kew, str[1], l, r)];
      // TensorFlow's same split, written as same.
      const same = (
        i: number,
        k: number,
        s: number,
        o: number,
        p0: number,
        p1: number,
      ): boolean => {
        const total = Math.max((o - 1) * s + k - i, 0);
        return o === Math.ceil(i / s) && p0 === Math.floor(total / 2) && p1 === total - p0;
      };
      if (same(H, keh, str[0], oh, t, b) && same(W, kew, str[1], ow, l, r))
        padArg = 'padding: same';
      else if (t || b || l || r) padArg = `padding: ${padText(t, b, l, r)}`;
    }
    if (oh < 1 || ow < 1) throw new Refusal(`${label(n)}: the output would be empty`);
    // Fused ops: BiasAdd or FusedBatchNorm, then an activation.
    const fused = a.strs('fused_ops').map((s) => s.toLowerCase());
    const numArgs = a.int('num_args', 0);
    const args = ins.slice(2, 2 + numArgs).map((v, k) => this.cst(n, v, `argument ${k}`));
    let bias: Float32Array | null = null;
    let bn: Const[] | null = null;
    let k = 0;
    if (fused[0] === 'biasadd') {
      bias = Float32Array.from(args[k++]!.data);
      if (bias.length !== out)
        throw new Refusal(`${label(n)}: a bias of ${bias.length}, expected ${out}`);
    } else if (fused[0] === 'fusedbatchnorm') {
      bn = args.slice(0, 4);
      k = 4;
    }
    const actOp =
      fused.length > 1
        ? fused[1]!
        : fused[0] && !['biasadd', 'fusedbatchnorm'].includes(fused[0])
          ? fused[0]
          : null;
    const posArgs: string[] = [];
    if (!depthwise) posArgs.push(String(out));
    posArgs.push(pairText(KH, KW));
    if (str[0] !== 1 || str[1] !== 1) posArgs.push(`strides: ${pairText(...str)}`);
    if (padArg) posArgs.push(padArg);
    if (dil[0] !== 1 || dil[1] !== 1) posArgs.push(`dilation_rate: ${pairText(...dil)}`);
    if (depthwise && FO !== 1) posArgs.push(`depth_multiplier: ${FO}`);
    if (!depthwise && FI !== C) posArgs.push(`groups: ${C / FI}`);
    const kernel = Float32Array.from(f.data);
    // The value is the dilated pattern's last node's, the layer keeps the convolution's name.
    const as = dilated?.as ?? n;
    const shape = [oh, ow, out];
    const conv = this.emit(
      as,
      depthwise ? 'depthwise_conv2d' : 'conv2d',
      [x],
      shape,
      posArgs,
      {
        affine: {
          act: 'linear',
          kernel,
          dims: [...f.dims],
          bias,
          channels: out,
          channelOf: (i) => i % out,
        },
      },
      n.name,
    );
    let y = conv;
    if (bn) {
      const [scale, offset, mean, variance] = bn as [Const, Const, Const, Const];
      const eps = a.float('epsilon', 1e-3);
      y = this.emit(
        as,
        'batch_normalization',
        [y],
        shape,
        [`epsilon: ${formatFloat(eps)}`],
        {
          weights: [
            { slot: 'gamma', shape: [out], data: Float32Array.from(scale.data) },
            { slot: 'beta', shape: [out], data: Float32Array.from(offset.data) },
            { slot: 'moving_mean', shape: [out], data: Float32Array.from(mean.data) },
            { slot: 'moving_variance', shape: [out], data: Float32Array.from(variance.data) },
          ],
        },
        `${n.name}#batch_normalization`,
      );
    }
    if (!actOp) return;
    const fn = this.actName(n, actOp);
    if (fn === 'prelu') {
      const alpha = args[k];
      if (!alpha) throw new Refusal(`${label(n)}: Prelu without its slope argument`);
      this.prelu(as, y, alpha, `${n.name}#prelu`);
    } else if (fn === 'leaky_relu') {
      const slope = formatFloat(a.float('leakyrelu_alpha', 0.2));
      this.emit(
        as,
        'leaky_relu',
        [y],
        shape,
        [`negative_slope: ${slope}`],
        {},
        `${n.name}#leaky_relu`,
      );
    } else if (bn) {
      this.emit(as, fn, [y], shape, [], {}, `${n.name}#${fn}`);
    } else {
      this.callOf.get(conv.ref)!.affine!.act = fn;
      if (NON_NEGATIVE.has(fn)) this.nonNegative.add(conv.ref);
    }
  }

  private actName(n: NodeJson, op: string): string {
    const m: Record<string, string> = {
      relu: 'relu',
      relu6: 'relu6',
      elu: 'elu',
      sigmoid: 'sigmoid',
      tanh: 'tanh',
      leakyrelu: 'leaky_relu',
      prelu: 'prelu',
    };
    const fn = m[op];
    if (!fn) throw new Refusal(`${label(n)}: fused op '${op}' is not supported`);
    return fn;
  }

  private convTranspose(n: NodeJson, a: Attrs, ins: Val[]): void {
    const sizes = this.cst(n, ins[0], 'the output size (input 0)');
    const f = this.cst(n, ins[1], 'the filter (input 1)');
    const x = this.act(n, ins[2], 'input 2');
    if (x.shape.length !== 3) throw new Refusal(`${label(n)}: netc takes images [H, W, C]`);
    if (a.str('data_format', 'NHWC') !== 'NHWC')
      throw new Refusal(`${label(n)}: data_format ${a.str('data_format', '')}; netc takes NHWC`);
    const [H, W, C] = x.shape as [number, number, number];
    const [KH, KW, F, FC] = f.dims as [number, number, number, number];
    if (FC !== C)
      throw new Refusal(`${label(n)}: filter [${f.dims.join(', ')}] does not fit ${C} channels`);
    const [oh, ow] = [sizes.data[1]!, sizes.data[2]!];
    const str = this.strides(n, a, 'strides');
    const dil = this.strides(n, a, 'dilations');
    const pad = this.padding(n, a);
    if (typeof pad !== 'string')
      throw new Refusal(
        `${label(n)}: explicit padding; netc's conv2d_transpose takes same or valid`,
      );
    const keh = (KH - 1) * dil[0] + 1;
    const kew = (KW - 1) * dil[1] + 1;
    const reach = (i: number, o: number, s: number, k: number): boolean =>
      pad === 'same'
        ? (i - 1) * s + 1 <= o && o <= i * s
        : (i - 1) * s + k <= o && o <= (i - 1) * s + k + s - 1;
    if (!reach(H, oh, str[0], keh) || !reach(W, ow, str[1], kew))
      throw new Refusal(`${label(n)}: output size ${oh}x${ow} is not reachable from ${H}x${W}`);
    const keras = (i: number, s: number, k: number): number =>
      pad === 'same' ? i * s : i * s + Math.max(k - s, 0);
    const args = [String(F), pairText(KH, KW)];
    if (str[0] !== 1 || str[1] !== 1) args.push(`strides: ${pairText(...str)}`);
    if (pad === 'same') args.push('padding: same');
    if (dil[0] !== 1 || dil[1] !== 1) args.push(`dilation_rate: ${pairText(...dil)}`);
    if (oh !== keras(H, str[0], keh) || ow !== keras(W, str[1], kew))
      args.push(`output_shape: [${oh}, ${ow}]`);
    this.emit(n, 'conv2d_transpose', [x], [oh, ow, F], args, {
      affine: {
        act: 'linear',
        kernel: Float32Array.from(f.data),
        dims: [...f.dims],
        bias: null,
        channels: F,
        channelOf: (i) => Math.floor(i / C) % F,
      },
    });
  }

  private matmul(n: NodeJson, a: Attrs, ins: Val[]): void {
    const x = this.act(n, ins[0]);
    const b = this.cst(n, ins[1], 'the second operand (input 1)');
    if (a.bool('transpose_a', false)) throw new Refusal(`${label(n)}: transpose_a moves the batch`);
    if (x.shape.length !== 1 || b.dims.length !== 2)
      throw new Refusal(
        `${label(n)}: netc multiplies a [N, K] activation by a [K, M] constant (dense)`,
      );
    const tb = a.bool('transpose_b', false);
    const [K, M] = tb ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
    if (K !== x.shape[0])
      throw new Refusal(`${label(n)}: [${b.dims.join(', ')}] does not fit ${x.shape[0]} features`);
    const kernel = new Float32Array(K * M);
    for (let k = 0; k < K; k++)
      for (let j = 0; j < M; j++) kernel[k * M + j] = b.data[tb ? j * K + k : k * M + j]!;
    const fused = a.strs('fused_ops').map((s) => s.toLowerCase());
    let bias: Float32Array | null = null;
    if (fused[0] === 'biasadd') bias = Float32Array.from(this.cst(n, ins[2], 'the bias').data);
    const y = this.emit(n, 'dense', [x], [M], [String(M)], {
      affine: { act: 'linear', kernel, dims: [K, M], bias, channels: M, channelOf: (i) => i % M },
    });
    const act = fused[0] === 'biasadd' ? fused[1] : fused[0];
    if (act) {
      const fn = this.actName(n, act);
      if (!FUSABLE.has(fn)) throw new Refusal(`${label(n)}: fused ${act} after a dense layer`);
      this.callOf.get(y.ref)!.affine!.act = fn;
    }
  }

  private pool(n: NodeJson, a: Attrs, x: Act): void {
    if (x.shape.length !== 3) throw new Refusal(`${label(n)}: netc pools images [H, W, C]`);
    const k = this.strides(n, a, 'ksize');
    const s = this.strides(n, a, 'strides');
    const pad = this.padding(n, a);
    if (typeof pad !== 'string') throw new Refusal(`${label(n)}: explicit padding of a pool`);
    const [H, W, C] = x.shape as [number, number, number];
    const o = (i: number, kk: number, ss: number): number =>
      pad === 'same' ? Math.ceil(i / ss) : Math.floor((i - kk) / ss) + 1;
    const args = [pairText(...k)];
    if (s[0] !== k[0] || s[1] !== k[1]) args.push(`strides: ${pairText(...s)}`);
    if (pad === 'same') args.push('padding: same');
    this.emit(
      n,
      n.op === 'MaxPool' ? 'max_pooling2d' : 'average_pooling2d',
      [x],
      [o(H, k[0], s[0]), o(W, k[1], s[1]), C],
      args,
    );
  }

  private reduce(n: NodeJson, a: Attrs, x: Act, axes: Const): void {
    const r = x.shape.length + 1;
    const ax = [...new Set(Array.from(axes.data).map((d) => (d < 0 ? d + r : d)))].sort();
    if (x.shape.length !== 3 || ax.length !== 2 || ax[0] !== 1 || ax[1] !== 2)
      throw new Refusal(
        `${label(n)}: over axes [${Array.from(axes.data).join(', ')}] of [N, ${x.shape.join(', ')}]; netc reduces the height and width of an image (global pooling)`,
      );
    const keep = a.bool('keep_dims', false);
    const C = x.shape[2]!;
    this.emit(
      n,
      n.op === 'Mean' ? 'global_average_pooling2d' : 'global_max_pooling2d',
      [x],
      keep ? [1, 1, C] : [C],
      keep ? ['keepdims: true'] : [],
    );
  }

  private pad(n: NodeJson, a: Attrs, ins: Val[]): void {
    const x = this.act(n, ins[0]);
    const p = Array.from(this.cst(n, ins[1], 'the paddings (input 1)').data);
    const r = x.shape.length + 1;
    if (p.length !== 2 * r) throw new Refusal(`${label(n)}: paddings do not match the rank ${r}`);
    if (p[0] || p[1]) throw new Refusal(`${label(n)}: pads the batch axis`);
    if (p.some((v) => v < 0)) throw new Refusal(`${label(n)}: negative paddings`);
    let value = 0;
    let mode = 'constant';
    // An infinite constant (ONNX's max-pool padding, -inf) is written as the largest f32: the
    // same maximum wherever a window holds one real value.
    if (n.op === 'PadV2')
      value = Math.max(
        -F32_MAX,
        Math.min(F32_MAX, this.cst(n, ins[2], 'the constant (input 2)').data[0]!),
      );
    if (n.op === 'MirrorPad') mode = a.str('mode', 'REFLECT').toLowerCase();
    if (x.shape.length !== 3)
      throw new Refusal(
        `${label(n)}: netc pads images [H, W, C]; the input is [${x.shape.join(', ')}]`,
      );
    const [H, W, C] = x.shape as [number, number, number];
    const [t, b, l, rr, c0, c1] = p.slice(2) as [number, number, number, number, number, number];
    let y = x;
    const spatial = t || b || l || rr;
    const channels = c0 || c1;
    if (channels && mode !== 'constant')
      throw new Refusal(
        `${label(n)}: pads the channels in ${mode} mode; netc pads them with a constant`,
      );
    if (spatial) {
      const shape = [H + t + b, W + l + rr, C];
      const nm = channels ? `${n.name}#spatial` : n.name;
      if (mode === 'constant' && value === 0)
        y = this.emit(n, 'zero_padding2d', [y], shape, [padText(t, b, l, rr)], {}, nm);
      else
        y = this.emit(
          n,
          'padding2d',
          [y],
          shape,
          [
            padText(t, b, l, rr),
            mode === 'constant' ? `constant_value: ${formatFloat(value)}` : `mode: ${mode}`,
          ],
          {},
          nm,
        );
    }
    if (channels) {
      // Zeros (or a constant) added to the channels (BlazeFace's residual): the image seen as
      // [H*W, C, 1], its "width" padded, then seen as an image again: one copy, no arithmetic.
      const [h, w] = [y.shape[0]!, y.shape[1]!];
      const flat = this.emit(
        n,
        'reshape',
        [y],
        [h * w, C, 1],
        [`[${h * w}, ${C}, 1]`],
        {},
        `${n.name}#as_rows`,
      );
      const padded = this.emit(
        n,
        value === 0 ? 'zero_padding2d' : 'padding2d',
        [flat],
        [h * w, C + c0 + c1, 1],
        [padText(0, 0, c0, c1), ...(value === 0 ? [] : [`constant_value: ${formatFloat(value)}`])],
        {},
        `${n.name}#channels`,
      );
      this.emit(n, 'reshape', [padded], [h, w, C + c0 + c1], [`[${h}, ${w}, ${C + c0 + c1}]`]);
    }
    if (!spatial && !channels) this.set(n, ins[0]!);
  }

  private concat(n: NodeJson, ins: Val[]): void {
    const axisC = this.cst(n, ins[ins.length - 1], 'the axis (last input)');
    const parts = ins.slice(0, -1).map((v, k) => this.act(n, v, `input ${k}`));
    const s0 = parts[0]!.shape;
    const r = s0.length + 1;
    let axis = axisC.data[0]!;
    if (axis < 0) axis += r;
    if (axis <= 0 || axis >= r) throw new Refusal(`${label(n)}: concatenates along the batch`);
    const shape = [...s0];
    for (const p of parts.slice(1)) {
      if (p.shape.length !== s0.length || p.shape.some((d, k) => k !== axis - 1 && d !== s0[k]))
        throw new Refusal(`${label(n)}: input shapes do not agree off axis ${axis}`);
      shape[axis - 1]! += p.shape[axis - 1]!;
    }
    if (parts.length === 1) return this.set(n, ins[0]!);
    this.emit(n, 'concatenate', parts, shape, axis === r - 1 ? [] : [`axis: ${axis}`]);
  }

  /**
   * Elements lo, lo + step, ... below hi of per-example axis `ax` (0-based) of x: cropping2d on
   * an image's rows or columns, or on any axis viewed (a reshape, no copy) as the columns of a
   * [before, size, after] image, then viewed back; a step above 1 is a 1x1 max_pooling2d with
   * that stride (it picks every step-th element). `name` names the last layer.
   */
  private sliceAxis(
    n: NodeJson,
    x: Act,
    ax: number,
    lo: number,
    hi: number,
    step: number,
    name: string,
  ): Act {
    const s = x.shape;
    const d = s[ax]!;
    if (hi <= lo) throw new Refusal(`${label(n)}: an empty slice of axis ${ax + 1}`);
    if (lo === 0 && hi === d && step === 1) return x;
    const count = Math.floor((hi - lo - 1) / step) + 1;
    const shape = [...s];
    shape[ax] = count;
    const image = s.length === 3 && ax < 2;
    const before = product(s.slice(0, ax));
    const after = product(s.slice(ax + 1));
    const view = image ? s : [before, d, after];
    const rows = image && ax === 0;
    const viewed = sameShape(view, s);
    let y = x;
    if (!viewed)
      y = this.emit(n, 'reshape', [y], view, [`[${view.join(', ')}]`], {}, `${name}#as_image`);
    const cropped = [...view];
    cropped[rows ? 0 : 1] = hi - lo;
    const last = (what: string): string => (viewed && what === 'last' ? name : `${name}#${what}`);
    const needPool = step > 1;
    if (lo > 0 || hi < d) {
      const crop = rows ? padText(lo, d - hi, 0, 0) : padText(0, 0, lo, d - hi);
      y = this.emit(n, 'cropping2d', [y], cropped, [crop], {}, last(needPool ? 'crop' : 'last'));
    }
    if (needPool) {
      const pooled = [...view];
      pooled[rows ? 0 : 1] = count;
      const str = rows ? `[${step}, 1]` : `[1, ${step}]`;
      y = this.emit(n, 'max_pooling2d', [y], pooled, ['1', `strides: ${str}`], {}, last('last'));
    }
    if (!viewed) {
      if (shape.length === 1) y = this.emit(n, 'flatten', [y], shape, [], {}, name);
      else y = this.emit(n, 'reshape', [y], shape, [`[${shape.join(', ')}]`], {}, name);
    }
    return y;
  }

  /**
   * StridedSlice of an activation: per axis a range with a positive stride (cropping2d, a 1x1
   * pooling for strides), shrunk axes dropped by a reshape; the batch axis is kept whole.
   * Ellipsis, new axes and negative strides are refused by name.
   */
  private stridedSliceAct(n: NodeJson, a: Attrs, ins: Val[]): void {
    const x = this.act(n, ins[0]);
    const b = Array.from(this.cst(n, ins[1], 'begin (input 1)').data);
    const e = Array.from(this.cst(n, ins[2], 'end (input 2)').data);
    const st = Array.from(this.cst(n, ins[3], 'strides (input 3)').data);
    for (const m of ['ellipsis_mask', 'new_axis_mask'])
      if (a.int(m, 0))
        throw new Refusal(`${label(n)}: ${m} ${a.int(m, 0)}; netc slices activations without it`);
    const bm = a.int('begin_mask', 0);
    const em = a.int('end_mask', 0);
    const sm = a.int('shrink_axis_mask', 0);
    const r = x.shape.length + 1;
    if (b.length > r || e.length !== b.length || st.length !== b.length)
      throw new Refusal(`${label(n)}: begin, end and strides do not fit rank ${r}`);
    const bit = (m: number, k: number): boolean => (m & (1 << k)) !== 0;
    // The batch: whole (begin 0, end past it), or the one example of a batch-1 model.
    if (b.length) {
      const whole =
        (bit(bm, 0) || b[0] === 0) &&
        st[0] === 1 &&
        !bit(sm, 0) &&
        (bit(em, 0) || e[0]! >= BATCH || e[0]! >= 2 ** 31 - 1 || (this.fixedBatch && e[0] === 1));
      if (!whole)
        throw new Refusal(
          `${label(n)}: begin ${b[0]}, end ${e[0]}, strides ${st[0]}${bit(sm, 0) ? ', shrink_axis_mask' : ''} on the batch axis; netc keeps the batch whole`,
        );
    }
    let y = x;
    const cuts: { ax: number; lo: number; hi: number; step: number }[] = [];
    const shrunk: number[] = [];
    for (let k = 1; k < b.length; k++) {
      const dim = x.shape[k - 1]!;
      const step = st[k]!;
      const norm = (v: number): number => (v < 0 ? v + dim : v);
      if (bit(sm, k)) {
        const i = norm(b[k]!);
        if (i < 0 || i >= dim)
          throw new Refusal(`${label(n)}: index ${b[k]} is outside axis ${k} (size ${dim})`);
        cuts.push({ ax: k - 1, lo: i, hi: i + 1, step: 1 });
        shrunk.push(k - 1);
        continue;
      }
      if (step <= 0)
        throw new Refusal(
          `${label(n)}: strides [${st.join(', ')}]; netc slices activations with positive strides`,
        );
      const lo = bit(bm, k) ? 0 : Math.max(0, Math.min(norm(b[k]!), dim));
      const hi = bit(em, k) ? dim : Math.max(0, Math.min(norm(e[k]!), dim));
      cuts.push({ ax: k - 1, lo, hi, step });
    }
    const todo = cuts.filter((c) => c.lo !== 0 || c.hi !== x.shape[c.ax] || c.step !== 1);
    todo.forEach((c, i) => {
      const name = i === todo.length - 1 && !shrunk.length ? n.name : `${n.name}#slice${i}`;
      y = this.sliceAxis(n, y, c.ax, c.lo, c.hi, c.step, name);
    });
    if (shrunk.length) {
      let shape = y.shape.filter((_, k) => !shrunk.includes(k));
      // One value per example: kept as [1] (it broadcasts as the scalar does).
      if (shape.length === 0) shape = [1];
      if (!sameShape(shape, y.shape)) return this.reshape(n, y, shape);
    }
    this.set(n, { k: 'act', a: y });
  }

  /** SplitV and Split of an activation: each output a slice of the axis. */
  private split(n: NodeJson, a: Attrs, ins: Val[]): void {
    const v = n.op === 'Split' ? ins[1] : ins[0];
    const x = this.act(n, v, n.op === 'Split' ? 'input 1' : 'input 0');
    const axisC = this.cst(n, n.op === 'Split' ? ins[0] : ins[2], 'the axis');
    const r = x.shape.length + 1;
    let axis = axisC.data[0]!;
    if (axis < 0) axis += r;
    if (axis <= 0 || axis >= r) throw new Refusal(`${label(n)}: splits the batch axis`);
    const d = x.shape[axis - 1]!;
    const parts = a.int('num_split', 1);
    let sizes: number[];
    if (n.op === 'Split') {
      if (d % parts) throw new Refusal(`${label(n)}: ${d} does not split into ${parts} parts`);
      sizes = Array.from({ length: parts }, () => d / parts);
    } else {
      sizes = Array.from(this.cst(n, ins[1], 'the sizes (input 1)').data);
      const unknown = sizes.filter((s) => s === -1).length;
      const known = sizes.filter((s) => s !== -1).reduce((s, t) => s + t, 0);
      if (unknown === 1) sizes = sizes.map((s) => (s === -1 ? d - known : s));
      if (unknown > 1 || sizes.some((s) => s < 0))
        throw new Refusal(`${label(n)}: size_splits [${sizes.join(', ')}]`);
    }
    if (sizes.reduce((s, t) => s + t, 0) !== d)
      throw new Refusal(`${label(n)}: split sizes [${sizes.join(', ')}] do not cover ${d}`);
    let start = 0;
    const outs = sizes.map((size, k) => {
      const t = `${n.name}:${k}`;
      const used = (this.consumers.get(t) ?? 0) > 0 || this.outputRefs.has(t);
      const part =
        used && size > 0
          ? this.sliceAxis(n, x, axis - 1, start, start + size, 1, k ? `${n.name}#${k}` : n.name)
          : null;
      start += size;
      return part;
    });
    outs.forEach((p, k) => {
      if (p) this.values.set(`${n.name}:${k}`, { k: 'act', a: p });
    });
  }

  /** A Reshape target (with the batch) as a per-example shape. */
  private perExample(n: NodeJson, x: Act, target: number[]): number[] {
    const size = product(x.shape);
    const lead = target[0]!;
    const rest = target.slice(1);
    const batchLead = lead === BATCH || lead === -1 || (lead === 1 && this.fixedBatch);
    if (!batchLead || rest.includes(BATCH))
      throw new Refusal(
        `${label(n)}: shape [${target.map((d) => (d === BATCH ? 'batch' : d)).join(', ')}] does not keep the batch first`,
      );
    const unknown = rest.filter((d) => d === -1).length;
    const known = product(rest.filter((d) => d !== -1));
    if (lead === -1 && unknown === 0 && known !== size)
      throw new Refusal(
        `${label(n)}: shape [${target.join(', ')}] moves elements between examples`,
      );
    if (unknown > 1 || (unknown === 1 && size % known))
      throw new Refusal(`${label(n)}: shape [${target.join(', ')}]`);
    const per = rest.map((d) => (d === -1 ? size / known : d));
    if (product(per) !== size)
      throw new Refusal(
        `${label(n)}: shape [${target.join(', ')}] does not hold [${x.shape.join(', ')}]`,
      );
    return per;
  }

  private reshape(n: NodeJson, x: Act, shape: number[]): void {
    if (shape.length === x.shape.length && shape.every((d, k) => d === x.shape[k]))
      return this.set(n, { k: 'act', a: x });
    if (shape.length < 1 || shape.length > 5)
      throw new Refusal(
        `${label(n)}: per-example rank ${shape.length}; netc reshapes to ranks 1 to 5`,
      );
    if (shape.length === 1) this.emit(n, 'flatten', [x], shape);
    else this.emit(n, 'reshape', [x], shape, [`[${shape.join(', ')}]`]);
  }

  private resize(n: NodeJson, a: Attrs, x: Act, size: Const): void {
    if (x.shape.length !== 3) throw new Refusal(`${label(n)}: netc resizes images [H, W, C]`);
    const [oh, ow] = [size.data[0]!, size.data[1]!];
    const ac = a.bool('align_corners', false);
    const hp = a.bool('half_pixel_centers', false);
    if (ac && hp) throw new Refusal(`${label(n)}: align_corners and half_pixel_centers together`);
    const args = [String(oh), String(ow)];
    if (n.op === 'ResizeNearestNeighbor') args.push('nearest');
    if (ac) args.push('coordinates: align_corners');
    else if (!hp) args.push('coordinates: asymmetric');
    this.emit(n, 'resizing', [x], [oh, ow, x.shape[2]!], args);
  }

  /** Add, Sub, Mul, RealDiv, Maximum, Minimum, AddN, BiasAdd of activations and constants. */
  private binary(n: NodeJson, ins: Val[]): void {
    const op = n.op;
    const consts = ins.filter((v) => v.k === 'const');
    if (consts.length === 0) {
      const xs = ins.map((v, k) => this.act(n, v, `input ${k}`));
      const fn: Record<string, string> = {
        Add: 'add',
        AddV2: 'add',
        AddN: 'add',
        BiasAdd: 'add',
        Sub: 'subtract',
        Mul: 'multiply',
        RealDiv: 'divide',
        Maximum: 'maximum',
        Minimum: 'minimum',
      };
      if (!fn[op]) throw new Refusal(`${label(n)}: netc has no layer for ${op} of two activations`);
      if (xs.length === 1) return this.set(n, ins[0]!);
      // Per-example shapes broadcast as NumPy's, aligned from the last axis. TensorFlow aligns
      // the batch axes too: operands of different ranks agree with it only at batch 1, where
      // the extra leading axes of the longer one are 1 (SSR-Net's ExpandDims before a RealDiv).
      const rank = Math.max(...xs.map((x) => x.shape.length));
      const shape = new Array<number>(rank).fill(1);
      const shapes = `[${xs.map((x) => x.shape.join(', ')).join('] and [')}]`;
      for (const s of xs.map((x) => x.shape)) {
        const lead = rank - s.length;
        const longer = xs.filter((x) => x.shape.length > s.length);
        if (longer.some((x) => x.shape.slice(0, x.shape.length - s.length).some((d) => d !== 1)))
          throw new Refusal(
            `${label(n)}: operands of different ranks ${shapes}; TensorFlow would broadcast the batch axis of the shorter one against an axis of the longer`,
          );
        s.forEach((d, j) => {
          const k = lead + j;
          if (d !== shape[k] && d !== 1 && shape[k] !== 1)
            throw new Refusal(`${label(n)}: shapes ${shapes} do not broadcast`);
          shape[k] = Math.max(d, shape[k]!);
        });
      }
      this.emit(n, fn[op]!, xs, shape);
      return;
    }
    if (ins.length !== 2) throw new Refusal(`${label(n)}: ${op} of constants and activations`);
    const k = ins[0]!.k === 'act' ? 0 : 1;
    const x = this.act(n, ins[k]);
    const c = (ins[1 - k] as { c: Const }).c;
    const C = x.shape[x.shape.length - 1]!;
    const dims = [...c.dims];
    while (dims.length && dims[0] === 1 && dims.length > 1) dims.shift();
    const perChannel =
      c.data.length === 1 ||
      (dims.length === 1 && dims[0] === C && c.dims.length <= x.shape.length + 1);
    if (!perChannel)
      throw new Refusal(
        `${label(n)}: a constant of shape [${c.dims.join(', ')}] on [N, ${x.shape.join(', ')}]; netc takes a number or one per channel`,
      );
    const v = Array.from(c.data);
    if (op === 'Maximum' || op === 'Minimum') {
      if (v.length !== 1) throw new Refusal(`${label(n)}: ${op} with a constant per channel`);
      const t = tensorName(n.input!.filter((u) => !u.startsWith('^'))[k]!);
      const lo = op === 'Maximum' ? v[0]! : -Infinity;
      return this.clamp(n, x, lo, op === 'Minimum' ? v[0]! : Infinity, ins[k]!, t);
    }
    let scale: number[];
    let offset: number[];
    switch (op) {
      case 'Add':
      case 'AddV2':
      case 'BiasAdd':
        [scale, offset] = [[1], v];
        break;
      case 'Sub':
        [scale, offset] = k === 0 ? [[1], v.map((u) => -u)] : [[-1], v];
        break;
      case 'Mul':
        [scale, offset] = [v, [0]];
        break;
      case 'RealDiv':
        if (k !== 0) throw new Refusal(`${label(n)}: a constant divided by an activation`);
        [scale, offset] = [v.map((u) => 1 / u), [0]];
        break;
      default:
        throw new Refusal(`${label(n)}: ${op} with a constant has no netc layer`);
    }
    this.affine(n, x, scale, offset, tensorName(n.input!.filter((s) => !s.startsWith('^'))[k]!));
  }

  /** x * scale + offset: folded into the conv or rescaling producing x when it is its only use. */
  private affine(n: NodeJson, x: Act, scale: number[], offset: number[], t: string): void {
    const call = this.callOf.get(x.ref);
    const at = (v: number[], c: number): number => (v.length === 1 ? v[0]! : v[c]!);
    if (call && this.single(t)) {
      const af = call.affine;
      if (af && af.act === 'linear' && (call.fn !== 'conv2d_transpose' || true)) {
        for (let i = 0; i < af.kernel.length; i++)
          af.kernel[i] = af.kernel[i]! * at(scale, af.channelOf(i));
        const bias = af.bias ?? new Float32Array(af.channels);
        for (let c = 0; c < af.channels; c++) bias[c] = bias[c]! * at(scale, c) + at(offset, c);
        af.bias = bias;
        this.set(n, { k: 'act', a: x });
        return;
      }
      if (call.rescale) {
        const r = call.rescale;
        const n2 = Math.max(r.scale.length, r.offset.length, scale.length, offset.length);
        const idx = Array.from({ length: n2 }, (_, c) => c);
        call.rescale = {
          scale: idx.map((c) => at(r.scale, c) * at(scale, c)),
          offset: idx.map((c) => at(r.offset, c) * at(scale, c) + at(offset, c)),
        };
        this.set(n, { k: 'act', a: x });
        return;
      }
    }
    this.emit(n, 'rescaling', [x], x.shape, [], { rescale: { scale, offset } });
  }

  private clamp(n: NodeJson, x: Act, lo: number, hi: number, xv: Val, t: string): void {
    const call = this.callOf.get(x.ref);
    if (lo <= 0 && hi === Infinity && this.nonNegative.has(x.ref)) return this.set(n, xv);
    if (call && this.single(t)) {
      const af = call.affine;
      if (af && af.act === 'relu' && hi === 6 && lo <= 0) {
        af.act = 'relu6';
        return this.set(n, xv);
      }
      if (af && af.act === 'relu6' && lo <= 0 && hi >= 6) return this.set(n, xv);
      if (af && af.act === 'linear' && lo === 0 && hi === Infinity) {
        af.act = 'relu';
        this.nonNegative.add(x.ref);
        return this.set(n, xv);
      }
      if (call.clamp) {
        call.clamp = { lo: Math.max(call.clamp.lo, lo), hi: Math.min(call.clamp.hi, hi) };
        return this.set(n, xv);
      }
    }
    this.emit(n, 'clip', [x], x.shape, [], { clamp: { lo, hi } });
    if (lo >= 0) this.nonNegative.add(`${n.name}:0`);
  }

  // ------------------------------------------------------------------------------ rendering

  /** Layer names as written: netc names have no '/'. */
  private readonly display = new Map<Call, string>();

  /**
   * Each layer is named after its source node: the Keras layer name where the node's path has
   * one (`StatefulPartitionedCall/model/block_1_expand/Conv2D` -> `block_1_expand`), else the
   * path without the wrapper scopes, joined with '_'; a layer netc adds gets a suffix.
   */
  private nameLayers(): void {
    const used = new Set<string>(this.usedIds);
    const wrapper =
      /^(StatefulPartitionedCall|PartitionedCall|functional|model|sequential)(_\d+)?$/;
    for (const c of this.calls) {
      const [raw, suffix] = c.name.split('#') as [string, string | undefined];
      const parts = raw.split('/').filter((p) => p !== '');
      while (parts.length > 1 && wrapper.test(parts[0]!)) parts.shift();
      const clean = (t: string): string => t.replace(/[^A-Za-z0-9_.-]+/g, '_') || 'layer';
      const tail = suffix ? `_${suffix}` : '';
      let name = clean(parts[0]!) + tail;
      if (used.has(name)) name = clean(parts.join('_')) + tail;
      const base = name;
      for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
      used.add(name);
      this.display.set(c, name);
    }
  }

  /** The call's attributes as written, after its folds. */
  private argsOf(c: Call): { fn: string; args: string[] } {
    const args = [...c.args];
    let fn = c.fn;
    if (c.affine) {
      if (!c.affine.bias) args.push('use_bias: false');
      if (c.affine.act !== 'linear') args.push(`activation: ${c.affine.act}`);
    }
    if (c.rescale) {
      args.unshift(listText(c.rescale.scale));
      if (c.rescale.offset.some((v) => v !== 0)) args.push(`offset: ${listText(c.rescale.offset)}`);
    }
    if (c.clamp) {
      const { lo, hi } = c.clamp;
      if (lo === 0 && hi === Infinity) fn = 'relu';
      else if (lo === 0 && hi === 6) fn = 'relu6';
      else if (lo === 0) [fn, args[0]] = ['relu', `max_value: ${formatFloat(hi)}`];
      else {
        const bound = (v: number): string => formatFloat(Math.max(-F32_MAX, Math.min(F32_MAX, v)));
        args.unshift(bound(lo), bound(hi));
      }
    }
    args.push(`name: ${quote(this.display.get(c)!)}`);
    return { fn, args };
  }

  private finishWeights(c: Call): void {
    if (!c.affine) return;
    const slot = c.fn === 'depthwise_conv2d' ? 'depthwise_kernel' : 'kernel';
    c.weights = [
      { slot, shape: c.affine.dims, data: c.affine.kernel },
      ...(c.affine.bias ? [{ slot: 'bias', shape: [c.affine.channels], data: c.affine.bias }] : []),
    ];
  }

  private render(results: { id: string; ref: string }[]): string {
    const uses = new Map<string, number>();
    for (const c of this.calls) for (const v of c.inputs) uses.set(v, (uses.get(v) ?? 0) + 1);
    const isOutput = new Set(results.map((o) => o.ref));
    const refs = new Map<string, string>(this.refNames);
    const lines: string[] = [];
    const outputsDone = new Set<string>();
    const close = (text: string, value: string): void => {
      const o = results.find((r) => r.ref === value && !outputsDone.has(r.id));
      if (
        o &&
        uses.get(value) === undefined &&
        results.filter((r) => r.ref === value).length === 1
      ) {
        lines.push(`  output ${o.id} = ${text}${this.keyOption(o.id)}`);
        outputsDone.add(o.id);
        refs.set(value, o.id);
      } else {
        const id = this.unique('x');
        lines.push(`  ${id} = ${text}`);
        refs.set(value, id);
      }
    };
    const step = (c: Call): ChainStep => {
      const { fn, args } = this.argsOf(c);
      return {
        inputs: c.inputs,
        output: c.output,
        text: `${fn}(${args.join(', ')})`,
        merged: (names) => `${fn}(${[...names, ...args].join(', ')})`,
        note: '',
      };
    };
    writeChains(this.calls, step, uses, isOutput, refs, close);
    for (const o of results)
      if (!outputsDone.has(o.id))
        lines.push(`  output ${o.id} = ${boundName(refs, o.ref)}${this.keyOption(o.id)}`);
    const name = identifier(this.opts.name ?? 'imported', 'imported');
    const head = [
      '# Imported from a TensorFlow.js graph-model by netc import: NHWC in and out, as the original.',
    ];
    return `${head.join('\n')}\nnetwork ${name} {\n${this.inputDecls.join('\n')}\n${lines.join('\n')}\n}\n`;
  }
}

/** Elementwise op of two constants, NumPy broadcasting. */
function broadcast(a: Const, b: Const, f: (x: number, y: number) => number): Const {
  const r = Math.max(a.dims.length, b.dims.length);
  const da = [...Array(r - a.dims.length).fill(1), ...a.dims] as number[];
  const db = [...Array(r - b.dims.length).fill(1), ...b.dims] as number[];
  const dims = da.map((d, k) => Math.max(d, db[k]!));
  const total = product(dims);
  const data = new Float64Array(total);
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < total; o++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < r; k++) {
      ia = ia * da[k]! + (da[k] === 1 ? 0 : idx[k]!);
      ib = ib * db[k]! + (db[k] === 1 ? 0 : idx[k]!);
    }
    data[o] = f(a.data[ia]!, b.data[ib]!);
    for (let k = r - 1; k >= 0; k--) {
      if (++idx[k]! < dims[k]!) break;
      idx[k] = 0;
    }
  }
  return { dims, data, dtype: a.dtype === 'int32' && b.dtype === 'int32' ? 'int32' : 'float32' };
}

/** StridedSlice of a constant (begin/end/shrink masks; no ellipsis or new axes). */
function stridedSlice(n: NodeJson, a: Attrs, c: Const, b: Const, e: Const, s: Const): Const | null {
  if (a.int('ellipsis_mask', 0) || a.int('new_axis_mask', 0)) return null;
  const bm = a.int('begin_mask', 0);
  const em = a.int('end_mask', 0);
  const sm = a.int('shrink_axis_mask', 0);
  const r = c.dims.length;
  const ranges: number[][] = [];
  const outDims: number[] = [];
  for (let k = 0; k < r; k++) {
    const dim = c.dims[k]!;
    if (k >= b.data.length) {
      ranges.push(Array.from({ length: dim }, (_, i) => i));
      outDims.push(dim);
      continue;
    }
    const st = s.data[k]!;
    const norm = (v: number): number => (v < 0 ? v + dim : v);
    if (sm & (1 << k)) {
      ranges.push([norm(b.data[k]!)]);
      continue;
    }
    let lo = bm & (1 << k) ? (st > 0 ? 0 : dim - 1) : norm(b.data[k]!);
    let hi = em & (1 << k) ? (st > 0 ? dim : -1) : norm(e.data[k]!);
    lo = st > 0 ? Math.max(0, Math.min(lo, dim)) : Math.max(-1, Math.min(lo, dim - 1));
    hi = st > 0 ? Math.max(0, Math.min(hi, dim)) : Math.max(-1, Math.min(hi, dim - 1));
    const list: number[] = [];
    for (let i = lo; st > 0 ? i < hi : i > hi; i += st) list.push(i);
    ranges.push(list);
    outDims.push(list.length);
  }
  void n;
  const stride = c.dims.map((_, k) => product(c.dims.slice(k + 1)));
  const out: number[] = [];
  const rec = (k: number, off: number): void => {
    if (k === r) {
      out.push(c.data[off]!);
      return;
    }
    for (const i of ranges[k]!) rec(k + 1, off + i * stride[k]!);
  };
  rec(0, 0);
  return { dims: outDims, data: Float64Array.from(out), dtype: c.dtype };
}

/** SparseToDense of constants: the default value everywhere but at the listed indices. */
function sparseToDense(cs: Const[]): Const | null {
  const [idx, shape, values, dflt] = cs as [Const, Const, Const, Const | undefined];
  if (!dflt || dflt.data.length !== 1) return null;
  const dims = Array.from(shape.data);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0) || product(dims) > 1 << 24) return null;
  const data = new Float64Array(product(dims)).fill(dflt.data[0]!);
  const r = dims.length;
  const rows = idx.dims.length === 0 ? 1 : idx.dims[0]!;
  for (let i = 0; i < rows; i++) {
    let off = 0;
    for (let k = 0; k < r; k++) {
      const v = idx.data[r > 1 || idx.dims.length > 1 ? i * r + k : i]!;
      if (!(v >= 0 && v < dims[k]!)) return null;
      off = off * dims[k]! + v;
    }
    data[off] = values.data.length === 1 ? values.data[0]! : values.data[i]!;
  }
  return { dims, data, dtype: values.dtype };
}
