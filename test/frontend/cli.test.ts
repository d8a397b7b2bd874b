// The command line (language.md section 5) run as a user runs it: `node bin/netc.js ARGS` on the
// built dist/ (npm test builds first). Output formats, exit codes 0/1/2, --network, --json.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'netc.js');
const dir = mkdtempSync(join(tmpdir(), 'netc-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the command line. */
function netc(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        if (err && code === null) reject(err);
        else resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Writes a source file in the temporary directory and returns its path. */
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const TWO = file(
  'two.net',
  `# two networks in one file
network small {
  input x: [4, 4, 2]
  output y = x -> conv2d(3, 3, padding: same) -> batch_normalization -> relu
}

network tiny(data_format: channels_first) {
  input x: [2, 5, 6]
  output y = x -> conv2d(4, 3) -> flatten -> dense(2)
}
`,
);

const BAD = file(
  'bad.net',
  `network bad {
  input x: [None, 8, 8, 3]
  y = x -> conv2d(8, 3, subsample: 2)
  output z = x -> conv2d(8, 3,, padding: same)
}
`,
);

describe('netc check', () => {
  it('exits 0 and names the networks of a good file', async () => {
    const r = await netc('check', 'examples/mnist.net');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('examples/mnist.net: ok (mnist)\n');
    expect((await netc('check', TWO)).stdout).toContain('ok (small, tiny)');
  });

  it('exits 1 and prints every error as FILE:LINE:COL: error:, with line and caret', async () => {
    const r = await netc('check', BAD);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const heads = r.stderr.split('\n').filter((l) => l.includes(': error: '));
    // A syntax error in a network hides the semantic errors of that network, not other lines.
    expect(heads.length).toBeGreaterThanOrEqual(1);
    for (const h of heads)
      expect(h).toMatch(new RegExp(`^${BAD.replace(/[.\\]/g, '\\$&')}:\\d+:\\d+: error: `));
    expect(r.stderr).toContain(' 4 |   output z = x -> conv2d(8, 3,, padding: same)');
    expect(r.stderr).toContain('\n   | ' + ' '.repeat(30) + '^\n');
    expect(r.stderr.trimEnd()).toMatch(/\d+ errors?$/);
  });

  it('reports semantic errors of a file all at once', async () => {
    const f = file(
      'sem.net',
      `network n {
  input x: [None, 8, 8, 3]
  output y = x
}
network m {
  input x: [8, 8, 3]
  a = x -> conv2d(8, 3, subsample: 2)
  output y = x -> conv2d(8, 9)
}
`,
    );
    const r = await netc('check', f);
    expect(r.code).toBe(1);
    const lines = r.stderr
      .split('\n')
      .filter((l) => l.includes(': error: '))
      .map((l) => Number(l.split(':')[1]));
    expect(lines).toEqual([2, 7, 8]);
    expect(r.stderr.trimEnd().endsWith('3 errors')).toBe(true);
  });
});

describe('netc summary', () => {
  it('--json prints exactly the contract shape', async () => {
    const r = await netc('summary', 'examples/mnist.net', '--json');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const out = JSON.parse(r.stdout) as { networks: Record<string, unknown>[] };
    expect(Object.keys(out)).toEqual(['networks']);
    expect(out.networks).toHaveLength(1);
    const n = out.networks[0]!;
    expect(Object.keys(n).sort()).toEqual(['layers', 'macs', 'name', 'params', 'params_folded']);
    expect(n).toMatchObject({ name: 'mnist', params: 454_922 });
    expect(typeof n['params_folded']).toBe('number');
    expect(n['macs']).toBe(3_538_688);
    const layers = n['layers'] as Record<string, unknown>[];
    for (const l of layers) {
      expect(Object.keys(l).sort()).toEqual(['kind', 'macs', 'name', 'output_shape', 'params']);
      expect(typeof l['name']).toBe('string');
      expect(typeof l['kind']).toBe('string');
      expect(Array.isArray(l['output_shape'])).toBe(true);
      expect(Number.isInteger(l['params'])).toBe(true);
      expect(Number.isInteger(l['macs'])).toBe(true);
    }
    expect(layers.find((l) => l['name'] === 'conv2d')).toEqual({
      name: 'conv2d',
      kind: 'conv2d',
      output_shape: [28, 28, 32],
      params: 832,
      macs: 627_200,
    });
    expect(layers.reduce((s, l) => s + (l['params'] as number), 0)).toBe(n['params']);
    expect(layers.reduce((s, l) => s + (l['macs'] as number), 0)).toBe(n['macs']);
  });

  it('lists every network, in the data format of each, without the batch', async () => {
    const out = JSON.parse((await netc('summary', TWO, '--json')).stdout) as {
      networks: { name: string; layers: { name: string; output_shape: number[] }[] }[];
    };
    expect(out.networks.map((n) => n.name)).toEqual(['small', 'tiny']);
    expect(out.networks[1]!.layers.map((l) => [l.name, l.output_shape])).toEqual([
      ['x', [2, 5, 6]],
      ['conv2d', [4, 3, 4]],
      ['flatten', [48]],
      ['dense', [2]],
    ]);
  });

  it('--network picks one network', async () => {
    const r = await netc('summary', TWO, '--network', 'tiny', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { networks: { name: string }[] };
    expect(out.networks.map((n) => n.name)).toEqual(['tiny']);
    expect((await netc('summary', TWO, '--network=small', '--json')).stdout).toContain('"small"');
  });

  it('--network with a name the file lacks is bad usage, and lists the networks', async () => {
    const r = await netc('summary', TWO, '--network', 'huge');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("'huge'");
    expect(r.stderr).toContain('small, tiny');
  });

  it('prints a table with totals without --json', async () => {
    const r = await netc('summary', 'examples/separable.net');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/separable_conv2d\s+separable_conv2d\s+\[412, 412, 100\]\s+1,350/);
    expect(r.stdout).toContain('Total params: 1,350');
  });

  it('exits 1 on a file with errors, printing nothing on stdout', async () => {
    const r = await netc('summary', BAD, '--json');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(': error: ');
  });
});

describe('bad usage exits 2', () => {
  const usage = (r: Run): void => {
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    // One line saying what is wrong, then the hint (not the whole usage).
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^netc: /);
    expect(lines[1]).toMatch(/^run 'netc help( \w+)?'/);
  };

  it('no command', async () => usage(await netc()));
  it('an unknown command', async () => {
    const r = await netc('compile', 'examples/mnist.net');
    usage(r);
    expect(r.stderr).toContain("'compile'");
  });
  it('a command without its FILE', async () => usage(await netc('check')));
  it('a FILE that does not exist', async () => {
    const r = await netc('check', join(dir, 'missing.net'));
    usage(r);
    expect(r.stderr).toContain('missing.net');
  });
  it('an unknown flag', async () => {
    const r = await netc('summary', 'examples/mnist.net', '--jsn');
    usage(r);
    expect(r.stderr).toContain('--jsn');
  });
  it('a flag without its value', async () =>
    usage(await netc('summary', 'examples/mnist.net', '--network')));
  it('an extra argument', async () =>
    usage(await netc('check', 'examples/mnist.net', 'examples/dcgan.net')));

  it('--help is not an error', async () => {
    const r = await netc('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('netc summary FILE [--network N] [--json]');
  });
});
