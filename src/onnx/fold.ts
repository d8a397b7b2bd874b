// Constant folding for the ONNX importer: the shape arithmetic exporters emit (Shape, Gather,
// Slice, Concat, Cast, Unsqueeze, arithmetic, ConstantOfShape, Range, ...) evaluated on the
// model's fixed input size, so it reaches netc as numbers, never as layers.
import { DataType, getAttribute, type NodeProto } from './model.js';

/** A constant tensor. `int` marks integer and bool data (integer division, truncating casts).
 * An unknown batch size is NaN: arithmetic keeps it unknown, and a fold that would have to
 * decide on it (a comparison, a size) is not made. */
export interface Const {
  readonly dims: number[];
  readonly data: ArrayLike<number>;
  readonly int?: boolean | undefined;
}

/** A fold that cannot be made: the message says why (the importer names the node). */
export class FoldError extends Error {}

const INT_TYPES: ReadonlySet<number> = new Set([
  DataType.UINT8,
  DataType.INT8,
  DataType.UINT16,
  DataType.INT16,
  DataType.INT32,
  DataType.INT64,
  DataType.BOOL,
  DataType.UINT32,
  DataType.UINT64,
]);

export const isIntType = (t: number): boolean => INT_TYPES.has(t);

const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
const stridesOf = (d: readonly number[]): number[] => d.map((_, k) => product(d.slice(k + 1)));

/** What a fold may read: constants, and the full shape ([batch, ...]) of computed values. */
export interface FoldContext {
  constant(name: string): Const | undefined;
  /** The full shape of a value computed from the inputs (batch NaN when unknown). */
  shape(name: string): number[] | undefined;
  readonly opset: number;
}

/** ONNX operators a fold evaluates. */
export const FOLDABLE: ReadonlySet<string> = new Set([
  'Shape',
  'Size',
  'Gather',
  'Slice',
  'Concat',
  'Cast',
  'Unsqueeze',
  'Squeeze',
  'Reshape',
  'Flatten',
  'Expand',
  'ConstantOfShape',
  'Range',
  'Identity',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Mod',
  'Max',
  'Min',
  'Sum',
  'Floor',
  'Ceil',
  'Round',
  'Sqrt',
  'Neg',
  'Abs',
  'Reciprocal',
  'Exp',
  'Log',
  'Sigmoid',
  'Relu',
  'Tanh',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Where',
  'ReduceProd',
  'ReduceSum',
  'ReduceMin',
  'ReduceMax',
  'ReduceMean',
  'Transpose',
  'ScatterND',
]);

function ints(n: NodeProto, name: string): number[] | undefined {
  const a = getAttribute(n, name);
  return a && a.type === 'ints' ? a.value : undefined;
}

function int(n: NodeProto, name: string, dflt: number): number {
  const a = getAttribute(n, name);
  return a && a.type === 'int' ? a.value : dflt;
}

const normAxis = (a: number, rank: number): number => (a < 0 ? a + rank : a);

/** NumPy broadcasting of shapes. */
function broadcastShape(shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes)
    s.forEach((d, k) => {
      const j = rank - s.length + k;
      if (d !== 1 && out[j] !== 1 && out[j] !== d)
        throw new FoldError(
          `shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(' and ')} do not broadcast`,
        );
      if (d !== 1) out[j] = d;
    });
  return out;
}

/** Element of `c` read at output index `idx` of a broadcast to `out`. */
function broadcastRead(c: Const, out: readonly number[]): (flat: number) => number {
  const rank = out.length;
  const off = rank - c.dims.length;
  const cs = stridesOf(c.dims);
  const os = stridesOf(out);
  return (flat) => {
    let src = 0;
    let r = flat;
    for (let k = 0; k < rank; k++) {
      const i = Math.floor(r / os[k]!);
      r -= i * os[k]!;
      if (k >= off && c.dims[k - off] !== 1) src += i * cs[k - off]!;
    }
    return c.data[src]!;
  };
}

