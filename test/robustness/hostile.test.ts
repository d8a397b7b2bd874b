// Hostile input that fuzzing found (issue 19): each is a clear error with exit 1 or 2, never
// exit 70 ("internal error"): arithmetic nested 10,000 deep, a network name too long for a
// file name, --out naming a file, and names holding line terminators in diagnostics.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_EXPRESSION_DEPTH } from '../../grammar/index.js';
import { main } from '../../src/cli/main.js';
import { compileSource } from '../../src/frontend/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netc-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the command line in process on a source written to a file. */
async function netc(
  source: string | null,
  ...args: string[]
): Promise<{ code: number; err: string; file: string }> {
  const file = path.join(dir, `s${Math.random().toString(36).slice(2)}.net`);
  if (source !== null) writeFileSync(file, source);
  let err = '';
  const code = await main(
    args.map((a) => (a === 'FILE' ? file : a)),
    { out: () => {}, err: (t) => (err += t + '\n') },
  );
  return { code, err, file };
}

const dense = (units: string): string =>
  `network a {\n  input x: [4]\n  output y = x -> dense(${units})\n}\n`;

describe('arithmetic nested deep', () => {
  const cases: [string, string][] = [
    ['1 + 1 + ... + 1, 10,000 terms', Array(10_000).fill('1').join(' + ')],
    ['- - ... - 1, 10,000 signs', '- '.repeat(10_000) + '1'],
    ['1 * 1 * ... * 1 and signs mixed', Array(5_000).fill('- 1').join(' * ')],
  ];
  for (const [what, expr] of cases)
    it(`${what}: one diagnostic, exit 1`, async () => {
      const r = await netc(dense(expr), 'check', 'FILE');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/:3:\d+: error: expression too deep: more than 256 nested operators/);
      expect(r.err).toMatch(/\n1 error\n$/);
    });

  it(`up to ${MAX_EXPRESSION_DEPTH} nested operators compile and evaluate`, () => {
    const r = compileSource(
      dense(
        Array(MAX_EXPRESSION_DEPTH + 1)
          .fill('1')
          .join(' + '),
      ),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.graphs[0]!.outputs[0]!.shape).toEqual([MAX_EXPRESSION_DEPTH + 1]);
  });
});

describe('names', () => {
  it('a network name too long for a file name is a diagnostic; 200 characters build', async () => {
    const long = 'n'.repeat(300);
    const r = await netc(
      `network ${long} {\n  input x: [4]\n  output y = x -> dense(2)\n}\n`,
      'build',
      'FILE',
      '--out',
      path.join(dir, 'long'),
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/:1:9: error: network name is 300 characters long; at most 200/);
    const ok = 'n'.repeat(200);
    const out = path.join(dir, 'ok');
    const built = await netc(
      `network ${ok} {\n  input x: [4]\n  output y = x -> dense(2)\n}\n`,
      'build',
      'FILE',
      '--out',
      out,
      '--external-weights',
      '--quiet',
    );
    expect(built.code, built.err).toBe(0);
    expect(readdirSync(out).sort()).toEqual(
      ['d.ts', 'js', 'safetensors', 'wasm'].map((e) => `${ok}.${e}`),
    );
  }, 60_000);

  it('a diagnostic quoting a name with U+2028 or another control character stays one line', async () => {
    for (const ch of ['\u2028', '\u2029', '\u0085', '\u000b', '\u001b', '\u202e']) {
      const name = `d${ch}x`;
      const r = await netc(
        `network a {\n  input x: [4]\n  output y = x -> dense(2, name: "${name}") -> dense(2, name: "${name}")\n}\n`,
        'check',
        'FILE',
      );
      expect(r.code).toBe(1);
      const code = ch.charCodeAt(0).toString(16).padStart(4, '0');
      const [first] = r.err.split('\n');
      expect(first).toMatch(
        new RegExp(`:3:\\d+: error: the name 'd\\\\u${code}x' is already used \\(line 3\\)$`),
      );
      // Nothing but '\n' ends a line anywhere in the output.
      expect(r.err).not.toMatch(/[\r\u2028\u2029\u0085\u000b\u001b\u202e]/);
    }
  });
});

describe('--out', () => {
  it('naming an existing file is a usage error (exit 2), the file untouched', async () => {
    const file = path.join(dir, 'afile');
    writeFileSync(file, 'keep');
    const r = await netc(dense('2'), 'build', 'FILE', '--out', file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^netc: --out .*afile is a file, not a directory\nrun 'netc help build'/);
  });

  it('under a file, or where a directory stands: exit 1, naming the file', async () => {
    const file = path.join(dir, 'bfile');
    writeFileSync(file, 'keep');
    const under = await netc(dense('2'), 'build', 'FILE', '--out', path.join(file, 'sub'));
    expect(under.code).toBe(1);
    expect(under.err).toMatch(/^netc: cannot write .*bfile\/sub\/a\.\w+: .*not a directory/);
    // The module's name taken by a directory.
    const out = path.join(dir, 'taken');
    mkdirSync(path.join(out, 'a.js'), { recursive: true });
    const taken = await netc(dense('2'), 'build', 'FILE', '--out', out, '--quiet');
    expect(taken.code).toBe(1);
    expect(taken.err).toMatch(/^netc: cannot write .*taken\/a\.js: it is a directory/);
    expect(readdirSync(out)).toEqual(['a.js']);
  }, 60_000);
});
