// Values the front end computes while it walks the source: tensors (graph nodes) and constants.
import type { Span } from '../../grammar/ast.js';

export type Value =
  | { readonly k: 'tensor'; readonly node: number; readonly span: Span }
  | { readonly k: 'number'; readonly v: number; readonly span: Span }
  | { readonly k: 'bool'; readonly v: boolean; readonly span: Span }
  | { readonly k: 'string'; readonly v: string; readonly span: Span }
  /** A bare word that is not a bound name: an enumeration value (`same`, `relu`). */
  | { readonly k: 'word'; readonly v: string; readonly span: Span }
  | { readonly k: 'list'; readonly items: readonly Value[]; readonly span: Span }
  /** `?`, `None`: only ever a batch placeholder. */
  | { readonly k: 'placeholder'; readonly text: string; readonly span: Span }
  /** Something already reported: stops follow-on errors. */
  | { readonly k: 'error'; readonly span: Span };

export function describeValue(v: Value): string {
  switch (v.k) {
    case 'tensor':
      return 'a tensor';
    case 'number':
      return `the number ${v.v}`;
    case 'bool':
      return `${v.v}`;
    case 'string':
      return `the string ${JSON.stringify(v.v)}`;
    case 'word':
      return `'${v.v}'`;
    case 'list':
      return 'a list';
    case 'placeholder':
      return `'${v.text}'`;
    case 'error':
      return 'an invalid value';
  }
}

/** Source-like text of a constant, for messages: `[3, 3]`, `same`, `2`. */
export function showValue(v: Value): string {
  switch (v.k) {
    case 'number':
      return String(v.v);
    case 'bool':
      return String(v.v);
    case 'string':
      return JSON.stringify(v.v);
    case 'word':
      return v.v;
    case 'list':
      return `[${v.items.map(showValue).join(', ')}]`;
    case 'placeholder':
      return v.text;
    default:
      return describeValue(v);
  }
}
