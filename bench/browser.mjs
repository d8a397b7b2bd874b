// `npm run bench -- --browser`: the runtimes users run in browsers (netc, TF.js wasm,
// onnxruntime-web; one thread) measured inside headless Chromium, where relaxed SIMD is on by
// default. One browser; each measurement in a fresh browser context (its own renderer, no shared
// cache) of a page served from a local HTTP server with COOP/COEP (so performance.now() has
// 5 us resolution, not 100 us). bench/run.mjs calls `run` where it would spawn a child process;
// the result has the child's shape: cold start (page opened to first result), outputs (sent
// back to the temp directory), timings, and the renderer's CPU time over wall time of the
// timed loop (from Chromium's SystemInfo.getProcessInfo; no per-run CPU time in a page).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

/** Debian's chromium package, as .ci/run installs it (test/helpers/browser.ts uses the same). */
const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A page in the background keeps its full speed (no timer throttling of a hidden tab).
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
];

/** The runtimes measured in pages; the others (ort-node, the reference) stay in Node. */
export const BROWSER_RUNTIMES = new Set(['netc', 'tfjs-wasm', 'ort-web']);

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

const PAGE =
  '<!doctype html><meta charset="utf-8"><title>netc bench</title>' +
  '<script type="module" src="/repo/bench/browser-page.mjs"></script>';

/** Serves the repository under /repo/, the bench's temp directory under /tmp/, and takes
 * outputs at POST /out/NAME into the directory of the network being measured. */
function serve(root, dir, state) {
  const server = http.createServer((req, res) => {
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('cache-control', 'no-store');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const p = decodeURIComponent(url.pathname);
    if (req.method === 'POST' && p.startsWith('/out/')) {
      const name = path.basename(p);
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        fs.writeFileSync(path.join(state.outDir, name), Buffer.concat(chunks));
        res.writeHead(204).end();
      });
      return;
    }
    if (p === '/page.html') {
      res.writeHead(200, { 'content-type': TYPES['.html'] }).end(PAGE);
      return;
    }
    const [base, rest] = p.startsWith('/repo/')
      ? [root, p.slice(6)]
      : p.startsWith('/tmp/')
        ? [dir, p.slice(5)]
        : [null, ''];
    const file = base && path.resolve(base, rest);
    if (!file || !file.startsWith(base + path.sep) || !fs.existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port })),
  );
}

/** Starts Chromium and the server; `run(config)` measures as bench/child.mjs would. */
export async function openBrowser(root, dir) {
  const { chromium } = await import('playwright-core');
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const version = browser.version();
  const state = { outDir: dir };
  const { server, port } = await serve(root, dir, state);
  const origin = `http://127.0.0.1:${port}`;
  const cdp = await browser.newBrowserCDPSession();
  /** Seconds of CPU used so far by every renderer process. */
  const rendererCpu = async () => {
    const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
    return processInfo.filter((p) => p.type === 'renderer').reduce((s, p) => s + p.cpuTime, 0);
  };
  const rel = (file) => `${origin}/tmp/${path.relative(dir, file).split(path.sep).join('/')}`;

  async function run(config, timeoutMs = 300_000) {
    const phase = config.coldOnly ? 'cold' : 'full';
    const pageConfig = {
      ...config,
      inputs: (config.inputs ?? []).map((i) => ({ ...i, url: rel(i.file) })),
      ...(config.module ? { moduleUrl: rel(config.module) } : {}),
      ...(config.onnx ? { onnxUrl: rel(config.onnx) } : {}),
      ...(config.plan
        ? { planUrl: rel(config.plan), planWeightsUrl: rel(config.planWeights) }
        : {}),
    };
    const file = path.join(dir, `page-${config.runtime}-${config.network ?? ''}.json`);
    fs.writeFileSync(file, JSON.stringify(pageConfig));
    state.outDir = config.outDir ?? dir;
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    let coldMs = null;
    const t0 = performance.now();
    page.on('console', (m) => {
      if (coldMs === null && m.text() === 'FIRST') coldMs = performance.now() - t0;
    });
    const timer = setTimeout(() => context.close().catch(() => {}), timeoutMs);
    try {
      await page.goto(`${origin}/page.html?phase=${phase}&config=${encodeURIComponent(rel(file))}`);
      const result = await page.evaluate('benchDone');
      const firstInProcessMs = result.firstMs;
      if (phase === 'cold') return { result, coldMs, firstInProcessMs };
      const c0 = await rendererCpu();
      const w0 = performance.now();
      const timed = await page.evaluate('timing()');
      const ratio = ((await rendererCpu()) - c0) / ((performance.now() - w0) / 1000);
      for (const t of [timed.fresh, timed.into])
        if (t) Object.assign(t, { cpuRatio: ratio, cpuMedian: null });
      return { result: timed, coldMs, firstInProcessMs };
    } catch (e) {
      return {
        error: `${String(e?.message ?? e).split('\n')[0]}${errors.length ? `; page: ${errors.join('; ')}` : ''}`,
      };
    } finally {
      clearTimeout(timer);
      await context.close().catch(() => {});
    }
  }

  return {
    version,
    run,
    close: async () => {
      await browser.close();
      await new Promise((r) => server.close(r));
    },
  };
}
