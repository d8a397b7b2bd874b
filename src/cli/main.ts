// The netc command line: parses arguments and calls the library. Exit 0 ok, 1 input errors, 2 usage.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { renderDiagnostic } from '../diag/diagnostics.js';
import { compileSource } from '../frontend/index.js';
import type { Graph } from '../ir/graph.js';
import { PASS_NAMES, runPasses } from '../passes/pipeline.js';
import { printGraph } from '../ir/print.js';
import { renderSummary, summarize } from '../summary/summary.js';
import type { Target } from '../driver.js';
import { writeFilesAtomic, WriteError } from './files.js';

/** One option of a command: its flag, its value's name (none for a switch), default, meaning. */
interface OptionDoc {
  readonly flag: string;
  readonly value?: string;
  readonly default?: string;
  readonly doc: string;
}

interface CommandDoc {
  readonly args: string;
  readonly doc: string;
  readonly options: readonly OptionDoc[];
}

const NETWORK: OptionDoc = {
  flag: '--network',
  value: 'N',
  default: 'every network of the file',
  doc: 'the network to use',
};
const SEED: OptionDoc = {
  flag: '--seed',
  value: 'S',
  default: '0',
  doc: 'initialize the weights from this seed (an integer)',
};

/** Every command, its arguments and options (`netc help COMMAND` prints one). */
export const COMMANDS: Readonly<Record<string, CommandDoc>> = {
  check: {
    args: 'FILE',
    doc: 'parses and resolves every network; prints diagnostics; exit 1 on any error',
    options: [],
  },
  summary: {
    args: 'FILE',
    doc: 'per layer: name, kind, output shape, params, MACs; totals; params after folding',
    options: [NETWORK, { flag: '--json', doc: 'print one JSON object instead of a table' }],
  },
  init: {
    args: 'FILE',
    doc: 'writes initialized weights as a safetensors file',
    options: [
      { ...NETWORK, default: 'the only network of the file' },
      SEED,
      { flag: '-o', value: 'W.safetensors', doc: 'the weight file to write (required)' },
    ],
  },
  build: {
    args: 'FILE',
    doc: 'compiles each network to an ES module: DIR/NAME.js, NAME.d.ts, and NAME.wasm (wasm) or NAME.ts (ts)',
    options: [
      NETWORK,
      {
        flag: '--target',
        value: 'wasm|ts',
        default: 'wasm',
        doc: 'WebAssembly SIMD or TypeScript',
      },
      {
        flag: '--weights',
        value: 'W.safetensors',
        default: 'initialized from --seed',
        doc: 'the trained weights, unfolded',
      },
      SEED,
      {
        flag: '--out',
        value: 'DIR',
        default: 'build',
        doc: 'where to write (created when missing)',
      },
      {
        flag: '--external-weights',
        doc: 'write the weights beside the module as DIR/NAME.safetensors, not into it; load() reads that file',
      },
      {
        flag: '--weight-precision',
        value: 'f32|f16|int8',
        default: 'f32',
        doc: 'how stored weights are kept: f16, or int8 with one scale per output channel (dequantized to f32 at load)',
      },
      { flag: '--quiet', doc: 'no progress and no summary line' },
      { flag: '--watch', doc: 'rebuild whenever the .net file or the weights change' },
    ],
  },
  fmt: {
    args: 'FILE',
    doc: 'rewrites a .net file in the canonical layout',
    options: [
      { flag: '--check', doc: 'only check: print the file name and exit 1 if it would change' },
    ],
  },
  graph: {
    args: 'FILE',
    doc: 'draws a network as SVG (or DOT for .dot/.gv)',
    options: [
      { ...NETWORK, default: 'the only network of the file' },
      { flag: '-o', value: 'NET.svg', default: 'standard output', doc: 'the picture to write' },
    ],
  },
  import: {
    args: 'MODEL.onnx|model.json|MODEL.keras|MODEL.h5',
    doc: 'translates a trained model (ONNX, TF.js model.json, Keras .keras/.h5) into a .net file and its weights',
    options: [
      { flag: '-o', value: 'NAME.net', doc: 'the .net file to write (required)' },
      {
        flag: '--weights',
        value: 'W.safetensors',
        default: 'NAME.safetensors beside NAME.net',
        doc: 'the weight file to write',
      },
      { flag: '--name', value: 'N', default: 'NAME', doc: "the network's name" },
      {
        flag: '--outputs',
        value: 'T,...',
        default: "the model's outputs",
        doc: 'cut the graph at these tensors (TF.js graph-models ending in post-processing)',
      },
    ],
  },
  export: {
    args: 'FILE',
    doc: 'writes one network as an ONNX model (opset 13)',
    options: [
      { ...NETWORK, default: 'the only network of the file' },
      { flag: '--onnx', value: 'OUT.onnx', doc: 'the model to write (required)' },
      {
        flag: '--weights',
        value: 'W.safetensors',
        default: 'initialized from --seed',
        doc: 'the trained weights',
      },
      SEED,
    ],
  },
};

