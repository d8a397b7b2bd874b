// `netc fmt`: the canonical layout, idempotence, comments kept, meaning never changed (same graphs
// before and after, on the examples and on generated programs), syntax errors, and the command.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { lex } from '../../grammar/tokens.js';
import { fmtCommand } from '../../src/cli/fmt.js';
import { main } from '../../src/cli/main.js';
import { formatSource } from '../../src/fmt/format.js';
import { compileSource } from '../../src/frontend/index.js';
import type { Graph } from '../../src/ir/graph.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const examples = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.net'))
  .sort();
const read = (f: string): string => readFileSync(join(EXAMPLES, f), 'utf8');

const dir = mkdtempSync(join(tmpdir(), 'netc-fmt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Formats a source that must be free of syntax errors. */
function fmt(text: string): string {
  const r = formatSource(text);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.text;
}

/** What formatting must never change: per network, every node as the front end resolved it. */
function meaning(text: string): unknown {
  const r = compileSource(text);
  expect(r.diagnostics.map((d) => `${d.span.line}:${d.span.col}: ${d.message}`)).toEqual([]);
  return r.graphs.map((g: Graph) => ({
    name: g.name,
    dataFormat: g.dataFormat,
    batch: g.batch,
    inputs: g.inputs.map((p) => [p.name, p.node, p.shape]),
    outputs: g.outputs.map((p) => [p.name, p.node, p.shape]),
    params: g.params,
    nodes: g.nodes.map((n) => ({
      name: n.name,
      kind: n.layer.kind,
      attrs: n.attrs,
      inputs: n.inputs,
      shape: n.shape,
      userShape: n.userShape,
      weights: n.weights.map((w) => [w.name, w.shape]),
      hidden: n.hidden,
      scope: n.scope,
    })),
  }));
}

const images = (text: string): string[] => lex(text).tokens.map((t) => t.image);
const comments = (text: string): string[] =>
  [...text.matchAll(/"(?:[^"\\\r\n]|\\.)*"|((?:#|\/\/)[^\r\n]*)/g)].flatMap((m) =>
    m[1] === undefined ? [] : [m[1].trimEnd()],
  );

/** Rewrites every run of whitespace between tokens, keeping only its number of newlines (0, 1, 2+). */
function reflow(text: string, rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const pad = (): string => pick(['', ' ', '  ', '\t', '    ']);
  const pieces = /("(?:[^"\\\r\n]|\\.)*")|((?:#|\/\/)[^\r\n]*)|([ \t]*(?:\r?\n[ \t]*)*)/g;
  return text.replace(pieces, (all: string, str?: string, comment?: string, ws?: string) => {
    if (str !== undefined || comment !== undefined || !ws) return all;
    const newlines = (ws.match(/\n/g) ?? []).length;
    if (newlines === 0) return pick([' ', '  ', '\t', '   ']);
    if (newlines === 1) return pad() + pick(['\n', '\r\n']) + pad();
    return pad() + '\n' + pick(['', '\n', '  \n\t\n']) + '\n' + pad();
  });
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('the examples', () => {
  it.each(examples)('%s is formatted (netc fmt --check passes)', (f) => {
    const text = read(f);
    expect(fmt(text)).toBe(text);
  });

  it.each(examples)('%s: reflowed whitespace formats back to the file', (f) => {
    const text = read(f);
    for (let seed = 1; seed <= 5; seed++) {
      const messy = reflow(text, seeded(seed));
      expect(messy).not.toBe(text);
      expect(fmt(messy)).toBe(text);
    }
  });

  it.each(examples)('%s: the same graphs, tokens and comments before and after', (f) => {
    const messy = reflow(read(f), seeded(7));
    const out = fmt(messy);
    expect(meaning(out)).toEqual(meaning(messy));
    expect(images(out)).toEqual(images(messy));
    expect(comments(out)).toEqual(comments(messy));
  });

  it.each(examples)('%s: squeezed onto as few lines as the comments allow', (f) => {
    // Every newline that does not end a comment becomes a space: the layout is rebuilt.
    const text = read(f);
    const squeezed = text
      .split('\n')
      .map((l) => l + (/#|\/\//.test(l) ? '\n' : ' '))
      .join('');
    expect(squeezed.split('\n').length).toBeLessThan(text.split('\n').length);
    const out = fmt(squeezed);
    expect(meaning(out)).toEqual(meaning(text));
    expect(fmt(out)).toBe(out);
  });
});

describe('the layout', () => {
  it('spaces, indentation and one statement per line', () => {
    const src = 'network  n(batch:2,data_format :channels_last){input a:[4,2]x=a->relu output o=x}';
    expect(fmt(src)).toBe(
      [
        'network n(batch: 2, data_format: channels_last) {',
        '  input a: [4, 2]',
        '  x = a -> relu',
        '  output o = x',
        '}',
        '',
      ].join('\n'),
    );
  });

  it("an input's and output's options follow a comma", () => {
    const src =
      'network n{input a:[4],name :"input.1" output o=a->relu,name:"o:0" output a ,name:"a"}';
    expect(fmt(src)).toBe(
      [
        'network n {',
        '  input a: [4], name: "input.1"',
        '  output o = a -> relu, name: "o:0"',
        '  output a, name: "a"',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('breaks a chain of 3 or more calls, aligned under the first ->', () => {
    const src = 'block b(x, f = 2 * 4) { return x -> conv2d(f, 3) -> relu -> flatten }';
    expect(fmt(src)).toBe(
      [
        'block b(x, f = 2 * 4) {',
        '  return x -> conv2d(f, 3)',
        '           -> relu',
        '           -> flatten',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('keeps a chain of 2 calls on one line when it fits, breaks it when not', () => {
    const short = 'network n {\n  input a: [4]\n  output o = a -> dense(2) -> softmax\n}\n';
    expect(fmt(short)).toBe(short);
    const attrs = Array.from({ length: 9 }, (_, i) => `name${i}: ${i}`).join(', ');
    const long = `network n {\n  input a: [4]\n  output o = a -> dense(2, ${attrs}) -> softmax\n}\n`;
    const out = fmt(long);
    expect(out).toContain('\n' + ' '.repeat(15) + '-> softmax\n');
    for (const l of out.split('\n')) expect(l.length).toBeLessThanOrEqual(100);
  });

  it('wraps long argument lists under the first argument', () => {
    const attrs = Array.from({ length: 12 }, (_, i) => `attribute_${i}: ${i}`).join(', ');
    const out = fmt(`network n {\n  x = f(${attrs})\n}\n`);
    const lines = out.split('\n');
    expect(lines[1]).toMatch(/^ {2}x = f\(attribute_0: 0, /);
    expect(lines[2]).toMatch(/^ {8}attribute_/);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
  });

  it('keeps parentheses, numbers and strings exactly as written', () => {
    const src = 'network n {\n  x = f(((1 + 2)) * 3, .5e-3, "a\\"b\\u0041", -(-2), [(1)])\n}\n';
    expect(fmt(src)).toBe(src);
  });

  it('blank lines: one between declarations, runs kept as one, none at body ends', () => {
    const src =
      'block a(x) {\n\n\n  y = x\n\n\n\n  return y\n\n}\nnetwork n {\n}\n\n\n\nnetwork m {}';
    expect(fmt(src)).toBe(
      [
        'block a(x) {',
        '  y = x',
        '',
        '  return y',
        '}',
        '',
        'network n {}',
        '',
        'network m {}',
        '',
      ].join('\n'),
    );
  });

  it('keeps comments: own-line, trailing (aligned), in argument lists, at the ends', () => {
    const src = [
      '',
      '# header',
      '',
      '',
      '// about n',
      'network n { # opening',
      '  input a: [4]   # the input',
      '  # before x',
      '  x = a  # head',
      '     -> dense(3,  # units',
      '      activation: relu)',
      '  repeat 2 {',
      '    x = x -> relu   # inside',
      '    # last in repeat',
      '  }',
      '  output o = x',
      '  # last in body',
      '}',
      '# trailing file comment',
    ].join('\n');
    expect(fmt(src)).toBe(
      [
        '# header',
        '',
        '// about n',
        'network n {          # opening',
        '  input a: [4]       # the input',
        '  # before x',
        '  x = a              # head',
        '        -> dense(3,  # units',
        '                 activation: relu)',
        '  repeat 2 {',
        '    x = x -> relu    # inside',
        '    # last in repeat',
        '  }',
        '  output o = x',
        '  # last in body',
        '}',
        '# trailing file comment',
        '',
      ].join('\n'),
    );
  });

  it('a comment before a comma or closer moves past it', () => {
    expect(fmt('network n {\n  x = f(a  # one\n  , b  # two\n  )\n}\n')).toBe(
      'network n {\n  x = f(a,  # one\n        b)  # two\n}\n',
    );
  });

  it('a file of comments only, and an empty file', () => {
    expect(fmt('# a\n\n\n\n# b\n\n')).toBe('# a\n\n# b\n');
    expect(fmt('')).toBe('');
    expect(fmt('  \n\n')).toBe('');
  });
});

describe('syntax errors', () => {
  it('are reported, not formatted', () => {
    const r = formatSource('network n {\n  x = f(1,\n}\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics.length).toBeGreaterThan(0);
  });

  it('misuses the parser accepts are errors too (x = f(a = 1))', () => {
    expect(formatSource('network n {\n  x = f(a = 1)\n}\n').ok).toBe(false);
  });
});

// --- generated programs ----------------------------------------------------------------------

/** A small arithmetic expression whose value is `n` (a positive integer), as tokens. */
function intExpr(n: number): fc.Arbitrary<string[]> {
  return fc.constantFrom(
    [String(n)],
    ['(', String(n), ')'],
    [String(n * 2), '/', '2'],
    ['(', String(n - 1), '+', '1', ')', '*', '1'],
    ['-', '(', '-', String(n), ')'],
    [String(n), '*', '1.0'],
  );
}

const op: fc.Arbitrary<string[]> = fc.oneof(
  fc.constant<string[]>(['relu']),
  fc.constant<string[]>(['relu', '(', ')']),
  fc.constant<string[]>(['batch_normalization']),
  fc.constant<string[]>(['batch_normalization', '(', 'epsilon', ':', '1e-3', ')']),
  fc.constant<string[]>(['dropout', '(', '0.5', ')']),
  fc
    .integer({ min: 1, max: 6 })
    .chain((f) =>
      intExpr(f).map((e) => ['conv2d', '(', ...e, ',', '3', ',', 'padding', ':', 'same', ')']),
    ),
  fc
    .integer({ min: 1, max: 6 })
    .map((f) => [
      'conv2d',
      '(',
      'filters',
      ':',
      String(f),
      ',',
      'kernel_size',
      ':',
      '[',
      '1',
      ',',
      '3',
      ']',
      ',',
      'padding',
      ':',
      'same',
      ',',
      'use_bias',
      ':',
      'false',
      ')',
    ]),
  fc.integer({ min: 1, max: 4 }).map((f) => ['unit', '(', String(f), ')']),
);

/** `x = x -> op -> op`, `x = add(x, x -> op)` or a repeat. */
const stmt: fc.Arbitrary<string[]> = fc.oneof(
  fc
    .array(op, { minLength: 1, maxLength: 4 })
    .map((ops) => ['x', '=', 'x', ...ops.flatMap((o) => ['->', ...o])]),
  fc.constant<string[]>(['x', '=', 'add', '(', 'x', ',', 'x', '->', 'relu', ')']),
  fc
    .tuple(fc.integer({ min: 1, max: 3 }), op)
    .map(([n, o]) => ['repeat', String(n), '{', 'x', '=', 'x', '->', ...o, '}']),
);

const program: fc.Arbitrary<string[]> = fc
  .tuple(
    fc.array(stmt, { minLength: 0, maxLength: 6 }),
    fc.integer({ min: 3, max: 6 }),
    fc.boolean(),
  )
  .map(([stmts, size, cf]) => [
    ...['block', 'unit', '(', 'x', ',', 'f', '=', '2', ')', '{'],
    ...['y', '=', 'x', '->', 'conv2d', '(', 'f', '*', '2', ',', '1', ')', '->', 'relu'],
    ...['return', 'y', '->', 'conv2d', '(', 'f', ',', '1', ',', 'name', ':', '"p\\"q"', ')', '}'],
    ...['network', 'gen', ...(cf ? ['(', 'data_format', ':', 'channels_first', ')'] : []), '{'],
    ...['input', 'image', ':', '[', String(size), ',', String(size), ',', '2', ']'],
    ...['x', '=', 'image'],
    ...stmts.flat(),
    ...['output', 'out', '=', 'x', '->', 'flatten', '->', 'dense', '(', '3', ')'],
    ...['->', 'softmax', '}'],
  ]);

/** What may separate two tokens: whitespace, newlines, comments (which end their line). */
const separator: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(' ', '', '\n', '  ', '\t') },
  { weight: 2, arbitrary: fc.constantFrom('\n\n', '\n  \n\n    ', ' \r\n') },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('#', '//', '# ', '// '), fc.string({ maxLength: 12 }), fc.boolean())
      .map(([m, body, own]) => `${own ? '\n' : ' '}${m}${body.replace(/[\r\n]/g, '')}\n`),
  },
);

const wordy = /[A-Za-z0-9_."]/;

/** Joins tokens with the separators, never gluing two that would lex as one. */
function layout(tokens: readonly string[], seps: readonly string[]): string {
  let out = tokens[0] ?? '';
  for (let i = 1; i < tokens.length; i++) {
    let sep = seps[i % seps.length] ?? ' ';
    const prev = tokens[i - 1]!;
    const next = tokens[i]!;
    const glue = wordy.test(prev.at(-1)!) && wordy.test(next[0]!);
    if (sep === '' && (glue || (prev === '-' && next.startsWith('-')))) sep = ' ';
    out += sep + next;
  }
  return out;
}

describe('generated programs', () => {
  it('format to the same graphs, tokens and comments, idempotently', () => {
    fc.assert(
      fc.property(program, fc.array(separator, { minLength: 1, maxLength: 40 }), (toks, seps) => {
        const src = layout(toks, seps);
        const out = fmt(src);
        expect(meaning(out)).toEqual(meaning(src));
        expect(images(out)).toEqual(images(src));
        expect(comments(out)).toEqual(comments(src));
        expect(fmt(out)).toBe(out);
        expect(out.endsWith('\n')).toBe(true);
        expect(out).not.toMatch(/[ \t]\n|\n\n\n|\r/);
      }),
      { numRuns: 150 },
    );
  });
});

/** Syntax only (not meant to compile): nested calls, chains, lists, operators and parentheses. */
const syntaxProgram: fc.Arbitrary<string[]> = (() => {
  const { expr } = fc.letrec<{ expr: string[]; operand: string[]; call: string[] }>((tie) => ({
    operand: fc.oneof(
      { maxDepth: 4, depthIdentifier: 'syntax' },
      fc.constantFrom<string[]>(['1'], ['2.5'], ['1e-3'], ['.5'], ['true'], ['same'], ['x'], ['?']),
      fc.constantFrom<string[]>(['"a b"'], ['"q\\"\\n"'], ['"#not a comment"'], ['"// nor this"']),
      tie('call'),
      fc
        .array(tie('expr'), { maxLength: 4 })
        .map((items) => ['[', ...items.flatMap((it, i) => (i ? [',', ...it] : it)), ']']),
      tie('expr').map((e) => ['(', ...e, ')']),
      fc.tuple(fc.constantFrom('-', '+'), tie('operand')).map(([s, o]) => [s, ...o]),
    ),
    call: fc.oneof(
      { maxDepth: 4, depthIdentifier: 'syntax' },
      fc.constant<string[]>(['f', '(', ')']),
      fc
        .tuple(
          fc.constantFrom('f', 'conv2d', 'add'),
          fc.array(fc.tuple(fc.option(fc.constantFrom('a', 'padding')), tie('expr')), {
            maxLength: 4,
          }),
        )
        .map(([callee, args]) => [
          callee,
          '(',
          ...args.flatMap(([name, value], i) => [
            ...(i ? [','] : []),
            ...(name === null ? [] : [name, ':']),
            ...value,
          ]),
          ')',
        ]),
    ),
    expr: fc.oneof(
      { maxDepth: 4, depthIdentifier: 'syntax' },
      tie('operand'),
      fc
        .tuple(
          tie('operand'),
          fc.array(fc.tuple(fc.constantFrom('+', '-', '*', '/'), tie('operand')), { maxLength: 3 }),
          fc.array(fc.oneof(tie('call'), fc.constantFrom<string[]>(['relu'], ['flatten'])), {
            maxLength: 4,
          }),
        )
        .map(([first, ops, calls]) => [
          ...first,
          ...ops.flatMap(([op, o]) => [op, ...o]),
          ...calls.flatMap((c) => ['->', ...c]),
        ]),
    ),
  }));
  const stmt: fc.Arbitrary<string[]> = fc.oneof(
    expr.map((e) => ['x', '=', ...e]),
    expr.map((e) => ['output', 'y', '=', ...e]),
    expr.map((e) => ['input', 'i', ':', ...e]),
    expr.map((e) => ['return', ...e]),
    fc.constant<string[]>(['output', 'z']),
    fc.tuple(expr, expr).map(([n, e]) => ['repeat', ...n, '{', 'x', '=', ...e, '}']),
  );
  return fc
    .array(fc.tuple(fc.boolean(), fc.array(stmt, { maxLength: 4 })), { maxLength: 3 })
    .map((decls) =>
      decls.flatMap(([isBlock, body], i) => [
        ...(isBlock ? ['block', `b${i}`, '(', 'p', ',', 'q', '=', '2', ')'] : ['network', `n${i}`]),
        '{',
        ...body.flat(),
        '}',
      ]),
    );
})();

describe('generated syntax', () => {
  it('keeps tokens and comments, parses, and formats idempotently', () => {
    fc.assert(
      fc.property(
        syntaxProgram,
        fc.array(separator, { minLength: 1, maxLength: 40 }),
        (toks, seps) => {
          const src = layout(toks, seps);
          const out = fmt(src);
          expect(images(out)).toEqual(images(src));
          expect(comments(out)).toEqual(comments(src));
          expect(fmt(out)).toBe(out);
          expect(out).not.toMatch(/[ \t]\n|\n\n\n|\r/);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// --- the command -----------------------------------------------------------------------------

function capture(): {
  io: { out(s: string): void; err(s: string): void };
  out: string[];
  err: string[];
} {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s) => out.push(s), err: (s) => err.push(s) }, out, err };
}

describe('netc fmt', () => {
  it('rewrites the file; --check says which file would change', async () => {
    const file = join(dir, 'a.net');
    writeFileSync(file, 'network n{input a:[2] output o=a->relu}');
    const c1 = capture();
    expect(await fmtCommand(file, { check: true }, c1.io)).toBe(1);
    expect(c1.out.join('\n')).toContain(file);
    expect(readFileSync(file, 'utf8')).toBe('network n{input a:[2] output o=a->relu}');

    const c2 = capture();
    expect(await fmtCommand(file, {}, c2.io)).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(
      'network n {\n  input a: [2]\n  output o = a -> relu\n}\n',
    );
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const c3 = capture();
    expect(await fmtCommand(file, { check: true }, c3.io)).toBe(0);
    expect(c3.out).toEqual([]);
  });

  it('leaves a file with syntax errors alone and reports them', async () => {
    const file = join(dir, 'bad.net');
    writeFileSync(file, 'network n {\n  x = f(1,\n}\n');
    const c = capture();
    expect(await fmtCommand(file, {}, c.io)).toBe(1);
    expect(c.err.join('\n')).toMatch(/bad\.net:3:1: error: /);
    expect(readFileSync(file, 'utf8')).toBe('network n {\n  x = f(1,\n}\n');
  });

  it('runs from the command line: netc fmt FILE [--check]', async () => {
    const file = join(dir, 'cli.net');
    writeFileSync(file, 'network n{input a:[2] output o=a}');
    const c1 = capture();
    expect(await main(['fmt', file, '--check'], c1.io)).toBe(1);
    expect(await main(['fmt', file], capture().io)).toBe(0);
    expect(await main(['fmt', file, '--check'], capture().io)).toBe(0);
    const c2 = capture();
    expect(await main(['fmt', join(dir, 'missing.net')], c2.io)).toBe(2);
    expect(c2.err.join('\n')).toMatch(/no such file/);
  });
});
