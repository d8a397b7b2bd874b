// `netc fmt`: the one canonical layout of a .net file; only whitespace changes, comments stay.
//
// The rules, all deterministic (the result depends on the tokens, where comments sit and where
// blank lines were, never on the old indentation, so formatting twice changes nothing):
//
// - Indentation is 2 spaces per `{ }` level; one statement per line; a final newline, no trailing
//   spaces, CRLF becomes LF.
// - Spacing: `name: value` (space after colons and commas, none before), `p = default`,
//   `x = value`, spaces around `+ - * /` and `->`, none inside brackets: `[a, b]`, `f(a, b)`,
//   none after a sign (`-1`). Parentheses, numbers and strings are kept exactly as written.
// - A `->` chain with 3 or more calls, or one that does not fit in 100 columns, is broken one call
//   per line, each `->` aligned under the first one:
//       x = image -> conv2d(32, 3)
//                 -> relu
//                 -> flatten
//   Chains of 1 or 2 calls that fit stay on one line.
// - Argument, parameter and list items that do not fit in 100 columns wrap where the next item
//   would not fit, continuing under the first item (one column after the opening bracket).
// - Blank lines: exactly one between top-level declarations; elsewhere between statements (and
//   before comments of their own) a run of blank lines becomes one; none at the start or end of a
//   body or file, none inside a statement.
// - Comments: a comment on a line of its own stays on a line of its own, before the token it
//   preceded, at that place's indentation. A comment after code stays at the end of that code's
//   line (moved past a `,` `)` `]` that followed it on the next line); the trailing comments of
//   consecutive lines (up to a blank line) are aligned, two spaces after the longest code among
//   them, except that a line whose code runs more than 24 columns past all the lines before it
//   starts a new alignment group (doc.ts `finish`). Trailing comments do not count toward the 100
//   columns. A comment inside a chain breaks the chain. A comment can force a line break
//   where the layout would have none; whitespace is insignificant in .net, so that is harmless.
// - Files with syntax errors are not formatted: their diagnostics come back instead.
//
// Safety: the output is checked to hold exactly the input's tokens and comments, in order, and to
// parse without errors; if not (a formatter bug), the result is an error, never a changed program.
import type { IToken } from 'chevrotain';
import type {
  Arg,
  BlockDecl,
  CallExpr,
  Expr,
  Item,
  NetworkDecl,
  Param,
  Program,
  Stmt,
} from '../../grammar/ast.js';
import { expressionTooDeep, parse } from '../../grammar/index.js';
import { lex } from '../../grammar/tokens.js';
import type { Diagnostic } from '../diag/diagnostics.js';
import {
  align,
  blank,
  fill,
  group,
  hardline,
  indent,
  join,
  line,
  own,
  render,
  trailing,
} from './doc.js';
import type { Doc } from './doc.js';

/** The line width the layout aims for (trailing comments excluded). */
export const WIDTH = 100;

export type FormatResult =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

/** Formats a .net source. Never throws. */
export function formatSource(text: string): FormatResult {
  const parsed = parse(text);
  const deep = expressionTooDeep(parsed.program);
  const errors = deep ? [...parsed.errors, deep] : parsed.errors;
  if (errors.length > 0) {
    return {
      ok: false,
      diagnostics: errors.map((e) => ({ message: e.message, span: e.span, notes: [] })),
    };
  }
  try {
    const { tokens } = lex(text);
    const gaps = scanGaps(text, tokens);
    const doc = new Builder(tokens, gaps).file(parsed.program);
    const out = render(doc, WIDTH);
    check(text, out);
    return { ok: true, text: out };
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    return {
      ok: false,
      diagnostics: [
        {
          message: `netc bug: the formatter failed (${detail}); the file was left as it is`,
          span: { start: 0, end: 0, line: 1, col: 1 },
          notes: [],
        },
      ],
    };
  }
}

// --- Comments --------------------------------------------------------------------------------

interface OwnComment {
  readonly text: string;
  /** A blank line separates it from what came before. */
  readonly blankBefore: boolean;
}

/** What lies between two tokens (or before the first, or after the last): comments and blanks. */
interface Gap {
  /** A comment on the same line as the token before the gap. */
  trailing: string | undefined;
  readonly own: OwnComment[];
  /** A blank line separates the token after the gap from what came before it. */
  readonly blankBeforeToken: boolean;
}

