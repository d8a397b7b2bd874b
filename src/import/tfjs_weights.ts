// The TensorFlow.js weights manifest (model.json's `weightsManifest`), read for both TF.js
// importers (layers-models and graph-models): each group's shards concatenated, its tensors
// decoded in order, and the converter's float16 and uint8/uint16 quantization undone as
// tfjs-core's decodeWeights does. One reader, so both formats read the same bytes the same way.
import { f16ToF32 } from '../weights/index.js';

/** One tensor of a manifest, as TF.js would hold it, in float64. */
export interface ManifestTensor {
  readonly name: string;
  readonly shape: number[];
  /** The manifest's dtype (the logical one: float32, int32, bool, ...). */
  readonly dtype: string;
  /** float32 values are exact f32 numbers; int32 and bool are integers. */
  readonly data: Float64Array;
}

interface Entry {
  readonly name?: unknown;
  readonly shape?: unknown;
  readonly dtype?: unknown;
  readonly quantization?: {
    readonly dtype?: unknown;
    readonly min?: unknown;
    readonly scale?: unknown;
  };
}

/** Bytes per value of each stored dtype. */
const BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  float16: 2,
  uint16: 2,
  uint8: 1,
  bool: 1,
};

/** Decodes `count` stored values at `offset` (before dequantization). */
function decode(view: DataView, offset: number, count: number, stored: string): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++)
    switch (stored) {
      case 'float32':
        out[i] = view.getFloat32(offset + 4 * i, true);
        break;
      case 'int32':
        out[i] = view.getInt32(offset + 4 * i, true);
        break;
      case 'float16':
        out[i] = f16ToF32(view.getUint16(offset + 2 * i, true));
        break;
      case 'uint16':
        out[i] = view.getUint16(offset + 2 * i, true);
        break;
      case 'bool':
        out[i] = view.getUint8(offset + i) ? 1 : 0;
        break;
      default:
        out[i] = view.getUint8(offset + i);
    }
  return out;
}

/**
 * Reads the tensors of a weights manifest; `read` gives a shard's bytes by its manifest path,
 * or a reason it cannot. String tensors are stepped over (no numbers in them). Errors name the
 * tensor or the shard; a group with an error contributes the tensors before it.
 */
export function readManifest(
  groups: unknown,
  read: (path: string) => Uint8Array | string,
): { tensors: ManifestTensor[]; errors: string[] } {
  const errors: string[] = [];
  const tensors: ManifestTensor[] = [];
  if (!Array.isArray(groups)) return { tensors, errors: ['weightsManifest is not a list'] };
  for (const [gi, g] of groups.entries()) {
    const group = g as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(group?.paths) || !Array.isArray(group.weights)) {
      errors.push(`weightsManifest group ${gi} has no paths and weights lists`);
      continue;
    }
    const parts: Uint8Array[] = [];
    let failed = false;
    for (const p of group.paths as unknown[]) {
      const b = typeof p === 'string' ? read(p) : `shard path ${JSON.stringify(p)} is not a string`;
      if (typeof b === 'string') {
        errors.push(b);
        failed = true;
      } else parts.push(b);
    }
    if (failed) continue;
    const total = parts.reduce((a, b) => a + b.length, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    for (const w of group.weights as (Entry | null)[]) {
      const name = typeof w?.name === 'string' ? w.name : `#${tensors.length}`;
      const shape = w?.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        errors.push(`weight '${name}': shape ${JSON.stringify(shape)} is not a list of sizes`);
        break;
      }
      const count = (shape as number[]).reduce((a, b) => a * b, 1);
      const dtype = typeof w!.dtype === 'string' ? w!.dtype : String(w!.dtype);
      if (dtype === 'string') {
        // Each string: a 4-byte length, then its bytes.
        for (let i = 0; i < count && offset + 4 <= total; i++)
          offset += 4 + view.getUint32(offset, true);
        continue;
      }
      const q = w!.quantization;
      const stored = q ? String(q.dtype) : dtype;
      if (BYTES[stored] === undefined || (q && !['float16', 'uint8', 'uint16'].includes(stored))) {
        errors.push(
          `weight '${name}': ${q ? 'quantization ' : ''}dtype '${stored}' cannot be read as numbers`,
        );
        break;
      }
      const size = count * BYTES[stored]!;
      if (offset + size > total) {
        errors.push(
          `weight '${name}': its ${size} bytes at offset ${offset} run past the ${total} bytes of the shards [${(group.paths as unknown[]).join(', ')}]`,
        );
        break;
      }
      let data = decode(view, offset, count, stored);
      if (q && stored !== 'float16') {
        const { scale, min } = q;
        if (typeof scale !== 'number' || typeof min !== 'number') {
          errors.push(`weight '${name}': ${stored} quantization without min and scale`);
          break;
        }
        // tfjs-core: v * scale + min, rounded for int32 tensors, stored in a Float32Array.
        data = data.map((v) =>
          dtype === 'int32' ? Math.round(v * scale + min) : Math.fround(v * scale + min),
        );
      }
      tensors.push({ name, shape: [...(shape as number[])], dtype, data });
      offset += size;
    }
  }
  return { tensors, errors };
}
