// Test helper: runs a generated ES module in headless Chromium (playwright-core), served from a local static server.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium package, as .ci/run installs it. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Why browser tests cannot run here, or null when they can. Without Chromium they are skipped
 * locally; in CI (process.env.CI set) they must run, so there the missing browser is a failure.
 */
export function browserSkipReason(): string | null {
  if (existsSync(CHROMIUM) || process.env['CI']) return null;
  return `no Chromium at ${CHROMIUM} (apt-get install chromium); skipped outside CI`;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.ts': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.css': 'text/css; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

const PAGE = '<!doctype html><meta charset="utf-8"><title>netc</title><p>netc test page</p>';

export interface StaticServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `dir` on 127.0.0.1 (a free port); `/` is the directory's index.html, or a blank page
 * that scripts can import from. With `isolated`, every response carries COOP/COEP headers, so
 * the page is cross-origin isolated (shared memory, threads).
 */
export async function serveDir(dir: string, { isolated = false } = {}): Promise<StaticServer> {
  const headers: Record<string, string> = isolated
    ? {
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      }
    : {};
  const root = path.resolve(dir);
  const hasIndex = existsSync(path.join(root, 'index.html'));
  const server: Server = createServer((req, res) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/' && hasIndex) url.pathname = '/index.html';
    else if (url.pathname === '/' || url.pathname === '/index.html') {
      res.writeHead(200, { 'content-type': TYPES['.html']! });
      res.end(PAGE);
      return;
    }
    const file = path.resolve(root, '.' + decodeURIComponent(url.pathname));
    if (!file.startsWith(root + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * In a page of `browser` served from `dir`, imports `moduleFile` (relative to `dir`), loads it
 * with its built-in weights and runs `feeds`; returns every output as plain numbers (float32
 * values survive the trip exactly).
 */
export async function runModuleInBrowser(
  browser: Browser,
  dir: string,
  moduleFile: string,
  feeds: Record<string, Float32Array>,
): Promise<Record<string, number[]>> {
  const server = await serveDir(dir);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(`${server.url}/`);
    const plain = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, Array.from(v)]));
    // The page script is a string: a test runner's transform must not rewrite its import().
    const script = `(async () => {
      const mod = await import(${JSON.stringify(`${server.url}/${moduleFile}`)});
      const net = await mod.load();
      const feeds = ${JSON.stringify(plain)};
      const typed = {};
      for (const [k, v] of Object.entries(feeds)) typed[k] = Float32Array.from(v);
      const out = net.run(typed);
      const res = {};
      for (const [k, v] of Object.entries(out)) res[k] = Array.from(v);
      return res;
    })()`;
    const result = (await page.evaluate(script)) as Record<string, number[]>;
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    return result;
  } finally {
    await page.close();
    await server.close();
  }
}
