// The .net parser: a Chevrotain CstParser (with error recovery) and the CST -> AST builder.
import { CstParser, tokenMatcher } from 'chevrotain';
import type {
  CstElement,
  CstNode,
  IParserErrorMessageProvider,
  IToken,
  TokenType,
} from 'chevrotain';
import type {
  Arg,
  BlockDecl,
  CallExpr,
  Expr,
  Ident,
  Item,
  NetworkDecl,
  Param,
  Program,
  Span,
  Stmt,
} from './ast.js';
import type { MisuseKind } from './messages.js';
import {
  allTokens,
  Arrow,
  BinaryOperator,
  Block,
  Colon,
  Comma,
  Equals,
  False,
  Identifier,
  Input,
  isRealToken,
  Keyword,
  LBracket,
  LCurly,
  LParen,
  Network,
  NumberLiteral,
  Output,
  Question,
  RBracket,
  RCurly,
  Repeat,
  Return,
  RParen,
  SignOperator,
  StringLiteral,
  tokenSpan,
  True,
} from './tokens.js';

/**
 * Chevrotain builds a message for each error it records. Ours are worded later, from the exception
 * and the tokens around it (messages.ts), so this only counts errors and, for a mismatch, keeps the
 * name of the expected token type as the message.
 */
class ErrorFacts implements IParserErrorMessageProvider {
  count = 0;

  buildMismatchTokenMessage(options: { expected: TokenType }): string {
    this.count++;
    return options.expected.name;
  }

  buildNotAllInputParsedMessage(): string {
    this.count++;
    return '';
  }

  buildNoViableAltMessage(): string {
    this.count++;
    return '';
  }

  buildEarlyExitMessage(): string {
    this.count++;
    return '';
  }
}

const statementKeywords = new Set([Input, Output, Repeat, Return]);

/** Tokens after which a keyword can only have been meant as a value (`f(axis: input)`). */
const afterValue = new Set([RParen, RBracket, RCurly, Comma, Arrow]);

/** Parsing stops after this many errors: past it, more messages help nobody and cost time. */
export const MAX_PARSE_ERRORS = 100;

/** Thrown (past Chevrotain, which rethrows foreign errors) to stop a parse with too many errors. */
export class TooManyErrors extends Error {
  constructor(readonly token: IToken) {
    super('too many syntax errors');
  }
}

/** A mistake the grammar accepts so that parsing goes on undisturbed; reported afterwards. */
export interface Misuse {
  readonly kind: MisuseKind;
  readonly token: IToken;
}

// --- Grammar ---------------------------------------------------------------------------------

export class NetParser extends CstParser {
  /** The misuses found by the last parse. */
  misuses: Misuse[] = [];

  private readonly errorFacts: ErrorFacts;
  private tokens: readonly IToken[] = [];
  /** Offsets of the names in `NAME =` that stand inside a closed '(' (see `arg`); lazy. */
  private equalsArgsCache: Set<number> | undefined;

  constructor() {
    const errorFacts = new ErrorFacts();
    super(allTokens, { recoveryEnabled: true, maxLookahead: 2, errorMessageProvider: errorFacts });
    this.errorFacts = errorFacts;
    this.performSelfAnalysis();
  }

  /** Parses a whole file; afterwards `errors` and `misuses` say what went wrong. */
  parseFile(tokens: IToken[]): CstNode {
    this.misuses = [];
    this.errorFacts.count = 0;
    this.tokens = tokens;
    this.equalsArgsCache = undefined;
    this.input = tokens;
    return this.file();
  }

  /** Drops the last parse's input and results, so they do not stay in memory. */
  clear(): void {
    this.misuses = [];
    this.tokens = [];
    this.equalsArgsCache = undefined;
    this.input = [];
  }

  // NOTE: inserting a missing opening bracket makes the parser expect its closer as well, which
  // turns one mistake into two; re-synchronizing at the next statement reads better.
  protected override canTokenTypeBeInsertedInRecovery(tokType: TokenType): boolean {
    return tokType !== LCurly && tokType !== LParen && tokType !== LBracket;
  }

  /** Is the name at LA(1), followed by '=', a named argument written with '='? */
  private isEqualsArg(): boolean {
    this.equalsArgsCache ??= namesBeforeEqualsInParens(this.tokens);
    return this.equalsArgsCache.has(this.LA(1).startOffset);
  }

  private misuse(kind: Misuse['kind'], token: IToken): void {
    this.ACTION(() => this.misuses.push({ kind, token }));
  }

