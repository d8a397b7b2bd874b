// The grammar's entry point: `parse(text)` gives the AST and every syntax error, and never throws.
import type { IRecognitionException, IToken } from 'chevrotain';
import type { ParseResult, Program, Span, SyntaxIssue } from './ast.js';
import * as msg from './messages.js';
import type { Opener, OpenerOwner, ParseErrorFacts } from './messages.js';
import { buildProgram, MAX_PARSE_ERRORS, parser, TooManyErrors } from './parser.js';
import { endOfTextSpan, isRealToken, lex, tokenSpan } from './tokens.js';

export type * from './ast.js';

/** Brackets may nest this deep; deeper input is reported instead of risking a stack overflow. */
export const MAX_NESTING = 200;
/** Operators (signs, +, -, *, /) may nest this deep in one expression: `1 + 1 + ... + 1` with
 * more terms, or `- - ... 1` with more signs, is reported instead of overflowing the stack of
 * the front end's recursive evaluation. */
export const MAX_EXPRESSION_DEPTH = 256;
export { MAX_PARSE_ERRORS };

const emptyProgram: Program = { items: [] };

/** Parses a .net file. All syntax errors come out together; the program is best effort. */
export function parse(text: string): ParseResult {
  const source = typeof text === 'string' ? text : String(text);
  try {
    return parseText(source);
  } catch (e) {
    // NOTE: only a compiler bug (or an exhausted stack) lands here; report it, do not crash.
    const detail = e instanceof Error ? e.message : String(e);
    const span = { start: 0, end: 0, line: 1, col: 1 };
    return { program: emptyProgram, errors: [{ message: msg.internalError(detail), span }] };
  }
}

function parseText(text: string): ParseResult {
  const { tokens, errors } = lex(text);

  const deepest = deepestBracket(tokens);
  if (deepest !== undefined && deepest.depth > MAX_NESTING) {
    errors.push({ message: msg.nestingTooDeep(MAX_NESTING), span: tokenSpan(deepest.token) });
    return { program: emptyProgram, errors: sortIssues(errors) };
  }

  try {
    return parseTokens(text, tokens, errors);
  } catch (e) {
    if (!(e instanceof RangeError) || deepest === undefined) throw e;
    // NOTE: MAX_NESTING leaves a wide margin, so only a caller already deep in its own stack
    // should get here. The parser's errors are unreliable after an overflow: report only this.
    const message = msg.nestingTooDeep(deepest.depth - 1);
    errors.push({ message, span: tokenSpan(deepest.token) });
    return { program: emptyProgram, errors: sortIssues(errors) };
  } finally {
    parser.clear();
  }
}

/** Parses lexed tokens; `errors` holds the lexer's errors and receives the parser's. */
function parseTokens(text: string, tokens: IToken[], errors: SyntaxIssue[]): ParseResult {
  let program = emptyProgram;
  let stoppedAt: IToken | undefined;
  try {
    program = buildProgram(parser.parseFile(tokens));
  } catch (e) {
    if (!(e instanceof TooManyErrors)) throw e;
    stoppedAt = e.token;
  }
  const parseErrors = parser.errors;
  if (parseErrors.length > 0) {
    const context = new TokenContext(text, tokens);
    for (const e of parseErrors) errors.push(toIssue(e, context));
  }
  for (const m of parser.misuses) {
    errors.push({ message: msg.misuseMessage(m.kind, m.token), span: tokenSpan(m.token) });
  }
  const sorted = sortIssues(errors);
  if (stoppedAt === undefined) return { program, errors: sorted };

  // Past the stop, only the lexer would report: keep what comes before, and say where it stopped.
  const span = isRealToken(stoppedAt) ? tokenSpan(stoppedAt) : endOfTextSpan(text);
  const kept = sorted.filter((issue) => issue.span.start < span.start).slice(0, MAX_PARSE_ERRORS);
  return { program, errors: [...kept, { message: msg.tooManyErrors(kept.length), span }] };
}

/** Errors in source order, one per position (recovery can report the same spot twice). */
function sortIssues(issues: SyntaxIssue[]): SyntaxIssue[] {
  const sorted = [...issues].sort((a, b) => a.span.start - b.span.start);
  return sorted.filter((issue, i) => i === 0 || sorted[i - 1]?.span.start !== issue.span.start);
}

const openers: Readonly<Record<string, string>> = {
  LCurly: 'RCurly',
  LParen: 'RParen',
  LBracket: 'RBracket',
};
const closers = new Set(Object.values(openers));

/**
 * The error for an expression nesting operators deeper than MAX_EXPRESSION_DEPTH, or undefined.
 * The parser reads any depth (operators come flat); what walks the tree recursively (the front
 * end's evaluation, the formatter) checks this first.
 */
export function expressionTooDeep(program: Program): SyntaxIssue | undefined {
  const span = deepestExpression(program);
  return span && { message: msg.expressionTooDeep(MAX_EXPRESSION_DEPTH), span };
}

/**
 * The span of the first operator nested deeper than MAX_EXPRESSION_DEPTH in the AST, or
 * undefined. Iterative (an explicit stack), so any depth is walked safely.
 */
function deepestExpression(program: Program): Span | undefined {
  const stack: { node: unknown; depth: number }[] = [{ node: program, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth: above } = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    const kind = (node as { kind?: unknown }).kind;
    const depth = kind === 'binary' || kind === 'unary' ? above + 1 : above;
    if (depth > MAX_EXPRESSION_DEPTH) return (node as { span: Span }).span;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'span' || typeof child !== 'object' || child === null) continue;
      stack.push({ node: child, depth });
    }
  }
  return undefined;
}

