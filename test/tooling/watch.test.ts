// `netc build --watch` (run as a user does, `node bin/netc.js`): it builds, rebuilds when the
// .net file or the weights file changes, prints a broken source's diagnostics and keeps running;
// each rebuilt module runs (in Node) and matches the reference interpreter.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { initialValues, initWeights } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { runReference } from '../../src/reference/run.js';
import { runModule } from '../helpers/module.js';
import { randomFeeds } from '../helpers/random.js';
import { expectClose } from '../helpers/tolerance.js';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-watch-'));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

const V1 = `network w {
  input image: [5, 4, 2]
  output y = image -> conv2d(3, 3, padding: same) -> flatten -> dense(4)
}
`;
/** An unknown layer at line 3, column 22. */
const BROKEN = V1.replace('conv2d(3', 'conv2e(3');
/** The same weights, a different function. */
const V2 = V1.replace('dense(4)', 'dense(4, activation: tanh)');

/** Resolves when `text()` matches `re` (polled), or rejects after `ms` with what it saw. */
async function until(text: () => string, re: RegExp, ms = 90_000): Promise<void> {
  const t0 = Date.now();
  while (!re.test(text())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}; stderr:\n${text()}`);
    if (child?.exitCode !== null) throw new Error(`netc exited (${child?.exitCode}):\n${text()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The module built in `out`, run on fixed feeds, against the reference with those weights. */
async function expectBuilt(source: string, seed: number, what: string): Promise<void> {
  const g = compileSource(source).graphs[0]!;
  const feeds = randomFeeds(g, 2, 5);
  const values = initialValues(g, seed);
  const want = runReference(g, new Map(g.params.map((p, i) => [p.key, values[i]!])), feeds, 2);
  const got = await runModule(path.join(tmp, 'out', 'w.js'), feeds);
  expectClose(got['y']!, want['y']!, what);
}

test('build --watch rebuilds on changes of the .net and the weights, and survives errors', async () => {
  const net = path.join(tmp, 'w.net');
  const weightsFile = path.join(tmp, 'w.safetensors');
  const g = compileSource(V1).graphs[0]!;
  writeFileSync(net, V1);
  writeFileSync(weightsFile, initWeights(g, 1));

  let stderr = '';
  const builds = (): number => (stderr.match(/netc: built /g) ?? []).length;
  child = spawn(
    process.execPath,
    [path.join(root, 'bin/netc.js'), 'build', 'w.net', '--weights', 'w.safetensors'].concat([
      '--out',
      'out',
      '--watch',
    ]),
    { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.resume();
  try {
    await until(() => stderr, /netc: built w\.net/);
    await expectBuilt(V1, 1, 'first build');

    // A broken source: the diagnostic with its location, the old module left as it was.
    const before = readFileSync(path.join(tmp, 'out', 'w.js'), 'utf8');
    writeFileSync(net, BROKEN);
    await until(() => stderr, /the build failed/);
    const d = compileSource(BROKEN).diagnostics[0]!;
    expect(stderr).toContain(`w.net:${d.span.line}:${d.span.col}: error: ${d.message}`);
    expect(readFileSync(path.join(tmp, 'out', 'w.js'), 'utf8')).toBe(before);
    expect(child.exitCode).toBeNull();

    // Fixed, and changed: built again.
    writeFileSync(net, V2);
    await until(() => stderr, /the build failed[\s\S]*netc: built w\.net/);
    await expectBuilt(V2, 1, 'after the .net changed');

    // New weights: built again with them.
    const n = builds();
    writeFileSync(weightsFile, initWeights(g, 2));
    await until(() => stderr, new RegExp(`(netc: built [\\s\\S]*){${n + 1}}`));
    await expectBuilt(V2, 2, 'after the weights changed');
    expect(child.exitCode).toBeNull();
  } finally {
    child.kill('SIGTERM');
  }
}, 240_000);
