// ONNX model codec: plain TS types, encode/decode and builders for the subset of onnx.proto netc uses.
import { DecodeError, ProtoReader, ProtoWriter, WireType } from './proto.js';

export { DecodeError } from './proto.js';

/** TensorProto.DataType. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

/** AttributeProto.AttributeType. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
} as const;

/** Name of a TensorProto.DataType value, for messages. */
export function dataTypeName(t: number): string {
  for (const [k, v] of Object.entries(DataType)) if (v === t) return k;
  return `data type ${t}`;
}

/**
 * A dense tensor. `data` is a Float32Array for FLOAT, a Float64Array for DOUBLE, and a number[]
 * for the integer types and BOOL (int64 values beyond ±2^53 are rounded; on encode, values past
 * the int64 range saturate, so INT64_MAX/INT64_MIN sentinels survive a round trip).
 * `dims` empty means a scalar (one element).
 */
export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  data: Float32Array | Float64Array | number[];
}

/** An attribute value, tagged with its kind. `string` attributes hold UTF-8 text. */
export type AttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: TensorProto }
  | { type: 'graph'; value: GraphProto }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] };

export type AttributeProto = AttributeValue & { name: string };

export interface NodeProto {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  /** Operator-set domain; '' is the default ONNX domain. */
  domain: string;
  attributes: AttributeProto[];
}

/** One dimension: a size, a symbolic name, or null when unknown. */
export type Dim = number | string | null;

/**
 * A graph input/output/value_info entry. Only tensor types are modelled: `elemType` is a
 * DataType value, `shape` undefined means unknown rank ([] is a scalar). Both are undefined when
 * the entry has no type or a non-tensor type.
 */
export interface ValueInfoProto {
  name: string;
  elemType?: number;
  shape?: Dim[];
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
}

export interface OperatorSetId {
  /** '' (or 'ai.onnx') is the default ONNX operator set. */
  domain: string;
  version: number;
}

export interface ModelProto {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsetImports: OperatorSetId[];
  graph: GraphProto;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

function rawData(t: TensorProto): Uint8Array {
  const d = t.data;
  const n = d.length;
  const int = (v: number | undefined, i: number): number => {
    if (v === undefined || !Number.isInteger(v)) {
      throw new Error(`tensor '${t.name}': element ${i} (${v}) is not an integer`);
    }
    return v;
  };
  let width: number;
  let put: (dv: DataView, i: number) => void;
  switch (t.dataType) {
    case DataType.FLOAT:
      width = 4;
      put = (dv, i) => dv.setFloat32(i * 4, d[i] ?? 0, true);
      break;
    case DataType.DOUBLE:
      width = 8;
      put = (dv, i) => dv.setFloat64(i * 8, d[i] ?? 0, true);
      break;
    case DataType.INT64:
    case DataType.UINT64: {
      width = 8;
      const signed = t.dataType === DataType.INT64;
      put = (dv, i) => {
        // Saturate like the varint writer, so 2^63 (a rounded INT64_MAX) stays INT64_MAX.
        const v = Math.min(Math.max(int(d[i], i), signed ? -(2 ** 63) : 0), 2 ** 64);
        const big = signed
          ? BigInt.asIntN(64, v >= 2 ** 63 ? 2n ** 63n - 1n : BigInt(v))
          : BigInt.asUintN(64, v >= 2 ** 64 ? 2n ** 64n - 1n : BigInt(v));
        if (signed) dv.setBigInt64(i * 8, big, true);
        else dv.setBigUint64(i * 8, big, true);
      };
      break;
    }
    case DataType.INT32:
    case DataType.UINT32:
      width = 4;
      put = (dv, i) => dv.setUint32(i * 4, int(d[i], i) >>> 0, true);
      break;
    case DataType.INT16:
    case DataType.UINT16:
      width = 2;
      put = (dv, i) => dv.setUint16(i * 2, int(d[i], i) & 0xffff, true);
      break;
    case DataType.INT8:
    case DataType.UINT8:
    case DataType.BOOL:
      width = 1;
      put = (dv, i) => dv.setUint8(i, int(d[i], i) & 0xff);
      break;
    default:
      throw new Error(`tensor '${t.name}': cannot encode ${dataTypeName(t.dataType)}`);
  }
  const out = new Uint8Array(n * width);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) put(dv, i);
  return out;
}

