// The netc command line: parses arguments and calls the library. Exit 0 ok, 1 input errors, 2 usage.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { renderDiagnostic } from '../diag/diagnostics.js';
import { compileSource } from '../frontend/index.js';
import type { Graph } from '../ir/graph.js';
import { PASS_NAMES, runPasses } from '../passes/pipeline.js';
import { printGraph } from '../ir/print.js';
import { renderSummary, summarize } from '../summary/summary.js';
import type { Target } from '../driver.js';
import { writeFilesAtomic } from './files.js';

const USAGE = `usage:
  netc check FILE
  netc summary FILE [--network N] [--json]
  netc init FILE [--network N] [--seed S] -o W.safetensors
  netc build FILE [--network N] [--target wasm|ts] [--weights W.safetensors] [--seed S] [--out DIR]
  netc fmt FILE [--check]
  netc graph FILE [--network N] [-o NET.svg]
  netc import MODEL.onnx|model.json -o NAME.net [--weights NAME.safetensors] [--name N] [--outputs T,...]
  netc export FILE [--network N] --onnx OUT.onnx [--weights W.safetensors] [--seed S]
  any command: --dump-ir after:PASS (or source) prints the IR after that pass and stops`;

class UsageError extends Error {}

interface Io {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Io = {
  out: (t) => process.stdout.write(t + '\n'),
  err: (t) => process.stderr.write(t + '\n'),
};

/** Runs one command; returns the exit code. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number> {
  try {
    return await run(argv, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`netc: ${e.message}\n${USAGE}`);
      return 2;
    }
    const msg = e instanceof Error ? e.message : String(e);
    io.err(`netc: internal error (a netc bug, please report it): ${msg}`);
    if (process.env['NETC_DEBUG'] && e instanceof Error && e.stack) io.err(e.stack);
    return 70;
  }
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        network: { type: 'string' },
        json: { type: 'boolean' },
        seed: { type: 'string' },
        out: { type: 'string', short: 'o' },
        target: { type: 'string' },
        weights: { type: 'string' },
        'dump-ir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        check: { type: 'boolean' },
        name: { type: 'string' },
        onnx: { type: 'string' },
        outputs: { type: 'string' },
      },
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function readSource(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${(e as Error).message}`,
    );
  }
}

function seedOf(text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new UsageError(`--seed takes an integer, got '${text}'`);
  return Number(text);
}

async function run(argv: readonly string[], io: Io): Promise<number> {
  const { values: opts, positionals } = parse(argv);
  const [command, file, ...extra] = positionals;
  if (opts.help || command === 'help') {
    io.out(USAGE);
    return 0;
  }
  if (!command) throw new UsageError('no command given');
  if (!['check', 'summary', 'init', 'build', 'fmt', 'graph', 'import', 'export'].includes(command))
    throw new UsageError(`unknown command '${command}'`);
  if (!file) throw new UsageError(`${command} needs a FILE`);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (command === 'fmt') {
    const { fmtCommand } = await import('./fmt.js');
    return fmtCommand(file, { check: opts.check === true }, io);
  }
  if (command === 'import') {
    const { importCommand } = await import('./import.js');
    return importCommand(
      file,
      {
        ...(opts.out !== undefined ? { out: opts.out } : {}),
        ...(opts.weights !== undefined ? { weights: opts.weights } : {}),
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(opts.outputs !== undefined ? { outputs: opts.outputs.split(',').filter(Boolean) } : {}),
      },
      io,
    );
  }
  if (command === 'export') {
    const { exportCommand } = await import('./export.js');
    return exportCommand(
      file,
      {
        ...(opts.network !== undefined ? { network: opts.network } : {}),
        ...(opts.onnx !== undefined ? { onnx: opts.onnx } : {}),
        ...(opts.weights !== undefined ? { weights: opts.weights } : {}),
        seed: seedOf(opts.seed),
      },
      io,
    );
  }
  if (command === 'graph') {
    const { graphCommand } = await import('./graph.js');
    const graphOpts = {
      ...(opts.network !== undefined ? { network: opts.network } : {}),
      ...(opts.out !== undefined ? { out: opts.out } : {}),
    };
    return graphCommand(file, graphOpts, io);
  }

  const source = readSource(file);
  const result = compileSource(source);
  if (result.diagnostics.length) {
    for (const d of result.diagnostics) io.err(renderDiagnostic(file, source, d) + '\n');
    const n = result.diagnostics.length;
    io.err(`${n} error${n === 1 ? '' : 's'}`);
    return 1;
  }
  const pick = (): Graph[] => {
    if (opts.network === undefined) return [...result.graphs];
    const g = result.graphs.find((x) => x.name === opts.network);
    if (!g)
      throw new UsageError(
        `no network '${opts.network}' in ${file} (it has: ${result.graphs.map((x) => x.name).join(', ') || 'none'})`,
      );
    return [g];
  };
  const dump = opts['dump-ir'];
  if (dump !== undefined) {
    const pass = dump.replace(/^after:/, '');
    if (pass !== 'source' && !PASS_NAMES.includes(pass))
      throw new UsageError(
        `--dump-ir takes after:PASS or source; passes: ${PASS_NAMES.join(', ')}`,
      );
    for (const g of pick()) io.out(printGraph(pass === 'source' ? g : runPasses(g, pass)));
    return 0;
  }
  switch (command) {
    case 'check':
      io.out(`${file}: ok (${result.graphs.map((g) => g.name).join(', ') || 'no networks'})`);
      return 0;
    case 'summary': {
      const sums = pick().map((g) => summarize(g, runPasses(g)));
      if (opts.json)
        io.out(
          JSON.stringify(
            {
              networks: sums.map(({ name, params, params_folded, macs, layers }) => ({
                name,
                params,
                params_folded,
                macs,
                layers,
              })),
            },
            null,
            2,
          ),
        );
      else io.out(sums.map(renderSummary).join('\n\n'));
      return 0;
    }
    case 'init': {
      if (!opts.out) throw new UsageError('init needs -o W.safetensors');
      const graphs = pick();
      if (graphs.length !== 1)
        throw new UsageError(`${file} has ${graphs.length} networks; choose one with --network`);
      const { initWeights } = await import('../driver.js');
      writeFilesAtomic([{ path: opts.out, data: initWeights(graphs[0]!, seedOf(opts.seed)) }]);
      return 0;
    }
    case 'build': {
      const target = (opts.target ?? 'wasm') as Target;
      if (target !== 'wasm' && target !== 'ts')
        throw new UsageError(`--target must be wasm or ts, got '${opts.target}'`);
      const outDir = opts.out ?? 'build';
      let weights: Uint8Array | undefined;
      if (opts.weights !== undefined) {
        try {
          weights = new Uint8Array(readFileSync(opts.weights));
        } catch (e) {
          throw new UsageError(`cannot read weights ${opts.weights}: ${(e as Error).message}`);
        }
      }
      const { buildNetwork } = await import('../driver.js');
      const files = [];
      for (const g of pick()) {
        const built = await buildNetwork(g, {
          target,
          seed: seedOf(opts.seed),
          ...(weights ? { weights } : {}),
        });
        if (!built.ok) {
          io.err(`${opts.weights ?? file}: error: ${built.error}`);
          return 1;
        }
        for (const f of built.files) files.push({ path: path.join(outDir, f.name), data: f.data });
      }
      writeFilesAtomic(files);
      return 0;
    }
  }
  return 2;
}
