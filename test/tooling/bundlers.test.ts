// The bundler plugins (netc/vite, netc/esbuild): a real Vite and esbuild build of a tiny app that
// imports a .net file; the bundle runs in Chromium and prints the network's output, which must
// match the reference interpreter. A .net with errors fails each build with its locations.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Message } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import netcEsbuild from '../../src/bundler/esbuild.js';
import netcVite from '../../src/bundler/vite.js';
import { initialValues } from '../../src/driver.js';
import { compileSource } from '../../src/frontend/index.js';
import { runReference } from '../../src/reference/run.js';
import { browserSkipReason, launchChromium, serveDir } from '../helpers/browser.js';
import { expectClose } from '../helpers/tolerance.js';

const skip = browserSkipReason();
const tmp = mkdtempSync(path.join(tmpdir(), 'netc-bundlers-'));
let browser: Browser | undefined;

const NET = `# the bundler test's network
network tiny {
  input image: [6, 5, 2]
  x = image -> conv2d(4, 3, padding: same, activation: relu) -> max_pooling2d(2)
  output probs = x -> flatten -> dense(3) -> softmax
}
`;
/** Two errors: an unknown layer (line 4) and an unknown attribute (line 5). */
const BAD = `network bad {
  input image: [6, 5, 2]
  x = image
    -> conv2e(4, 3)
  output y = image -> dense(3, activaton: relu)
}
`;
const SEED = 3;

/** The app: imports the network both ways, runs a fixed input, prints and publishes the output. */
const MAIN = `import { inputs, load } from './tiny.net';
import tiny from './tiny.net';
const n = inputs.image.reduce((a, b) => a * b, 1);
const image = Float32Array.from({ length: n }, (_, i) => Math.sin(0.7 * i));
const net = await tiny.load();
if (tiny.load !== load) throw new Error('the default export is not the module');
const probs = Array.from(net.run({ image }).probs);
console.log('probs ' + JSON.stringify(probs));
window.netcResult = probs;
`;
const HTML = `<!doctype html><meta charset="utf-8"><title>tiny</title>
<script type="module" src="./main.js"></script>
`;

/** The reference interpreter's output for MAIN's input. */
function expected(): number[] {
  const g = compileSource(NET).graphs[0]!;
  const n = g.inputs[0]!.shape.reduce((a, b) => a * b, 1);
  const image = Float32Array.from({ length: n }, (_, i) => Math.sin(0.7 * i));
  const values = initialValues(g, SEED);
  const params = new Map(g.params.map((p, i) => [p.key, values[i]!]));
  return Array.from(runReference(g, params, { image }, 1)['probs']!);
}

/** Serves a built app, opens it, and returns what it printed. */
async function runApp(dir: string, at?: string): Promise<{ probs: number[]; printed: string[] }> {
  const server = at === undefined ? await serveDir(dir) : { url: at, close: async () => {} };
  const page = await browser!.newPage();
  const errors: string[] = [];
  const printed: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => printed.push(m.text()));
  try {
    await page.goto(at ?? `${server.url}/`);
    await page.waitForFunction('window.netcResult !== undefined || false', null, {
      timeout: 20_000,
    });
    const probs = (await page.evaluate('window.netcResult')) as number[];
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    return { probs, printed };
  } catch (e) {
    throw new Error(`${String(e)}\npage errors: ${errors.join('; ')}`);
  } finally {
    await page.close();
    await server.close();
  }
}

/** A fresh app directory with the network, the script and the page. */
function app(name: string, net = NET): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'tiny.net'), net);
  writeFileSync(path.join(dir, 'main.js'), MAIN);
  writeFileSync(path.join(dir, 'index.html'), HTML);
  return dir;
}

async function viteBuild(dir: string): Promise<string> {
  const { build } = await import('vite');
  const outDir = path.join(dir, 'dist');
  await build({
    root: dir,
    configFile: false,
    logLevel: 'silent',
    plugins: [netcVite({ seed: SEED })],
    build: { outDir, target: 'esnext', emptyOutDir: true },
  });
  return outDir;
}

async function esbuildBuild(dir: string, quiet = false): Promise<string> {
  const esbuild = await import('esbuild');
  const outDir = path.join(dir, 'out');
  await esbuild.build({
    entryPoints: [path.join(dir, 'main.js')],
    bundle: true,
    format: 'esm',
    outdir: outDir,
    logLevel: quiet ? 'silent' : 'warning',
    plugins: [netcEsbuild({ seed: SEED })],
  });
  writeFileSync(path.join(outDir, 'index.html'), HTML);
  return outDir;
}