  /** `NAME =` here begins the next statement, not a name inside an expression. */
  private notAssignment(): boolean {
    return this.LA(2).tokenType !== Equals;
  }

  /** A keyword that stands where a value is expected, followed by what ends a value. */
  private keywordAsValue(): boolean {
    const next = this.LA(2);
    return afterValue.has(next.tokenType) || tokenMatcher(next, BinaryOperator);
  }

  /** True, or throws TooManyErrors to stop parsing a hopeless file. */
  private checkErrorCount(): boolean {
    if (this.errorFacts.count > MAX_PARSE_ERRORS) throw new TooManyErrors(this.LA(1));
    return true;
  }

  /** A statement starts here: a statement keyword, or `NAME =`. */
  private startsStatement(): boolean {
    const first = this.LA(1).tokenType;
    return (
      statementKeywords.has(first) || (first === Identifier && this.LA(2).tokenType === Equals)
    );
  }

  /** file := (network | block)* */
  readonly file = this.RULE('file', () => {
    this.MANY({
      GATE: () => this.checkErrorCount(),
      DEF: () =>
        this.OR([
          { ALT: () => this.SUBRULE(this.network) },
          { ALT: () => this.SUBRULE(this.block) },
        ]),
    });
  });

  /** network := 'network' NAME ['(' [arg (',' arg)*] ')'] body */
  readonly network = this.RULE('network', () => {
    this.CONSUME(Network);
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(LParen);
      this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.arg) });
      this.CONSUME(RParen);
    });
    this.SUBRULE(this.body);
  });

  /** block := 'block' NAME '(' [param (',' param)*] ')' body */
  readonly block = this.RULE('block', () => {
    this.CONSUME(Block);
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.param) });
    this.CONSUME(RParen);
    this.SUBRULE(this.body);
  });

  /** param := NAME ['=' expr]; `NAME: expr` is accepted and reported. */
  readonly param = this.RULE('param', () => {
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.OR([
        { ALT: () => this.CONSUME(Equals) },
        { ALT: () => this.misuse('colonForDefault', this.CONSUME(Colon)) },
      ]);
      this.SUBRULE(this.expr, { LABEL: 'default' });
    });
  });

  /** body := '{' (inputStmt | outputStmt | repeatStmt | returnStmt | assignStmt)* '}' */
  readonly body = this.RULE('body', () => {
    this.CONSUME(LCurly);
    // NOTE: the statements are alternatives right here rather than a `stmt` rule: one rule less
    // per nesting level leaves more stack for deep nesting. The builder sorts them by position.
    this.MANY({
      GATE: () => this.checkErrorCount() && this.startsStatement(),
      DEF: () =>
        this.OR([
          { ALT: () => this.SUBRULE(this.inputStmt) },
          { ALT: () => this.SUBRULE(this.outputStmt) },
          { ALT: () => this.SUBRULE(this.repeatStmt) },
          { ALT: () => this.SUBRULE(this.returnStmt) },
          { ALT: () => this.SUBRULE(this.assignStmt) },
        ]),
    });
    this.CONSUME(RCurly);
  });

  /** inputStmt := 'input' NAME ':' expr (',' arg)* */
  readonly inputStmt = this.RULE('inputStmt', () => {
    this.CONSUME(Input);
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.CONSUME(Colon);
    this.SUBRULE(this.expr, { LABEL: 'value' });
    this.SUBRULE(this.portOptions);
  });

  /** outputStmt := 'output' NAME ['=' expr] (',' arg)*; without '=' the value is the bound NAME. */
  readonly outputStmt = this.RULE('outputStmt', () => {
    this.CONSUME(Output);
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(Equals);
      this.SUBRULE(this.expr, { LABEL: 'value' });
    });
    this.SUBRULE(this.portOptions);
  });

  /** portOptions := (',' arg)*: named options of an input or output (`name: "input.1"`). */
  readonly portOptions = this.RULE('portOptions', () => {
    this.MANY(() => {
      this.CONSUME(Comma);
      this.SUBRULE(this.arg);
    });
  });

  /** repeatStmt := 'repeat' expr body */
  readonly repeatStmt = this.RULE('repeatStmt', () => {
    this.CONSUME(Repeat);
    this.SUBRULE(this.expr, { LABEL: 'value' });
    this.SUBRULE(this.body);
  });

  /** returnStmt := 'return' expr */
  readonly returnStmt = this.RULE('returnStmt', () => {
    this.CONSUME(Return);
    this.SUBRULE(this.expr, { LABEL: 'value' });
  });

  /** assignStmt := NAME '=' expr */
  readonly assignStmt = this.RULE('assignStmt', () => {
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.CONSUME(Equals);
    this.SUBRULE(this.expr, { LABEL: 'value' });
  });

  /**
   * expr := operand (('+' | '-' | '*' | '/') operand)* ('->' call)*
   * Operators are collected flat; the builder applies precedence. An expression ends at the first
   * token that cannot continue it, which is how statements separate without semicolons.
   */
  readonly expr = this.RULE('expr', () => {
    this.SUBRULE(this.operand);
    this.MANY(() => {
      this.CONSUME(BinaryOperator, { LABEL: 'op' });
      this.SUBRULE2(this.operand);
    });
    this.MANY2(() => {
      this.CONSUME(Arrow);
      this.SUBRULE(this.call, { LABEL: 'chainCall' });
    });
  });

  /** operand := ('+' | '-')* (number | string | true | false | '?' | list | '(' expr ')' | call) */
  readonly operand = this.RULE('operand', () => {
    this.MANY(() => this.CONSUME(SignOperator, { LABEL: 'sign' }));
    this.OR([
      { ALT: () => this.CONSUME(NumberLiteral) },
      { ALT: () => this.CONSUME(StringLiteral) },
      { ALT: () => this.CONSUME(True) },
      { ALT: () => this.CONSUME(False) },
      { ALT: () => this.CONSUME(Question) },
      {
        ALT: () => {
          this.CONSUME(LBracket);
          this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.expr, { LABEL: 'item' }) });
          this.CONSUME(RBracket);
        },
      },
      {
        ALT: () => {
          this.CONSUME(LParen);
          this.SUBRULE2(this.expr, { LABEL: 'inner' });
          this.CONSUME(RParen);
        },
      },
      // NOTE: calls are spelled out here, not taken from `call`: one rule less per nesting level
      // leaves more stack for deeply nested calls.
      {
        ALT: () => {
          this.CONSUME(Identifier, { LABEL: 'callee' });
          this.CONSUME2(LParen);
          this.MANY_SEP2({ SEP: Comma, DEF: () => this.SUBRULE(this.arg) });
          this.CONSUME2(RParen);
        },
      },
      // NOTE: `NAME =` starts the next statement, so it never continues an expression.
      {
        GATE: () => this.notAssignment(),
        ALT: () => this.CONSUME2(Identifier, { LABEL: 'callee' }),
      },
      {
        GATE: () => this.keywordAsValue(),
        ALT: () => this.misuse('keywordAsName', this.CONSUME(Keyword, { LABEL: 'keywordName' })),
      },
    ]);
  });

  /** call := NAME ['(' [arg (',' arg)*] ')']: a call in a chain, with parentheses or bare. */
  readonly call = this.RULE('call', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(Identifier, { LABEL: 'callee' });
          this.CONSUME(LParen);
          this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.arg) });
          this.CONSUME(RParen);
        },
      },
      // NOTE: `NAME =` starts the next statement, so it is no call: `x = a -> relu \n y = x`.
      {
        GATE: () => this.notAssignment(),
        ALT: () => this.CONSUME2(Identifier, { LABEL: 'callee' }),
      },
    ]);
  });

  /**
   * arg := [NAME ':'] expr. `NAME = expr` is taken for a named argument (and reported) when its
   * '(' is closed later; otherwise the ')' is what is missing and `NAME =` starts a statement.
   */
  readonly arg = this.RULE('arg', () => {
    this.OPTION({
      GATE: () => this.LA(2).tokenType !== Equals || this.isEqualsArg(),
      DEF: () => {
        this.CONSUME(Identifier, { LABEL: 'name' });
        this.OR([
          { ALT: () => this.CONSUME(Colon) },
          { ALT: () => this.misuse('equalsForNamedArg', this.CONSUME(Equals)) },
        ]);
      },
    });
    this.SUBRULE(this.expr, { LABEL: 'value' });
  });
}

