// docs/layers.md, the language reference, is what tools/layers-doc.mjs makes from the layer
// registry (`npm run docs` rewrites it), and it covers every public layer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PUBLIC_LAYERS } from '../../src/layers/registry.js';

describe('docs/layers.md', () => {
  it('is generated from the layer registry (npm run docs rewrites it)', async () => {
    // @ts-expect-error: a plain ES module script without types
    const { LAYERS_DOC, layersDoc } = await import('../../tools/layers-doc.mjs');
    expect(readFileSync(LAYERS_DOC as string, 'utf8')).toBe(
      await (layersDoc as () => Promise<string>)(),
    );
  });

  it('has a section, an attribute table or none, and an example for every public layer', () => {
    const text = readFileSync(new URL('../../docs/layers.md', import.meta.url), 'utf8');
    const sections = text.split(/^## /m).slice(1);
    expect(sections.map((s) => s.split('\n')[0])).toEqual([...PUBLIC_LAYERS]);
    for (const s of sections) {
      expect(s, s.split('\n')[0]).toMatch(/\| attribute +\| takes +\| default +\||No attributes\./);
      expect(s, s.split('\n')[0]).toMatch(/Example:\n\n```\nnetwork \w+/);
    }
  });
});
