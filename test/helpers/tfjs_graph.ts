// TF.js graph-models written here in the converter's format (model.json nodes, a weights
// manifest with float32, float16, uint8 and uint16 weights, one shard), and TF.js's own
// execution of them as the oracle.
import * as tf from '@tensorflow/tfjs';

type AttrValue = Record<string, unknown>;

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** Attribute values in protobuf's JSON mapping, as the converter writes them. */
export const attr = {
  i: (v: number): AttrValue => ({ i: String(v) }),
  f: (v: number): AttrValue => ({ f: v }),
  b: (v: boolean): AttrValue => ({ b: v }),
  s: (v: string): AttrValue => ({ s: b64(v) }),
  ints: (v: number[]): AttrValue => ({ list: { i: v.map(String) } }),
  strs: (v: string[]): AttrValue => ({ list: { s: v.map(b64) } }),
  type: (t: string): AttrValue => ({ type: t }),
};

export type Encoding = 'float32' | 'float16' | 'uint8' | 'uint16' | 'int32';

/** float32 to IEEE half (round to nearest even), for float16 weights. */
function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  e = h;
  return sign | e;
}

interface Weight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
  bytes: Uint8Array;
}

/** A graph-model under construction. */
export class GraphBuilder {
  readonly nodes: { name: string; op: string; input: string[]; attr: Record<string, AttrValue> }[] =
    [];
  private readonly weights: Weight[] = [];

  input(name: string, shape: number[], dtype = 'DT_FLOAT'): string {
    this.nodes.push({
      name,
      op: 'Placeholder',
      input: [],
      attr: {
        dtype: attr.type(dtype),
        shape: { shape: { dim: shape.map((d) => ({ size: String(d) })) } },
      },
    });
    return name;
  }

  /** A Const node whose value is in the shard, stored as `enc`. */
  const(
    name: string,
    shape: number[],
    values: ArrayLike<number>,
    enc: Encoding = 'float32',
  ): string {
    const n = shape.reduce((a, b) => a * b, 1);
    if (values.length !== n) throw new Error(`${name}: ${values.length} values for [${shape}]`);
    const v = Array.from(values);
    let bytes: Uint8Array;
    let quantization: Weight['quantization'];
    let dtype = 'float32';
    if (enc === 'float32') bytes = new Uint8Array(Float32Array.from(v).buffer);
    else if (enc === 'int32') {
      bytes = new Uint8Array(Int32Array.from(v).buffer);
      dtype = 'int32';
    } else if (enc === 'float16') {
      bytes = new Uint8Array(Uint16Array.from(v, toHalf).buffer);
      quantization = { dtype: 'float16' };
    } else {
      const levels = enc === 'uint8' ? 255 : 65535;
      const min = Math.min(...v);
      const scale = (Math.max(...v) - min) / levels || 1;
      const q = v.map((x) => Math.round((x - min) / scale));
      bytes = enc === 'uint8' ? Uint8Array.from(q) : new Uint8Array(Uint16Array.from(q).buffer);
      quantization = { dtype: enc, min, scale };
    }
    this.weights.push({ name, shape, dtype, ...(quantization ? { quantization } : {}), bytes });
    this.nodes.push({
      name,
      op: 'Const',
      input: [],
      attr: {
        dtype: attr.type(dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT'),
        value: {
          tensor: {
            dtype: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT',
            tensorShape: { dim: shape.map((d) => ({ size: String(d) })) },
          },
        },
      },
    });
    return name;
  }

  op(op: string, name: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    this.nodes.push({ name, op, input: inputs, attr: { T: attr.type('DT_FLOAT'), ...attrs } });
    return name;
  }

  /** model.json (as an object) and its one shard. */
  build(signature?: { inputs: Record<string, string>; outputs: Record<string, string> }): {
    json: Record<string, unknown>;
    shard: Uint8Array;
  } {
    const total = this.weights.reduce((a, w) => a + w.bytes.length, 0);
    const shard = new Uint8Array(total);
    let at = 0;
    for (const w of this.weights) {
      shard.set(w.bytes, at);
      at += w.bytes.length;
    }
    const sig = signature
      ? {
          inputs: Object.fromEntries(
            Object.entries(signature.inputs).map(([k, v]) => [k, { name: v, dtype: 'DT_FLOAT' }]),
          ),
          outputs: Object.fromEntries(
            Object.entries(signature.outputs).map(([k, v]) => [k, { name: v, dtype: 'DT_FLOAT' }]),
          ),
        }
      : undefined;
    return {
      json: {
        format: 'graph-model',
        generatedBy: '2.15.0',
        convertedBy: 'TensorFlow.js Converter v4.22.0',
        ...(sig ? { signature: sig } : {}),
        modelTopology: { node: this.nodes, library: {}, versions: { producer: 1395 } },
        weightsManifest: [
          {
            paths: ['group1-shard1of1.bin'],
            weights: this.weights.map(({ bytes: _bytes, ...w }) => w),
          },
        ],
      },
      shard,
    };
  }
}

/**
 * TF.js's execution of a graph-model (cpu backend, float32): `feeds` by TF.js input name,
 * the named outputs in order.
 */
export async function runTfjsGraph(
  json: Record<string, unknown>,
  shard: Uint8Array,
  feeds: Record<string, { data: Float32Array | Int32Array; shape: number[] }>,
  outputs: string[],
): Promise<Float32Array[]> {
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  const m = json as {
    modelTopology: object;
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
    signature?: object;
    format: string;
  };
  const weightData = shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength);
  const model = await tf.loadGraphModel({
    load: async () => ({
      modelTopology: m.modelTopology,
      weightSpecs: m.weightsManifest.flatMap((g) => g.weights),
      weightData: weightData as ArrayBuffer,
      format: m.format,
      ...(m.signature ? { signature: m.signature } : {}),
    }),
  });
  const inputs: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(feeds))
    inputs[k] = tf.tensor(v.data, v.shape, v.data instanceof Int32Array ? 'int32' : 'float32');
  const r = model.execute(inputs, outputs);
  const list = Array.isArray(r) ? r : [r];
  const out = list.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([...list, ...Object.values(inputs)]);
  model.dispose();
  return out;
}
