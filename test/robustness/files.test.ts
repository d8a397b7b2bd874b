// Outputs are written whole or not at all: temporary files then renames; failed or killed builds leave the previous outputs intact.
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFilesAtomic } from '../../src/cli/files.js';
import { main } from '../../src/cli/main.js';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const quiet = { out: () => {}, err: () => {} };
const NET = 'network tiny {\n  input x: [2]\n  output y = x -> dense(3)\n}\n';
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'latin1')]));

describe('netc build and init write whole files', () => {
  it('a build leaves exactly the final files (no temporaries)', async () => {
    const src = path.join(tmp, 'tiny.net');
    writeFileSync(src, NET);
    const out = path.join(tmp, 'out1');
    expect(await main(['build', src, '--target', 'ts', '--out', out], quiet)).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['tiny.d.ts', 'tiny.js', 'tiny.ts']);
    expect(await main(['init', src, '-o', path.join(out, 'w.safetensors')], quiet)).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['tiny.d.ts', 'tiny.js', 'tiny.ts', 'w.safetensors']);
  });

  it('a failed build (bad weights, bad source) leaves the previous outputs intact', async () => {
    const src = path.join(tmp, 'tiny2.net');
    writeFileSync(src, NET.replace('tiny', 'tiny2'));
    const out = path.join(tmp, 'out2');
    expect(await main(['build', src, '--out', out], quiet)).toBe(0);
    const before = snapshot(out);
    const bad = path.join(tmp, 'bad.safetensors');
    writeFileSync(bad, 'not a safetensors file at all');
    expect(await main(['build', src, '--weights', bad, '--out', out], quiet)).toBe(1);
    writeFileSync(src, NET.replace('tiny', 'tiny2').replace('dense(3)', 'dense(0)'));
    expect(await main(['build', src, '--out', out], quiet)).toBe(1);
    expect(snapshot(out)).toEqual(before);
  });

  it('a write that fails midway removes its temporaries and truncates nothing', () => {
    const dir = path.join(tmp, 'out3');
    mkdirSync(path.join(dir, 'b.js'), { recursive: true }); // b.js is a directory: rename fails
    writeFileSync(path.join(dir, 'c.js'), 'old c');
    expect(() =>
      writeFilesAtomic([
        { path: path.join(dir, 'c.js'), data: 'new c' },
        { path: path.join(dir, 'b.js'), data: 'new b' },
      ]),
    ).toThrow();
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(['old c', 'new c']).toContain(readFileSync(path.join(dir, 'c.js'), 'utf8'));
  });

  it('stale temporaries of dead processes are cleaned up; live ones are kept', () => {
    const dir = path.join(tmp, 'out4');
    mkdirSync(dir, { recursive: true });
    const dead = path.join(dir, 'n.js.999999999.tmp'); // no such pid
    const live = path.join(dir, `n.js.${process.ppid}.tmp`);
    writeFileSync(dead, 'half');
    writeFileSync(live, 'busy');
    writeFilesAtomic([{ path: path.join(dir, 'n.js'), data: 'whole' }]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(readFileSync(path.join(dir, 'n.js'), 'utf8')).toBe('whole');
  });
});

describe('killed builds', () => {
  /** Spawns a build; kills it with SIGKILL when `when` says so; resolves when it is gone. */
  function buildAndKill(args: string[], dir: string, when: 'early' | 'writing'): Promise<boolean> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(root, 'bin/netc.js'), ...args], {
        stdio: 'ignore',
      });
      let killed = false;
      const kill = (): void => {
        if (!killed) killed = child.kill('SIGKILL');
      };
      const watcher =
        when === 'writing'
          ? watch(dir, (_, name) => {
              if (name && name.endsWith('.tmp')) kill();
            })
          : undefined;
      const timer = when === 'early' ? setTimeout(kill, 1500) : undefined;
      child.on('exit', () => {
        watcher?.close();
        clearTimeout(timer);
        resolve(killed);
      });
    });
  }

  it('SIGKILL during a resnet50 build leaves the old outputs', async () => {
    const dir = path.join(tmp, 'kill1');
    mkdirSync(dir, { recursive: true });
    for (const f of ['resnet50.ts', 'resnet50.js', 'resnet50.d.ts'])
      writeFileSync(path.join(dir, f), `old ${f}`);
    const before = snapshot(dir);
    const args = [
      'build',
      path.join(root, 'examples/resnet50.net'),
      '--target',
      'ts',
      '--out',
      dir,
    ];
    expect(await buildAndKill(args, dir, 'early')).toBe(true);
    expect(snapshot(dir)).toEqual(before);
  }, 30_000);

  it('SIGKILL while the files are being written: each final name is old or whole', async () => {
    const dir = path.join(tmp, 'kill2');
    mkdirSync(dir, { recursive: true });
    const names = ['mnist.ts', 'mnist.js', 'mnist.d.ts'];
    for (const f of names) writeFileSync(path.join(dir, f), `old ${f}`);
    const args = ['build', path.join(root, 'examples/mnist.net'), '--target', 'ts', '--out', dir];
    const killed = await buildAndKill(args, dir, 'writing');
    for (const f of names) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      if (text === `old ${f}`) continue;
      // Not old: then the whole new file (a rename happened before the kill).
      expect(text.startsWith('// GENERATED BY netc')).toBe(true);
      expect(f === 'mnist.d.ts' || text.trimEnd().endsWith('";')).toBe(true);
    }
    // A temporary may remain after SIGKILL; the next write removes it.
    expect(killed).toBe(true);
    writeFilesAtomic(names.map((f) => ({ path: path.join(dir, f), data: `new ${f}` })));
    expect(readdirSync(dir).sort()).toEqual(['mnist.d.ts', 'mnist.js', 'mnist.ts']);
  }, 120_000);
});
