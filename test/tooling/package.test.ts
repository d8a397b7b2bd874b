// Packaging: `npm pack`, install the tarball into a fresh project, `npx netc build` there, run in Node and Chromium.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { browserSkipReason, launchChromium, runModuleInBrowser } from '../helpers/browser.js';
import { expectClose } from '../helpers/tolerance.js';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-package-'));
const app = path.join(tmp, 'app');
const skipBrowser = browserSkipReason();
let browser: Browser | undefined;

const NET = `# a small network, written by the packaging test
network tiny {
  input image: [9, 8, 2]
  x = image -> conv2d(4, 3, padding: same, activation: relu) -> max_pooling2d(2)
  output probs = x -> flatten -> dense(3) -> softmax
  output features = x -> global_average_pooling2d
}
`;

/** The app's script: imports a built module, runs fixed inputs, prints the outputs as JSON. */
const RUN = `const { inputs, load } = await import('./' + process.argv[2] + '/tiny.js');
const n = 2 * inputs.image.reduce((a, b) => a * b, 1);
const image = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
const net = await load();
const out = net.run({ image });
console.log(JSON.stringify(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v)]))));
`;

/** Runs a command; a failure carries its output. */
function sh(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed: ${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`,
    );
  }
}

/** The same, without blocking (so builds run side by side). */
function shAsync(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd, encoding: 'utf8' }, (e, stdout, stderr) =>
      e
        ? reject(new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${stdout}\n${stderr}`))
        : resolve(stdout),
    ),
  );
}

beforeAll(async () => {
  const packDir = path.join(tmp, 'pack');
  mkdirSync(packDir, { recursive: true });
  // dist/ is built by the test command (tsc, then vitest): no prepare script rewriting it here.
  sh('npm', ['pack', '--pack-destination', packDir, '--ignore-scripts'], root);
  const tarball = readdirSync(packDir).find((f) => /^netc-.*\.tgz$/.test(f));
  if (!tarball) throw new Error(`npm pack wrote no netc-*.tgz in ${packDir}`);
  mkdirSync(app, { recursive: true });
  writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'netc-package-test-app', private: true, type: 'module' }),
  );
  sh(
    'npm',
    ['install', path.join(packDir, tarball), '--no-audit', '--no-fund', '--prefer-offline'],
    app,
  );
  writeFileSync(path.join(app, 'x.net'), NET);
  writeFileSync(path.join(app, 'run.mjs'), RUN);
  const [, , b] = await Promise.all([
    shAsync('npx', ['--no-install', 'netc', 'build', 'x.net', '--out', 'build'], app),
    shAsync(
      'npx',
      ['--no-install', 'netc', 'build', 'x.net', '--target', 'ts', '--out', 'build-ts'],
      app,
    ),
    skipBrowser ? undefined : launchChromium(),
  ]);
  browser = b;
}, 150_000);

afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const nodeRun = (dir: string): Record<string, number[]> =>
  JSON.parse(sh(process.execPath, ['run.mjs', dir], app)) as Record<string, number[]>;

describe('the packed package in a fresh npm project', () => {
  test('npx netc build wrote both targets', () => {
    expect(readdirSync(path.join(app, 'build')).sort()).toEqual([
      'tiny.d.ts',
      'tiny.js',
      'tiny.wasm',
    ]);
    expect(readdirSync(path.join(app, 'build-ts')).sort()).toEqual([
      'tiny.d.ts',
      'tiny.js',
      'tiny.ts',
    ]);
  });

  test('the app imports the modules and runs them in Node; both targets agree', () => {
    const wasm = nodeRun('build');
    const ts = nodeRun('build-ts');
    expect(wasm['probs']).toHaveLength(6);
    expect(wasm['features']).toHaveLength(8);
    const sum = wasm['probs']!.slice(0, 3).reduce((a, b) => a + b, 0);
    expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
    for (const k of ['probs', 'features']) expectClose(ts[k]!, wasm[k]!, `ts vs wasm ${k}`);
  });

  test.skipIf(skipBrowser !== null)(
    `the modules run in Chromium with Node's numbers${skipBrowser ? ` (${skipBrowser})` : ''}`,
    async () => {
      const n = 2 * 9 * 8 * 2;
      const image = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
      for (const dir of ['build', 'build-ts']) {
        const inNode = nodeRun(dir);
        const inBrowser = await runModuleInBrowser(browser!, path.join(app, dir), 'tiny.js', {
          image,
        });
        for (const k of ['probs', 'features'])
          expectClose(inBrowser[k]!, inNode[k]!, `${dir} ${k} (Chromium vs Node)`);
      }
    },
  );
});