function writeTensor(w: ProtoWriter, t: TensorProto): void {
  const expected = elementCount(t.dims);
  if (t.dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`tensor '${t.name}': invalid dims [${t.dims.join(', ')}]`);
  }
  if (t.data.length !== expected) {
    throw new Error(
      `tensor '${t.name}': dims [${t.dims.join(', ')}] need ${expected} elements, data has ${t.data.length}`,
    );
  }
  for (const d of t.dims) w.int64(1, d);
  w.int64(2, t.dataType);
  if (t.name !== '') w.string(8, t.name);
  w.bytes(9, rawData(t));
}

function checkInts(name: string, values: readonly number[]): void {
  for (const v of values) {
    if (!Number.isInteger(v)) throw new Error(`attribute '${name}': ${v} is not an integer`);
  }
}

function writeAttribute(w: ProtoWriter, a: AttributeProto): void {
  w.string(1, a.name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      w.int64(20, AttributeType.FLOAT);
      break;
    case 'int':
      checkInts(a.name, [a.value]);
      w.int64(3, a.value);
      w.int64(20, AttributeType.INT);
      break;
    case 'string':
      w.string(4, a.value);
      w.int64(20, AttributeType.STRING);
      break;
    case 'tensor':
      w.message(5, (m) => writeTensor(m, a.value));
      w.int64(20, AttributeType.TENSOR);
      break;
    case 'graph':
      w.message(6, (m) => writeGraph(m, a.value));
      w.int64(20, AttributeType.GRAPH);
      break;
    case 'floats':
      for (const v of a.value) w.float(7, v);
      w.int64(20, AttributeType.FLOATS);
      break;
    case 'ints':
      checkInts(a.name, a.value);
      for (const v of a.value) w.int64(8, v);
      w.int64(20, AttributeType.INTS);
      break;
    case 'strings':
      for (const v of a.value) w.string(9, v);
      w.int64(20, AttributeType.STRINGS);
      break;
  }
}

function writeNode(w: ProtoWriter, n: NodeProto): void {
  for (const s of n.inputs) w.string(1, s);
  for (const s of n.outputs) w.string(2, s);
  if (n.name !== '') w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) w.message(5, (m) => writeAttribute(m, a));
  if (n.domain !== '') w.string(7, n.domain);
}

function writeValueInfo(w: ProtoWriter, v: ValueInfoProto): void {
  w.string(1, v.name);
  const { elemType, shape } = v;
  if (elemType === undefined && shape === undefined) return;
  w.message(2, (type) =>
    type.message(1, (tt) => {
      if (elemType !== undefined) tt.int64(1, elemType);
      if (shape !== undefined) {
        tt.message(2, (sh) => {
          for (const d of shape) {
            sh.message(1, (dim) => {
              if (typeof d === 'number') dim.int64(1, d);
              else if (typeof d === 'string') dim.string(2, d);
            });
          }
        });
      }
    }),
  );
}