beforeAll(async () => {
  if (!skip) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(skip !== null)(`bundler plugins${skip ? ` (${skip})` : ''}`, () => {
  test('Vite: the .net builds at bundle time, its .wasm is an asset, the page runs it', async () => {
    const out = await viteBuild(app('vite'));
    const assets = readdirSync(path.join(out, 'assets'));
    expect(assets.filter((f) => /^tiny-.*\.wasm$/.test(f))).toHaveLength(1);
    const { probs, printed } = await runApp(out);
    expectClose(probs, expected(), 'vite bundle in Chromium vs reference');
    expect(printed).toContain(`probs ${JSON.stringify(probs)}`);
  });

  test('Vite dev server: the module and its .wasm (served from memory) run in the page', async () => {
    const { createServer } = await import('vite');
    const server = await createServer({
      root: app('vite-dev'),
      configFile: false,
      logLevel: 'silent',
      plugins: [netcVite({ seed: SEED })],
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
      optimizeDeps: { noDiscovery: true },
    });
    try {
      await server.listen();
      const url = server.resolvedUrls!.local[0]!;
      const { probs } = await runApp('', url);
      expectClose(probs, expected(), 'vite dev server in Chromium vs reference');
    } finally {
      await server.close();
    }
  });

  test('esbuild: the .net builds at bundle time, its .wasm is a file, the page runs it', async () => {
    const out = await esbuildBuild(app('esbuild'));
    expect(readdirSync(out).filter((f) => /^tiny-.*\.wasm$/.test(f))).toHaveLength(1);
    const { probs, printed } = await runApp(out);
    expectClose(probs, expected(), 'esbuild bundle in Chromium vs reference');
    expect(printed).toContain(`probs ${JSON.stringify(probs)}`);
  });
});

describe('bundler plugins: a .net with errors fails the build at its locations', () => {
  const want = compileSource(BAD).diagnostics.map((d) => ({
    line: d.span.line,
    col: d.span.col,
    message: d.message,
  }));
  test('the compiler reports two errors (the premise)', () => {
    expect(want.map((w) => w.line)).toEqual([4, 5]);
  });

  test('Vite: the error names file:line:col and each message', async () => {
    const dir = app('vite-bad', BAD);
    const file = path.join(dir, 'tiny.net');
    const err = await viteBuild(dir).then(
      () => null,
      (e: unknown) => e as Error & { loc?: { file: string; line: number; column: number } },
    );
    expect(err).not.toBeNull();
    for (const w of want) {
      expect(err!.message).toContain(`${file}:${w.line}:${w.col}: error: ${w.message}`);
    }
    // Rollup's convention: 1-based line, 0-based column.
    const loc = (err as Error & { errors?: { loc?: unknown }[] }).errors?.[0]?.loc ?? err!.loc;
    expect(loc).toMatchObject({ file, line: want[0]!.line, column: want[0]!.col - 1 });
  });

  test('esbuild: one error per diagnostic, with file, line and column', async () => {
    const dir = app('esbuild-bad', BAD);
    const file = path.join(dir, 'tiny.net');
    const err = await esbuildBuild(dir, true).then(
      () => null,
      (e: unknown) => e as Error & { errors: Message[] },
    );
    expect(err).not.toBeNull();
    expect(
      err!.errors.map((e) => ({
        file: e.location?.file,
        line: e.location?.line,
        col: (e.location?.column ?? -1) + 1,
        message: e.text,
      })),
    ).toEqual(want.map((w) => ({ file: path.relative(process.cwd(), file), ...w })));
  });
});

describe('bundler plugins: a file with several networks', () => {
  const TWO = `network a {
  input x: [4]
  output y = x -> dense(2)
}
network b {
  input x: [4]
  output z = x -> dense(3)
}
`;
  async function bundle(entry: string, quiet: boolean): Promise<string> {
    const esbuild = await import('esbuild');
    const dir = path.join(tmp, `two-${quiet ? 'bad' : 'ok'}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'two.net'), TWO);
    writeFileSync(path.join(dir, 'entry.js'), entry);
    await esbuild.build({
      entryPoints: [path.join(dir, 'entry.js')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      outdir: path.join(dir, 'out'),
      logLevel: 'silent',
      plugins: [netcEsbuild({ seed: SEED })],
    });
    return path.join(dir, 'out', 'entry.js');
  }

  test('?network=NAME picks one (esbuild, run in Node)', async () => {
    const out = await bundle(
      "import { outputs, load } from './two.net?network=b';\nexport { outputs, load };\n",
      false,
    );
    const mod = (await import(out)) as {
      outputs: Record<string, readonly number[]>;
      load: () => Promise<{ run(f: Record<string, Float32Array>): Record<string, Float32Array> }>;
    };
    expect(mod.outputs).toEqual({ z: [3] });
    const x = Float32Array.from([0.5, -1, 2, 0.25]);
    const got = (await mod.load()).run({ x })['z']!;
    const g = compileSource(TWO).graphs[1]!;
    const values = initialValues(g, SEED);
    const want = runReference(g, new Map(g.params.map((p, i) => [p.key, values[i]!])), { x }, 1);
    expectClose(got, want['z']!, 'network b of two.net');
  });

  test('without it, the error names the networks and the query', async () => {
    const err = await bundle("export * from './two.net';\n", true).then(
      () => null,
      (e: unknown) => e as Error & { errors: Message[] },
    );
    expect(err?.errors[0]?.text).toContain(
      "declares 2 networks (a, b): import one as 'two.net?network=NAME'",
    );
  });
});
