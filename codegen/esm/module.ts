// The generated ES module: runtime support, kernels and the public API (inputs, outputs, load,
// run) as TypeScript or JavaScript from one writer, plus its .d.ts. Names from the source are
// data: they appear only inside JSON string literals, never as code.
import { InternalError } from '../../src/diag/diagnostics.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KernelProgram } from '../../src/lower/program.js';
import type { WasmLayout } from '../wasm/weights_section.js';

export type Flavor = 'ts' | 'js';

/** The package root: where package.json is, above this file (in dist/ or in the sources). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new InternalError('cannot find the netc package root');
    dir = up;
  }
}

const sourceCache = new Map<string, string>();

/**
 * A source file of netc, inlined into generated modules as an IIFE so its private names cannot
 * collide: `const NS = (() => { ...body...; return { a, b }; })();`. TypeScript modules take the
 * .ts source, JavaScript ones the compiled .js from dist/.
 */
export function inline(file: string, ns: string, names: readonly string[], flavor: Flavor): string {
  const rel = flavor === 'ts' ? `${file}.ts` : path.join('dist', `${file}.js`);
  const key = `${rel}:${ns}`;
  let body = sourceCache.get(key);
  if (body === undefined) {
    const text = readFileSync(path.join(packageRoot(), rel), 'utf8');
    // Types imported from elsewhere in netc are opaque inside a generated module, except the
    // weight recipes, whose declarations the TypeScript flavor carries (see typesOf).
    const types = [
      ...text.matchAll(/^import type \{([^}]*)\}(?! from '[^']*weight-expr)/gm),
    ].flatMap((m) =>
      m[1]!
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean),
    );
    body =
      (flavor === 'ts' ? types.map((t) => `type ${t} = any;\n`).join('') : '') +
      text
        .replace(/^import[\s\S]*?from\s+['"][^'"]+['"];?\s*$/gm, '')
        .replace(/^export\s+(type\s+)?\{[^}]*\}(\s+from\s+['"][^'"]+['"])?;?\s*$/gm, '')
        .replace(
          /^export\s+(?=(async\s+)?(function|const|let|class|interface|type|abstract)\b)/gm,
          '',
        )
        .replace(/^\/\/# sourceMappingURL=.*$/gm, '')
        .trim();
    sourceCache.set(key, body);
  }
  return `const ${ns} = (() => {\n${body}\nreturn { ${names.join(', ')} };\n})();`;
}

/** A types-only source file's declarations, for the TypeScript flavor (no namespace needed). */
function typesOf(file: string): string {
  return readFileSync(path.join(packageRoot(), `${file}.ts`), 'utf8')
    .replace(/^export\s+/gm, '')
    .trim();
}

const q = (s: string): string => JSON.stringify(s);
const shapeType = (s: readonly number[]): string => `readonly [${s.join(', ')}]`;

function recordType(
  list: readonly { name: string; shape: readonly number[] }[],
  value: (s: readonly number[]) => string,
  optional = false,
): string {
  return `{ ${list.map((io) => `readonly ${q(io.name)}${optional ? '?' : ''}: ${value(io.shape)}`).join('; ')} }`;
}

/** The declarations of the module's API (NAME.d.ts, and the types inside NAME.ts). */
export function apiTypes(p: KernelProgram): {
  inputs: string;
  outputs: string;
  feeds: string;
  into: string;
  results: string;
} {
  return {
    inputs: recordType(p.inputs, shapeType),
    outputs: recordType(p.outputs, shapeType),
    feeds: recordType(p.inputs, () => 'Float32Array'),
    into: recordType(p.outputs, () => 'Float32Array', true),
    results: recordType(p.outputs, () => 'Float32Array'),
  };
}

