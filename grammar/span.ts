// A source range. A leaf file: the grammar, the diagnostics and the IR all import it.

/** A source range: 1-based line and column of the first character, 0-based offsets [start, end). */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly line: number;
  readonly col: number;
}
