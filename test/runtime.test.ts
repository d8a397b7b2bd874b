// The runtime inlined into generated modules (src/runtime/, listed in RUNTIME in
// codegen/esm/module.ts): one list of its files, each exposing exactly what generated code uses.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME } from '../codegen/esm/module.js';
import { buildNetwork } from '../src/driver.js';
import { compileSource } from '../src/frontend/index.js';

const root = path.resolve(import.meta.dirname, '..');

const SOURCE = `
network inlined {
  input x: [6, 6, 4]
  output y = x -> conv2d(8, 3, padding: same, activation: gelu) -> batch_normalization
}`;

/** The generated modules' text: the TypeScript target's .ts and .js, the wasm target's .js. */
const modules: Record<string, string> = {};

beforeAll(async () => {
  const graph = compileSource(SOURCE).graphs[0]!;
  // Each target with its weights packed in, beside it (--external-weights), and built in as
  // an int8 safetensors file (--weight-precision int8): every loader path.
  const variants = [
    ['', {}],
    ['+external', { externalWeights: true }],
    ['+int8', { weightPrecision: 'int8' }],
  ] as const;
  for (const target of ['ts', 'wasm'] as const)
    for (const [suffix, extra] of variants) {
      const built = await buildNetwork(graph, { target, seed: 1, format: false, ...extra });
      if (!built.ok) throw new Error(built.error);
      for (const f of built.files)
        if (/\.(ts|js)$/.test(f.name) && !f.name.endsWith('.d.ts'))
          modules[`${target}${suffix}:${f.name}`] = String(f.data);
    }
}, 60_000);

/** The names a module takes from namespace `ns`: `ns.name` and `const { a, b } = ns;`. */
function uses(text: string, ns: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(new RegExp(`\\b${ns}\\.(\\w+)`, 'g'))) out.add(m[1]!);
  for (const m of text.matchAll(new RegExp(`const \\{([^}]*)\\} = ${ns};`, 'g')))
    for (const n of m[1]!.split(',')) out.add(n.trim().split(':')[0]!.trim());
  return out;
}

describe('the inlined runtime', () => {
  it('RUNTIME lists every file of src/runtime, once', () => {
    const files = readdirSync(path.join(root, 'src/runtime'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3))
      .sort();
    expect(RUNTIME.map((f) => f.file).sort()).toEqual(files);
    expect(new Set(RUNTIME.map((f) => f.ns)).size).toBe(RUNTIME.length);
  });

  it("each namespace's names are exports of its file (types-only files export no value)", async () => {
    for (const f of RUNTIME) {
      const exports = Object.keys(await import(`../src/runtime/${f.file}.ts`));
      if (f.names === null) expect(exports, f.file).toEqual([]);
      else for (const n of f.names) expect(exports, `${f.file} exports ${n}`).toContain(n);
    }
  });

  it('each namespace exposes exactly what the generated modules use', () => {
    expect(Object.keys(modules).sort()).toEqual([
      'ts+external:inlined.js',
      'ts+external:inlined.ts',
      'ts+int8:inlined.js',
      'ts+int8:inlined.ts',
      'ts:inlined.js',
      'ts:inlined.ts',
      'wasm+external:inlined.js',
      'wasm+int8:inlined.js',
      'wasm:inlined.js',
    ]);
    for (const f of RUNTIME) {
      if (f.names === null) continue;
      const used = new Set<string>();
      for (const [name, text] of Object.entries(modules)) {
        const here = uses(text, f.ns);
        const inlined = text.includes(`const ${f.ns} = (() => {`);
        // A module carries a file when it uses it, and then all of its names are there.
        expect(inlined, `${name} carries ${f.file}`).toBe(here.size > 0);
        for (const n of here) {
          expect(f.names, `${name} uses ${f.ns}.${n}`).toContain(n);
          used.add(n);
        }
      }
      expect([...used].sort(), `${f.ns} exposes only what is used`).toEqual([...f.names].sort());
    }
  });

  it('each target carries its own loader only', () => {
    expect(modules['wasm:inlined.js']).not.toContain('const TsLoader = ');
    expect(modules['wasm:inlined.js']).not.toContain('const MathFns = ');
    for (const k of ['ts:inlined.js', 'ts:inlined.ts'])
      expect(modules[k]).not.toContain('const WasmLoader = ');
    // Types-only files are declarations in TypeScript, nothing in JavaScript.
    expect(modules['ts:inlined.ts']).toContain('namespace NetTypes {');
    expect(modules['ts:inlined.js']).not.toContain('NetTypes');
  });
});
