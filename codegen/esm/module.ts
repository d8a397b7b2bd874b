// The generated ES module: the runtime (src/runtime/, inlined), the program as data, the kernels
// and the public API (inputs, outputs, load, run) as TypeScript or JavaScript from one writer,
// plus its .d.ts. Names from the source are data: they appear only inside JSON string literals,
// never as code.
import { InternalError } from '../../src/diag/diagnostics.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KernelProgram } from '../../src/lower/program.js';
import type { NetData } from '../../src/runtime/net.js';
import type { WasmLayout } from '../../src/runtime/wasm_loader.js';

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

/** A file of the runtime (src/runtime/), as generated modules carry it. */
interface RuntimeFile {
  /** src/runtime/FILE.ts */
  readonly file: string;
  /** The namespace it is in a generated module. */
  readonly ns: string;
  /** The names the namespace exposes (what generated code and later runtime files use), or
   * null for a types-only file: TypeScript modules declare its types in a namespace,
   * JavaScript ones carry nothing of it. */
  readonly names: readonly string[] | null;
}

/**
 * The runtime generated modules inline, each file as a namespace, in dependency order (a file
 * imports only files above it). A module carries the files its entry points import, directly
 * or not. test/runtime.test.ts checks the names against the files' exports and the modules' uses.
 */
export const RUNTIME: readonly RuntimeFile[] = [
  { file: 'erf', ns: 'MathFns', names: ['erf'] },
  { file: 'weight-expr', ns: 'WeightExprs', names: null },
  { file: 'net', ns: 'NetTypes', names: null },
  { file: 'safetensors', ns: 'Safetensors', names: ['loadWeights'] },
  { file: 'evaluate', ns: 'Evaluate', names: ['evalWeightExpr'] },
  {
    file: 'loader',
    ns: 'Runtime',
    names: ['shapeRecord', 'makeRun', 'bytesOf', 'writeWeights', 'readBeside', 'withStored'],
  },
  { file: 'threads', ns: 'Threads', names: ['threadsOption', 'makeNet'] },
  { file: 'ts_loader', ns: 'TsLoader', names: ['load', 'fromBase64'] },
  {
    file: 'pool',
    ns: 'Pool',
    names: [
      'resolveThreads',
      'sharedMemory',
      'canWait',
      'startWorkers',
      'GO',
      'PREPARE_NEXT',
      'READ_NEXT',
    ],
  },
  { file: 'delta', ns: 'Delta', names: ['applyDelta'] },
  { file: 'wasm_loader', ns: 'WasmLoader', names: ['wasmFile', 'load'] },
];

