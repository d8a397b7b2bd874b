// What every importer needs to write .net source text: identifiers made from a model's names,
// string literals, the `name:` option that keeps a model's name as the module's key, and the
// self-check of the written source against its weights.
import { InternalError } from '../diag/diagnostics.js';
import { compileSource } from '../frontend/index.js';
import { writeSafetensors } from '../weights/index.js';

/** The .net words that cannot name a value. */
const KEYWORDS = new Set([
  'network',
  'block',
  'input',
  'output',
  'repeat',
  'return',
  'true',
  'false',
]);

/** Whether `s` can name a value in .net source as it is. */
export const isIdentifier = (s: string): boolean =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) && !KEYWORDS.has(s);

/** A .net identifier from arbitrary text. */
export function identifier(text: string, fallback: string): string {
  let s = text.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  if (s === '') s = fallback;
  if (/^[0-9]/.test(s)) s = `${fallback}_${s}`;
  if (KEYWORDS.has(s)) s = `${s}_`;
  return s;
}

/** A .net string literal of `text`, printable ASCII only (no line break can end it or a
 * comment it stands in). */
export const netString = (text: string): string =>
  JSON.stringify(text).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** `, name: "KEY"` when an input's or output's key (the model's name for it) is not its .net
 * identifier, else ''. */
export const keyOption = (id: string, key: string | undefined): string =>
  key === undefined || key === id ? '' : `, name: ${netString(key)}`;

export type ImportResult =
  | { readonly ok: true; readonly source: string; readonly weights: Uint8Array }
  | { readonly ok: false; readonly errors: string[] };

/** A weight the imported source declares, with its values. */
export interface ImportedWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, k) => d === b[k]);

/**
 * The result of an import, after its self-check: `source` compiles (else its diagnostics are
 * the errors) and declares exactly the weights written (else a netc bug).
 */
export function importedNetwork(source: string, weights: readonly ImportedWeight[]): ImportResult {
  const compiled = compileSource(source);
  if (compiled.diagnostics.length)
    return {
      ok: false,
      errors: compiled.diagnostics.map(
        (d) => `the imported network does not compile: ${d.message}`,
      ),
    };
  const params = compiled.graphs[0]!.params;
  const want = new Map(weights.map((w) => [w.name, w.shape]));
  if (
    params.length !== weights.length ||
    !params.every((p) => {
      const s = want.get(p.key);
      return s !== undefined && sameShape(s, p.shape);
    })
  )
    throw new InternalError(
      `imported weights [${[...want.keys()].join(', ')}] do not match the source's [${params.map((p) => p.key).join(', ')}]`,
    );
  return { ok: true, source, weights: writeSafetensors(weights) };
}

/** One layer call as an importer writes it into chains. */
export interface ChainStep {
  readonly inputs: readonly string[];
  readonly output: string;
  /** The call in a chain: `fn(args)` (or `fn`). */
  readonly text: string;
  /** The call with its tensor inputs first, given their names (a merge, or a call of several). */
  readonly merged: (names: readonly string[]) => string;
  /** A comment after the call, or ''. */
  readonly note: string;
}

/**
 * The statements of a list of calls, shared by every importer: a value used once, by the next
 * call and by no output, continues its chain (`x -> a(...)\n    -> b(...)`); every other value
 * ends a chain, which `close(text, value, last)` writes (binding `value` to a name in `refs`:
 * a variable, an output, a block's return). A call's inputs are named by `refs` when its chain
 * starts.
 */
export function writeChains<C>(
  calls: readonly C[],
  step: (c: C) => ChainStep,
  uses: ReadonlyMap<string, number>,
  isOutput: ReadonlySet<string>,
  refs: ReadonlyMap<string, string>,
  close: (text: string, value: string, last: C) => void,
): void {
  const ref = (v: string): string => boundName(refs, v);
  let open: { text: string; value: string; last: C } | null = null;
  const flush = (): void => {
    if (open) close(open.text, open.value, open.last);
    open = null;
  };
  for (const c of calls) {
    const s = step(c);
    const note = s.note ? `  # ${s.note}` : '';
    if (s.inputs.length === 1) {
      const v = s.inputs[0]!;
      if (open && open.value === v && uses.get(v) === 1 && !isOutput.has(v)) {
        open = { text: `${open.text}\n    -> ${s.text}${note}`, value: s.output, last: c };
        continue;
      }
      flush();
      open = { text: `${ref(v)} -> ${s.text}${note}`, value: s.output, last: c };
    } else {
      flush();
      open = { text: `${s.merged(s.inputs.map(ref))}${note}`, value: s.output, last: c };
    }
  }
  flush();
}

/** `refs`'s name for value `v` (a netc bug when it has none). */
export function boundName(refs: ReadonlyMap<string, string>, v: string): string {
  const r = refs.get(v);
  if (r === undefined) throw new InternalError(`value '${v}' used before it is bound`);
  return r;
}
