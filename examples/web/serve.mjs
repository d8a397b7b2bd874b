// A static file server for the web example (any static server will do; not file://, where
// browsers refuse modules and fetch). Sends .wasm as application/wasm, so WebAssembly can compile
// it while it downloads, and the two headers that make a page cross-origin isolated (needed for
// threads: SharedArrayBuffer). Usage:
//   node examples/web/serve.mjs [DIR] [--port N]      (default: this directory, port 8080)
// It prints the address it listens on.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const portAt = args.indexOf('--port');
const port = portAt >= 0 ? Number(args[portAt + 1]) : 8080;
const dir = path.resolve(
  args.find((a, i) => !a.startsWith('--') && i !== portAt + 1) ??
    path.dirname(fileURLToPath(import.meta.url)),
);

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const file = path.join(dir, decodeURIComponent(url.pathname).replace(/\/$/, '/index.html'));
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
  });
  fs.createReadStream(file).pipe(res);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`serving ${dir} at http://127.0.0.1:${server.address().port}/`);
});
