// What the bundler plugins share: a .net file (one network of it) built into the JavaScript of its
// module and the files it fetches at run time (the .wasm), or the file's diagnostics as
// bundler-neutral errors (file, 1-based line and column, message, source line, notes).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sortDiagnostics } from '../diag/diagnostics.js';
import { buildNetwork, type BuildOptions, type Target } from '../driver.js';
import { compileSource } from '../frontend/index.js';

/** The options both plugins take. */
export interface NetPluginOptions {
  /** `wasm` (default) or `ts` (plain JavaScript kernels, weights inside the module). */
  readonly target?: Target;
  /** The seed of initialized weights, when a network has no weights file; default 0. */
  readonly seed?: number;
  /**
   * The safetensors file of a network's trained weights: a function of the .net file's absolute
   * path and the network's name, returning a path (absolute, or relative to the .net file) or
   * undefined for seeded weights. The bundler watches the file, so editing it rebuilds.
   */
  readonly weights?: (netFile: string, network: string) => string | undefined;
}

/** One problem, located where there is a location (a weights error names its file only). */
export interface NetError {
  readonly message: string;
  readonly file: string;
  /** 1-based line and column, or undefined for a whole-file problem. */
  readonly line?: number;
  readonly column?: number;
  readonly length?: number;
  readonly lineText?: string;
  readonly notes: readonly string[];
}

/** A file the module reads at run time, and how the module's code names it. */
export interface NetAsset {
  readonly name: string;
  readonly data: Uint8Array;
}

export type NetBuild =
  | {
      readonly ok: true;
      /** The module's JavaScript; each asset's URL is the placeholder `assetUrl(i)` gave. */
      readonly code: (assetUrl: (asset: NetAsset, index: number) => string) => string;
      readonly assets: readonly NetAsset[];
      /** Files whose change means a rebuild (the .net file, its weights file). */
      readonly watchFiles: readonly string[];
    }
  | {
      readonly ok: false;
      readonly errors: readonly NetError[];
      readonly watchFiles: readonly string[];
    };

/** `model.net?network=NAME`: the file and the network asked for. */
export function parseNetId(id: string): { file: string; network: string | undefined } {
  const q = id.indexOf('?');
  if (q < 0) return { file: id, network: undefined };
  const params = new URLSearchParams(id.slice(q + 1));
  return { file: id.slice(0, q), network: params.get('network') ?? undefined };
}

/** Does a module id name a .net file (with or without a query)? */
export const NET_ID = /\.net(\?.*)?$/;

/**
 * Builds the module of one network of `file` (the only one, or `network`). The module is the one
 * `netc build` writes (named exports `inputs`, `outputs`, `load`), plus a default export holding
 * the three; its `new URL('./NAME.wasm', import.meta.url)` becomes an expression the bundler
 * supplies for each asset.
 */
export async function buildNetFile(
  file: string,
  network: string | undefined,
  options: NetPluginOptions = {},
): Promise<NetBuild> {
  const watchFiles = [file];
  const fail = (message: string, notes: string[] = [], at = file): NetBuild => ({
    ok: false,
    errors: [{ message, file: at, notes }],
    watchFiles,
  });
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    return fail(`cannot read ${file}: ${(e as Error).message}`);
  }
  const front = compileSource(source);
  if (front.diagnostics.length) {
    const lines = source.split(/\r?\n/);
    return {
      ok: false,
      watchFiles,
      errors: sortDiagnostics(front.diagnostics).map((d) => ({
        message: d.message,
        file,
        line: d.span.line,
        column: d.span.col,
        length: Math.max(
          1,
          Math.min(
            d.span.end - d.span.start,
            (lines[d.span.line - 1] ?? '').length - d.span.col + 1,
          ),
        ),
        lineText: lines[d.span.line - 1] ?? '',
        notes: d.notes,
      })),
    };
  }
  const names = front.graphs.map((g) => g.name);
  const graph =
    network === undefined
      ? front.graphs.length === 1
        ? front.graphs[0]
        : undefined
      : front.graphs.find((g) => g.name === network);
  if (!graph) {
    if (network !== undefined)
      return fail(`no network '${network}' in ${file} (it has: ${names.join(', ') || 'none'})`);
    return fail(
      front.graphs.length === 0
        ? `${file} declares no network`
        : `${file} declares ${names.length} networks (${names.join(', ')}): import one as '${path.basename(file)}?network=NAME'`,
    );
  }

  const buildOptions: { -readonly [K in keyof BuildOptions]: BuildOptions[K] } = {
    target: options.target ?? 'wasm',
    seed: options.seed ?? 0,
    format: false,
  };
  const weightsPath = options.weights?.(file, graph.name);
  let weightsFile = file;
  if (weightsPath !== undefined) {
    weightsFile = path.resolve(path.dirname(file), weightsPath);
    watchFiles.push(weightsFile);
    try {
      buildOptions.weights = new Uint8Array(readFileSync(weightsFile));
    } catch (e) {
      return fail(
        `cannot read the weights of network ${graph.name}: ${(e as Error).message}`,
        [],
        weightsFile,
      );
    }
  }
  const built = await buildNetwork(graph, buildOptions);
  if (!built.ok) return fail(built.error, [], weightsFile);

  const js = built.files.find((f) => f.name === `${graph.name}.js`);
  if (!js || typeof js.data !== 'string')
    throw new Error(`netc built no ${graph.name}.js for ${file}`);
  const assets: NetAsset[] = built.files
    .filter((f) => !/\.(js|ts)$/.test(f.name))
    .map((f) => ({
      name: f.name,
      data: typeof f.data === 'string' ? new TextEncoder().encode(f.data) : f.data,
    }));
  // The loader's fallback for Node before 20.16 imports node:fs; hidden from the bundler, which
  // would otherwise try to bundle it for the browser (Vite warns, esbuild fails).
  const text = js.data.replace(
    /import\((['"])node:fs\1\)/g,
    "import(/* @vite-ignore */ String('node:fs'))",
  );
  return {
    ok: true,
    assets,
    watchFiles,
    code: (assetUrl) =>
      text.replace(
        /new URL\(("(?:[^"\\]|\\.)*"), import\.meta\.url\)/g,
        (whole: string, quoted: string) => {
          const name = (JSON.parse(quoted) as string).replace(/^\.\//, '');
          const i = assets.findIndex((a) => a.name === name);
          return i < 0 ? whole : assetUrl(assets[i]!, i);
        },
      ) + '\nexport default { inputs, outputs, load };\n',
  };
}

/** An error as one text: `FILE:LINE:COL: error: message`, the line and a caret, the notes. */
export function renderNetError(e: NetError): string {
  if (e.line === undefined) return [`${e.file}: error: ${e.message}`, ...e.notes].join('\n');
  const caret = ' '.repeat(Math.max(0, (e.column ?? 1) - 1)) + '^'.repeat(e.length ?? 1);
  return [
    `${e.file}:${e.line}:${e.column}: error: ${e.message}`,
    ` ${e.line} | ${(e.lineText ?? '').replace(/\t/g, ' ')}`,
    ` ${' '.repeat(String(e.line).length)} | ${caret}`,
    ...e.notes.map((n) => `note: ${n}`),
  ].join('\n');
}