/** The opening bracket that nests deepest (the first such), with its depth. */
function deepestBracket(tokens: readonly IToken[]): { token: IToken; depth: number } | undefined {
  let depth = 0;
  let deepest: { token: IToken; depth: number } | undefined;
  for (const token of tokens) {
    const name = token.tokenType.name;
    if (openers[name] !== undefined) {
      depth++;
      if (deepest === undefined || depth > deepest.depth) deepest = { token, depth };
    } else if (closers.has(name) && depth > 0) {
      depth--;
    }
  }
  return deepest;
}

// --- From Chevrotain exceptions to issues ----------------------------------------------------

function toIssue(e: IRecognitionException, context: TokenContext): SyntaxIssue {
  const found = e.token;
  const index = context.indexOf(found);
  const ruleStack = e.context.ruleStack;
  // NOTE: not the exception's previousToken, which is off after recovery skipped tokens.
  const previous = context.tokens[index - 1];
  const facts: ParseErrorFacts = {
    kind: e.name,
    rule: ruleStack[ruleStack.length - 1] ?? 'file',
    ...optional('parentRule', ruleStack[ruleStack.length - 2]),
    ...optional('expected', e.name === 'MismatchedTokenException' ? e.message : undefined),
    found,
    ...optional('next', context.tokens[index + 1]),
    ...optional('previous', previous),
    ...optional('opener', context.openerAt(index)),
    ...optional('declaration', context.declarationAt(index)),
  };
  const span = isRealToken(found) ? tokenSpan(found) : context.endSpan;
  return { message: msg.parseErrorMessage(facts), span };
}

/** `{ key: value }` when value is defined, `{}` otherwise (for exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Questions about the token stream that error messages need. */
class TokenContext {
  readonly endSpan: Span;
  /** Per token index (and the end): the innermost open bracket before it, or -1. */
  private readonly enclosing: Int32Array;
  /** Per token index (and the end): the last `network` or `block` keyword before it, or -1. */
  private readonly declaration: Int32Array;

  constructor(
    text: string,
    readonly tokens: readonly IToken[],
  ) {
    this.endSpan = endOfTextSpan(text);
    this.enclosing = new Int32Array(tokens.length + 1);
    this.declaration = new Int32Array(tokens.length + 1);
    const stack: number[] = [];
    let declaration = -1;
    tokens.forEach((token, i) => {
      this.enclosing[i] = stack[stack.length - 1] ?? -1;
      this.declaration[i] = declaration;
      const name = token.tokenType.name;
      if (openers[name] !== undefined) {
        stack.push(i);
      } else if (closers.has(name)) {
        // Pop to the matching opener; a closer that matches nothing open is ignored.
        let match = stack.length - 1;
        while (match >= 0 && openers[this.nameAt(stack[match])] !== name) match--;
        if (match >= 0) stack.length = match;
      } else if (name === 'Network' || name === 'Block') {
        declaration = i;
      }
    });
    this.enclosing[tokens.length] = stack[stack.length - 1] ?? -1;
    this.declaration[tokens.length] = declaration;
  }

  /** The index of a token (by binary search on offsets); end of file is `tokens.length`. */
  indexOf(token: IToken): number {
    if (!isRealToken(token)) return this.tokens.length;
    let lo = 0;
    let hi = this.tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.tokens[mid]?.startOffset ?? Infinity) < token.startOffset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The innermost bracket still open before token `index`. */
  openerAt(index: number): Opener | undefined {
    const k = this.enclosing[index] ?? -1;
    const open = this.tokens[k];
    if (open === undefined) return undefined;
    return { owner: this.ownerOf(k), line: open.startLine ?? 1 };
  }

  /** The network or block whose header or body contains token `index`. */
  declarationAt(index: number): { kind: 'network' | 'block'; name: string } | undefined {
    const k = this.declaration[index] ?? -1;
    if (k < 0) return undefined;
    return { kind: this.nameAt(k) === 'Network' ? 'network' : 'block', name: this.nameAfter(k) };
  }

  private nameAt(index: number | undefined): string {
    return this.tokens[index ?? -1]?.tokenType.name ?? '';
  }

  /** The name declared right after the keyword at `index`, or '?'. */
  private nameAfter(index: number): string {
    const token = this.tokens[index + 1];
    return token?.tokenType.name === 'Identifier' ? token.image : '?';
  }

  /** What the bracket at index `k` opens. */
  private ownerOf(k: number): OpenerOwner {
    const kind = this.nameAt(k);
    const before = this.tokens[k - 1];
    if (kind === 'LBracket') return { kind: 'list' };
    if (kind === 'LParen') {
      if (before?.tokenType.name !== 'Identifier') return { kind: 'group' };
      const keyword = this.nameAt(k - 2);
      if (keyword === 'Block') return { kind: 'params', name: before.image };
      if (keyword === 'Network') return { kind: 'options', name: before.image };
      return { kind: 'call', name: before.image };
    }
    // '{': the nearest network, block or repeat keyword before it, outside any brackets.
    let depth = 0;
    for (let i = k - 1; i >= 0; i--) {
      const name = this.nameAt(i);
      if (name === 'RParen' || name === 'RBracket') depth++;
      else if (name === 'LParen' || name === 'LBracket') depth--;
      else if (name === 'LCurly' || name === 'RCurly') break;
      else if (depth === 0 && name === 'Repeat') return { kind: 'repeat' };
      else if (depth === 0 && (name === 'Network' || name === 'Block')) {
        return { kind: name === 'Network' ? 'network' : 'block', name: this.nameAfter(i) };
      }
    }
    return { kind: 'braces' };
  }
}