function writeGraph(w: ProtoWriter, g: GraphProto): void {
  for (const n of g.nodes) w.message(1, (m) => writeNode(m, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (m) => writeTensor(m, t));
  for (const v of g.inputs) w.message(11, (m) => writeValueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => writeValueInfo(m, v));
  for (const v of g.valueInfo) w.message(13, (m) => writeValueInfo(m, v));
}

/** Serialize a ModelProto. Throws a plain Error for values that cannot be encoded. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new ProtoWriter();
  w.int64(1, m.irVersion);
  if (m.producerName !== '') w.string(2, m.producerName);
  if (m.producerVersion !== '') w.string(3, m.producerVersion);
  w.message(7, (g) => writeGraph(g, m.graph));
  for (const o of m.opsetImports) {
    w.message(8, (s) => {
      if (o.domain !== '') s.string(1, o.domain);
      s.int64(2, o.version);
    });
  }
  return w.finish();
}

/** Serialize a TensorProto (the format of the backend tests' input_N.pb / output_N.pb). */
export function encodeTensor(t: TensorProto): Uint8Array {
  const w = new ProtoWriter();
  writeTensor(w, t);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding

const MAX_GRAPH_DEPTH = 32;

function bad(message: string): never {
  throw new DecodeError(`invalid ONNX: ${message}`);
}

function readRawInts(
  raw: Uint8Array,
  width: 1 | 2 | 4 | 8,
  signed: boolean,
  name: string,
): number[] {
  if (raw.length % width !== 0) {
    bad(`tensor '${name}': raw_data of ${raw.length} bytes is not a multiple of ${width}`);
  }
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = raw.length / width;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const o = i * width;
    switch (width) {
      case 1:
        out[i] = signed ? dv.getInt8(o) : dv.getUint8(o);
        break;
      case 2:
        out[i] = signed ? dv.getInt16(o, true) : dv.getUint16(o, true);
        break;
      case 4:
        out[i] = signed ? dv.getInt32(o, true) : dv.getUint32(o, true);
        break;
      case 8:
        out[i] = Number(signed ? dv.getBigInt64(o, true) : dv.getBigUint64(o, true));
        break;
    }
  }
  return out;
}

function readRawFloats(raw: Uint8Array, width: 4 | 8, name: string): Float32Array | Float64Array {
  if (raw.length % width !== 0) {
    bad(`tensor '${name}': raw_data of ${raw.length} bytes is not a multiple of ${width}`);
  }
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = raw.length / width;
  if (width === 4) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
    return out;
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
  return out;
}

function readTensor(r: ProtoReader): TensorProto {
  const dims: number[] = [];
  let dataType: number = DataType.UNDEFINED;
  let name = '';
  let raw: Uint8Array | undefined;
  const floatData: number[] = [];
  const int32Data: number[] = [];
  const int64Data: number[] = [];
  const doubleData: number[] = [];
  const uint64Data: number[] = [];
  let external = false;
  let segmented = false;
  while (!r.eof()) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        r.repeatedInt64(tag.wire, dims);
        break;
      case 2:
        r.expect(tag, WireType.VARINT, 'data_type');
        dataType = r.int64();
        break;
      case 3:
        segmented = true;
        r.skip(tag.wire);
        break;
      case 4:
        r.repeatedFloat(tag.wire, floatData);
        break;
      case 5:
        r.repeatedInt64(tag.wire, int32Data);
        break;
      case 7:
        r.repeatedInt64(tag.wire, int64Data);
        break;
      case 8:
        r.expect(tag, WireType.LEN, 'name');
        name = r.string();
        break;
      case 9:
        r.expect(tag, WireType.LEN, 'raw_data');
        raw = r.bytes();
        break;
      case 10:
        r.repeatedDouble(tag.wire, doubleData);
        break;
      case 11:
        r.repeatedInt64(tag.wire, uint64Data);
        break;
      case 14:
        r.expect(tag, WireType.VARINT, 'data_location');
        if (r.int64() === 1) external = true;
        break;
      default:
        r.skip(tag.wire);
    }
  }
  const label = name === '' ? 'tensor' : `tensor '${name}'`;
  if (external) bad(`${label}: external data is not supported`);
  if (segmented) bad(`${label}: segmented tensors are not supported`);
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) bad(`${label}: invalid dimension ${d}`);
  }
  let data: Float32Array | Float64Array | number[];
  const unsigned64 = (vs: number[]): number[] => vs.map((v) => (v < 0 ? v + 2 ** 64 : v));
  switch (dataType) {
    case DataType.FLOAT:
      data = raw ? readRawFloats(raw, 4, name) : Float32Array.from(floatData);
      break;
    case DataType.DOUBLE:
      data = raw ? readRawFloats(raw, 8, name) : Float64Array.from(doubleData);
      break;
    case DataType.INT64:
      data = raw ? readRawInts(raw, 8, true, name) : int64Data;
      break;
    case DataType.UINT64:
      data = raw ? readRawInts(raw, 8, false, name) : unsigned64(uint64Data);
      break;
    case DataType.UINT32:
      data = raw ? readRawInts(raw, 4, false, name) : unsigned64(uint64Data);
      break;
    case DataType.INT32:
      data = raw ? readRawInts(raw, 4, true, name) : int32Data;
      break;
    case DataType.INT16:
    case DataType.UINT16:
      data = raw ? readRawInts(raw, 2, dataType === DataType.INT16, name) : int32Data;
      break;
    case DataType.INT8:
    case DataType.UINT8:
    case DataType.BOOL:
      data = raw ? readRawInts(raw, 1, dataType === DataType.INT8, name) : int32Data;
      break;
    default:
      return bad(`${label}: unsupported data type ${dataTypeName(dataType)}`);
  }
  const expected = elementCount(dims);
  if (data.length !== expected) {
    bad(`${label}: dims [${dims.join(', ')}] need ${expected} elements, data has ${data.length}`);
  }
  return { name, dims, dataType, data };
}

