// The built .wasm file: the code module (no data segment) followed by one custom section,
// "netc.weights", holding the packed weight area as raw little-endian f32.
//
// Why not a data segment: V8 copies a module's whole wire bytes when it compiles it and copies
// the data segment again into memory when it instantiates it, so a 1.8 MB segment costs about
// 2 ms of mnist's cold start. With the weights in a trailing custom section the file is still
// one valid module, the generated loader compiles only the code prefix (itself a valid module:
// sections are sequential and custom sections may be dropped) and reads the weights straight
// into the instance's memory at byte 0.

/** Where the parts of a built .wasm file are, for the generated loader. */
export interface WasmLayout {
  /** Bytes [0, codeBytes): the code module, compiled alone. */
  readonly codeBytes: number;
  /** Bytes [codeBytes, weightsAt): the custom section's id, size and name. */
  readonly header: readonly number[];
  readonly weightsAt: number;
  /** Bytes [weightsAt, weightsAt + weightBytes): the weight area, copied to memory at 0. */
  readonly weightBytes: number;
  readonly fileBytes: number;
}

export const WEIGHTS_SECTION = 'netc.weights';

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** The floats as little-endian bytes (whatever the host's byte order). */
export function littleEndian(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i]!, true);
  return out;
}

/** The .wasm file: `code` (a module without weights) and the weights in a trailing section. */
export function withWeightsSection(
  code: Uint8Array,
  weights: Float32Array,
): { bytes: Uint8Array; layout: WasmLayout } {
  const name = [...new TextEncoder().encode(WEIGHTS_SECTION)];
  const weightBytes = weights.length * 4;
  const payload = leb128(name.length).length + name.length + weightBytes;
  const header = [0, ...leb128(payload), ...leb128(name.length), ...name];
  const weightsAt = code.length + header.length;
  const bytes = new Uint8Array(weightsAt + weightBytes);
  bytes.set(code, 0);
  bytes.set(header, code.length);
  bytes.set(littleEndian(weights), weightsAt);
  return {
    bytes,
    layout: { codeBytes: code.length, header, weightsAt, weightBytes, fileBytes: bytes.length },
  };
}