function elementwise(cs: readonly Const[], f: (...v: number[]) => number, int: boolean): Const {
  const dims = broadcastShape(cs.map((c) => c.dims));
  const reads = cs.map((c) => broadcastRead(c, dims));
  const data = Array.from({ length: product(dims) }, (_, o) => f(...reads.map((r) => r(o))));
  return { dims, data, int };
}

const hasNaN = (c: Const): boolean => Array.from(c.data).some((v) => Number.isNaN(v));

function cast(v: number, to: number): number {
  if (Number.isNaN(v)) return v;
  if (to === DataType.BOOL) return v !== 0 ? 1 : 0;
  if (isIntType(to)) return Math.trunc(v);
  if (to === DataType.FLOAT) return Math.fround(v);
  return v;
}

/** Values of a 1-D integer input (starts, axes, ...), or undefined when absent. */
function list(ctx: FoldContext, n: NodeProto, k: number): number[] | undefined {
  const v = n.inputs[k];
  if (v === undefined || v === '') return undefined;
  const c = ctx.constant(v);
  if (!c) throw new FoldError(`input ${k} is not a constant`);
  return Array.from(c.data);
}

function reshapeTo(c: Const, target: readonly number[], allowZero: boolean): Const {
  const dims = target.map((d, k) => (d === 0 && !allowZero ? c.dims[k]! : d));
  const known = product(dims.filter((d) => d !== -1));
  const total = product(c.dims);
  return { ...c, dims: dims.map((d) => (d === -1 ? total / known : d)) };
}

function gather(c: Const, idx: Const, axis: number): Const {
  const a = normAxis(axis, c.dims.length);
  const outer = product(c.dims.slice(0, a));
  const size = c.dims[a]!;
  const inner = product(c.dims.slice(a + 1));
  const ids = Array.from(idx.data, (v) => (v < 0 ? v + size : v));
  if (ids.some((v) => !(v >= 0 && v < size))) throw new FoldError('an index is out of range');
  const data: number[] = [];
  for (let o = 0; o < outer; o++)
    for (const i of ids)
      for (let j = 0; j < inner; j++) data.push(c.data[(o * size + i) * inner + j]!);
  return { dims: [...c.dims.slice(0, a), ...idx.dims, ...c.dims.slice(a + 1)], data, int: c.int };
}

function slice(c: Const, starts: number[], ends: number[], axes: number[], steps: number[]): Const {
  const rank = c.dims.length;
  const lo = c.dims.map(() => 0);
  const st = c.dims.map(() => 1);
  const count = [...c.dims];
  axes.forEach((ax, j) => {
    const a = normAxis(ax, rank);
    const d = c.dims[a]!;
    const step = steps[j] ?? 1;
    if (step === 0) throw new FoldError('a step of 0');
    const clampS = (v: number, lo0: number, hi0: number): number => Math.min(Math.max(v, lo0), hi0);
    let s = starts[j]!;
    let e = ends[j]!;
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (step > 0) {
      s = clampS(s, 0, d);
      e = clampS(e, 0, d);
      count[a] = Math.max(0, Math.ceil((e - s) / step));
    } else {
      s = clampS(s, 0, d - 1);
      e = clampS(e, -1, d - 1);
      count[a] = Math.max(0, Math.ceil((e - s) / step));
    }
    lo[a] = s;
    st[a] = step;
  });
  const strides = stridesOf(c.dims);
  const total = product(count);
  const data: number[] = [];
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < total; o++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += (lo[k]! + idx[k]! * st[k]!) * strides[k]!;
    data.push(c.data[src]!);
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < count[k]!) break;
      idx[k] = 0;
    }
  }
  return { dims: count, data, int: c.int };
}

/** A constant with its axes permuted (out axis k is `c`'s axis `perm[k]`); other fields kept. */
export function transposeConst<
  C extends { readonly dims: number[]; readonly data: ArrayLike<number> },