export function emitDts(p: KernelProgram, banner: string): string {
  const t = apiTypes(p);
  return `${banner}
/** Per-example input shapes, batch excluded. */
export declare const inputs: ${t.inputs};
/** Per-example output shapes, batch excluded. */
export declare const outputs: ${t.outputs};
export interface Net {
  /** Runs a batch (the batch size comes from the input lengths); \`into\` may hold caller-owned outputs. */
  run(feeds: ${t.feeds}, into?: ${t.into}): ${t.results};
}
/** Instantiates the network with its built-in weights, or a safetensors file's bytes (unfolded). */
export declare function load(options?: { weights?: ArrayBuffer | Uint8Array }): Promise<Net>;
`;
}

/** The metadata the runtime needs, as data (JSON), never spliced as code. */
function specLiterals(p: KernelProgram, types: boolean): string {
  const spec = {
    name: p.name,
    batch: p.batch,
    inputs: p.inputs,
    outputs: p.outputs,
    streams: p.streams.map((st) => ({
      output: st.output,
      groups: st.groups.map((g) => ({ count: g.count, at: g.at, atStep: g.atStep, size: g.size })),
    })),
  };
  const params = p.params.map((x) => ({ name: x.key, shape: x.shape }));
  const segments = p.weights.map((s) => ({ offset: s.offset, value: s.value, pack: s.pack }));
  const ty = (s: string): string => (types ? `: ${s}` : '');
  return [
    `const SPEC${ty('Runtime.NetSpec')} = ${JSON.stringify(spec)};`,
    `const PARAMS${ty('{ name: string; shape: number[] }[]')} = ${JSON.stringify(params)};`,
    `const SEGMENTS${ty('{ offset: number; value: any; pack: { shape: number[]; perm: number[] } | null }[]')} = ${JSON.stringify(segments)};`,
    `const MEMORY_FLOATS = ${p.memoryFloats};`,
  ].join('\n');
}

export interface ModuleParts {
  readonly program: KernelProgram;
  readonly flavor: Flavor;
  readonly banner: string;
  /** For the TypeScript target: the kernels as functions over `M` (printed by codegen/ts). */
  readonly kernels?: string;
  /** The TypeScript target's built-in weights (base64 of the packed f32 weight area). */
  readonly builtinBase64?: string;
  /** The wasm target: the .wasm file name beside the module, and where its parts are. */
  readonly wasmFile?: string;
  readonly wasmLayout?: WasmLayout;
}

