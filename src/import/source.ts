// What every importer needs to write .net source text: identifiers made from a model's names,
// string literals, and the `name:` option that keeps a model's name as the module's key.

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