>(c: C, perm: readonly number[]): C & { data: Float64Array } {
  const d = c.dims;
  const dims = perm.map((p) => d[p]!);
  const stride = stridesOf(d);
  const total = product(d);
  const data = new Float64Array(total);
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < total; o++) {
    let src = 0;
    for (let k = 0; k < dims.length; k++) src += idx[k]! * stride[perm[k]!]!;
    data[o] = c.data[src]!;
    for (let k = dims.length - 1; k >= 0; k--) {
      if (++idx[k]! < dims[k]!) break;
      idx[k] = 0;
    }
  }
  return { ...c, dims, data };
}

function reduce(c: Const, axes: number[] | undefined, keep: boolean, op: string): Const {
  const rank = c.dims.length;
  const red = axes && axes.length ? axes.map((a) => normAxis(a, rank)) : c.dims.map((_, k) => k);
  const outDims = c.dims.map((d, k) => (red.includes(k) ? 1 : d));
  const os = stridesOf(outDims);
  const strides = stridesOf(c.dims);
  const init =
    op === 'ReduceProd' ? 1 : op === 'ReduceMin' ? Infinity : op === 'ReduceMax' ? -Infinity : 0;
  const acc = new Array<number>(product(outDims)).fill(init);
  for (let i = 0; i < product(c.dims); i++) {
    let o = 0;
    let r = i;
    for (let k = 0; k < rank; k++) {
      const q = Math.floor(r / strides[k]!);
      r -= q * strides[k]!;
      if (!red.includes(k)) o += q * os[k]!;
    }
    const v = c.data[i]!;
    acc[o] =
      op === 'ReduceProd'
        ? acc[o]! * v
        : op === 'ReduceMin'
          ? Math.min(acc[o]!, v)
          : op === 'ReduceMax'
            ? Math.max(acc[o]!, v)
            : acc[o]! + v;
  }
  const count = product(red.map((k) => c.dims[k]!));
  const data = op === 'ReduceMean' ? acc.map((v) => v / count) : acc;
  return { dims: keep ? outDims : c.dims.filter((_, k) => !red.includes(k)), data, int: c.int };
}

const UNARY: Readonly<Record<string, (v: number) => number>> = {
  Floor: Math.floor,
  Ceil: Math.ceil,
  // Round half to even, as ONNX.
  Round: (v) => {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  },
  Sqrt: Math.sqrt,
  Neg: (v) => -v,
  Abs: Math.abs,
  Reciprocal: (v) => 1 / v,
  Exp: Math.exp,
  Log: Math.log,
  Sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  Relu: (v) => Math.max(v, 0),
  Tanh: Math.tanh,
  Not: (v) => (v ? 0 : 1),
};

const COMPARE: Readonly<Record<string, (a: number, b: number) => number>> = {
  Equal: (a, b) => +(a === b),
  Less: (a, b) => +(a < b),
  Greater: (a, b) => +(a > b),
  LessOrEqual: (a, b) => +(a <= b),
  GreaterOrEqual: (a, b) => +(a >= b),
  And: (a, b) => +(a !== 0 && b !== 0),
  Or: (a, b) => +(a !== 0 || b !== 0),
};

/**
 * The outputs of node `n` when it can be evaluated now (every input a constant, or the shape
 * of a computed value for Shape and Size); null when it cannot. A float result is rounded to
 * f32, as the model would compute it.
 */