/** The offsets of names followed by '=' directly inside a '(' that a ')' closes later. */
function namesBeforeEqualsInParens(tokens: readonly IToken[]): Set<number> {
  const result = new Set<number>();
  // Per open bracket: its kind, and the names seen directly inside it so far.
  const stack: { open: TokenType; names: number[] }[] = [];
  tokens.forEach((token, i) => {
    const type = token.tokenType;
    if (type === LParen || type === LBracket || type === LCurly) {
      stack.push({ open: type, names: [] });
    } else if (type === RParen || type === RBracket || type === RCurly) {
      const top = stack.pop();
      if (top?.open === LParen && type === RParen) top.names.forEach((n) => result.add(n));
    } else if (type === Identifier && tokens[i + 1]?.tokenType === Equals) {
      stack[stack.length - 1]?.names.push(token.startOffset);
    }
  });
  return result;
}

/** The one parser instance: building a Chevrotain parser is costly, reusing it is cheap. */
export const parser = new NetParser();

// --- CST -> AST ------------------------------------------------------------------------------
// Error recovery leaves partial nodes: a piece that is missing is left out of the tree (a
// statement without its value, an argument without its expression), so the AST stays well
// formed; the errors already say what is wrong.

// NOTE: under one key a CST node holds only nodes or only tokens (keys are rule names, token
// names or labels, and no label is shared by the two), so these casts are safe.
const noChildren: readonly CstElement[] = [];

