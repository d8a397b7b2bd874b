// Building twice gives identical bytes, for every file of both targets; a build without
// formatting (the option tests use) is the same code.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import { expect, it } from 'vitest';
import { buildNetwork, type OutputFile, type Target } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';

const root = path.resolve(import.meta.dirname, '../..');
const text = readFileSync(path.join(root, 'examples', 'mnist.net'), 'utf8');

const build = async (target: Target, format = true): Promise<OutputFile[]> => {
  // A fresh compile each time: nothing may depend on state left by an earlier build.
  const [graph] = compileSource(text).graphs;
  const built = await buildNetwork(graph!, { target, seed: 11, format });
  if (!built.ok) throw new Error(built.error);
  return built.files;
};
/** The first formatted build of each target, for both tests (formatting costs seconds). */
const first = new Map<Target, OutputFile[]>();
const firstBuild = async (target: Target): Promise<OutputFile[]> => {
  if (!first.has(target)) first.set(target, await build(target));
  return first.get(target)!;
};

it('two builds of mnist.net are byte-identical (wasm and ts)', async () => {
  for (const target of ['wasm', 'ts'] as const) {
    const a = await firstBuild(target);
    const b = await build(target);
    expect(a.map((f) => f.name)).toEqual(b.map((f) => f.name));
    a.forEach((f, i) =>
      expect(Buffer.from(f.data).equals(Buffer.from(b[i]!.data)), f.name).toBe(true),
    );
  }
}, 120_000);

it('format: false builds the same code, unformatted (prettier of it is the default build)', async () => {
  const prettify = (code: string, name: string): Promise<string> =>
    prettier.format(code, {
      parser: name.endsWith('.js') ? 'babel' : 'typescript',
      printWidth: 100,
      singleQuote: true,
    });
  // The ts target appends its built-in weights after the formatted code.
  const code = (text: string): string => {
    const at = text.lastIndexOf('\n/** The built-in weights');
    return at < 0 ? text : text.slice(0, at);
  };
  for (const target of ['wasm', 'ts'] as const) {
    const formatted = await firstBuild(target);
    const raw = await build(target, false);
    expect(raw.map((f) => f.name)).toEqual(formatted.map((f) => f.name));
    for (const [i, f] of raw.entries()) {
      const want = formatted[i]!.data;
      if (typeof f.data !== 'string' || typeof want !== 'string') {
        expect(Buffer.from(f.data).equals(Buffer.from(want)), f.name).toBe(true);
        continue;
      }
      expect(f.data.slice(code(f.data).length), `${f.name} weights`).toBe(
        want.slice(code(want).length),
      );
      expect(await prettify(code(f.data), f.name), f.name).toBe(code(want));
      if (f.name.endsWith('.js')) expect(code(f.data), f.name).not.toBe(code(want));
    }
  }
}, 120_000);