const SPACE = /[ \t\f\v\u00a0\ufeff]/;

/** The gaps of a text: gaps[k] lies before tokens[k]; gaps[tokens.length] after the last. */
function scanGaps(text: string, tokens: readonly IToken[]): Gap[] {
  const gaps: Gap[] = [];
  for (let k = 0; k <= tokens.length; k++) {
    const before = tokens[k - 1];
    const after = tokens[k];
    const from = before === undefined ? 0 : before.startOffset + before.image.length;
    const to = after === undefined ? text.length : after.startOffset;
    gaps.push(scanGap(text, from, to, before !== undefined));
  }
  // A trailing comment written before a `,` `)` `]` on the next line moves past it, so that the
  // separator or closer does not have to start a line of its own. Comments slide right until
  // blocked (by another comment, an own-line comment or another kind of token); the result does
  // not depend on the order of the moves, and formatting it again moves nothing.
  for (let changed = true; changed;) {
    changed = false;
    for (let k = 0; k < tokens.length; k++) {
      const gap = gaps[k]!;
      const next = gaps[k + 1]!;
      const kind = tokens[k]!.tokenType.name;
      const movable = kind === 'Comma' || kind === 'RParen' || kind === 'RBracket';
      if (
        movable &&
        gap.trailing !== undefined &&
        gap.own.length === 0 &&
        next.trailing === undefined
      ) {
        next.trailing = gap.trailing;
        gap.trailing = undefined;
        changed = true;
      }
    }
  }
  return gaps;
}

function scanGap(text: string, from: number, to: number, afterToken: boolean): Gap {
  const own: OwnComment[] = [];
  let trailingText: string | undefined;
  let newlines = 0;
  let i = from;
  while (i < to) {
    const c = text.charAt(i);
    if (c === '\n' || (c === '\r' && text.charAt(i + 1) !== '\n')) {
      newlines++;
      i++;
    } else if (c === '\r' || SPACE.test(c)) {
      i++;
    } else if (c === '#' || (c === '/' && text.charAt(i + 1) === '/')) {
      let j = i;
      while (j < to && text.charAt(j) !== '\n' && text.charAt(j) !== '\r') j++;
      const body = text.slice(i, j).trimEnd();
      if (afterToken && newlines === 0 && own.length === 0) trailingText = body;
      else own.push({ text: body, blankBefore: newlines >= 2 });
      newlines = 0;
      i = j;
    } else {
      throw new Error(`unexpected ${JSON.stringify(c)} between tokens at offset ${i}`);
    }
  }
  return { trailing: trailingText, own, blankBeforeToken: newlines >= 2 };
}

/** Every comment of a text, in order. */
function commentsOf(gaps: readonly Gap[]): string[] {
  const out: string[] = [];
  for (const g of gaps) {
    if (g.trailing !== undefined) out.push(g.trailing);
    for (const c of g.own) out.push(c.text);
  }
  return out;
}

/** Throws unless `after` holds the tokens and comments of `before`, in order, and parses. */
function check(before: string, after: string): void {
  const a = lex(before).tokens;
  const b = lex(after);
  const images = (ts: readonly IToken[]): string => JSON.stringify(ts.map((t) => t.image));
  if (b.errors.length > 0 || images(a) !== images(b.tokens)) {
    throw new Error('the tokens changed');
  }
  const ca = commentsOf(scanGaps(before, a));
  const cb = commentsOf(scanGaps(after, b.tokens));
  if (JSON.stringify(ca) !== JSON.stringify(cb)) throw new Error('the comments changed');
  if (parse(after).errors.length > 0) throw new Error('the result does not parse');
}

// --- Layout ----------------------------------------------------------------------------------

/** How the first piece before a declaration or statement is separated from what precedes it. */
type Lead = 'none' | 'line' | 'blank' | 'keep';

/**
 * Walks the tree in source order and builds the document, taking every token from the token
 * stream (so the output holds exactly the input's tokens) along with the comments around it.
 */
class Builder {
  private pos = 0;
  /** Gaps whose own-line comments were already placed (before a declaration or statement). */
  private readonly placed = new Set<number>();
  /** For each '(' token, the index of its ')'. */
  private readonly closer = new Map<number, number>();
  /** Token index by end offset. */
  private readonly byEnd = new Map<number, number>();