function nodes(n: CstNode, key: string): readonly CstNode[] {
  return (n.children[key] ?? noChildren) as readonly CstNode[];
}

function node(n: CstNode, key: string): CstNode | undefined {
  return nodes(n, key)[0];
}

/** The tokens under `key` that are really in the text (not inserted by error recovery). */
function tokens(n: CstNode, key: string): readonly IToken[] {
  const all = (n.children[key] ?? noChildren) as readonly IToken[];
  return all.some((t) => !isRealToken(t)) ? all.filter((t) => isRealToken(t)) : all;
}

function token(n: CstNode, key: string): IToken | undefined {
  for (const t of (n.children[key] ?? noChildren) as readonly IToken[]) {
    if (isRealToken(t)) return t;
  }
  return undefined;
}

/** The span from the start of `first` to the end of `last`. */
function cover(first: Span, last: Span): Span {
  return {
    start: first.start,
    end: Math.max(first.end, last.end),
    line: first.line,
    col: first.col,
  };
}

function ident(tok: IToken | undefined): Ident | undefined {
  return tok && { text: tok.image, span: tokenSpan(tok) };
}

/** Builds the Program from the CST of the `file` rule. */
export function buildProgram(file: CstNode): Program {
  const items: Item[] = [];
  for (const n of nodes(file, 'network')) push(items, buildNetwork(n));
  for (const n of nodes(file, 'block')) push(items, buildBlock(n));
  items.sort((a, b) => a.span.start - b.span.start);
  return { items };
}

function push<T>(list: T[], item: T | undefined): void {
  if (item !== undefined) list.push(item);
}

/** The statements of a body and where the body ends (its '}', or its last real piece). */
function buildBody(body: CstNode | undefined): { stmts: Stmt[]; end: Span | undefined } {
  const stmts: Stmt[] = [];
  if (body === undefined) return { stmts, end: undefined };
  for (const kind of statementRules) {
    for (const s of nodes(body, kind)) push(stmts, buildStmt(kind, s));
  }
  stmts.sort((a, b) => a.span.start - b.span.start);
  const close = token(body, 'RCurly') ?? token(body, 'LCurly');
  const last = stmts[stmts.length - 1]?.span;
  const end = close ? tokenSpan(close) : last;
  return { stmts, end: last && end && last.end > end.end ? last : end };
}

function buildNetwork(n: CstNode): NetworkDecl | undefined {
  const keyword = token(n, 'Network');
  const name = ident(token(n, 'name'));
  if (keyword === undefined || name === undefined) return undefined;
  const options = buildArgs(n);
  const { stmts, end } = buildBody(node(n, 'body'));
  const closeParen = token(n, 'RParen');
  const last = end ?? (closeParen && tokenSpan(closeParen)) ?? name.span;
  return { kind: 'network', name, options, body: stmts, span: cover(tokenSpan(keyword), last) };
}

function buildBlock(n: CstNode): BlockDecl | undefined {
  const keyword = token(n, 'Block');
  const name = ident(token(n, 'name'));
  if (keyword === undefined || name === undefined) return undefined;
  const params: Param[] = [];
  for (const p of nodes(n, 'param')) push(params, buildParam(p));
  const { stmts, end } = buildBody(node(n, 'body'));
  const closeParen = token(n, 'RParen');
  const last = end ?? (closeParen && tokenSpan(closeParen)) ?? name.span;
  return { kind: 'block', name, params, body: stmts, span: cover(tokenSpan(keyword), last) };
}

