// The TextMate grammar (grammar/netc.tmLanguage.json) under vscode-textmate: every token of every
// example gets the scope its role in the parsed tree calls for, and every public layer is known.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import oniguruma from 'vscode-oniguruma';
import vsctm from 'vscode-textmate';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Arg, CallExpr, Expr, Stmt } from '../../grammar/ast.js';
import { parse } from '../../grammar/index.js';
import { lex } from '../../grammar/tokens.js';
import { PUBLIC_LAYERS } from '../../src/layers/registry.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const examples = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.net'))
  .sort();

let grammar: vsctm.IGrammar;

beforeAll(async () => {
  const wasm = readFileSync(join(ROOT, 'node_modules/vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope: string) => {
      if (scope !== 'source.netc') return null;
      const path = join(ROOT, 'grammar/netc.tmLanguage.json');
      return vsctm.parseRawGrammar(readFileSync(path, 'utf8'), path);
    },
  });
  const g = await registry.loadGrammar('source.netc');
  if (!g) throw new Error('grammar not loaded');
  grammar = g;
});

/** The scopes of every character of a text, by offset. */
function scopesOf(text: string): string[][] {
  const out: string[][] = [];
  let stack = vsctm.INITIAL;
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, stack);
    for (const t of r.tokens) {
      for (let i = t.startIndex; i < Math.min(t.endIndex, line.length); i++) out.push(t.scopes);
    }
    out.push(['source.netc']); // the newline
    stack = r.ruleStack;
  }
  return out;
}

/** The innermost scope at an offset (the most specific one). */
function scopeAt(scopes: string[][], offset: number): string {
  const s = scopes[offset] ?? [];
  return s[s.length - 1] ?? '';
}

/** The role each identifier plays in the tree, by offset: what scope it must get. */
function identifierRoles(text: string): Map<number, RegExp> {
  const roles = new Map<number, RegExp>();
  const layers = new Set(PUBLIC_LAYERS);
  const call = (c: CallExpr): void => {
    roles.set(
      c.callee.span.start,
      layers.has(c.callee.text) ? /^support\.function\.layer\./ : /^entity\.name\.function\./,
    );
    c.args.forEach(arg);
  };
  const arg = (a: Arg): void => {
    if (a.name) roles.set(a.name.span.start, /^variable\.parameter\./);
    expr(a.value);
  };
  const expr = (e: Expr): void => {
    switch (e.kind) {
      case 'call':
        return call(e);
      case 'chain':
        expr(e.head);
        return e.calls.forEach(call);
      case 'list':
        return e.items.forEach(expr);
      case 'binary':
        expr(e.left);
        return expr(e.right);
      case 'unary':
        return expr(e.operand);
    }
  };
  const stmt = (s: Stmt): void => {
    switch (s.kind) {
      case 'input':
        roles.set(s.name.span.start, /^variable\.other\.input\./);
        return expr(s.shape);
      case 'assign':
        return expr(s.value);
      case 'output':
        roles.set(s.name.span.start, /^variable\.other\.output\./);
        if (s.value) expr(s.value);
        return;
      case 'repeat':
        expr(s.count);
        return s.body.forEach(stmt);
      case 'return':
        return expr(s.value);
    }
  };
  const { program, errors } = parse(text);
  expect(errors).toEqual([]);
  for (const item of program.items) {
    if (item.kind === 'network') {
      roles.set(item.name.span.start, /^entity\.name\.type\.network\./);
      item.options.forEach(arg);
    } else {
      roles.set(item.name.span.start, /^entity\.name\.function\.block\./);
      for (const p of item.params) {
        roles.set(p.name.span.start, /^variable\.parameter\./);
        if (p.default) expr(p.default);
      }
    }
    item.body.forEach(stmt);
  }
  return roles;
}

const byToken: Readonly<Record<string, RegExp>> = {
  Network: /^keyword\./,
  Block: /^keyword\./,
  Input: /^keyword\./,
  Output: /^keyword\./,
  Repeat: /^keyword\.control\./,
  Return: /^keyword\.control\./,
  True: /^constant\.language\.boolean\./,
  False: /^constant\.language\.boolean\./,
  NumberLiteral: /^constant\.numeric\./,
  Arrow: /^keyword\.operator\.arrow\./,
  Equals: /^keyword\.operator\.assignment\./,
  Plus: /^keyword\.operator\.arithmetic\./,
  Minus: /^keyword\.operator\.arithmetic\./,
  Star: /^keyword\.operator\.arithmetic\./,
  Slash: /^keyword\.operator\.arithmetic\./,
  Comma: /^punctuation\.separator\./,
  Colon: /^punctuation\.separator\.key-value\./,
};