  constructor(
    private readonly tokens: readonly IToken[],
    private readonly gaps: readonly Gap[],
  ) {
    const open: number[] = [];
    tokens.forEach((t, i) => {
      this.byEnd.set(t.startOffset + t.image.length, i);
      const kind = t.tokenType.name;
      if (kind === 'LParen') open.push(i);
      else if (kind === 'RParen') {
        const o = open.pop();
        if (o !== undefined) this.closer.set(o, i);
      }
    });
  }

  file(program: Program): Doc {
    const out: Doc[] = [];
    program.items.forEach((item, i) => {
      this.expectStart(item);
      out.push(this.lead(this.pos, i === 0 ? 'none' : 'blank'));
      out.push(item.kind === 'network' ? this.network(item) : this.block(item));
    });
    const end = this.tokens.length;
    if (this.pos !== end) throw new Error(`tokens left over at ${this.pos}`);
    this.gaps[end]!.own.forEach((c, i) => {
      if (c.blankBefore && (i > 0 || program.items.length > 0)) out.push(blank);
      out.push(own(c.text));
    });
    return out;
  }

  // --- tokens and comments

  private kind(offset = 0): string | undefined {
    return this.tokens[this.pos + offset]?.tokenType.name;
  }

  /** The next token (which must be of `kind`), with the comments before and after it. */
  private tok(kind: string): Doc {
    const k = this.pos;
    const t = this.tokens[k];
    if (t === undefined) throw new Error(`expected ${kind} at the end`);
    if (t.tokenType.name !== kind && !t.tokenType.CATEGORIES?.some((c) => c.name === kind)) {
      throw new Error(
        `expected ${kind}, found ${t.tokenType.name} '${t.image}' at ${t.startOffset}`,
      );
    }
    this.pos++;
    const out: Doc[] = [];
    if (!this.placed.has(k)) for (const c of this.gaps[k]!.own) out.push(own(c.text));
    out.push(t.image);
    const after = this.gaps[k + 1]!.trailing;
    if (after !== undefined) out.push(trailing(after));
    return out;
  }

  /** The own-line comments before token `k`, and the separation before them and the token. */
  private lead(k: number, first: Lead): Doc {
    const gap = this.gaps[k]!;
    this.placed.add(k);
    const out: Doc[] = [];
    let isFirst = true;
    const sep = (blankBefore: boolean): void => {
      const how = isFirst ? first : 'keep';
      isFirst = false;
      if (how === 'blank' || (how === 'keep' && blankBefore)) out.push(blank);
      else if (how !== 'none') out.push(hardline);
    };
    for (const c of gap.own) {
      sep(c.blankBefore);
      out.push(own(c.text));
    }
    sep(gap.blankBeforeToken);
    return out;
  }

  private expectStart(node: Item | Stmt): void {
    const t = this.tokens[this.pos];
    if (t === undefined || t.startOffset !== node.span.start) {
      throw new Error(`out of step at ${node.kind} (offset ${node.span.start})`);
    }
  }

  // --- declarations and statements

  private network(n: NetworkDecl): Doc {
    const head: Doc[] = [this.tok('Network'), ' ', this.tok('Identifier')];
    if (this.kind() === 'LParen') head.push(this.args(n.options));
    return [head, ' ', this.body(n.body)];
  }

  private block(b: BlockDecl): Doc {
    const head: Doc[] = [this.tok('Block'), ' ', this.tok('Identifier')];
    head.push(this.list('LParen', 'RParen', b.params, (p) => this.param(p)));
    return [head, ' ', this.body(b.body)];
  }

  private param(p: Param): Doc {
    const name = this.tok('Identifier');
    if (p.default === undefined) return name;
    return [name, ' ', this.tok('Equals'), ' ', this.expr(p.default)];
  }

  private body(stmts: readonly Stmt[]): Doc {
    const open = this.tok('LCurly');
    if (stmts.length === 0 && this.gaps[this.pos]!.own.length === 0) {
      return [open, this.tok('RCurly')];
    }
    const inner: Doc[] = [];
    stmts.forEach((s, i) => {
      this.expectStart(s);
      inner.push(this.lead(this.pos, i === 0 ? 'line' : 'keep'));
      inner.push(this.stmt(s));
    });
    // Comments after the last statement, before the '}'.
    const k = this.pos;
    this.placed.add(k);
    this.gaps[k]!.own.forEach((c, i) => {
      inner.push(i === 0 && stmts.length === 0 ? hardline : c.blankBefore ? blank : hardline);
      inner.push(own(c.text));
    });
    return [open, indent(inner), hardline, this.tok('RCurly')];
  }