function buildParam(n: CstNode): Param | undefined {
  const name = ident(token(n, 'name'));
  if (name === undefined) return undefined;
  const defaultNode = node(n, 'default');
  if (defaultNode === undefined) return { name, span: name.span };
  const value = buildExpr(defaultNode);
  // `p =` with the default missing: keep the parameter, without a default.
  if (value === undefined) return { name, span: name.span };
  return { name, default: value, span: cover(name.span, value.span) };
}

const statementRules = ['inputStmt', 'outputStmt', 'repeatStmt', 'returnStmt', 'assignStmt'];

function buildStmt(kind: string, n: CstNode): Stmt | undefined {
  switch (kind) {
    case 'inputStmt':
      return buildInput(n);
    case 'outputStmt':
      return buildOutput(n);
    case 'repeatStmt':
      return buildRepeat(n);
    case 'returnStmt':
      return buildReturn(n);
    case 'assignStmt':
      return buildAssign(n);
  }
  return undefined;
}

function buildInput(n: CstNode): Stmt | undefined {
  const keyword = token(n, 'Input');
  const name = ident(token(n, 'name'));
  const shape = buildValue(n);
  if (!keyword || !name || !shape) return undefined;
  const options = buildPortOptions(n);
  const end = options.at(-1)?.span ?? shape.span;
  return { kind: 'input', name, shape, options, span: cover(tokenSpan(keyword), end) };
}

function buildPortOptions(n: CstNode): Arg[] {
  const options = node(n, 'portOptions');
  return options ? buildArgs(options) : [];
}

function buildOutput(n: CstNode): Stmt | undefined {
  const keyword = token(n, 'Output');
  const name = ident(token(n, 'name'));
  if (!keyword || !name) return undefined;
  const options = buildPortOptions(n);
  if (node(n, 'value') === undefined) {
    const end = options.at(-1)?.span ?? name.span;
    return { kind: 'output', name, options, span: cover(tokenSpan(keyword), end) };
  }
  const value = buildValue(n);
  if (!value) return undefined;
  const end = options.at(-1)?.span ?? value.span;
  return { kind: 'output', name, value, options, span: cover(tokenSpan(keyword), end) };
}

function buildRepeat(n: CstNode): Stmt | undefined {
  const keyword = token(n, 'Repeat');
  const count = buildValue(n);
  const { stmts, end } = buildBody(node(n, 'body'));
  if (!keyword || !count) return undefined;
  const span = cover(tokenSpan(keyword), end ?? count.span);
  return { kind: 'repeat', count, body: stmts, span };
}

function buildReturn(n: CstNode): Stmt | undefined {
  const keyword = token(n, 'Return');
  const value = buildValue(n);
  if (!keyword || !value) return undefined;
  return { kind: 'return', value, span: cover(tokenSpan(keyword), value.span) };
}

function buildAssign(n: CstNode): Stmt | undefined {
  const name = ident(token(n, 'name'));
  const value = buildValue(n);
  if (!name || !value) return undefined;
  return { kind: 'assign', name, value, span: cover(name.span, value.span) };
}

/** The expression labelled `value` of a statement or argument. */
function buildValue(n: CstNode): Expr | undefined {
  const value = node(n, 'value');
  return value && buildExpr(value);
}

const precedence: Readonly<Record<string, number>> = { '+': 1, '-': 1, '*': 2, '/': 2 };

function buildExpr(n: CstNode): Expr | undefined {
  const operands = nodes(n, 'operand');
  const ops = tokens(n, 'op');
  const first = operands[0] && buildOperand(operands[0]);
  if (first === undefined) return undefined;

  // Operators come flat, left to right: fold `*` and `/` into terms, then `+` and `-` over terms.
  const terms: Expr[] = [];
  const termOps: ('+' | '-')[] = [];
  let current = first;
  for (let i = 0; i < ops.length; i++) {
    const opToken = ops[i];
    const rightNode = operands[i + 1];
    const right = rightNode && buildOperand(rightNode);
    if (opToken === undefined || right === undefined) break;
    const op = opToken.image as '+' | '-' | '*' | '/';
    if (precedence[op] === 2) {
      current = { kind: 'binary', op, left: current, right, span: cover(current.span, right.span) };
    } else {
      terms.push(current);
      termOps.push(op as '+' | '-');
      current = right;
    }
  }
  terms.push(current);
  let head = terms[0] ?? current;
  for (let i = 0; i < termOps.length; i++) {
    const right = terms[i + 1];
    const op = termOps[i];
    if (right === undefined || op === undefined) break;
    head = { kind: 'binary', op, left: head, right, span: cover(head.span, right.span) };
  }

  const calls: CallExpr[] = [];
  for (const c of nodes(n, 'chainCall')) push(calls, buildCall(c));
  const lastCall = calls[calls.length - 1];
  if (lastCall === undefined) return head;
  return { kind: 'chain', head, calls, span: cover(head.span, lastCall.span) };
}

