// Diagnostics: golden text of rendered errors (test/golden/diagnostics/*.net -> *.txt), the
// FILE:LINE:COL format and caret placement, all errors in one run, and the conformance errors.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderDiagnostic } from '../../src/diag/diagnostics.js';
import { compileSource } from '../../src/frontend/index.js';
import { diagnostics, names, net } from '../helpers/frontend.js';

const GOLDEN = fileURLToPath(new URL('../golden/diagnostics/', import.meta.url));

/** Every diagnostic of a file, rendered as `netc check` prints them. */
function render(file: string, src: string): string {
  const ds = compileSource(src).diagnostics;
  return ds.map((d) => renderDiagnostic(file, src, d)).join('\n\n') + '\n';
}

describe('golden diagnostics', () => {
  const files = readdirSync(GOLDEN)
    .filter((f) => f.endsWith('.net'))
    .sort();

  it('has the cases the contract asks for', () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
  });

  for (const f of files) {
    it(f, async () => {
      const src = readFileSync(join(GOLDEN, f), 'utf8');
      const text = render(f, src);
      expect(text).not.toBe('\n'); // every golden case has errors
      await expect(text).toMatchFileSnapshot(join(GOLDEN, basename(f, '.net') + '.txt'));
    });
  }
});

describe('rendering', () => {
  it('reads FILE:LINE:COL: error: message, then the line and a caret under the value', () => {
    const src = net([8, 8, 3], '  output y = x -> conv2d(8, 3, strides: 2.5)');
    const [d] = diagnostics(src);
    expect(renderDiagnostic('m.net', src, d!)).toBe(
      [
        'm.net:3:41: error: conv2d strides takes an integer, got 2.5, which has a fractional part',
        ' 3 |   output y = x -> conv2d(8, 3, strides: 2.5)',
        '   | ' + ' '.repeat(40) + '^^^',
      ].join('\n'),
    );
  });

  it('shows a long line around the span, cut with ellipses, the caret still under the value', () => {
    const chain = (n: number): string => 'relu -> '.repeat(n);
    const src = net(
      [8, 8, 3],
      `  output y = x -> ${chain(30)}conv2d(8, 3, strides: 2.5) -> ${chain(30)}relu`,
    );
    const [d] = diagnostics(src);
    const [, line, caret] = renderDiagnostic('m.net', src, d!).split('\n') as [
      string,
      string,
      string,
    ];
    expect(line.length).toBeLessThan(140);
    expect(line).toMatch(/^ 3 \| \u2026.*\u2026$/);
    const start = caret.indexOf('^');
    expect(line.slice(start, caret.length)).toBe('2.5');
    // A line that ends soon after the span is cut at its start only.
    const tail = net([8, 8, 3], `  output y = x -> ${chain(30)}conv2d(8, 3, strides: 2.5)`);
    const [e] = diagnostics(tail);
    const [, line2, caret2] = renderDiagnostic('m.net', tail, e!).split('\n') as [
      string,
      string,
      string,
    ];
    expect(line2).toMatch(/^ 3 \| \u2026.*strides: 2\.5\)$/);
    expect(line2.slice(caret2.indexOf('^'), caret2.length)).toBe('2.5');
  });

  it('puts the caret under the offending text for every golden diagnostic', () => {
    for (const f of readdirSync(GOLDEN).filter((x) => x.endsWith('.net'))) {
      const src = readFileSync(join(GOLDEN, f), 'utf8');
      for (const d of compileSource(src).diagnostics) {
        const [head, line, caret] = renderDiagnostic(f, src, d).split('\n') as [
          string,
          string,
          string,
        ];
        expect(head).toMatch(new RegExp(`^${f.replace('.', '\\.')}:\\d+:\\d+: error: \\S`));
        const [, ln, col] = /:(\d+):(\d+):/.exec(head)!;
        expect(Number(ln)).toBe(d.span.line);
        expect(Number(col)).toBe(d.span.col);
        const gutter = line.indexOf('| ') + 2;
        expect(caret.indexOf('|')).toBe(line.indexOf('|'));
        const start = caret.indexOf('^');
        const width = caret.length - start;
        expect(start - gutter).toBe(d.span.col - 1);
        // The caret covers the span's text (on its first line).
        const text = src.slice(d.span.start, d.span.end).split(/\r?\n/)[0]!;
        expect(line.slice(start, start + width)).toBe(
          text.length ? text : line.slice(start, start + 1),
        );
      }
    }
  });

  it('aligns the caret on lines with CRLF endings and tabs', () => {
    const src = 'network n {\r\n\tinput x: [None, 4]\r\n\toutput y = x\r\n}\r\n';
    const [d] = diagnostics(src);
    const out = renderDiagnostic('t.net', src, d!).split('\n');
    expect(out[0]).toMatch(/^t\.net:2:12: error: the batch is implicit/);
    expect(out[1]).toBe(' 2 |  input x: [None, 4]');
    expect(out[2]).toBe('   |            ^^^^');
  });

  it('widens the gutter for long files', () => {
    const src = '\n'.repeat(120) + net([4], '  output y = x -> dense(0)');
    const [d] = diagnostics(src);
    const out = renderDiagnostic('t.net', src, d!).split('\n');
    expect(out[1]).toBe(' 123 |   output y = x -> dense(0)');
    expect(out[2]).toBe('     |                         ^');
  });
});