/** Options every command takes. */
const COMMON: readonly OptionDoc[] = [
  {
    flag: '--dump-ir',
    value: 'after:PASS',
    doc: 'print the IR after a pass (source: before any) and stop',
  },
  { flag: '--help', doc: "print this command's help" },
];

const flagName = (o: OptionDoc): string => o.flag.replace(/^-+/, '');

function synopsis(name: string): string {
  const c = COMMANDS[name]!;
  const opts = c.options.map((o) => `[${o.flag}${o.value ? ` ${o.value}` : ''}]`).join(' ');
  return `netc ${name} ${c.args}${opts ? ` ${opts}` : ''}`;
}

const USAGE = `usage:
${Object.keys(COMMANDS)
  .map((name) => `  ${synopsis(name)}`)
  .join('\n')}
  any command: --dump-ir after:PASS (or source) prints the IR after that pass and stops

'netc help COMMAND' (or 'netc COMMAND --help') says what a command does and its options'
defaults; 'netc --version' prints the version.`;

/** `netc help COMMAND`: the synopsis, what it does, each option with its default. */
function commandHelp(name: string): string {
  const c = COMMANDS[name]!;
  const opts = [...c.options, ...COMMON];
  const left = opts.map((o) => `  ${o.flag}${o.value ? ` ${o.value}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return [
    `usage: ${synopsis(name)}`,
    '',
    `${c.doc}.`,
    '',
    'options:',
    ...opts.map(
      (o, i) => `${left[i]!.padEnd(width)}${o.doc}${o.default ? ` (default: ${o.default})` : ''}`,
    ),
  ].join('\n');
}

/** Bad usage: one line, then a hint naming the help to read. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Rewrites the progress line (a terminal's stderr), or undefined when there is none. */
  progress?: (text: string) => void;
}

const stdio: Io = {
  out: (t) => process.stdout.write(t + '\n'),
  err: (t) => process.stderr.write(t + '\n'),
  ...(process.stderr.isTTY
    ? { progress: (t: string) => process.stderr.write(`\r\x1b[K${t}`) }
    : {}),
};

/** The version in package.json. */
function version(): string {
  const pkg = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return pkg.version;
}

/** Runs one command; returns the exit code. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number> {
  try {
    return await run(argv, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`netc: ${e.message}`);
      io.err(e.command ? `run 'netc help ${e.command}' for its options` : `run 'netc help'`);
      return 2;
    }
    if (e instanceof WriteError) {
      io.err(`netc: ${e.message}`);
      return 1;
    }
    const msg = e instanceof Error ? e.message : String(e);
    io.err(`netc: internal error (a netc bug, please report it): ${msg}`);
    if (process.env['NETC_DEBUG'] && e instanceof Error && e.stack) io.err(e.stack);
    return 70;
  }
}

/** The command a command line names, if it names one (for the hint of a usage error). */
const commandOf = (argv: readonly string[]): string | undefined =>
  argv.find((a) => Object.hasOwn(COMMANDS, a));

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
        version: { type: 'boolean', short: 'V' },
        quiet: { type: 'boolean', short: 'q' },
        check: { type: 'boolean' },
        name: { type: 'string' },
        onnx: { type: 'string' },
        watch: { type: 'boolean', short: 'w' },
        'external-weights': { type: 'boolean' },
        'weight-precision': { type: 'string' },
        outputs: { type: 'string' },
      },
    });
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    const unknown = /^Unknown option '([^']*)'/.exec(m);
    const missing = /^Option '(\S+) <value>' argument missing/.exec(m);
    const noValue = /^Option '(\S+)' does not take an argument/.exec(m);
    throw new UsageError(
      unknown
        ? `unknown option '${unknown[1]}'`
        : missing
          ? `option ${missing[1]} needs a value`
          : noValue
            ? `option ${noValue[1]} takes no value`
            : m,
      commandOf(argv),
    );
  }
}

