// The built .wasm file: the code module (no data segment), then a custom section holding the
// same code built with relaxed SIMD ("netc.relaxed", compiled instead where the engine has
// relaxed SIMD; stored as a delta against the code module, src/runtime/delta.ts), the threads
// builds likewise ("netc.threads", whole; "netc.threads.relaxed", a delta against it), then
// one holding the packed weight area as raw little-endian f32 ("netc.weights").
//
// Why not a data segment: V8 copies a module's whole wire bytes when it compiles it and copies
// the data segment again into memory when it instantiates it, so a 1.8 MB segment costs about
// 2 ms of mnist's cold start. With the weights in a trailing custom section the file is still
// one valid module, the generated loader compiles only the code prefix (itself a valid module:
// sections are sequential and custom sections may be dropped) and reads the weights straight
// into the instance's memory at byte 0.

import type { WasmLayout } from '../../src/runtime/wasm_loader.js';
import type { ThreadsLayout } from '../../src/runtime/pool.js';
import { encodeDelta } from './delta.js';

/** The threads build's memory (ThreadMemory in emit.ts). */
type ThreadMemory = Omit<ThreadsLayout, 'plainAt' | 'plainBytes' | 'relaxedAt' | 'relaxedBytes'>;

export type { WasmLayout };

export const WEIGHTS_SECTION = 'netc.weights';
export const RELAXED_SECTION = 'netc.relaxed';
export const THREADS_SECTION = 'netc.threads';
export const THREADS_RELAXED_SECTION = 'netc.threads.relaxed';

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

/** The threads builds (shared memory) of the code, plain and relaxed, and their memory. */
export interface ThreadsBuild {
  readonly memory: ThreadMemory;
  readonly plain: Uint8Array;
  readonly relaxed: Uint8Array;
}

/** The .wasm file: `code` (a module without weights), the `relaxed` module in a custom section
 * (as a delta), the threads builds in two more when there are any, and the weights in a
 * trailing one. */
export function withWeightsSection(
  code: Uint8Array,
  relaxed: Uint8Array,
  weights: Uint8Array,
  threads: ThreadsBuild | null = null,
): { bytes: Uint8Array; layout: WasmLayout } {
  const weightBytes = weights.length;
  const chunks: Uint8Array[] = [code];
  let top = code.length;
  /** Appends a custom section; returns where its payload starts. */
  const section = (name: string, payload: Uint8Array): number => {
    const header = sectionHeader(name, payload.length);
    chunks.push(new Uint8Array(header), payload);
    top += header.length + payload.length;
    return top - payload.length;
  };
  const relaxedDelta = encodeDelta(code, relaxed);
  const relaxedAt = section(RELAXED_SECTION, relaxedDelta);
  const threadsAt = threads ? section(THREADS_SECTION, threads.plain) : 0;
  const threadsRelaxed = threads ? encodeDelta(threads.plain, threads.relaxed) : null;
  const threadsRelaxedAt = threadsRelaxed ? section(THREADS_RELAXED_SECTION, threadsRelaxed) : 0;
  const header = sectionHeader(WEIGHTS_SECTION, weightBytes);
  const weightsAt = top + header.length;
  const bytes = new Uint8Array(weightsAt + weightBytes);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  bytes.set(header, weightsAt - header.length);
  bytes.set(weights, weightsAt);
  return {
    bytes,
    layout: {
      codeBytes: code.length,
      relaxedAt,
      relaxedBytes: relaxedDelta.length,
      threads: threads
        ? {
            ...threads.memory,
            plainAt: threadsAt,
            plainBytes: threads.plain.length,
            relaxedAt: threadsRelaxedAt,
            relaxedBytes: threadsRelaxed!.length,
          }
        : null,
      header,
      weightsAt,
      weightBytes,
      fileBytes: bytes.length,
    },
  };
}
