// `netc graph`: the DOT built from the IR and the SVG Graphviz renders from it: every layer drawn
// with its name, kind and shape, block calls as nested clusters, hidden nodes skipped, labels
// escaped (names are data), and the command with --network and -o.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { graphCommand } from '../../src/cli/graph.js';
import { main } from '../../src/cli/main.js';
import { compileSource } from '../../src/frontend/index.js';
import { html, renderSvg, toDot } from '../../src/graph/dot.js';
import type { Graph } from '../../src/ir/graph.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const examples = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.net'))
  .sort();

const dir = mkdtempSync(join(tmpdir(), 'netc-graph-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function graphsOf(text: string): readonly Graph[] {
  const r = compileSource(text);
  expect(r.diagnostics.map((d) => d.message)).toEqual([]);
  return r.graphs;
}

/** Decodes the XML entities Graphviz writes. */
function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    if (e[0] === '#') {
      return String.fromCodePoint(
        e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)),
      );
    }
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e.toLowerCase()]!;
  });
}

/** The text of every <text> element of an SVG, decoded. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => unescapeXml(m[1]!));
}

/** Every block call path (and the paths that enclose it) among the visible nodes. */
function scopePaths(g: Graph): Set<string> {
  const paths = new Set<string>();
  for (const n of g.nodes) {
    if (n.hidden || n.scope === '') continue;
    const parts = n.scope.split('/');
    for (let i = 1; i <= parts.length; i++) paths.add(parts.slice(0, i).join('/'));
  }
  return paths;
}

function capture(): {
  io: { out(s: string): void; err(s: string): void };
  out: string[];
  err: string[];
} {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s) => out.push(s), err: (s) => err.push(s) }, out, err };
}