/** The module text (before Prettier). */
export function emitModule(m: ModuleParts): string {
  const p = m.program;
  const ts = m.flavor === 'ts';
  const ty = (s: string): string => (ts ? s : '');
  const t = apiTypes(p);
  // The exports come first: where no package.json says "type": "module", Node compiles a .js
  // file as CommonJS until the first ESM syntax fails, then again as an ES module; an export
  // on the first line makes that failed attempt cost nothing instead of a parse of the file.
  const out: string[] = [m.banner, 'export { inputs, outputs, load };'];
  out.push(
    inline(
      'src/runtime/loader',
      'Runtime',
      ['shapeRecord', 'makeRun', 'fromBase64', 'floatsOf', 'bytesOf', 'permute'],
      m.flavor,
    ),
  );
  out.push(inline('src/runtime/safetensors', 'Safetensors', ['loadWeights'], m.flavor));
  if (ts) out.push(typesOf('src/runtime/weight-expr'));
  out.push(inline('src/runtime/evaluate', 'Evaluate', ['evalWeightExpr'], m.flavor));
  if (m.kernels !== undefined) out.push(inline('src/runtime/erf', 'MathFns', ['erf'], m.flavor));
  if (ts)
    out.push(
      `namespace Runtime { export type NetSpec = { name: string; batch: number | null; inputs: { name: string; offset: number; size: number; shape: number[] }[]; outputs: { name: string; offset: number; size: number; shape: number[] }[]; streams: { output: string; groups: { count: number; at: number; atStep: number; size: number }[] }[] }; }`,
    );
  out.push(specLiterals(p, ts));
  out.push(`
/** Folds and packs unfolded weights (a safetensors file) into memory, checking them first. */
function writeWeights(M${ty(': Float32Array')}, bytes${ty(': Uint8Array')})${ty(': void')} {
  const values = Safetensors.loadWeights(bytes, PARAMS);
  const params = new Map(PARAMS.map((p, i) => [p.name, values[i]${ty('!')}]));
  for (const s of SEGMENTS) {
    const v = Evaluate.evalWeightExpr(s.value, params);
    M.set(s.pack ? Runtime.permute(v, s.pack.shape, s.pack.perm) : v, s.offset);
  }
}

/** Per-example input shapes, batch excluded. */
const inputs = Runtime.shapeRecord(SPEC.inputs)${ty(` as unknown as ${t.inputs}`)};
/** Per-example output shapes, batch excluded. */
const outputs = Runtime.shapeRecord(SPEC.outputs)${ty(` as unknown as ${t.outputs}`)};
${ty(`export interface Net {
  /** Runs a batch (the batch size comes from the input lengths); \`into\` may hold caller-owned outputs. */
  run(feeds: ${t.feeds}, into?: ${t.into}): ${t.results};
}`)}`);
  if (m.kernels !== undefined) {
    out.push(`
/** The kernels over one network's memory M; returns the function that runs them all. */
function instantiate(M${ty(': Float32Array')})${ty(': () => void')} {
const erf = MathFns.erf;
${m.kernels}
}

/** Instantiates the network with its built-in weights, or a safetensors file's bytes (unfolded). */
async function load(options${ty('?: { weights?: ArrayBuffer | Uint8Array }')})${ty(': Promise<Net>')} {
  const M = new Float32Array(MEMORY_FLOATS);
  if (options !== undefined && options !== null && options.weights !== undefined)
    writeWeights(M, Runtime.bytesOf(options.weights));
  else M.set(Runtime.floatsOf(Runtime.fromBase64(BUILTIN_WEIGHTS)));
  const compute = instantiate(M);
  return { run: Runtime.makeRun(SPEC, () => M, compute)${ty(" as Net['run']")} };
}`);
  } else {
    const layout = m.wasmLayout;
    if (!layout) throw new InternalError('a wasm module needs the layout of its .wasm file');
    const U8 = ty(': Uint8Array');
    out.push(`
/** Where the parts of the .wasm file are: the code module, a custom section holding the same
 * code with relaxed SIMD, then one holding the weight area (raw little-endian f32), which is
 * read straight into memory at byte 0. */
const WASM = ${JSON.stringify(layout)};

/** Throws unless the .wasm file is the one built with this module (its size, its section). */
function checkWasm(url${ty(': URL')}, size${ty(': number')}, header${U8})${ty(': void')} {
  if (size !== WASM.fileBytes || WASM.header.some((b, i) => header[i] !== b))
    throw new Error(
      \`\${url} is not the .wasm file built with this module (\${size} bytes, expected \${WASM.fileBytes} ending in its weights): build again and keep the files together\`,
    );
}

/** Node: bytes [at, at + into.length) of the .wasm file into \`into\`, the file checked first. */
function readWasm(fs${ty(': any')}, url${ty(': URL')}, at${ty(': number')}, into${U8})${U8} {
  const fd = fs.openSync(url, 'r');
  try {
    const header = new Uint8Array(WASM.header.length);
    fs.readSync(fd, header, 0, header.length, WASM.weightsAt - header.length);
    checkWasm(url, fs.fstatSync(fd).size, header);
    for (let done = 0; done < into.length; ) {
      const n = fs.readSync(fd, into, done, into.length - done, at + done);
      if (n === 0) throw new Error(\`\${url} changed while it was read\`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return into;
}

/**
 * Where the code to compile is in the .wasm file: the relaxed SIMD build (multiply-adds fused
 * where the hardware can) when the engine validates a relaxed SIMD instruction, else the
 * plain SIMD one. The probe is a module with one function computing f32x4.relaxed_madd.
 */
function code()${ty(': [number, number]')} {
  const probe = [0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 0, 32, 0, 253, 133, 2, 11];
  return WebAssembly.validate(new Uint8Array(probe))
    ? [WASM.relaxedAt, WASM.relaxedBytes]
    : [0, WASM.codeBytes];
}

${ty('/** The compiled code part and a reader of the built-in weights into a memory. */\ntype WasmParts = { module: WebAssembly.Module; weights: (M: Uint8Array) => void };')}
let compiled${ty(': Promise<WasmParts> | undefined')};

/**
 * The .wasm beside this module: its code compiled once, and its built-in weights (file system in
 * Node, read straight into the first memory that needs them; fetch in browsers).
 */
function wasmModule()${ty(': Promise<WasmParts>')} {
  if (compiled !== undefined) return compiled;
  const attempt = (async () => {
    const url = new URL(${q(`./${m.wasmFile}`)}, import.meta.url);
    const proc = (globalThis${ty(' as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => any } }')}).process;
    if (url.protocol === 'file:' && proc?.versions?.node) {
      // Synchronous reads and compile (of the small code part): no thread-pool round trips.
      // process.getBuiltinModule: Node 20.16+ and 22.3+.
      const fs = proc.getBuiltinModule?.('node:fs') ?? (await import('node:fs'));
      const [at, n] = code();
      const module = new WebAssembly.Module(readWasm(fs, url, at, new Uint8Array(n)));
      // Later loads copy the weights from the memory that last read them while it is alive
      // (no kernel writes below the weight area's end, where the memory planner's arena
      // starts, so they stay as read). It is held weakly: a dropped net's memory is not kept
      // for this, and the next load reads the file again.
      let last${ty(': WeakRef<ArrayBuffer> | null')} = null;
      const weights = (M${U8})${ty(': void')} => {
        const from = last?.deref();
        if (from) M.set(new Uint8Array(from, 0, M.length));
        else {
          readWasm(fs, url, WASM.weightsAt, M);
          last = new WeakRef(M.buffer${ty(' as ArrayBuffer')});
        }
      };
      return { module, weights };
    }
    const response = await fetch(url);
    if (!response.ok) throw new Error(\`cannot fetch \${url}: \${response.status}\`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    checkWasm(url, bytes.length, bytes.subarray(WASM.weightsAt - WASM.header.length, WASM.weightsAt));
    const [at, n] = code();
    const module = await WebAssembly.compile(bytes.subarray(at, at + n));
    return { module, weights: (M${U8}) => M.set(bytes.subarray(WASM.weightsAt)) };
  })();
  // A failure (a missing file, a failed fetch) is not kept: the next load() tries again.
  compiled = attempt;
  attempt.catch(() => {
    if (compiled === attempt) compiled = undefined;
  });
  return attempt;
}

/** Instantiates the network with its built-in weights, or a safetensors file's bytes (unfolded). */
async function load(options${ty('?: { weights?: ArrayBuffer | Uint8Array }')})${ty(': Promise<Net>')} {
  const wasm = await wasmModule();
  const instance = await WebAssembly.instantiate(wasm.module, {});
  const memory = instance.exports['memory']${ty(' as WebAssembly.Memory')};
  const M = new Float32Array(memory.buffer, 0, MEMORY_FLOATS);
  if (options !== undefined && options !== null && options.weights !== undefined)
    writeWeights(M, Runtime.bytesOf(options.weights));
  else wasm.weights(new Uint8Array(memory.buffer, 0, WASM.weightBytes));
  // Weight transforms (Winograd's) from the weights now in memory, once.
  (instance.exports['prepare']${ty(' as () => void')})();
  const compute = instance.exports['run']${ty(' as () => void')};
  const slice = instance.exports['slice']${ty(' as (i: number) => void')};
  return { run: Runtime.makeRun(SPEC, () => M, compute, slice)${ty(" as Net['run']")} };
}`);
  }
  return out.join('\n\n') + '\n';
}
