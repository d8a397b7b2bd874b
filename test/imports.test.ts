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

  it('only the driver and the CLI import codegen/', () => {
    for (const f of files('src'))
      for (const i of imports(f))
        if (i.startsWith('codegen/'))
          expect(f === 'src/driver.ts' || f.startsWith('src/cli/'), `${f} imports ${i}`).toBe(true);
  });

  it('only codegen/wasm/module.ts imports binaryen', () => {
    for (const dir of ['grammar', 'src', 'codegen'])
      for (const f of files(dir))
        if (imports(f).includes('binaryen')) expect(f).toBe('codegen/wasm/module.ts');
  });
});