const ATTR_KIND: Record<number, AttributeValue['type'] | undefined> = {
  [AttributeType.FLOAT]: 'float',
  [AttributeType.INT]: 'int',
  [AttributeType.STRING]: 'string',
  [AttributeType.TENSOR]: 'tensor',
  [AttributeType.GRAPH]: 'graph',
  [AttributeType.FLOATS]: 'floats',
  [AttributeType.INTS]: 'ints',
  [AttributeType.STRINGS]: 'strings',
};

function readAttribute(r: ProtoReader, depth: number, where: string): AttributeProto {
  let name = '';
  let type: number | undefined;
  let f: number | undefined;
  let i: number | undefined;
  let s: string | undefined;
  let t: TensorProto | undefined;
  let g: GraphProto | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  while (!r.eof()) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        r.expect(tag, WireType.LEN, 'name');
        name = r.string();
        break;
      case 2:
        r.expect(tag, WireType.FIXED32, 'f');
        f = r.float();
        break;
      case 3:
        r.expect(tag, WireType.VARINT, 'i');
        i = r.int64();
        break;
      case 4:
        r.expect(tag, WireType.LEN, 's');
        s = r.string();
        break;
      case 5:
        r.expect(tag, WireType.LEN, 't');
        t = readTensor(r.sub());
        break;
      case 6:
        r.expect(tag, WireType.LEN, 'g');
        g = readGraph(r.sub(), depth + 1);
        break;
      case 7:
        r.repeatedFloat(tag.wire, floats);
        break;
      case 8:
        r.repeatedInt64(tag.wire, ints);
        break;
      case 9:
        r.expect(tag, WireType.LEN, 'strings');
        strings.push(r.string());
        break;
      case 20:
        r.expect(tag, WireType.VARINT, 'type');
        type = r.int64();
        break;
      default:
        r.skip(tag.wire);
    }
  }
  if (name === '') bad(`${where}: attribute without a name`);
  const label = `${where}: attribute '${name}'`;
  // IR version 1 had no type field: infer it from the field in use.
  if (type === undefined || type === AttributeType.UNDEFINED) {
    if (f !== undefined) type = AttributeType.FLOAT;
    else if (i !== undefined) type = AttributeType.INT;
    else if (s !== undefined) type = AttributeType.STRING;
    else if (t !== undefined) type = AttributeType.TENSOR;
    else if (g !== undefined) type = AttributeType.GRAPH;
    else if (floats.length > 0) type = AttributeType.FLOATS;
    else if (ints.length > 0) type = AttributeType.INTS;
    else if (strings.length > 0) type = AttributeType.STRINGS;
    else bad(`${label} has no type and no value`);
  }
  const kind = ATTR_KIND[type];
  const missing = (): never => bad(`${label} of type ${kind ?? type} has no value`);
  switch (kind) {
    case 'float':
      return { name, type: kind, value: f ?? missing() };
    case 'int':
      return { name, type: kind, value: i ?? missing() };
    case 'string':
      return { name, type: kind, value: s ?? missing() };
    case 'tensor':
      return { name, type: kind, value: t ?? missing() };
    case 'graph':
      return { name, type: kind, value: g ?? missing() };
    case 'floats':
      return { name, type: kind, value: floats };
    case 'ints':
      return { name, type: kind, value: ints };
    case 'strings':
      return { name, type: kind, value: strings };
    case undefined:
      return bad(`${label} has unsupported attribute type ${type}`);
  }
}