describe('all errors of a file in one run', () => {
  it('reports several syntax errors together', () => {
    const src = readFileSync(join(GOLDEN, 'syntax_errors.net'), 'utf8');
    const lines = compileSource(src).diagnostics.map((d) => d.span.line);
    expect(lines).toEqual([4, 5, 6, 8, 13]);
  });

  it('reports errors of every network and block, in source order', () => {
    const src = `
network a {
  input x: [None, 4]
  output y = x
}
block b(x, name) { return x }
network c {
  input x: [4]
  output y = x -> dense(2.5)
}`;
    const ds = compileSource(src).diagnostics;
    expect(ds.map((d) => d.span.line)).toEqual([3, 6, 9]);
  });

  it('does not pile follow-on errors on a bad value', () => {
    const src = net(
      [4, 4, 3],
      '  h = x -> conv2d(8, 5)\n  h = h -> relu -> conv2d(2, 1)\n  output y = add(h, h)',
    );
    expect(diagnostics(src)).toHaveLength(1);
    for (const call of [
      'rescaling([1 / 0, 1, 2])',
      'rescaling(1, offset: [2, 1 / 0, 1])',
      'layer_normalization(axis: [1, 1 / 0])',
    ])
      expect(diagnostics(net([4, 4, 3], `  output y = x -> ${call}`)), call).toHaveLength(1);
  });

  it('never throws, whatever the input', () => {
    const words = fc.constantFrom(
      'network',
      'block',
      'input',
      'output',
      'repeat',
      'return',
      'x',
      'y',
      '=',
      '->',
      '(',
      ')',
      '[',
      ']',
      '{',
      '}',
      ',',
      ':',
      '3',
      '2.5',
      '-1',
      'None',
      '?',
      'conv2d',
      'relu',
      'add',
      'name',
      '"s"',
      '\n',
      '#c\n',
      '*',
      '/',
      'same',
      'dense',
      'n',
    );
    fc.assert(
      fc.property(fc.array(words, { maxLength: 40 }), (ws) => {
        const src = ws.join(' ');
        const r = compileSource(src);
        for (const d of r.diagnostics) {
          expect(d.span.start).toBeGreaterThanOrEqual(0);
          expect(d.span.end).toBeLessThanOrEqual(src.length);
          renderDiagnostic('f.net', src, d);
        }
      }),
      { seed: 7, numRuns: Number(process.env['FC_NUM_RUNS'] ?? 300) },
    );
  });
});

describe('what is not an error', () => {
  it('rebinding a name: the later binding wins below it', () => {
    const src = net(
      [4, 4, 2],
      `  h = x -> conv2d(3, 1)
  y = h
  h = h -> relu
  h = concatenate(h, y)
  output out = h`,
    );
    expect(names(src)).toEqual(['x', 'conv2d', 'relu', 'concatenate']);
    const g = compileSource(src).graphs[0]!;
    const cat = g.nodes.find((n) => n.name === 'concatenate')!;
    expect(cat.inputs.map((i) => g.nodes[i]!.name)).toEqual(['relu', 'conv2d']);
  });

  it('repeat 0 adds nothing', () => {
    const src = net(
      [4, 4, 2],
      '  h = x\n  repeat 0 { h = h -> conv2d(2, 1) }\n  output y = h -> relu',
    );
    expect(names(src)).toEqual(['x', 'relu']);
  });

  it('integers written as floats or computed are integers', () => {
    const src = net(
      [8, 8, 2],
      '  f = 4\n  output y = x -> conv2d(f * 2.0, 6 / 2, strides: 1.0 + 1)',
    );
    expect(compileSource(src).graphs[0]!.nodes.at(-1)!.shape).toEqual([3, 3, 8]);
  });
});

// ------------------------------------------------------------------------------------------
// The public conformance error cases.

const CASES = '/work/shared/conformance/cases';
const errorCases = existsSync(CASES)
  ? readdirSync(CASES).filter(
      (d) => d.startsWith('err_') && existsSync(join(CASES, d, 'meta.json')),
    )
  : [];

describe.skipIf(errorCases.length === 0)('conformance error cases', () => {
  for (const c of errorCases) {
    it(c, () => {
      const meta = JSON.parse(readFileSync(join(CASES, c, 'meta.json'), 'utf8')) as {
        error: { line: number; contains: string[] };
      };
      const src = readFileSync(join(CASES, c, 'model.net'), 'utf8');
      const ds = compileSource(src).diagnostics;
      const onLine = ds.filter((d) => d.span.line === meta.error.line);
      expect(onLine.length).toBeGreaterThan(0);
      const text = onLine.map((d) => renderDiagnostic('model.net', src, d)).join('\n');
      for (const s of meta.error.contains) expect(text).toContain(s);
    });
  }
});
