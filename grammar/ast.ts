// The .net abstract syntax tree: what the parser hands to the front end. Every node carries a span.

import type { Span } from './span.js';

export type { Span };

export interface Ident {
  readonly text: string;
  readonly span: Span;
}

export type Item = NetworkDecl | BlockDecl;

export interface Program {
  readonly items: readonly Item[];
}

export interface NetworkDecl {
  readonly kind: 'network';
  readonly name: Ident;
  /** `network NAME(data_format: channels_first, batch: 8)`: named arguments only. */
  readonly options: readonly Arg[];
  readonly body: readonly Stmt[];
  readonly span: Span;
}

export interface Param {
  readonly name: Ident;
  readonly default?: Expr;
  readonly span: Span;
}

export interface BlockDecl {
  readonly kind: 'block';
  readonly name: Ident;
  readonly params: readonly Param[];
  readonly body: readonly Stmt[];
  readonly span: Span;
}

export type Stmt = InputStmt | AssignStmt | OutputStmt | RepeatStmt | ReturnStmt;

/**
 * `input NAME: [d1, d2, ...]`; dims are expressions (a batch placeholder is rejected later).
 * `options` are the named options after a comma (`, name: "input.1"`: the module's key).
 */
export interface InputStmt {
  readonly kind: 'input';
  readonly name: Ident;
  readonly shape: Expr;
  readonly options: readonly Arg[];
  readonly span: Span;
}

export interface AssignStmt {
  readonly kind: 'assign';
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

/** `output NAME = EXPR` or `output NAME`. */
/** `output NAME [= EXPR]`, with named options after a comma as an input's. */
export interface OutputStmt {
  readonly kind: 'output';
  readonly name: Ident;
  readonly value?: Expr;
  readonly options: readonly Arg[];
  readonly span: Span;
}

export interface RepeatStmt {
  readonly kind: 'repeat';
  readonly count: Expr;
  readonly body: readonly Stmt[];
  readonly span: Span;
}

export interface ReturnStmt {
  readonly kind: 'return';
  readonly value: Expr;
  readonly span: Span;
}

export type Expr =
  | NumberLit
  | StringLit
  | BoolLit
  | NameRef
  | Placeholder
  | ListExpr
  | CallExpr
  | ChainExpr
  | BinaryExpr
  | UnaryExpr;

export interface NumberLit {
  readonly kind: 'number';
  readonly value: number;
  /** true when written without '.', 'e' or 'E' (e.g. `8`, not `8.0`). */
  readonly isIntLiteral: boolean;
  readonly raw: string;
  readonly span: Span;
}

/** A double-quoted string; `value` has escapes decoded. */
export interface StringLit {
  readonly kind: 'string';
  readonly value: string;
  readonly span: Span;
}

export interface BoolLit {
  readonly kind: 'bool';
  readonly value: boolean;
  readonly span: Span;
}

/** A bare word: a bound name, a block parameter, or an enumeration word (`same`, `relu`). */
export interface NameRef {
  readonly kind: 'name';
  readonly name: string;
  readonly span: Span;
}

/** `?` written where a value is expected (only meaningful as a batch placeholder; always an error). */
export interface Placeholder {
  readonly kind: 'placeholder';
  readonly span: Span;
}

export interface ListExpr {
  readonly kind: 'list';
  readonly items: readonly Expr[];
  readonly span: Span;
}

/** `op(args)` or, in a chain, a bare `op` (hasParens false). */
export interface CallExpr {
  readonly kind: 'call';
  readonly callee: Ident;
  readonly args: readonly Arg[];
  readonly hasParens: boolean;
  readonly span: Span;
}

/** A positional argument (no name) or a named one `name: value`. */
export interface Arg {
  readonly name?: Ident;
  readonly value: Expr;
  readonly span: Span;
}

/** `head -> call -> call`: `a -> f(args)` means `f(a, args)`. */
export interface ChainExpr {
  readonly kind: 'chain';
  readonly head: Expr;
  readonly calls: readonly CallExpr[];
  readonly span: Span;
}

export interface BinaryExpr {
  readonly kind: 'binary';
  readonly op: '+' | '-' | '*' | '/';
  readonly left: Expr;
  readonly right: Expr;
  readonly span: Span;
}

export interface UnaryExpr {
  readonly kind: 'unary';
  readonly op: '-' | '+';
  readonly operand: Expr;
  readonly span: Span;
}

/** A syntax error found by the lexer or parser; recovery continues after it. */
export interface SyntaxIssue {
  readonly message: string;
  readonly span: Span;
}

export interface ParseResult {
  /** Best-effort tree even when there are errors (recovered). */
  readonly program: Program;
  readonly errors: readonly SyntaxIssue[];
}