describe('the examples', () => {
  it.each(examples)('%s: every layer, its kind and shape, clusters and arrows', async (f) => {
    for (const g of graphsOf(readFileSync(join(EXAMPLES, f), 'utf8'))) {
      const svg = await renderSvg(toDot(g));
      expect(svg).toMatch(/^<\?xml|^<svg|<!DOCTYPE svg/);
      const all = texts(svg);
      const seen = new Set(all);
      const visible = g.nodes.filter((n) => !n.hidden);
      for (const n of visible) {
        expect(seen.has(n.name), n.name).toBe(true);
        expect(seen.has(n.layer.kind), n.layer.kind).toBe(true);
        expect(seen.has(`[${n.userShape.join(', ')}]`), n.name).toBe(true);
      }
      // One box per visible layer and per output: each name is the bold first line of a box.
      const nodes = [...svg.matchAll(/<g id="node\d+" class="node">/g)].length;
      expect(nodes).toBe(visible.length + g.outputs.length);
      for (const p of g.outputs) expect(seen.has(p.name)).toBe(true);
      // One cluster per block call, labelled with the call's name.
      const paths = scopePaths(g);
      const clusters = [...svg.matchAll(/class="cluster"/g)].length;
      expect(clusters).toBe(paths.size);
      for (const p of paths) expect(seen.has(p.split('/').pop()!), p).toBe(true);
      // One arrow per tensor input of a visible layer, and one into each output.
      const edges = [...svg.matchAll(/class="edge"/g)].length;
      const inputs = visible.reduce((s, n) => s + n.inputs.length, 0);
      expect(edges).toBe(inputs + g.outputs.length);
    }
  });

  it('resnet50 nests conv_block and identity_block calls inside each stage', () => {
    const [g] = graphsOf(readFileSync(join(EXAMPLES, 'resnet50.net'), 'utf8'));
    const dot = toDot(g!);
    // stage_1 holds its conv_block and identity blocks; the layers inside are two levels deep.
    const stage = dot.indexOf('label=<stage_1>');
    const inner = dot.indexOf('label=<conv_block>', stage);
    expect(stage).toBeGreaterThan(0);
    expect(inner).toBeGreaterThan(stage);
    const layer = g!.nodes.find((n) => n.name === 'stage_1/conv_block/conv2d')!;
    expect(dot.indexOf(`n${layer.id} [`)).toBeGreaterThan(inner);
    expect(dot.slice(stage, dot.indexOf(`n${layer.id} [`))).toMatch(
      /^label=<stage_1>;[\s\S]*subgraph cluster_\d+ \{\n\s+label=<conv_block>/,
    );
  });
});

describe('the picture', () => {
  it('skips hidden layout transposes and draws the arrows through them', () => {
    const src = [
      'network cf(data_format: channels_first) {',
      '  input image: [3, 8, 8]',
      '  x = image -> conv2d(4, 3) -> flatten',
      '  output out = x -> dense(2)',
      '}',
    ].join('\n');
    const [g] = graphsOf(src);
    expect(g!.nodes.some((n) => n.hidden)).toBe(true);
    const dot = toDot(g!);
    for (const n of g!.nodes.filter((x) => x.hidden)) {
      expect(dot).not.toContain(`n${n.id} `);
      expect(dot).not.toContain('~');
    }
    const id = (name: string): number => g!.nodes.find((n) => n.name === name)!.id;
    expect(dot).toContain(`n${id('image')} -> n${id('conv2d')};`);
    expect(dot).toContain(`[3, 8, 8]`);
    expect(dot).toContain(`[4, 6, 6]`); // the user's channels-first shape
  });

  it('escapes names with quotes, backslashes, <, >, {, }, |, & and control characters', async () => {
    const weird = `a"b\\c<d>{e}|f&g'h ]]> é`;
    const src = [
      'block blk(x) {',
      '  return x -> dense(4, name: "in<b>\\"q")',
      '}',
      'network n {',
      '  input image: [8]',
      `  x = image -> dense(4, name: ${JSON.stringify(weird)})`,
      '  x = x -> blk(name: "call&<x>")',
      '  y = x -> relu(name: "tab\\there")',
      '  output out = y',
      '}',
    ].join('\n');
    const [g] = graphsOf(src);
    const dot = toDot(g!);
    expect(dot).toContain(html(weird));
    expect(html(weird)).toBe('a&quot;b\\c&lt;d&gt;{e}|f&amp;g&#39;h ]]&gt; é');
    const svg = await renderSvg(dot);
    const seen = new Set(texts(svg));
    expect(seen.has(weird)).toBe(true);
    expect(seen.has('call&<x>/in<b>"q')).toBe(true);
    expect(seen.has('call&<x>')).toBe(true);
    expect(seen.has('tab\\x09here')).toBe(true);
    // Nothing of the names leaks out as markup.
    expect(svg).not.toContain('<d>');
    expect(svg).not.toContain('<b>"');
    expect(svg).not.toMatch(/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i);
  });
});

describe('netc graph', () => {
  const two = [
    'network a {\n  input i: [4]\n  output o = i -> dense(2)\n}',
    'network b {\n  input i: [4]\n  output o = i -> relu\n}',
  ].join('\n\n');

  it('writes the SVG of the chosen network', async () => {
    const file = join(dir, 'two.net');
    writeFileSync(file, two);
    const out = join(dir, 'b.svg');
    const c = capture();
    expect(await graphCommand(file, { network: 'b', out }, c.io)).toBe(0);
    const svg = readFileSync(out, 'utf8');
    expect(texts(svg)).toContain('relu');
    expect(texts(svg)).not.toContain('dense');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('asks for --network when the file has several, and names the ones it has', async () => {
    const file = join(dir, 'two.net');
    writeFileSync(file, two);
    const c = capture();
    expect(await graphCommand(file, {}, c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/2 networks \(a, b\); choose one with --network/);
    const c2 = capture();
    expect(await graphCommand(file, { network: 'zz' }, c2.io)).toBe(2);
    expect(c2.err.join('\n')).toMatch(/no network 'zz'.*\(it has: a, b\)/);
  });

  it('writes DOT for .dot, prints the SVG without -o, reports source errors', async () => {
    const file = join(dir, 'one.net');
    writeFileSync(file, 'network a {\n  input i: [4]\n  output o = i -> dense(2)\n}\n');
    const dotFile = join(dir, 'a.dot');
    expect(await graphCommand(file, { out: dotFile }, capture().io)).toBe(0);
    expect(readFileSync(dotFile, 'utf8')).toMatch(/^digraph network \{/);
    const c = capture();
    expect(await graphCommand(file, {}, c.io)).toBe(0);
    expect(c.out.join('')).toContain('</svg>');
    const bad = join(dir, 'bad.net');
    writeFileSync(bad, 'network a {\n  input i: [4]\n  output o = i -> nope\n}\n');
    const c2 = capture();
    expect(await graphCommand(bad, {}, c2.io)).toBe(1);
    expect(c2.err.join('\n')).toMatch(/bad\.net:3:/);
  });

  it('runs from the command line: netc graph FILE --network N -o NET.svg', async () => {
    const file = join(dir, 'cli.net');
    writeFileSync(file, two);
    const out = join(dir, 'cli.svg');
    expect(await main(['graph', file, '--network', 'a', '-o', out], capture().io)).toBe(0);
    expect(texts(readFileSync(out, 'utf8'))).toContain('dense');
    const c = capture();
    expect(await main(['graph', join(dir, 'missing.net')], c.io)).toBe(2);
  });
});
