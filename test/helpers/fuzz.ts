// Fuzzing helpers: generators of .net text (token soup, valid-by-construction programs from the layer registry, mutations of examples) and the check every input must pass.
import fc from 'fast-check';
import { renderDiagnostic } from '../../src/diag/diagnostics.js';
import { compileSource } from '../../src/frontend/index.js';
import type { AttrSpec } from '../../src/ir/op.js';
import { LAYERS } from '../../src/layers/registry.js';

/** Runs per property: `FC_NUM_RUNS` when set, else the given default. */
export function numRuns(dflt: number): number {
  const n = Number(process.env['FC_NUM_RUNS']);
  return Number.isSafeInteger(n) && n > 0 ? n : dflt;
}

export interface Outcome {
  readonly ok: boolean;
  readonly diagnostics: number;
  readonly ms: number;
}

/**
 * This process's CPU time in ms (user and system, every thread). Time limits on work are
 * limits on CPU time: a machine busy with other processes (CI running several test files at
 * once) stretches wall time, not the work a compile does. Test files run in forks, one file a
 * process, so nothing else of the suite counts here.
 */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Compiles `text` and checks the front end's contract: no exception, positioned diagnostics,
 * no internal error, under a second of CPU. Throws (failing the property) otherwise. */
export function checkCompile(text: string, limitMs = 1000): Outcome {
  const t0 = cpuMs();
  const r = compileSource(text);
  let ms = cpuMs() - t0;
  if (ms > limitMs) {
    // A garbage collection can stall one run: time it once more.
    const t1 = cpuMs();
    compileSource(text);
    ms = Math.min(ms, cpuMs() - t1);
  }
  if (ms > limitMs)
    throw new Error(
      `compileSource took ${ms.toFixed(0)} ms of CPU on ${JSON.stringify(text.slice(0, 200))}`,
    );
  for (const d of r.diagnostics) {
    if (!(d.span.line >= 1 && d.span.col >= 1))
      throw new Error(`diagnostic without a position: ${JSON.stringify(d)}`);
    if (!(d.span.start >= 0 && d.span.end >= d.span.start && d.span.start <= text.length))
      throw new Error(`diagnostic span out of the text: ${JSON.stringify(d.span)}`);
    if (typeof d.message !== 'string' || d.message.length === 0)
      throw new Error('empty diagnostic message');
    if (/netc bug|internal error/i.test(d.message)) throw new Error(`internal error: ${d.message}`);
    renderDiagnostic('fuzz.net', text, d);
  }
  return { ok: r.diagnostics.length === 0, diagnostics: r.diagnostics.length, ms };
}

// ------------------------------------------------------------------------------- token soup

const VOCAB = [
  'network',
  'block',
  'input',
  'output',
  'repeat',
  'return',
  'true',
  'false',
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ',',
  ':',
  '=',
  '->',
  '+',
  '-',
  '*',
  '/',
  '?',
  'None',
  'x',
  'y',
  'name',
  'padding',
  'same',
  'valid',
  'relu',
  'softmax',
  'strides',
  'data_format',
  'channels_first',
  'batch',
  '"conv1"',
  '"a\\"b"',
  '"unterminated',
  "'single'",
  '# comment',
  '// comment',
  '\n',
  '1',
  '0',
  '-1',
  '3',
  '28',
  '1e-3',
  '1e308',
  '1e400',
  '99999999999',
  '1.2.3',
  '8x',
  '.5',
  '\u2028',
  '\u0000',
  '\ud800',
  '\u202e',
  '@',
  '$',
  '`',
  ...LAYERS.filter((l) => !l.internal).map((l) => l.kind),
];

/** Random streams of tokens from the language's vocabulary (and some that are not). */
export const tokenSoup: fc.Arbitrary<string> = fc
  .array(fc.constantFrom(...VOCAB), { minLength: 0, maxLength: 80 })
  .chain((toks) =>
    fc
      .array(fc.constantFrom(' ', '', '\n', '\t'), {
        minLength: toks.length,
        maxLength: toks.length,
      })
      .map((seps) => toks.map((t, i) => t + seps[i]).join('')),
  );

// --------------------------------------------------------------------- programs from the registry

