// The generated ES module: runtime support, kernels and the public API (inputs, outputs, load,
// run) as TypeScript or JavaScript from one writer, plus its .d.ts. Names from the source are
// data: they appear only inside JSON string literals, never as code.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KernelProgram } from '../../src/lower/program.js';

export type Flavor = 'ts' | 'js';

/** The package root: where package.json is, above this file (in dist/ or in the sources). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('netc bug: cannot find the netc package root');
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
  /** The wasm target: the .wasm file name beside the module. */
  readonly wasmFile?: string;
}

/** The module text (before Prettier). */
export function emitModule(m: ModuleParts): string {
  const p = m.program;
  const ts = m.flavor === 'ts';
  const ty = (s: string): string => (ts ? s : '');
  const t = apiTypes(p);
  const out: string[] = [m.banner];
  out.push(
    inline(
      'codegen/esm/runtime',
      'Runtime',
      ['shapeRecord', 'makeRun', 'fromBase64', 'floatsOf', 'bytesOf', 'permute'],
      m.flavor,
    ),
  );
  out.push(inline('src/weights/safetensors', 'Safetensors', ['loadWeights'], m.flavor));
  if (ts) out.push(typesOf('src/ir/weight-expr'));
  out.push(inline('src/passes/evaluate', 'Evaluate', ['evalWeightExpr'], m.flavor));
  if (m.kernels !== undefined) out.push(inline('src/layers/erf', 'MathFns', ['erf'], m.flavor));
  if (ts)
    out.push(
      `namespace Runtime { export type NetSpec = { name: string; batch: number | null; inputs: { name: string; offset: number; size: number; shape: number[] }[]; outputs: { name: string; offset: number; size: number; shape: number[] }[] }; }`,
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
export const inputs = Runtime.shapeRecord(SPEC.inputs)${ty(` as unknown as ${t.inputs}`)};
/** Per-example output shapes, batch excluded. */
export const outputs = Runtime.shapeRecord(SPEC.outputs)${ty(` as unknown as ${t.outputs}`)};
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
export async function load(options${ty('?: { weights?: ArrayBuffer | Uint8Array }')})${ty(': Promise<Net>')} {
  const M = new Float32Array(MEMORY_FLOATS);
  if (options !== undefined && options !== null && options.weights !== undefined)
    writeWeights(M, Runtime.bytesOf(options.weights));
  else M.set(Runtime.floatsOf(Runtime.fromBase64(BUILTIN_WEIGHTS)));
  const compute = instantiate(M);
  return { run: Runtime.makeRun(SPEC, () => M, compute)${ty(" as Net['run']")} };
}`);
  } else {
    out.push(`
let compiled${ty(': Promise<WebAssembly.Module> | undefined')};

/** The .wasm beside this module, compiled once (file system in Node, fetch in browsers). */
function wasmModule()${ty(': Promise<WebAssembly.Module>')} {
  compiled ??= (async () => {
    const url = new URL(${q(`./${m.wasmFile}`)}, import.meta.url);
    let bytes${ty(': ArrayBuffer | Uint8Array')};
    const proc = (globalThis${ty(' as { process?: { versions?: { node?: string } } }')}).process;
    if (url.protocol === 'file:' && proc?.versions?.node) {
      const fs = await import('node:fs/promises');
      bytes = await fs.readFile(url);
    } else {
      const response = await fetch(url);
      if (!response.ok) throw new Error(\`cannot fetch \${url}: \${response.status}\`);
      bytes = await response.arrayBuffer();
    }
    return WebAssembly.compile(bytes);
  })();
  return compiled;
}

/** Instantiates the network with its built-in weights, or a safetensors file's bytes (unfolded). */
export async function load(options${ty('?: { weights?: ArrayBuffer | Uint8Array }')})${ty(': Promise<Net>')} {
  const instance = await WebAssembly.instantiate(await wasmModule(), {});
  const memory = instance.exports['memory']${ty(' as WebAssembly.Memory')};
  const M = new Float32Array(memory.buffer, 0, MEMORY_FLOATS);
  if (options !== undefined && options !== null && options.weights !== undefined)
    writeWeights(M, Runtime.bytesOf(options.weights));
  // Weight transforms (Winograd's) from the weights now in memory, once.
  (instance.exports['prepare']${ty(' as () => void')})();
  const compute = instance.exports['run']${ty(' as () => void')};
  return { run: Runtime.makeRun(SPEC, () => M, compute)${ty(" as Net['run']")} };
}`);
  }
  return out.join('\n\n') + '\n';
}
