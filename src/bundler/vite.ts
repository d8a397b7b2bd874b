// `netc/vite`: a Vite plugin. `import { load } from './model.net'` builds the file's network at
// bundle time (the module `netc build` writes); the .wasm is emitted as an asset (served from
// memory by the dev server); the .net's diagnostics are Vite errors with file, line and column.
import { createHash } from 'node:crypto';
import type { Plugin } from 'vite';
import {
  buildNetFile,
  NET_ID,
  parseNetId,
  renderNetError,
  type NetAsset,
  type NetPluginOptions,
} from './core.js';

export type { NetPluginOptions };

/** The dev server's path of the assets it serves from memory. */
const DEV_PREFIX = '/@netc/';

export default function netc(options: NetPluginOptions = {}): Plugin {
  let command: 'build' | 'serve' = 'build';
  let base = '/';
  /** Dev server: the assets built, by their path under DEV_PREFIX. */
  const served = new Map<string, NetAsset>();
  return {
    name: 'netc',
    enforce: 'pre',
    configResolved(config) {
      command = config.command;
      base = config.base;
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = req.url?.split('?')[0] ?? '';
        const at = url.indexOf(DEV_PREFIX);
        const asset = at < 0 ? undefined : served.get(url.slice(at + DEV_PREFIX.length));
        if (!asset) return next();
        res.setHeader(
          'content-type',
          asset.name.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream',
        );
        res.setHeader('cache-control', 'no-cache');
        res.end(asset.data);
      });
    },
    async load(id) {
      if (!NET_ID.test(id)) return null;
      const { file, network } = parseNetId(id);
      const built = await buildNetFile(file, network, options);
      for (const f of built.watchFiles) if (f !== file) this.addWatchFile(f);
      if (!built.ok) {
        const first = built.errors[0]!;
        const rest = built.errors.length > 1 ? `\n(${built.errors.length} errors)` : '';
        this.error({
          message: built.errors.map(renderNetError).join('\n\n') + rest,
          id: first.file,
          ...(first.line !== undefined
            ? { loc: { file: first.file, line: first.line, column: (first.column ?? 1) - 1 } }
            : {}),
        });
      }
      const code = built.code((asset) => {
        if (command === 'build') {
          const ref = this.emitFile({ type: 'asset', name: asset.name, source: asset.data });
          return `new URL(import.meta.ROLLUP_FILE_URL_${ref}, import.meta.url)`;
        }
        // One entry per module and file (a rebuild replaces it); the content's hash in the
        // query, so the browser never reuses a stale copy.
        const sha = (x: string | Uint8Array): string =>
          createHash('sha256').update(x).digest('hex').slice(0, 12);
        const key = `${sha(id)}/${asset.name}`;
        served.set(key, asset);
        const at = `${base}${DEV_PREFIX.slice(1)}${key}?v=${sha(asset.data)}`;
        return `new URL(${JSON.stringify(at)}, location.href)`;
      });
      return { code, moduleType: 'js', map: { mappings: '' } };
    },
  };
}
