// Building twice gives identical bytes, for every file of both targets.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { buildNetwork } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';

const root = path.resolve(import.meta.dirname, '../..');

it('two builds of mnist.net are byte-identical (wasm and ts)', async () => {
  const text = readFileSync(path.join(root, 'examples', 'mnist.net'), 'utf8');
  for (const target of ['wasm', 'ts'] as const) {
    const build = async () => {
      // A fresh compile each time: nothing may depend on state left by an earlier build.
      const [graph] = compileSource(text).graphs;
      const built = await buildNetwork(graph!, { target, seed: 11 });
      if (!built.ok) throw new Error(built.error);
      return built.files;
    };
    const a = await build();
    const b = await build();
    expect(a.map((f) => f.name)).toEqual(b.map((f) => f.name));
    a.forEach((f, i) =>
      expect(Buffer.from(f.data).equals(Buffer.from(b[i]!.data)), f.name).toBe(true),
    );
  }
}, 120_000);