function readSource(file: string, command: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${(e as Error).message}`,
      command,
    );
  }
}

function seedOf(text: string | undefined, command: string): number {
  if (text === undefined) return 0;
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new UsageError(`--seed takes an integer, got '${text}'`, command);
  return Number(text);
}

/** Sizes as people read them: 912 B, 44.1 KB, 1.9 MB (powers of 1000, as ls -h --si). */
export function showBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} KB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** Seconds since `t0` (a performance.now()), as `1.2 s` or `85 ms`. */
const since = (t0: number): string => {
  const ms = performance.now() - t0;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
};

async function run(argv: readonly string[], io: Io): Promise<number> {
  const { values: opts, positionals } = parse(argv);
  if (opts.version) {
    io.out(`netc ${version()}`);
    return 0;
  }
  const [command, file, ...extra] = positionals;
  if (command === 'help') {
    if (file === undefined) {
      io.out(USAGE);
      return 0;
    }
    if (!Object.hasOwn(COMMANDS, file)) throw new UsageError(`no command '${file}'`);
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`, file);
    io.out(commandHelp(file));
    return 0;
  }
  if (command !== undefined && !Object.hasOwn(COMMANDS, command))
    throw new UsageError(`unknown command '${command}'`);
  if (opts.help) {
    io.out(command === undefined ? USAGE : commandHelp(command));
    return 0;
  }
  if (!command) throw new UsageError('no command given');
  // Each command takes its own options (and the common ones).
  const allowed = new Set(
    [...COMMANDS[command]!.options, ...COMMON].flatMap((o) =>
      o.flag === '-o' ? ['out'] : [flagName(o)],
    ),
  );
  allowed.add('quiet');
  for (const key of Object.keys(opts))
    if (!allowed.has(key))
      throw new UsageError(
        `${command} takes no option ${key === 'out' ? '-o/--out' : `--${key}`}`,
        command,
      );
  if (!file) throw new UsageError(`${command} needs a ${COMMANDS[command]!.args}`, command);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`, command);
  const usage = (message: string): never => {
    throw new UsageError(message, command);
  };
  const hinted = (code: number): number => {
    if (code === 2) io.err(`run 'netc help ${command}' for its options`);
    return code;
  };
  if (opts.watch) {
    if (command !== 'build') usage('--watch goes with build only');
    // Each build is this command line without --watch, run again.
    const { watchBuild } = await import('./watch.js');
    const once = argv.filter((a) => a !== '--watch' && a !== '-w');
    const watched = [file, ...(opts.weights !== undefined ? [opts.weights] : [])];
    return watchBuild(once, watched, io, (args) => main(args, io));
  }
  if (command === 'fmt') {
    const { fmtCommand } = await import('./fmt.js');
    return hinted(await fmtCommand(file, { check: opts.check === true }, io));
  }
  if (command === 'import') {
    const { importCommand } = await import('./import.js');
    return hinted(
      await importCommand(
        file,
        {
          ...(opts.out !== undefined ? { out: opts.out } : {}),
          ...(opts.weights !== undefined ? { weights: opts.weights } : {}),
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(opts.outputs !== undefined
            ? { outputs: opts.outputs.split(',').filter(Boolean) }
            : {}),
        },
        io,
      ),
    );
  }
  if (command === 'export') {
    const { exportCommand } = await import('./export.js');
    return hinted(
      await exportCommand(
        file,
        {
          ...(opts.network !== undefined ? { network: opts.network } : {}),
          ...(opts.onnx !== undefined ? { onnx: opts.onnx } : {}),
          ...(opts.weights !== undefined ? { weights: opts.weights } : {}),
          seed: seedOf(opts.seed, command),
        },
        io,
      ),
    );
  }
  if (command === 'graph') {
    const { graphCommand } = await import('./graph.js');
    const graphOpts = {
      ...(opts.network !== undefined ? { network: opts.network } : {}),
      ...(opts.out !== undefined ? { out: opts.out } : {}),
    };
    return hinted(await graphCommand(file, graphOpts, io));
  }

  const source = readSource(file, command);
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
      usage(
        `no network '${opts.network}' in ${file} (it has: ${result.graphs.map((x) => x.name).join(', ') || 'none'})`,
      );
    return [g!];
  };
  const dump = opts['dump-ir'];
  if (dump !== undefined) {
    const pass = dump.replace(/^after:/, '');
    if (pass !== 'source' && !PASS_NAMES.includes(pass))
      usage(`--dump-ir takes after:PASS or source; passes: ${PASS_NAMES.join(', ')}`);
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
      if (!opts.out) usage('init needs -o W.safetensors');
      const graphs = pick();
      if (graphs.length !== 1)
        usage(`${file} has ${graphs.length} networks; choose one with --network`);
      const { initWeights } = await import('../driver.js');
      writeFilesAtomic([
        { path: opts.out!, data: initWeights(graphs[0]!, seedOf(opts.seed, command)) },
      ]);
      return 0;
    }
    case 'build':
      return build(file, opts, pick(), io, usage);
  }
  return 2;
}

type Options = ReturnType<typeof parse>['values'];

/** `netc build`: each network's files, written together; progress on a terminal, a summary. */
async function build(
  file: string,
  opts: Options,
  graphs: Graph[],
  io: Io,
  usage: (message: string) => never,
): Promise<number> {
  const target = (opts.target ?? 'wasm') as Target;
  if (target !== 'wasm' && target !== 'ts')
    usage(`--target must be wasm or ts, got '${opts.target}'`);
  const precision = opts['weight-precision'] ?? 'f32';
  if (precision !== 'f32' && precision !== 'f16' && precision !== 'int8')
    usage(`--weight-precision must be f32, f16 or int8, got '${precision}'`);
  const outDir = opts.out ?? 'build';
  try {
    if (!statSync(outDir).isDirectory()) usage(`--out ${outDir} is a file, not a directory`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
  let weights: Uint8Array | undefined;
  if (opts.weights !== undefined) {
    try {
      weights = new Uint8Array(readFileSync(opts.weights));
    } catch (e) {
      usage(`cannot read weights ${opts.weights}: ${(e as Error).message}`);
    }
  }
  const quiet = opts.quiet === true;
  const progress = quiet ? undefined : io.progress;
  const { buildNetwork } = await import('../driver.js');
  const files = [];
  const lines: string[] = [];
  const t0 = performance.now();
  for (const g of graphs) {
    const tg = performance.now();
    const built = await buildNetwork(g, {
      target,
      seed: seedOf(opts.seed, 'build'),
      ...(weights ? { weights } : {}),
      externalWeights: opts['external-weights'] === true,
      weightPrecision: precision as 'f32' | 'f16' | 'int8',
      ...(progress
        ? { onStage: (stage: string) => progress(`${g.name}: ${stage} (${since(t0)})`) }
        : {}),
    });
    if (!built.ok) {
      progress?.('');
      io.err(`${opts.weights ?? file}: error: ${built.error}`);
      return 1;
    }
    const bytes = built.files.reduce(
      (n, f) => n + (typeof f.data === 'string' ? Buffer.byteLength(f.data) : f.data.length),
      0,
    );
    const rank = (n: string): number =>
      ['.js', '.d.ts', '.wasm', '.ts', '.safetensors'].findIndex((e) => n.endsWith(e));
    const names = built.files
      .map((f) => f.name)
      .sort((a, b) => rank(a) - rank(b))
      .map((n, i) => (i === 0 ? path.join(outDir, n) : n));
    lines.push(`wrote ${names.join(', ')} (${showBytes(bytes)}) in ${since(tg)}`);
    for (const f of built.files) files.push({ path: path.join(outDir, f.name), data: f.data });
  }
  progress?.(`writing ${files.length} files (${since(t0)})`);
  writeFilesAtomic(files);
  progress?.('');
  if (!quiet) for (const l of lines) io.err(l);
  return 0;
}