const PUBLIC = LAYERS.filter((l) => !l.internal);
const ACTIVATIONS = PUBLIC.filter((l) => l.traits.activation !== undefined).map((l) => l.kind);
const INITS = ['glorot_uniform', 'he_normal', 'zeros', 'ones', 'lecun_uniform', 'random_normal'];

const smallInt = fc.integer({ min: 1, max: 6 });

/** A value text for an attribute of this kind (mostly in its domain, sometimes not). */
function attrValue(spec: AttrSpec): fc.Arbitrary<string> {
  const k = spec.kind;
  switch (k.type) {
    case 'int':
      return fc.integer({ min: k.min, max: k.min + 5 }).map(String);
    case 'float':
      return fc.double({ min: k.min ?? -2, max: k.max ?? 2, noNaN: true }).map((v) => String(v));
    case 'bool':
      return fc.constantFrom('true', 'false');
    case 'enum':
      return fc.constantFrom(...k.values);
    case 'pair':
      return fc.oneof(
        smallInt.map(String),
        fc.tuple(smallInt, smallInt).map(([a, b]) => `[${a}, ${b}]`),
      );
    case 'padding':
      return fc.oneof(
        fc.constantFrom('same', 'valid'),
        ...(k.explicit ? [fc.integer({ min: 0, max: 2 }).map(String)] : []),
      );
    case 'amounts':
      return fc.oneof(
        fc.integer({ min: 0, max: 2 }).map(String),
        fc
          .tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2))
          .map(([a, b, c, d]) => `[[${a}, ${b}], [${c}, ${d}]]`),
      );
    case 'activation':
      return fc.constantFrom(...ACTIVATIONS);
    case 'initializer':
      return fc.constantFrom(...INITS);
    case 'ints':
      return fc.array(smallInt, { minLength: 1, maxLength: 3 }).map((a) => `[${a.join(', ')}]`);
    case 'axis':
      return fc.constantFrom('-1', '1', '2', '3', '0');
    case 'axes':
      return fc.constantFrom('-1', '1', '[1, 2]', '[-1, -2]', '[1, 2, 3]', '0');
    case 'numbers':
      return fc.constantFrom('0.5', '-1', '[0.5, 2, -1]', '[1]', '1 / 255');
    case 'string':
      return fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s));
  }
}

/** A call of one public layer: required attributes by position, some optional ones by name. */
function layerCall(extraInputs: string[]): fc.Arbitrary<string> {
  return fc.constantFrom(...PUBLIC).chain((def) => {
    const required = def.attrs.filter((a) => a.default === undefined && !a.namedOnly);
    const optional = def.attrs.filter((a) => a.default !== undefined);
    return fc
      .tuple(
        fc.tuple(...required.map(attrValue)),
        fc
          .subarray(optional, { maxLength: Math.min(3, optional.length) })
          .chain((opts) =>
            fc.tuple(...opts.map((o) => attrValue(o).map((v) => `${o.name}: ${v}`))),
          ),
        fc.boolean(),
      )
      .map(([req, opt, named]) => {
        const tensors = def.inputs.min >= 2 ? extraInputs.slice(0, def.inputs.min - 1) : [];
        const args = [...tensors, ...req, ...opt, ...(named ? [`name: "l${req.length}"`] : [])];
        return args.length ? `${def.kind}(${args.join(', ')})` : def.kind;
      });
  });
}

/** Programs built from the grammar and the layer registry: an input, chains of layer calls
 * (some inside a block or a repeat), outputs. Most compile; the rest must give diagnostics. */
export const validProgram: fc.Arbitrary<string> = fc
  .record({
    shape: fc.oneof(
      fc.tuple(fc.integer({ min: 4, max: 12 }), fc.integer({ min: 4, max: 12 }), smallInt),
      fc.tuple(fc.integer({ min: 1, max: 16 })),
    ),
    cf: fc.boolean(),
    batch: fc.option(smallInt, { nil: undefined }),
    chains: fc.array(fc.array(layerCall(['x']), { minLength: 1, maxLength: 5 }), {
      minLength: 1,
      maxLength: 3,
    }),
    useBlock: fc.boolean(),
    repeat: fc.integer({ min: 0, max: 3 }),
  })
  .map(({ shape, cf, batch, chains, useBlock, repeat }) => {
    const opts = [cf ? 'data_format: channels_first' : '', batch ? `batch: ${batch}` : '']
      .filter(Boolean)
      .join(', ');
    const lines: string[] = [];
    if (useBlock) lines.push(`block b(t, k = 1) {\n  return t -> ${chains[0]!.join(' -> ')}\n}`);
    lines.push(`network n${opts ? `(${opts})` : ''} {`, `  input x: [${shape.join(', ')}]`);
    chains.forEach((c, i) => {
      const body = `h${i} = x -> ${(useBlock && i === 0 ? ['b'] : c).join('\n    -> ')}`;
      lines.push(i === 1 && repeat ? `  repeat ${repeat} { ${body} }` : `  ${body}`);
      lines.push(`  output o${i} = h${i}`);
    });
    lines.push('}');
    return lines.join('\n');
  });

