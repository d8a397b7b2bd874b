// `netc/esbuild`: an esbuild plugin. `import { load } from './model.net'` builds the file's
// network at bundle time (the module `netc build` writes); the .wasm goes through esbuild's
// `file` loader (copied to the output directory, hashed name); the .net's diagnostics are
// esbuild errors with file, line and column. The bundle must be ESM (`format: 'esm'`): the
// module finds its .wasm relative to `import.meta.url`.
import path from 'node:path';
import type { Plugin } from 'esbuild';
import { buildNetFile, NET_ID, type NetAsset, type NetPluginOptions } from './core.js';

export type { NetPluginOptions };

const NS = 'netc-asset';

export default function netc(options: NetPluginOptions = {}): Plugin {
  return {
    name: 'netc',
    setup(build) {
      /** The assets of the modules built so far, by their virtual path. */
      const assets = new Map<string, NetAsset>();
      build.onResolve({ filter: NET_ID }, (args) => {
        if (args.namespace !== 'file') return undefined;
        const q = args.path.indexOf('?');
        const bare = q < 0 ? args.path : args.path.slice(0, q);
        return {
          path: path.resolve(args.resolveDir, bare),
          ...(q < 0 ? {} : { suffix: args.path.slice(q) }),
        };
      });
      build.onLoad({ filter: NET_ID }, async (args) => {
        const network = new URLSearchParams(args.suffix?.replace(/^\?/, '') ?? '').get('network');
        const built = await buildNetFile(args.path, network ?? undefined, options);
        const watchFiles = [...built.watchFiles];
        if (!built.ok)
          return {
            watchFiles,
            errors: built.errors.map((e) => ({
              text: e.message,
              location:
                e.line === undefined
                  ? { file: e.file }
                  : {
                      file: e.file,
                      line: e.line,
                      column: (e.column ?? 1) - 1,
                      length: e.length ?? 1,
                      lineText: e.lineText ?? '',
                    },
              notes: e.notes.map((text) => ({ text })),
            })),
          };
        const imports: string[] = [];
        const code = built.code((asset, i) => {
          const key = path.join(path.dirname(args.path), asset.name);
          assets.set(key, asset);
          imports.push(`import __netc_asset_${i} from ${JSON.stringify(`${NS}:${key}`)};`);
          return `new URL(__netc_asset_${i}, import.meta.url)`;
        });
        return {
          contents: `${imports.join('\n')}\n${code}`,
          loader: 'js',
          resolveDir: path.dirname(args.path),
          watchFiles,
        };
      });
      build.onResolve({ filter: new RegExp(`^${NS}:`) }, (args) => ({
        path: args.path.slice(NS.length + 1),
        namespace: NS,
      }));
      build.onLoad({ filter: /.*/, namespace: NS }, (args) => {
        const asset = assets.get(args.path);
        if (!asset) return { errors: [{ text: `netc: no built asset ${args.path}` }] };
        return { contents: asset.data, loader: 'file' };
      });
    },
  };
}