function readNode(r: ProtoReader, depth: number, index: number): NodeProto {
  const inputs: string[] = [];
  const outputs: string[] = [];
  let name = '';
  let opType = '';
  let domain = '';
  const attrReaders: ProtoReader[] = [];
  while (!r.eof()) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        r.expect(tag, WireType.LEN, 'input');
        inputs.push(r.string());
        break;
      case 2:
        r.expect(tag, WireType.LEN, 'output');
        outputs.push(r.string());
        break;
      case 3:
        r.expect(tag, WireType.LEN, 'name');
        name = r.string();
        break;
      case 4:
        r.expect(tag, WireType.LEN, 'op_type');
        opType = r.string();
        break;
      case 5:
        r.expect(tag, WireType.LEN, 'attribute');
        attrReaders.push(r.sub());
        break;
      case 7:
        r.expect(tag, WireType.LEN, 'domain');
        domain = r.string();
        break;
      default:
        r.skip(tag.wire);
    }
  }
  const where = `node #${index}${name === '' ? '' : ` '${name}'`}${opType === '' ? '' : ` (${opType})`}`;
  if (opType === '') bad(`${where} has no op_type`);
  const attributes = attrReaders.map((ar) => readAttribute(ar, depth, where));
  return { opType, inputs, outputs, name, domain, attributes };
}

function readDim(r: ProtoReader): Dim {
  let d: Dim = null;
  while (!r.eof()) {
    const tag = r.tag();
    if (tag.field === 1) {
      r.expect(tag, WireType.VARINT, 'dim_value');
      d = r.int64();
    } else if (tag.field === 2) {
      r.expect(tag, WireType.LEN, 'dim_param');
      d = r.string();
    } else {
      r.skip(tag.wire);
    }
  }
  return d;
}

function readValueInfo(r: ProtoReader): ValueInfoProto {
  let name = '';
  let elemType: number | undefined;
  let shape: Dim[] | undefined;
  while (!r.eof()) {
    const tag = r.tag();
    if (tag.field === 1) {
      r.expect(tag, WireType.LEN, 'name');
      name = r.string();
    } else if (tag.field === 2) {
      r.expect(tag, WireType.LEN, 'type');
      const tr = r.sub();
      while (!tr.eof()) {
        const ttag = tr.tag();
        if (ttag.field !== 1) {
          tr.skip(ttag.wire);
          continue;
        }
        tr.expect(ttag, WireType.LEN, 'tensor_type');
        const tt = tr.sub();
        while (!tt.eof()) {
          const ftag = tt.tag();
          if (ftag.field === 1) {
            tt.expect(ftag, WireType.VARINT, 'elem_type');
            elemType = tt.int64();
          } else if (ftag.field === 2) {
            tt.expect(ftag, WireType.LEN, 'shape');
            const sr = tt.sub();
            shape = [];
            while (!sr.eof()) {
              const stag = sr.tag();
              if (stag.field === 1) {
                sr.expect(stag, WireType.LEN, 'dim');
                shape.push(readDim(sr.sub()));
              } else {
                sr.skip(stag.wire);
              }
            }
          } else {
            tt.skip(ftag.wire);
          }
        }
      }
    } else {
      r.skip(tag.wire);
    }
  }
  const v: ValueInfoProto = { name };
  if (elemType !== undefined) v.elemType = elemType;
  if (shape !== undefined) v.shape = shape;
  return v;
}

