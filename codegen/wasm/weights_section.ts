// The built .wasm file: the code module (no data segment), then a custom section holding the
// same code built with relaxed SIMD ("netc.relaxed", compiled instead where the engine has
// relaxed SIMD), then one holding the packed weight area as raw little-endian f32
// ("netc.weights").
//
// Why not a data segment: V8 copies a module's whole wire bytes when it compiles it and copies
// the data segment again into memory when it instantiates it, so a 1.8 MB segment costs about
// 2 ms of mnist's cold start. With the weights in a trailing custom section the file is still
// one valid module, the generated loader compiles only the code prefix (itself a valid module:
// sections are sequential and custom sections may be dropped) and reads the weights straight
// into the instance's memory at byte 0.

import type { WasmLayout } from '../../src/runtime/wasm_loader.js';

export type { WasmLayout };

export const WEIGHTS_SECTION = 'netc.weights';
export const RELAXED_SECTION = 'netc.relaxed';

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

/** A custom section's header: id 0, payload size, name. */
function sectionHeader(name: string, bytes: number): number[] {
  const n = [...new TextEncoder().encode(name)];
  return [0, ...leb128(leb128(n.length).length + n.length + bytes), ...leb128(n.length), ...n];
}

/** The floats as little-endian bytes (whatever the host's byte order). */
export function littleEndian(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i]!, true);
  return out;
}

/** The .wasm file: `code` (a module without weights), the `relaxed` module in a custom section,
 * and the weights in a trailing one. */
export function withWeightsSection(
  code: Uint8Array,
  relaxed: Uint8Array,
  weights: Uint8Array,
): { bytes: Uint8Array; layout: WasmLayout } {
  const weightBytes = weights.length;
  const relaxedHeader = sectionHeader(RELAXED_SECTION, relaxed.length);
  const relaxedAt = code.length + relaxedHeader.length;
  const header = sectionHeader(WEIGHTS_SECTION, weightBytes);
  const weightsAt = relaxedAt + relaxed.length + header.length;
  const bytes = new Uint8Array(weightsAt + weightBytes);
  bytes.set(code, 0);
  bytes.set(relaxedHeader, code.length);
  bytes.set(relaxed, relaxedAt);
  bytes.set(header, weightsAt - header.length);
  bytes.set(weights, weightsAt);
  return {
    bytes,
    layout: {
      codeBytes: code.length,
      relaxedAt,
      relaxedBytes: relaxed.length,
      header,
      weightsAt,
      weightBytes,
      fileBytes: bytes.length,
    },
  };
}
