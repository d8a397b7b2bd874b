// The architecture's import rules, checked: who may import whom.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(root, dir))) {
    const rel = path.join(dir, e);
    if (statSync(path.join(root, rel)).isDirectory()) out.push(...files(rel));
    else if (rel.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** Module specifiers imported by a file, resolved to project-relative paths when relative. */
function imports(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const specs = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g),
  ].map((m) => m[1]!);
  return specs.map((s) =>
    s.startsWith('.')
      ? path.relative(root, path.resolve(path.dirname(path.join(root, file)), s))
      : s,
  );
}

describe('import rules', () => {
  it('grammar/ imports only chevrotain and itself', () => {
    for (const f of files('grammar'))
      for (const i of imports(f))
        expect(i === 'chevrotain' || i.startsWith('grammar/'), `${f} imports ${i}`).toBe(true);
  });

  it('codegen/ never sees the AST, the grammar or the front end', () => {
    for (const f of files('codegen'))
      for (const i of imports(f))
        expect(i.startsWith('grammar/') || i.startsWith('src/frontend/'), `${f} imports ${i}`).toBe(
          false,
        );
  });

  it('only the driver, the backends and the CLI import codegen/', () => {
    for (const f of files('src'))
      for (const i of imports(f))
        if (i.startsWith('codegen/'))
          expect(
            f === 'src/driver.ts' || f === 'src/backends.ts' || f.startsWith('src/cli/'),
            `${f} imports ${i}`,
          ).toBe(true);
  });

  it('src/ir imports only itself, the span and the weight recipes', () => {
    for (const f of files('src/ir'))
      for (const i of imports(f))
        expect(
          i.startsWith('src/ir/') || i === 'grammar/span.js' || i === 'src/runtime/weight-expr.js',
          `${f} imports ${i}`,
        ).toBe(true);
  });

  it('src/layers holds op definitions: it imports only src/ir, the runtime math and itself', () => {
    for (const f of files('src/layers'))
      for (const i of imports(f))
        expect(
          i.startsWith('src/ir/') || i.startsWith('src/layers/') || i === 'src/runtime/erf.js',
          `${f} imports ${i}`,
        ).toBe(true);
  });

  it('the kernel IR imports only itself and the runtime math', () => {
    for (const f of files('src/kir'))
      for (const i of imports(f))
        expect(i.startsWith('src/kir/') || i === 'src/runtime/erf.js', `${f} imports ${i}`).toBe(
          true,
        );
  });

  it('src/runtime (inlined into generated modules) imports nothing but itself', () => {
    for (const f of files('src/runtime'))
      for (const i of imports(f))
        expect(i.startsWith('src/runtime/'), `${f} imports ${i}`).toBe(true);
  });

  it('only the strategy table imports the kernels', () => {
    for (const dir of ['grammar', 'src', 'codegen'])
      for (const f of files(dir))
        if (!f.startsWith('src/lower/kernels/'))
          for (const i of imports(f))
            if (i.startsWith('src/lower/kernels/'))
              expect(f, `${f} imports ${i}`).toBe('src/lower/strategy.ts');
  });

  it('no import cycle anywhere in grammar/, src/ and codegen/', () => {
    const graph = new Map<string, string[]>();
    for (const dir of ['grammar', 'src', 'codegen'])
      for (const f of files(dir))
        graph.set(
          f,
          imports(f)
            .filter((i) => i.endsWith('.js'))
            .map((i) => i.replace(/\.js$/, '.ts')),
        );
    // Depth-first search; a file met again while still on the path closes a cycle.
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const i of graph.get(f) ?? []) visit(i, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('only codegen/wasm/module.ts imports binaryen', () => {
    for (const dir of ['grammar', 'src', 'codegen'])
      for (const f of files(dir))
        if (imports(f).includes('binaryen')) expect(f).toBe('codegen/wasm/module.ts');
  });
});