function readGraph(r: ProtoReader, depth: number): GraphProto {
  if (depth > MAX_GRAPH_DEPTH) bad(`subgraphs nested more than ${MAX_GRAPH_DEPTH} deep`);
  const g: GraphProto = {
    name: '',
    nodes: [],
    initializers: [],
    inputs: [],
    outputs: [],
    valueInfo: [],
  };
  while (!r.eof()) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        r.expect(tag, WireType.LEN, 'node');
        g.nodes.push(readNode(r.sub(), depth, g.nodes.length));
        break;
      case 2:
        r.expect(tag, WireType.LEN, 'name');
        g.name = r.string();
        break;
      case 5:
        r.expect(tag, WireType.LEN, 'initializer');
        g.initializers.push(readTensor(r.sub()));
        break;
      case 11:
        r.expect(tag, WireType.LEN, 'input');
        g.inputs.push(readValueInfo(r.sub()));
        break;
      case 12:
        r.expect(tag, WireType.LEN, 'output');
        g.outputs.push(readValueInfo(r.sub()));
        break;
      case 13:
        r.expect(tag, WireType.LEN, 'value_info');
        g.valueInfo.push(readValueInfo(r.sub()));
        break;
      case 15:
        bad(`graph${g.name === '' ? '' : ` '${g.name}'`}: sparse initializers are not supported`);
      default:
        r.skip(tag.wire);
    }
  }
  return g;
}

function readOpset(r: ProtoReader): OperatorSetId {
  let domain = '';
  let version: number | undefined;
  while (!r.eof()) {
    const tag = r.tag();
    if (tag.field === 1) {
      r.expect(tag, WireType.LEN, 'domain');
      domain = r.string();
    } else if (tag.field === 2) {
      r.expect(tag, WireType.VARINT, 'version');
      version = r.int64();
    } else {
      r.skip(tag.wire);
    }
  }
  if (version === undefined)
    bad(`opset_import${domain === '' ? '' : ` '${domain}'`} has no version`);
  return { domain, version };
}

function asBytes(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
}

/**
 * Parse a serialized ModelProto. Throws `DecodeError` (and nothing else) on malformed input,
 * including a missing ir_version, graph or opset_import, or a tensor whose data does not match
 * its dims. Fields outside the modelled subset are skipped.
 */
export function decodeModel(bytes: Uint8Array | ArrayBuffer): ModelProto {
  const r = new ProtoReader(asBytes(bytes));
  let irVersion: number | undefined;
  let producerName = '';
  let producerVersion = '';
  const opsetImports: OperatorSetId[] = [];
  let graph: GraphProto | undefined;
  while (!r.eof()) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        r.expect(tag, WireType.VARINT, 'ir_version');
        irVersion = r.int64();
        break;
      case 2:
        r.expect(tag, WireType.LEN, 'producer_name');
        producerName = r.string();
        break;
      case 3:
        r.expect(tag, WireType.LEN, 'producer_version');
        producerVersion = r.string();
        break;
      case 7:
        r.expect(tag, WireType.LEN, 'graph');
        graph = readGraph(r.sub(), 0);
        break;
      case 8:
        r.expect(tag, WireType.LEN, 'opset_import');
        opsetImports.push(readOpset(r.sub()));
        break;
      default:
        r.skip(tag.wire);
    }
  }
  if (irVersion === undefined) bad('model has no ir_version');
  if (graph === undefined) bad('model has no graph');
  if (opsetImports.length === 0) bad('model has no opset_import');
  return { irVersion, producerName, producerVersion, opsetImports, graph };
}