/** Checks every token and comment of a text; returns how many of each kind were checked. */
function checkText(text: string): Record<string, number> {
  const scopes = scopesOf(text);
  const roles = identifierRoles(text);
  const counts: Record<string, number> = {};
  const count = (k: string): void => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  const failures: string[] = [];
  const expectScope = (offset: number, end: number, want: RegExp, what: string): void => {
    for (let i = offset; i < end; i++) {
      const got = (scopes[i] ?? []).join(' ');
      if (!(scopes[i] ?? []).some((s) => want.test(s))) {
        const line = text.slice(0, offset).split('\n').length;
        failures.push(`${what} '${text.slice(offset, end)}' (line ${line}): ${got} !~ ${want}`);
        return;
      }
    }
  };
  for (const t of lex(text).tokens) {
    const kind = t.tokenType.name;
    const end = t.startOffset + t.image.length;
    if (kind === 'StringLiteral') {
      expectScope(t.startOffset, end, /^string\.quoted\.double\./, 'string');
      count('string');
    } else if (kind === 'Identifier') {
      const role = roles.get(t.startOffset);
      if (role === undefined) continue; // a plain name reference: any scope will do
      expectScope(t.startOffset, end, role, 'identifier');
      count(role.source.replace(/[\\^]/g, '').split('.').slice(0, 2).join('.'));
    } else if (byToken[kind] !== undefined) {
      expectScope(t.startOffset, end, byToken[kind], kind);
      count(kind);
    }
  }
  for (const m of text.matchAll(/"(?:[^"\\\n]|\\.)*"|((?:#|\/\/)[^\n]*)/g)) {
    if (m[1] === undefined) continue;
    expectScope(m.index, m.index + m[1].length, /^comment\.line\./, 'comment');
    count('comment');
  }
  expect(failures).toEqual([]);
  return counts;
}

describe('the examples', () => {
  it.each(examples)('%s: every token gets the scope of its role', (f) => {
    const counts = checkText(readFileSync(join(EXAMPLES, f), 'utf8'));
    // Every example has these, so the check above really ran on them.
    expect(counts['Network']).toBeGreaterThan(0);
    expect(counts['comment']).toBeGreaterThan(0);
    expect(counts['NumberLiteral']).toBeGreaterThan(0);
    expect(counts['support.function']).toBeGreaterThan(0);
  });

  it('covers keywords, blocks, parameters, attributes and calls across the examples', () => {
    const total: Record<string, number> = {};
    for (const f of examples) {
      for (const [k, n] of Object.entries(checkText(readFileSync(join(EXAMPLES, f), 'utf8')))) {
        total[k] = (total[k] ?? 0) + n;
      }
    }
    for (const k of ['Block', 'Input', 'Output', 'Repeat', 'Return', 'Arrow', 'Equals']) {
      expect(total[k], k).toBeGreaterThan(0);
    }
    for (const k of ['entity.name', 'variable.parameter', 'support.function', 'variable.other']) {
      expect(total[k], k).toBeGreaterThan(0);
    }
    expect(total['False']).toBeGreaterThan(0);
  });
});

describe('the grammar', () => {
  it('is generated from the layer registry (npm run grammar rewrites it)', async () => {
    // @ts-expect-error: a plain ES module script without types
    const { GRAMMAR, textmateGrammar } = await import('../../tools/textmate.mjs');
    expect(readFileSync(GRAMMAR as string, 'utf8')).toBe(
      await (textmateGrammar as () => Promise<string>)(),
    );
  });

  it('knows every public layer, called or chained, with or without arguments', () => {
    for (const name of PUBLIC_LAYERS) {
      const text = `network n {\n  x = ${name}(a)\n  y = a -> ${name}\n  z = a -> ${name}(1, k: 2)\n}\n`;
      const scopes = scopesOf(text);
      for (const re of [`= ${name}\\(`, `-> ${name}\\n`, `-> ${name}\\(`]) {
        const m = new RegExp(re).exec(text)!;
        const at = m.index + m[0].indexOf(name);
        for (let i = at; i < at + name.length; i++) {
          expect(scopeAt(scopes, i), `${name} in ${re}`).toBe('support.function.layer.netc');
        }
      }
    }
  });

  it('tells block calls from layers, and attribute values from layers', () => {
    const text = [
      'block my_block(x, f = 2) { return x -> relu }',
      'network n(data_format: channels_first) {',
      '  input a: [3, 8, 8]',
      '  x = a -> my_block(4) -> conv2d(8, 3, padding: same, activation: relu)',
      '  output o = my_block(x, f: 1.5e-3)',
      '}',
    ].join('\n');
    checkText(text);
    const scopes = scopesOf(text);
    const at = (needle: string, skip = 0): string => scopeAt(scopes, text.indexOf(needle) + skip);
    expect(at('my_block(x')).toBe('entity.name.function.block.netc');
    expect(at('my_block(4)')).toBe('entity.name.function.call.netc');
    expect(at('same')).toBe('constant.language.enum.netc');
    expect(at('channels_first')).toBe('constant.language.enum.netc');
    expect(at('relu)')).toBe('support.constant.activation.netc');
    expect(at('f = 2', 0)).toBe('variable.parameter.netc');
    expect(at('1.5e-3')).toBe('constant.numeric.netc');
  });

  it('scopes strings, escapes and comment markers inside strings', () => {
    const text = 'network n {\n  x = f(name: "a # b // c\\"\\u0041") # real\n  y = 1 // also\n}\n';
    const scopes = scopesOf(text);
    const at = (needle: string): string => scopeAt(scopes, text.indexOf(needle));
    expect(at('# b')).toBe('string.quoted.double.netc');
    expect(at('// c')).toBe('string.quoted.double.netc');
    expect(at('\\"')).toBe('constant.character.escape.netc');
    expect(at('\\u0041')).toBe('constant.character.escape.netc');
    expect(at('# real')).toBe('punctuation.definition.comment.netc');
    expect(at(' real')).toBe('comment.line.number-sign.netc');
    expect(at(' also')).toBe('comment.line.double-slash.netc');
    // An unterminated string ends at the end of its line.
    const open = 'network n {\n  x = "abc\n  y = 2\n}\n';
    expect(scopeAt(scopesOf(open), open.indexOf('y ='))).not.toMatch(/^string/);
  });
});