export function foldNode(n: NodeProto, ctx: FoldContext): Const[] | null {
  const op = n.opType;
  if (!FOLDABLE.has(op) || (n.domain !== '' && n.domain !== 'ai.onnx')) return null;
  if (op === 'Shape' || op === 'Size') {
    const x = n.inputs[0]!;
    const s = ctx.constant(x)?.dims ?? ctx.shape(x);
    if (!s) return null;
    if (op === 'Size') return [{ dims: [], data: [product(s)], int: true }];
    const rank = s.length;
    const start = normAxis(int(n, 'start', 0), rank);
    const a = getAttribute(n, 'end');
    const end = a && a.type === 'int' ? normAxis(a.value, rank) : rank;
    const part = s.slice(Math.max(0, start), Math.min(rank, end));
    return [{ dims: [part.length], data: part, int: true }];
  }
  const ins = n.inputs.map((v) => (v === '' ? undefined : ctx.constant(v)));
  if (n.inputs.some((v, k) => v !== '' && !ins[k])) return null;
  const cs = ins.filter((c): c is Const => c !== undefined);
  const x = cs[0];
  if (op !== 'ConstantOfShape' && op !== 'Range' && !x) return null;
  const allInt = cs.every((c) => c.int === true);
  const f32 = (c: Const): Const => (c.int ? c : { ...c, data: Array.from(c.data, Math.fround) });
  const unknownDecides = (): void => {
    if (cs.some(hasNaN))
      throw new FoldError('the value depends on the batch size, which the model leaves open');
  };
  switch (op) {
    case 'Identity':
      return [x!];
    case 'Cast': {
      const to = int(n, 'to', DataType.FLOAT);
      return [{ dims: x!.dims, data: Array.from(x!.data, (v) => cast(v, to)), int: isIntType(to) }];
    }
    case 'Gather':
      return [gather(x!, cs[1]!, int(n, 'axis', 0))];
    case 'Slice': {
      let starts: number[];
      let ends: number[];
      let axes: number[] | undefined;
      let steps: number[] | undefined;
      if (ctx.opset < 10) {
        starts = ints(n, 'starts') ?? [];
        ends = ints(n, 'ends') ?? [];
        axes = ints(n, 'axes');
      } else {
        starts = list(ctx, n, 1) ?? [];
        ends = list(ctx, n, 2) ?? [];
        axes = list(ctx, n, 3);
        steps = list(ctx, n, 4);
      }
      return [
        slice(x!, starts, ends, axes ?? starts.map((_, k) => k), steps ?? starts.map(() => 1)),
      ];
    }
    case 'Concat': {
      const rank = x!.dims.length;
      const a = normAxis(int(n, 'axis', 0), rank);
      const outer = product(x!.dims.slice(0, a));
      const data: number[] = [];
      for (let o = 0; o < outer; o++)
        for (const c of cs) {
          const run = product(c.dims.slice(a));
          for (let j = 0; j < run; j++) data.push(c.data[o * run + j]!);
        }
      const dims = [...x!.dims];
      dims[a] = cs.reduce((s, c) => s + c.dims[a]!, 0);
      return [{ dims, data, int: allInt }];
    }
    case 'Unsqueeze': {
      const axes = (ctx.opset >= 13 ? list(ctx, n, 1) : ints(n, 'axes')) ?? [];
      const rank = x!.dims.length + axes.length;
      const norm = axes.map((a) => normAxis(a, rank)).sort((a, b) => a - b);
      const dims = [...x!.dims];
      for (const a of norm) dims.splice(a, 0, 1);
      return [{ ...x!, dims }];
    }
    case 'Squeeze': {
      const given = ctx.opset >= 13 ? list(ctx, n, 1) : ints(n, 'axes');
      const rank = x!.dims.length;
      const axes = given
        ? given.map((a) => normAxis(a, rank))
        : x!.dims.flatMap((d, k) => (d === 1 ? [k] : []));
      return [{ ...x!, dims: x!.dims.filter((_, k) => !axes.includes(k)) }];
    }
    case 'Reshape': {
      const shape = ctx.opset >= 5 ? (list(ctx, n, 1) ?? []) : (ints(n, 'shape') ?? []);
      return [reshapeTo(x!, shape, int(n, 'allowzero', 0) !== 0)];
    }
    case 'Flatten': {
      const a = normAxis(int(n, 'axis', 1), x!.dims.length);
      return [{ ...x!, dims: [product(x!.dims.slice(0, a)), product(x!.dims.slice(a))] }];
    }
    case 'Expand': {
      const shape = Array.from(cs[1]!.data);
      unknownDecides();
      const ones: Const = { dims: shape, data: new Array<number>(product(shape)).fill(0) };
      return [elementwise([x!, ones], (a) => a, x!.int === true)];
    }
    case 'ConstantOfShape': {
      const shape = x ? Array.from(x.data) : [];
      if (shape.some((d) => Number.isNaN(d)))
        throw new FoldError('the shape depends on the batch size, which the model leaves open');
      const a = getAttribute(n, 'value');
      const t = a && a.type === 'tensor' ? a.value : undefined;
      const v = t ? t.data[0]! : 0;
      const isInt = t ? isIntType(t.dataType) : false;
      return [{ dims: shape, data: new Array<number>(product(shape)).fill(v), int: isInt }];
    }
    case 'Range': {
      unknownDecides();
      const [s, l, d] = cs.map((c) => c.data[0]!) as [number, number, number];
      const count = Math.max(Math.ceil((l - s) / d), 0);
      return [
        { dims: [count], data: Array.from({ length: count }, (_, k) => s + k * d), int: allInt },
      ];
    }
    case 'Add':
    case 'Sum':
      return [cs.slice(1).reduce((a, b) => elementwise([a, b], (p, q) => p + q, allInt), x!)].map(
        f32,
      );
    case 'Sub':
      return [elementwise(cs, (a, b) => a - b!, allInt)].map(f32);
    case 'Mul':
      return [elementwise(cs, (a, b) => a * b!, allInt)].map(f32);
    case 'Div':
      return [elementwise(cs, (a, b) => (allInt ? Math.trunc(a / b!) : a / b!), allInt)].map(f32);
    case 'Mod':
      return [elementwise(cs, (a, b) => a - Math.floor(a / b!) * b!, allInt)].map(f32);
    case 'Pow':
      return [elementwise(cs, (a, b) => a ** b!, x!.int === true)].map(f32);
    case 'Max':
      return [cs.slice(1).reduce((a, b) => elementwise([a, b], Math.max, allInt), x!)].map(f32);
    case 'Min':
      return [cs.slice(1).reduce((a, b) => elementwise([a, b], Math.min, allInt), x!)].map(f32);
    case 'Where': {
      unknownDecides();
      return [elementwise(cs, (c, a, b) => (c ? a! : b!), cs[1]!.int === true)];
    }
    case 'ScatterND': {
      // indices [..., k] address the first k axes; updates replace those slices.
      const [data, idx, upd] = cs as [Const, Const, Const];
      const k = idx.dims[idx.dims.length - 1]!;
      const strides = stridesOf(data.dims);
      const run = product(data.dims.slice(k));
      const out = Array.from(data.data);
      for (let j = 0; j < idx.data.length / k; j++) {
        let base = 0;
        for (let a = 0; a < k; a++) {
          const v = idx.data[j * k + a]!;
          base += (v < 0 ? v + data.dims[a]! : v) * strides[a]!;
        }
        for (let r = 0; r < run; r++) out[base + r] = upd.data[j * run + r]!;
      }
      return [{ dims: data.dims, data: out, int: data.int }];
    }
    case 'Transpose': {
      const perm = ints(n, 'perm') ?? x!.dims.map((_, k) => x!.dims.length - 1 - k);
      return [transposeConst(x!, perm)];
    }
    case 'ReduceProd':
    case 'ReduceSum':
    case 'ReduceMin':
    case 'ReduceMax':
    case 'ReduceMean': {
      const fromInput = op === 'ReduceSum' ? ctx.opset >= 13 : ctx.opset >= 18;
      const axes = fromInput ? list(ctx, n, 1) : ints(n, 'axes');
      return [reduce(x!, axes, int(n, 'keepdims', 1) !== 0, op)].map(f32);
    }
    default: {
      const u = UNARY[op];
      if (u) {
        if (op !== 'Not' && op !== 'Neg' && op !== 'Abs') unknownDecides();
        return [
          {
            dims: x!.dims,
            data: Array.from(x!.data, u),
            int:
              op === 'Not' ||
              (x!.int === true &&
                !['Sqrt', 'Reciprocal', 'Exp', 'Log', 'Sigmoid', 'Tanh'].includes(op)),
          },
        ].map(f32);
      }
      const c = COMPARE[op];
      if (c) {
        unknownDecides();
        return [elementwise(cs, (a, b) => c(a, b!), true)];
      }
      return null;
    }
  }
}