/** Parse a serialized TensorProto (e.g. an ONNX backend test's input_0.pb). */
export function decodeTensor(bytes: Uint8Array | ArrayBuffer): TensorProto {
  return readTensor(new ProtoReader(asBytes(bytes)));
}

// ---------------------------------------------------------------------------------------------
// Queries

/** A node's attribute by name, or undefined. */
export function getAttribute(n: NodeProto, name: string): AttributeProto | undefined {
  return n.attributes.find((a) => a.name === name);
}

/** The version of the default ONNX operator set a model imports (undefined if none). */
export function defaultOpset(m: ModelProto): number | undefined {
  return m.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
}

// ---------------------------------------------------------------------------------------------
// Builders

/** A FLOAT tensor (data is copied). */
export function tensor(name: string, dims: number[], data: Float32Array | number[]): TensorProto {
  return { name, dims: [...dims], dataType: DataType.FLOAT, data: Float32Array.from(data) };
}

/** An INT64 tensor, e.g. Reshape's shape input. */
export function int64Tensor(name: string, dims: number[], values: number[]): TensorProto {
  checkInts(name, values);
  return { name, dims: [...dims], dataType: DataType.INT64, data: [...values] };
}

/** Attribute value helpers: ints and floats must be told apart, so numbers always go through these. */
export const int = (value: number): AttributeValue => ({ type: 'int', value });
export const ints = (value: number[]): AttributeValue => ({ type: 'ints', value: [...value] });
export const float = (value: number): AttributeValue => ({ type: 'float', value });
export const floats = (value: number[]): AttributeValue => ({ type: 'floats', value: [...value] });
export const str = (value: string): AttributeValue => ({ type: 'string', value });
export const strs = (value: string[]): AttributeValue => ({ type: 'strings', value: [...value] });
export const tensorAttr = (value: TensorProto): AttributeValue => ({ type: 'tensor', value });
export const graphAttr = (value: GraphProto): AttributeValue => ({ type: 'graph', value });

/** An attribute as given to `node`: a tagged value from the helpers above, or a bare string. */
export type AttrInput = AttributeValue | string;

/** A node; attributes keep the key order of `attrs`. */
export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrInput> = {},
  name = '',
): NodeProto {
  const attributes: AttributeProto[] = [];
  for (const [key, v] of Object.entries(attrs)) {
    if (typeof v === 'string') attributes.push({ name: key, type: 'string', value: v });
    else if (typeof v === 'object' && v !== null && 'type' in v)
      attributes.push({ ...v, name: key });
    else {
      throw new Error(
        `attribute '${key}' of ${opType}: use int()/ints()/float()/floats()/str()/... to give its type`,
      );
    }
  }
  return { opType, inputs: [...inputs], outputs: [...outputs], name, domain: '', attributes };
}

/** A graph input/output entry for a tensor of the given shape (FLOAT unless told otherwise). */
export function valueInfo(
  name: string,
  shape: Dim[],
  elemType: number = DataType.FLOAT,
): ValueInfoProto {
  return { name, elemType, shape: [...shape] };
}

export function graph(
  nodes: NodeProto[],
  inputs: ValueInfoProto[],
  outputs: ValueInfoProto[],
  initializers: TensorProto[] = [],
  name = 'netc',
): GraphProto {
  return { name, nodes, initializers, inputs, outputs, valueInfo: [] };
}

/** The IR version that goes with a default-domain opset version (per onnx/helper.py's table). */
export function irVersionForOpset(opset: number): number {
  if (opset <= 8) return 3;
  if (opset === 9) return 4;
  if (opset === 10) return 5;
  if (opset === 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

export function modelProto(g: GraphProto, opset = 13, producerName = 'netc'): ModelProto {
  return {
    irVersion: irVersionForOpset(opset),
    producerName,
    producerVersion: '',
    opsetImports: [{ domain: '', version: opset }],
    graph: g,
  };
}

/** A serialized model importing the default ONNX opset `opset`. */
export function model(g: GraphProto, opset = 13): Uint8Array {
  return encodeModel(modelProto(g, opset));
}
