// The TypeScript target's load(), inlined into its generated modules: a network over a fresh
// memory, with the weights built into the module or given to load(). No imports but the
// runtime's own.
import { bytesOf, makeRun, writeWeights } from './loader.js';
import type { LoadOptions, Net, NetData } from './net.js';
import { makeNet, threadsOption } from './threads.js';

/** Base64 to bytes, fast for large strings (weights built into TypeScript modules). */
export function fromBase64(s: string): Uint8Array {
  const table = new Uint8Array(128);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = i;
  let n = s.length;
  while (n > 0 && s[n - 1] === '=') n--;
  const out = new Uint8Array((n * 3) >> 2);
  let o = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v =
      (table[s.charCodeAt(i)]! << 18) |
      (table[s.charCodeAt(i + 1)]! << 12) |
      (table[s.charCodeAt(i + 2)]! << 6) |
      table[s.charCodeAt(i + 3)]!;
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 255;
    out[o++] = v & 255;
  }
  if (n - i >= 2) {
    const v =
      (table[s.charCodeAt(i)]! << 18) |
      (table[s.charCodeAt(i + 1)]! << 12) |
      (n - i === 3 ? table[s.charCodeAt(i + 2)]! << 6 : 0);
    out[o++] = v >> 16;
    if (n - i === 3) out[o++] = (v >> 8) & 255;
  }
  return out;
}

/** Little-endian f32 bytes as a Float32Array (copies; any alignment). */
function floatsOf(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length >> 2);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  return out;
}

/**
 * A network over a fresh memory, with the built-in weights
 * (`builtin`: the packed weight area, base64) or `options.weights` (a safetensors file's bytes,
 * unfolded); `instantiate` gives the kernels over that memory and returns the function running
 * them all.
 */
export function load(
  net: NetData,
  builtin: string,
  instantiate: (M: Float32Array) => () => void,
  options: LoadOptions | null | undefined,
): Net {
  // Checked like the wasm target's; this target runs on the calling thread alone.
  threadsOption(options);
  const M = new Float32Array(net.memoryFloats);
  if (options !== undefined && options !== null && options.weights !== undefined)
    writeWeights(M, bytesOf(options.weights), net);
  else M.set(floatsOf(fromBase64(builtin)));
  const compute = instantiate(M);
  return makeNet(
    makeRun(net.spec, () => M, compute),
    1,
  );
}