function buildOperand(n: CstNode): Expr | undefined {
  let value = buildAtom(n);
  if (value === undefined) return undefined;
  // Signs apply innermost first: `- + x` is `-(+x)`.
  const signs = tokens(n, 'sign');
  for (let i = signs.length - 1; i >= 0; i--) {
    const sign = signs[i];
    if (sign === undefined) continue;
    const span = cover(tokenSpan(sign), value.span);
    value = { kind: 'unary', op: sign.image as '-' | '+', operand: value, span };
  }
  return value;
}

/** The operand's value, told apart by the first child that only one alternative has. */
function buildAtom(n: CstNode): Expr | undefined {
  // NOTE: one pass over the keys present beats probing every alternative's key in turn.
  for (const key in n.children) {
    switch (key) {
      case 'NumberLiteral': {
        const t = token(n, key);
        return t && buildNumber(t);
      }
      case 'StringLiteral': {
        const t = token(n, key);
        return t && { kind: 'string', value: String(t.payload ?? ''), span: tokenSpan(t) };
      }
      case 'True':
      case 'False': {
        const t = token(n, key);
        return t && { kind: 'bool', value: key === 'True', span: tokenSpan(t) };
      }
      case 'Question': {
        const t = token(n, key);
        return t && { kind: 'placeholder', span: tokenSpan(t) };
      }
      case 'keywordName': {
        const t = token(n, key);
        return t && { kind: 'name', name: t.image, span: tokenSpan(t) };
      }
      case 'LBracket': {
        const t = token(n, key);
        return t && buildList(n, t);
      }
      case 'inner':
        return buildGroup(n);
      case 'callee': {
        const call = buildCall(n);
        if (call === undefined || call.hasParens) return call;
        return { kind: 'name', name: call.callee.text, span: call.span };
      }
    }
  }
  return undefined;
}

function buildNumber(t: IToken): Expr {
  const value = Number(t.image);
  return {
    kind: 'number',
    value: Number.isNaN(value) ? 0 : value,
    isIntLiteral: !/[.eE]/.test(t.image),
    raw: t.image,
    span: tokenSpan(t),
  };
}

/** `( expr )`: the expression, its span widened to the parentheses. */
function buildGroup(n: CstNode): Expr | undefined {
  const inner = node(n, 'inner');
  const value = inner && buildExpr(inner);
  const open = token(n, 'LParen');
  if (value === undefined || open === undefined) return value;
  const close = token(n, 'RParen');
  return { ...value, span: cover(tokenSpan(open), close ? tokenSpan(close) : value.span) };
}

/** A list: the operand node holding '[', the items and ']'. */
function buildList(n: CstNode, open: IToken): Expr {
  const items: Expr[] = [];
  for (const item of nodes(n, 'item')) push(items, buildExpr(item));
  const close = token(n, 'RBracket');
  const last = close ? tokenSpan(close) : (items[items.length - 1]?.span ?? tokenSpan(open));
  return { kind: 'list', items, span: cover(tokenSpan(open), last) };
}

/** A call: from a `call` node, or from an operand node holding a callee. */
function buildCall(n: CstNode): CallExpr | undefined {
  const callee = ident(token(n, 'callee'));
  if (callee === undefined) return undefined;
  const open = token(n, 'LParen');
  if (open === undefined) {
    return { kind: 'call', callee, args: [], hasParens: false, span: callee.span };
  }
  const args = buildArgs(n);
  const close = token(n, 'RParen');
  const last = close ? tokenSpan(close) : (args[args.length - 1]?.span ?? tokenSpan(open));
  return { kind: 'call', callee, args, hasParens: true, span: cover(callee.span, last) };
}

/** The `arg` children of a call or network node. */
function buildArgs(n: CstNode): Arg[] {
  const args: Arg[] = [];
  for (const a of nodes(n, 'arg')) {
    const value = buildValue(a);
    if (value === undefined) continue;
    const name = ident(token(a, 'name'));
    args.push(
      name ? { name, value, span: cover(name.span, value.span) } : { value, span: value.span },
    );
  }
  return args;
}