// ------------------------------------------------------------------------------- mutations

const TOKEN_RE =
  /"(?:[^"\\\n]|\\.)*"|#[^\n]*|\/\/[^\n]*|->|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\s+|./gsu;

export function tokens(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

const EXTREME_NUMBERS = [
  '1e308',
  '1e309',
  '-0',
  '0',
  '-1',
  '99999999999',
  '9007199254740993',
  '100000',
  '0.5',
  '1e-320',
  '-99999999999',
  '2147483648',
  '4294967296',
];

const UNICODE = [
  '\u2028',
  '\u2029',
  '\u202e',
  '\u200f',
  '\u0000',
  '\ud800',
  '\udfff',
  '\ufeff',
  '\u00a0',
  '\u0301',
  'é',
  '😀',
  '\r',
  '\r\n',
  '\x1b[31m',
];

/** One mutation of a token list, as a function of random choices. */
export type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'swap'; at: number; with: number }
  | { kind: 'number'; at: number; value: string }
  | { kind: 'nest'; at: number; open: string; depth: number }
  | { kind: 'longName'; at: number; length: number }
  | { kind: 'unicode'; at: number; text: string }
  | { kind: 'chain'; at: number; length: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({
    kind: fc.constant('number' as const),
    at: fc.nat(),
    value: fc.constantFrom(...EXTREME_NUMBERS),
  }),
  fc.record({
    kind: fc.constant('nest' as const),
    at: fc.nat(),
    open: fc.constantFrom('(', '[', '{'),
    depth: fc.constantFrom(10, 150, 199, 201, 1000, 20000),
  }),
  fc.record({
    kind: fc.constant('longName' as const),
    at: fc.nat(),
    length: fc.constantFrom(300, 10_000),
  }),
  fc.record({
    kind: fc.constant('unicode' as const),
    at: fc.nat(),
    text: fc.constantFrom(...UNICODE),
  }),
  fc.record({
    kind: fc.constant('chain' as const),
    at: fc.nat(),
    length: fc.constantFrom(50, 500),
  }),
);

const CLOSE: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Applies mutations to a token list (positions are taken modulo its length). */
export function mutate(text: string, muts: readonly Mutation[]): string {
  const t = tokens(text);
  for (const m of muts) {
    if (t.length === 0) t.push(' ');
    const at = m.at % t.length;
    switch (m.kind) {
      case 'delete':
        t.splice(at, 1);
        break;
      case 'duplicate':
        t.splice(at, 0, t[at]!);
        break;
      case 'swap': {
        const j = m.with % t.length;
        [t[at], t[j]] = [t[j]!, t[at]!];
        break;
      }
      case 'number': {
        // Prefer the next number token; otherwise insert.
        const j = t.findIndex((x, i) => i >= at && /^\d/.test(x));
        if (j >= 0) t[j] = m.value;
        else t.splice(at, 0, m.value);
        break;
      }
      case 'nest':
        t.splice(at, 0, m.open.repeat(m.depth) + '1' + CLOSE[m.open]!.repeat(m.depth));
        break;
      case 'longName': {
        const j = t.findIndex((x, i) => i >= at && /^[A-Za-z_]/.test(x));
        const name = 'n'.repeat(m.length);
        if (j >= 0) t[j] = name;
        else t.splice(at, 0, name);
        break;
      }
      case 'unicode':
        t.splice(at, 0, m.text);
        break;
      case 'chain':
        t.splice(at, 0, ' -> relu'.repeat(m.length));
        break;
    }
  }
  return t.join('');
}
