// Diagnostics: errors with a source span, collected (never thrown) and rendered as FILE:LINE:COL.
import type { Span } from '../../grammar/span.js';

export type { Span };

export interface Diagnostic {
  readonly message: string;
  readonly span: Span;
  readonly notes: readonly string[];
}

/** Collects the errors of one compilation; every stage reports here instead of throwing. */
export class Diagnostics {
  readonly list: Diagnostic[] = [];

  error(span: Span, message: string, ...notes: string[]): void {
    this.list.push({ message, span, notes });
  }

  get count(): number {
    return this.list.length;
  }
}

/** A bug in netc itself (never a problem with the user's input). */
export class InternalError extends Error {
  constructor(message: string) {
    super(`netc bug: ${message}`);
    this.name = 'InternalError';
  }
}

/** Characters that do not print, or end a line, in a terminal or a tool reading line by line:
 * C0 and C1 controls, line and paragraph separators, bidirectional and zero-width format
 * characters, and lone surrogates. */
const NON_PRINTING =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A message with its non-printing characters written as `\uXXXX` escapes, so a name holding
 * a line terminator cannot split the `FILE:LINE:COL: error:` line. */
export function escapeNonPrinting(text: string): string {
  return text.replace(NON_PRINTING, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The most characters of a source line a diagnostic shows: a longer line is shown from a
 * little before the span, cut with an ellipsis at either end it does not reach. */
const SHOWN = 120;
const BEFORE = 40;

/** Renders one diagnostic as `FILE:LINE:COL: error: message`, the source line and a caret. */
export function renderDiagnostic(file: string, source: string, d: Diagnostic): string {
  const lines = source.split(/\r?\n/);
  // One column per character, as the caret counts: a tab is a space, another non-printing
  // character the replacement character.
  const lineText = (lines[d.span.line - 1] ?? '')
    .replace(/\t/g, ' ')
    .replace(NON_PRINTING, '\ufffd');
  const gutter = String(d.span.line);
  const pad = ' '.repeat(gutter.length);
  const lineEndOffset = d.span.start - (d.span.col - 1) + lineText.length;
  let width = Math.max(1, Math.min(d.span.end, lineEndOffset) - d.span.start);
  let shown = lineText;
  let at = Math.max(0, d.span.col - 1);
  if (lineText.length > SHOWN) {
    const from = Math.max(0, Math.min(at - BEFORE, lineText.length - SHOWN));
    const to = Math.min(lineText.length, from + SHOWN);
    shown =
      (from > 0 ? '\u2026' : '') +
      lineText.slice(from, to) +
      (to < lineText.length ? '\u2026' : '');
    width = Math.max(1, Math.min(width, to - at));
    at += (from > 0 ? 1 : 0) - from;
  }
  const caret = ' '.repeat(at) + '^'.repeat(width);
  const out = [
    `${file}:${d.span.line}:${d.span.col}: error: ${escapeNonPrinting(d.message)}`,
    ` ${gutter} | ${shown}`,
    ` ${pad} | ${caret}`,
  ];
  for (const n of d.notes) out.push(`note: ${escapeNonPrinting(n)}`);
  return out.join('\n');
}

/** Orders diagnostics by position, so a file's errors read top to bottom. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => a.span.start - b.span.start);
}