  private stmt(s: Stmt): Doc {
    switch (s.kind) {
      case 'input':
        return [
          this.tok('Input'),
          ' ',
          this.tok('Identifier'),
          this.tok('Colon'),
          ' ',
          indent(this.expr(s.shape)),
          this.portOptions(s.options),
        ];
      case 'assign':
        return [this.tok('Identifier'), ' ', this.tok('Equals'), ' ', indent(this.expr(s.value))];
      case 'output': {
        const head: Doc[] = [this.tok('Output'), ' ', this.tok('Identifier')];
        if (s.value === undefined) return [head, this.portOptions(s.options)];
        const equals = this.tok('Equals');
        const value = indent(this.expr(s.value));
        return [head, ' ', equals, ' ', value, this.portOptions(s.options)];
      }
      case 'repeat':
        return [this.tok('Repeat'), ' ', indent(this.expr(s.count)), ' ', this.body(s.body)];
      case 'return':
        return [this.tok('Return'), ' ', indent(this.expr(s.value))];
    }
  }

  // --- expressions

  /** An expression, with the parentheses written around it (the tree does not keep them). */
  private expr(e: Expr): Doc {
    let close = this.byEnd.get(e.span.end);
    if (close === undefined) throw new Error(`no token ends at ${e.span.end}`);
    const opens: Doc[] = [];
    while (this.kind() === 'LParen' && this.closer.get(this.pos) === close) {
      opens.push(this.tok('LParen'));
      close--;
    }
    const inner = this.bare(e);
    const closes = opens.map(() => this.tok('RParen'));
    return opens.length === 0 ? inner : [opens, inner, closes];
  }

  private bare(e: Expr): Doc {
    switch (e.kind) {
      case 'number':
        return this.tok('NumberLiteral');
      case 'string':
        return this.tok('StringLiteral');
      case 'bool':
        return this.tok(e.value ? 'True' : 'False');
      case 'name':
        return this.tok('Identifier');
      case 'placeholder':
        return this.tok('Question');
      case 'list':
        return this.list('LBracket', 'RBracket', e.items, (item) => this.expr(item));
      case 'call':
        return this.call(e);
      case 'chain': {
        const head = this.expr(e.head);
        const calls = e.calls.map((c) => [this.tok('Arrow'), ' ', this.call(c)]);
        return group([head, ' ', align(join(line, calls))], e.calls.length >= 3);
      }
      case 'binary': {
        const left = this.expr(e.left);
        const op = this.tok('BinaryOperator');
        return [left, ' ', op, ' ', this.expr(e.right)];
      }
      case 'unary': {
        const sign = this.tok('SignOperator');
        return [sign, this.expr(e.operand)];
      }
    }
  }

  private call(c: CallExpr): Doc {
    const callee = this.tok('Identifier');
    if (!c.hasParens) return callee;
    return [callee, this.args(c.args)];
  }

  private args(args: readonly Arg[]): Doc {
    return this.list('LParen', 'RParen', args, (a) => this.arg(a));
  }

  private arg(a: Arg): Doc {
    if (a.name === undefined) return this.expr(a.value);
    return [this.tok('Identifier'), this.tok('Colon'), ' ', this.expr(a.value)];
  }

  /** `, name: "input.1"` after an input's shape or an output's value. */
  private portOptions(options: readonly Arg[]): Doc {
    return options.map((a) => [this.tok('Comma'), ' ', this.arg(a)]);
  }

  /** `(a, b, c)` or `[a, b, c]`: items wrap where the next would not fit. */
  private list<T>(open: string, close: string, items: readonly T[], item: (x: T) => Doc): Doc {
    const first = this.tok(open);
    const parts: Doc[] = [];
    items.forEach((x, i) => {
      if (i > 0) parts.push([this.tok('Comma'), line]);
      parts.push(item(x));
    });
    return [first, align(fill(parts)), this.tok(close)];
  }
}