/** An import from another runtime file (the only imports runtime files have). */
const IMPORT = /^import\s+(type\s+)?\{([^}]*)\}\s*from\s*['"]\.\/([\w-]+)\.js['"];?[ \t]*$/gm;

/** The runtime file `file`, or a netc bug. */
function runtimeFile(file: string): RuntimeFile {
  const f = RUNTIME.find((r) => r.file === file);
  if (!f) throw new InternalError(`src/runtime/${file} is not in RUNTIME`);
  return f;
}

const sourceCache = new Map<string, string>();

/** A runtime file's text: the .ts source for TypeScript modules, the compiled .js from dist/
 * for JavaScript ones. */
function runtimeText(file: string, flavor: Flavor): string {
  const rel = flavor === 'ts' ? `src/runtime/${file}.ts` : `dist/src/runtime/${file}.js`;
  let text = sourceCache.get(rel);
  if (text === undefined) {
    text = readFileSync(path.join(packageRoot(), rel), 'utf8');
    sourceCache.set(rel, text);
  }
  return text;
}

/**
 * One runtime file inlined. A file with values becomes an IIFE, so its private names cannot
 * collide: `const NS = (() => { ...body...; return { a, b }; })();`, its imports from other
 * runtime files `const { a } = NS;` (and `type T = NS.T;`). A types-only file becomes, in
 * TypeScript modules, a namespace of declarations (types only, so erasable):
 * `namespace NS { export type T = ...; }`.
 */
function inlineFile(f: RuntimeFile, flavor: Flavor): string {
  const at = RUNTIME.indexOf(f);
  let body = runtimeText(f.file, flavor).replace(
    IMPORT,
    (_, allTypes: string | undefined, list: string, from: string) => {
      const dep = runtimeFile(from);
      if (RUNTIME.indexOf(dep) >= at)
        throw new InternalError(`src/runtime/${f.file} imports ${from}, listed after it`);
      const values: string[] = [];
      const types: string[] = [];
      for (const spec of list.split(',').map((s) => s.trim())) {
        if (!spec) continue;
        const m = /^(type\s+)?(\w+)(?:\s+as\s+(\w+))?$/.exec(spec);
        if (!m) throw new InternalError(`cannot inline the import ${spec} in ${f.file}`);
        const name = m[2]!;
        const local = m[3] ?? name;
        if (allTypes || m[1]) types.push(`type ${local} = ${dep.ns}.${name};`);
        else if (dep.names === null || !dep.names.includes(name))
          throw new InternalError(`src/runtime/${f.file} imports ${name}, not in ${dep.ns}`);
        else values.push(local === name ? name : `${name}: ${local}`);
      }
      return [
        ...(values.length ? [`const { ${values.join(', ')} } = ${dep.ns};`] : []),
        ...(flavor === 'ts' ? types : []),
      ].join('\n');
    },
  );
  if (/^(import|export)\b(?!\s+(async\s+)?(function|const|let|class|interface|type)\b)/m.test(body))
    throw new InternalError(`src/runtime/${f.file} has an import or export netc cannot inline`);
  body = body.replace(/^\/\/# sourceMappingURL=.*$/gm, '').trim();
  if (f.names === null) return `namespace ${f.ns} {\n${body}\n}`;
  body = body.replace(/^export\s+(?=(async\s+)?(function|const|let|class|interface|type)\b)/gm, '');
  return `const ${f.ns} = (() => {\n${body}\nreturn { ${f.names.join(', ')} };\n})();`;
}

/**
 * The runtime for a module whose code uses the runtime files `entries`: those and every file
 * they import, directly or not, in RUNTIME's order (JavaScript modules: value imports only).
 */
export function inlineRuntime(entries: readonly string[], flavor: Flavor): string {
  const needed = new Set<string>();
  const visit = (file: string): void => {
    if (needed.has(file)) return;
    needed.add(runtimeFile(file).file);
    for (const m of runtimeText(file, flavor).matchAll(IMPORT)) visit(m[3]!);
  };
  entries.forEach(visit);
  return RUNTIME.filter((f) => needed.has(f.file) && (f.names !== null || flavor === 'ts'))
    .map((f) => inlineFile(f, flavor))
    .join('\n\n');
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
    // Results are fresh arrays over an ArrayBuffer (or the caller's `into` arrays): typed so,
    // since TypeScript 5.7 an ArrayBufferLike one is not a BlobPart or a BufferSource.
    into: recordType(p.outputs, () => 'Float32Array<ArrayBuffer>', true),
    results: recordType(p.outputs, () => 'Float32Array<ArrayBuffer>'),
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
  /** The threads its runs use (the calling thread and \`threads - 1\` workers). */
  readonly threads: number;
  /** Ends its workers; \`run()\` afterwards throws. */
  dispose(): void;
}
/** The options of \`load()\`: a safetensors file's bytes (unfolded) instead of the built-in
 * weights; how many threads run the kernels (an integer from 1 to 16, or 'auto', the default:
 * the cores, at most 8, where shared memory is available). */
export interface LoadOptions {
  weights?: ArrayBuffer | Uint8Array;
  threads?: number | 'auto';
}
/** Instantiates the network with its built-in weights, or a safetensors file's bytes (unfolded). */
export declare function load(options?: LoadOptions): Promise<Net>;
`;
}

/** What the runtime knows of the program, as data (JSON), never spliced as code. */
function netData(p: KernelProgram): NetData {
  return {
    spec: {
      name: p.name,
      batch: p.batch,
      inputs: p.inputs,
      outputs: p.outputs,
      streams: p.streams.map((st) => ({
        output: st.output,
        groups: st.groups.map((g) => ({
          count: g.count,
          at: g.at,
          atStep: g.atStep,
          size: g.size,
        })),
      })),
    },
    memoryFloats: p.memoryFloats,
    storedFloats: p.storedFloats,
    weightFloats: p.weightFloats,
    params: p.params.map((x) => ({ name: x.key, shape: x.shape })),
    segments: p.weights.map((s) => ({ offset: s.offset, value: s.value, pack: s.pack })),
  };
}

export interface ModuleParts {
  readonly program: KernelProgram;
  readonly flavor: Flavor;
  readonly banner: string;
  /** For the TypeScript target: the kernels as functions over `M` (printed by codegen/ts). */
  readonly kernels?: string;
  /** The wasm target: the .wasm file name beside the module, and where its parts are. */
  readonly wasmFile?: string;
  readonly wasmLayout?: WasmLayout;
  /** Where the weights are: 'area' (built in, packed and folded), 'builtin' (built in as a
   * safetensors file, folded at load), or the name of the safetensors file beside the module.
   * Default 'area'. */
  readonly weights?: string;
}

/**
 * The expression giving a `() => Promise<Uint8Array>` of the stored safetensors file for
 * `load()` without weights, or null when the module holds the packed area. `builtin` is the
 * expression of the built-in bytes.
 */
function storedWeights(weights: string | undefined, builtin: string): string | null {
  if (weights === undefined || weights === 'area') return null;
  if (weights === 'builtin') return `async () => ${builtin}`;
  return `() => Runtime.readBeside(new URL(${q(`./${weights}`)}, import.meta.url), ${q(weights)})`;
}

/** The module text (before Prettier): the runtime, the program as data, and short calls. */
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
    inlineRuntime(m.kernels !== undefined ? ['erf', 'ts_loader'] : ['wasm_loader'], m.flavor),
  );
  const net = netData(p);
  out.push(`
/** The network's inputs and outputs in memory (per example), and its streamed outputs. */
const SPEC${ty(': NetTypes.NetSpec')} = ${JSON.stringify(net.spec)};
/** The unfolded weights load({ weights }) takes, in order. */
const PARAMS${ty(': readonly NetTypes.ParamSpec[]')} = ${JSON.stringify(net.params)};
/** How the weight area is computed from them. */
const SEGMENTS${ty(': readonly NetTypes.Segment[]')} = ${JSON.stringify(net.segments)};
/** The network as the runtime sees it (its memory's size in floats). */
const NET${ty(': NetTypes.NetData')} = { spec: SPEC, memoryFloats: ${net.memoryFloats}, storedFloats: ${net.storedFloats}, weightFloats: ${net.weightFloats}, params: PARAMS, segments: SEGMENTS };

/** Per-example input shapes, batch excluded. */
const inputs = Runtime.shapeRecord(SPEC.inputs)${ty(` as unknown as ${t.inputs}`)};
/** Per-example output shapes, batch excluded. */
const outputs = Runtime.shapeRecord(SPEC.outputs)${ty(` as unknown as ${t.outputs}`)};
${ty(`export interface Net {
  /** Runs a batch (the batch size comes from the input lengths); \`into\` may hold caller-owned outputs. */
  run(feeds: ${t.feeds}, into?: ${t.into}): ${t.results};
  /** The threads its runs use (the calling thread and \`threads - 1\` workers). */
  readonly threads: number;
  /** Ends its workers; \`run()\` afterwards throws. */
  dispose(): void;
}`)}`);
  if (m.kernels !== undefined) {
    out.push(`
/** The kernels over one network's memory M; returns the function that runs them all. */
function instantiate(M${ty(': Float32Array')})${ty(': () => void')} {
const erf = MathFns.erf;
${m.kernels}
}

/** Instantiates the network with its built-in weights, or a safetensors file's bytes (unfolded). */
async function load(options${ty("?: { weights?: ArrayBuffer | Uint8Array; threads?: number | 'auto' }")})${ty(': Promise<Net>')} {
  return TsLoader.load(NET, BUILTIN_WEIGHTS, instantiate, ${
    storedWeights(m.weights, 'TsLoader.fromBase64(BUILTIN_WEIGHTS)') === null
      ? 'options'
      : `await Runtime.withStored(options, ${storedWeights(m.weights, 'TsLoader.fromBase64(BUILTIN_WEIGHTS)')})`
  })${ty(' as Net')};
}`);
  } else {
    if (!m.wasmLayout || ts)
      throw new InternalError('a wasm module is JavaScript and needs the layout of its .wasm file');
    const layout: WasmLayout = m.wasmLayout;
    out.push(`
/** Where the parts of the .wasm file are: the code module, a custom section holding the same
 * code with relaxed SIMD, then one holding the weight area (raw little-endian f32), which is
 * read straight into memory at byte 0. */
const WASM = ${JSON.stringify(layout)};

/** The .wasm file beside this module, compiled on first use. */
const wasmFile = WasmLoader.wasmFile(WASM, () => new URL(${q(`./${m.wasmFile}`)}, import.meta.url));

/** Instantiates the network with its built-in weights, or a safetensors file's bytes (unfolded). */
async function load(options) {
  return WasmLoader.load(NET, WASM, wasmFile, ${
    storedWeights(m.weights, '(await wasmFile()).bytes()') === null
      ? 'options'
      : `await Runtime.withStored(options, ${storedWeights(m.weights, '(await wasmFile()).bytes()')})`
  });
}`);
  }
  return out.join('\n\n') + '\n';
}
