// Fuzzing the front end: token soup, registry-built programs and mutated examples all end in success or positioned diagnostics, fast.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkCompile,
  mutate,
  mutation,
  numRuns,
  tokenSoup,
  validProgram,
  type Outcome,
} from '../helpers/fuzz.js';

const root = path.resolve(import.meta.dirname, '../..');
const examples = readdirSync(path.join(root, 'examples'))
  .filter((f) => f.endsWith('.net'))
  .map((f) => ({ file: f, text: readFileSync(path.join(root, 'examples', f), 'utf8') }));

/** Per property: how many inputs compiled, how many gave diagnostics, the slowest. */
const tally = new Map<string, { ok: number; diags: number; slowest: number }>();
function count(label: string, o: Outcome): void {
  const t = tally.get(label) ?? { ok: 0, diags: 0, slowest: 0 };
  if (o.ok) t.ok++;
  else t.diags++;
  t.slowest = Math.max(t.slowest, o.ms);
  tally.set(label, t);
}
afterAll(() => {
  if (process.env['FC_NUM_RUNS'])
    for (const [label, t] of tally)
      console.log(
        `${label}: ${t.ok + t.diags} clean (${t.ok} compiled, ${t.diags} diagnosed), slowest ${t.slowest.toFixed(0)} ms`,
      );
});

const params = (runs: number, seed: number) => ({ numRuns: numRuns(runs), seed });

describe('fuzzing compileSource', () => {
  it('random token streams', () => {
    fc.assert(
      fc.property(tokenSoup, (text) => count('token soup', checkCompile(text))),
      params(150, 7001),
    );
  });

  it('random programs from the grammar and the layer registry', () => {
    let ok = 0;
    fc.assert(
      fc.property(validProgram, (text) => {
        const o = checkCompile(text);
        count('registry programs', o);
        if (o.ok) ok++;
      }),
      params(150, 7002),
    );
    // The generator is useful only when a good share of its programs compile.
    expect(ok).toBeGreaterThan(numRuns(150) / 10);
  });

  for (const ex of examples)
    it(`mutations of examples/${ex.file}`, () => {
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (muts) =>
          count(`mutations of ${ex.file}`, checkCompile(mutate(ex.text, muts))),
        ),
        params(40, 7003 + ex.file.length),
      );
    });

  it('the examples themselves compile', () => {
    for (const ex of examples) expect(checkCompile(ex.text).ok).toBe(true);
  });

  it('handpicked hostile inputs', () => {
    const net = (body: string): string => `network n {\n  input x: [4, 4, 1]\n${body}\n}`;
    const cases = [
      '',
      '\u0000',
      '\ufeff',
      '\ud800\udc00\ud800',
      'network',
      '{'.repeat(100_000),
      '('.repeat(100_000),
      'network n { input x: [' + '['.repeat(5000) + ']'.repeat(5000) + '] }',
      'network ' + 'a'.repeat(10_000) + ' { input x: [4]\n output y = x -> relu }',
      net('  output y = x -> relu(name: "' + 'é'.repeat(10_000) + '")'),
      net('  output y = x' + ' -> relu'.repeat(2000)),
      net('  output y = x -> conv2d(1e308, 3)'),
      net('  output y = x -> conv2d(-0, 3)'),
      net('  output y = x -> conv2d(99999999999, 99999999999)'),
      net('  output y = x -> dense(1 / 0)'),
      net('  output y = x -> dense(1e200 * 1e200)'),
      net('  output y = x -> reshape([-1, 16])'),
      net('  output y = x -> zero_padding2d(99999999999)'),
      net('  output y = x -> up_sampling2d([99999, 99999])'),
      net('  output y = x -> max_pooling2d(99999999999, padding: same)'),
      net('  output y = x -> relu(name: "a\\u2028b\\u0000c\\ud800")'),
      net('  output y = x -> relu(name: "\u2028")'),
      'network n { input x: [100000, 100000, 3]\n output y = x -> relu }',
      'network n { input x: [-5, 4]\n output y = x -> relu }',
      'network n(batch: 1e308) { input x: [4]\n output y = x -> relu }',
      'network n { input x: [4]\n output y = x -> \u202erelu }',
      'network n\u2029{ input x: [4] output y = x }',
    ];
    for (const text of cases) count('handpicked', checkCompile(text));
    // Expansion bombs: small files that would expand to 10^10 statements or 10^6 layers stop at
    // the front end's work limit (MAX_WORK) with a diagnostic; that takes up to ~120,000 layers'
    // worth of work, so these get 4 s (under Vitest's transform, on a busy machine).
    for (const text of [
      'network n { input x: [4]\n repeat 100000 { repeat 100000 { y = x } }\n output y = x }',
      'network n { input x: [4]\n repeat 1000 { repeat 1000 { x = x -> relu } }\n output y = x }',
      'block a(x) { return x }\n' +
        Array.from({ length: 60 }, (_, i) => `block b${i + 1}(x) { return b${i}(b${i}(x)) }`)
          .join('\n')
          .replace('b0(b0(x))', 'a(a(x))') +
        '\nnetwork n { input x: [4]\n output y = b60(x) }',
      'block a(x) { return x -> relu }\n' +
        Array.from({ length: 40 }, (_, i) => `block b${i + 1}(x) { return b${i}(b${i}(x)) }`)
          .join('\n')
          .replace('b0(b0(x))', 'a(a(x))') +
        '\nnetwork n { input x: [4]\n output y = b40(x) }',
    ]) {
      const o = checkCompile(text, 4000);
      expect(o.ok).toBe(false);
      count('handpicked', o);
    }
  });
});
