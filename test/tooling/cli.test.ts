// The command line's conventions: --version, help per command with defaults, one-line usage
// errors with a hint, progress on a terminal and a summary line, --quiet; and the messages
// that point a Keras user the right way. Mostly in process (main() with captured output);
// the exit codes once through `node bin/netc.js`.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS, main } from '../../src/cli/main.js';
import { renderDiagnostic } from '../../src/diag/diagnostics.js';
import { compileSource } from '../../src/frontend/index.js';

const root = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'netc-cli-conv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const version = (
  JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

interface Captured {
  code: number;
  out: string[];
  err: string[];
  progress: string[];
}

/** Runs main() in process; `tty` gives it a progress line, as a terminal's stderr has. */
async function netc(args: string[], tty = false): Promise<Captured> {
  const c: Captured = { code: 0, out: [], err: [], progress: [] };
  c.code = await main(args, {
    out: (t) => c.out.push(t),
    err: (t) => c.err.push(t),
    ...(tty ? { progress: (t: string) => c.progress.push(t) } : {}),
  });
  return c;
}

/** The real process's exit code and streams. */
function spawn(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(root, 'bin/netc.js'), ...args],
      { encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

const TINY = path.join(dir, 'tiny.net');
writeFileSync(
  TINY,
  'network tiny {\n  input x: [4, 4, 2]\n  output y = x -> conv2d(2, 3, padding: same) -> flatten -> dense(3)\n}\n',
);

describe('conventions', () => {
  it('--version and -V print the version and exit 0 (as a process)', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await spawn(flag);
      expect(r.code, flag).toBe(0);
      expect(r.stdout.trim()).toBe(`netc ${version}`);
      expect(r.stderr).toBe('');
    }
  });

  it("'netc help COMMAND' and 'netc COMMAND --help' print its options with their defaults", async () => {
    for (const command of Object.keys(COMMANDS)) {
      const a = await netc(['help', command]);
      const b = await netc([command, '--help']);
      expect(a.code).toBe(0);
      expect(b.out).toEqual(a.out);
      expect(a.out[0]).toContain(`usage: netc ${command} `);
    }
    const build = (await netc(['help', 'build'])).out[0]!;
    for (const [flag, def] of <[string, string][]>[
      ['--target wasm|ts', 'default: wasm'],
      ['--out DIR', 'default: build'],
      ['--seed S', 'default: 0'],
      ['--weight-precision f32|f16|int8', 'default: f32'],
    ])
      expect(build).toMatch(new RegExp(`${flag.replace(/[|]/g, '\\|')}\\s.*\\(${def}\\)`));
    expect(build).toContain('--external-weights');
    expect(build).toContain('--quiet');
  });

  it('a usage error is one line and a hint naming the help to read; exit 2', async () => {
    const cases: [string[], RegExp, string][] = [
      [['build', TINY, '--target', 'arm'], /--target must be wasm or ts, got 'arm'/, 'build'],
      [
        ['build', TINY, '--weight-precision', 'f8'],
        /--weight-precision must be f32, f16 or int8/,
        'build',
      ],
      [['check', TINY, '--json'], /check takes no option --json/, 'check'],
      [['summary', TINY, '--jsn'], /unknown option '--jsn'/, 'summary'],
      [['summary', TINY, '--network'], /option --network needs a value/, 'summary'],
      [['init', TINY], /init needs -o W\.safetensors/, 'init'],
      [['export', TINY], /export needs --onnx/, 'export'],
      [['help', 'compile'], /no command 'compile'/, ''],
      [['compile', TINY], /unknown command 'compile'/, ''],
      [[], /no command given/, ''],
    ];
    for (const [args, message, command] of cases) {
      const r = await netc(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toEqual([]);
      expect(r.err, args.join(' ')).toHaveLength(2);
      expect(r.err[0]).toMatch(/^netc: /);
      expect(r.err[0]).toMatch(message);
      expect(r.err[1]).toMatch(
        command ? new RegExp(`^run 'netc help ${command}'`) : /^run 'netc help'$/,
      );
    }
  });

  it('build: progress on a terminal, then one summary line per network; --quiet silences both', async () => {
    const out = path.join(dir, 'b');
    const tty = await netc(['build', TINY, '--out', out], true);
    expect(tty.code).toBe(0);
    expect(tty.progress.some((p) => /^tiny: lowering \(\d+ ms\)$/.test(p))).toBe(true);
    expect(tty.progress.at(-1)).toBe(''); // the progress line is cleared
    expect(tty.err).toHaveLength(1);
    const size = ['tiny.js', 'tiny.d.ts', 'tiny.wasm']
      .map((f) => readFileSync(path.join(out, f)).length)
      .reduce((a, b) => a + b);
    expect(tty.err[0]).toMatch(
      new RegExp(
        `^wrote ${path.join(out, 'tiny.js').replace(/[.\\/]/g, '\\$&')}, tiny\\.d\\.ts, tiny\\.wasm \\(${(size / 1000).toFixed(1)} KB\\) in \\d+(\\.\\d)? m?s$`,
      ),
    );
    const piped = await netc(['build', TINY, '--out', out]);
    expect(piped.progress).toEqual([]);
    expect(piped.err).toHaveLength(1);
    const quiet = await netc(['build', TINY, '--out', out, '--quiet'], true);
    expect(quiet).toEqual({ code: 0, out: [], err: [], progress: [] });
  }, 60_000);
});

describe('messages a Keras user needs', () => {
  const errors = (source: string): string[] =>
    compileSource(source).diagnostics.map((d) => renderDiagnostic('m.net', source, d));

  it('a rank-4 image input: shapes exclude the batch', () => {
    const [e] = errors(
      'network a {\n  input image: [1, 28, 28, 1]\n  output y = image -> conv2d(4, 3)\n}\n',
    );
    expect(e).toContain('note: shapes exclude the batch');
    expect(e).toContain('the shape is [28, 28, 1]');
  });

  it('None in an attribute: shapes exclude the batch', () => {
    const [e] = errors(
      'network a {\n  input x: [28, 28, 1]\n  output y = x -> conv2d_transpose(4, 3, output_shape: [None, 30, 30, 4])\n}\n',
    );
    expect(e).toContain("got 'None'");
    expect(e).toContain("note: shapes in netc exclude the batch (Keras's None)");
  });

  it('(3, 3) suggests [3, 3]', () => {
    const [e] = errors(
      'network a {\n  input x: [8, 8, 1]\n  output y = x -> conv2d(4, (3, 3))\n}\n',
    );
    expect(e).toContain('[3, 3], not (3, 3)');
  });

  it('two unknown layers in one chain are both reported', () => {
    const list = errors(
      'network a {\n  input x: [8, 8, 1]\n  output y = x -> conv2dd(4, 3) -> relu -> densee(3)\n}\n',
    );
    expect(list).toHaveLength(2);
    expect(list[0]).toContain("unknown layer or block 'conv2dd' (did you mean 'conv2d'?)");
    expect(list[1]).toContain("unknown layer or block 'densee' (did you mean 'dense'?)");
  });
});
