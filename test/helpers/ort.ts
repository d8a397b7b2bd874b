// Test helper: run a serialized ONNX model on float32 inputs with onnxruntime-node (the external oracle).
import * as ort from 'onnxruntime-node';

export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

/**
 * Run `modelBytes` once, single-threaded, feeding each named graph input; returns every graph
 * output by name. Outputs must be float32.
 */
export async function runOnnx(
  modelBytes: Uint8Array,
  feeds: Record<string, FloatTensor>,
): Promise<Record<string, FloatTensor>> {
  const session = await ort.InferenceSession.create(modelBytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      inputs[name] = new ort.Tensor('float32', t.data, t.dims);
    }
    const results = await session.run(inputs);
    const out: Record<string, FloatTensor> = {};
    for (const name of session.outputNames) {
      const t = results[name];
      if (t === undefined) throw new Error(`onnxruntime returned no output '${name}'`);
      if (t.type !== 'float32') throw new Error(`output '${name}' is ${t.type}, not float32`);
      out[name] = { dims: [...t.dims], data: Float32Array.from(t.data as Float32Array) };
    }
    return out;
  } finally {
    await session.release();
  }
}
