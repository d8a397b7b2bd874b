// The wording of every syntax error: plain words about what was expected and what was found.
import type { IToken } from 'chevrotain';

// --- Describing tokens -----------------------------------------------------------------------

const punctuation: Readonly<Record<string, string>> = {
  Arrow: '->',
  Plus: '+',
  Minus: '-',
  Star: '*',
  Slash: '/',
  LCurly: '{',
  RCurly: '}',
  LParen: '(',
  RParen: ')',
  LBracket: '[',
  RBracket: ']',
  Comma: ',',
  Colon: ':',
  Equals: '=',
  Question: '?',
};

/** Keyword token type names and their words (`true` and `false` are values, not keywords here). */
const keywords: Readonly<Record<string, string>> = {
  Network: 'network',
  Block: 'block',
  Input: 'input',
  Output: 'output',
  Repeat: 'repeat',
  Return: 'return',
};
const literalWords: Readonly<Record<string, string>> = { True: 'true', False: 'false' };

function quote(text: string): string {
  return `'${text}'`;
}

function shorten(text: string, max = 24): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** What a token type stands for, as in "expected ...": `'}'`, `a name`, `end of file`. */
export function describeTokenType(typeName: string): string {
  const word = punctuation[typeName] ?? keywords[typeName] ?? literalWords[typeName];
  if (word !== undefined) return quote(word);
  switch (typeName) {
    case 'Identifier':
      return 'a name';
    case 'NumberLiteral':
      return 'a number';
    case 'StringLiteral':
      return 'a string';
    case 'EOF':
      return 'end of file';
    default:
      return quote(typeName);
  }
}

/** A token as found in the text, as in "found ...": `','`, `name 'foo'`, `end of file`. */
export function describeToken(token: IToken): string {
  const typeName = token.tokenType.name;
  if (typeName === 'EOF') return 'end of file';
  const punct = punctuation[typeName];
  if (punct !== undefined) return quote(punct);
  if (typeName === 'Identifier') return `name ${quote(shorten(token.image))}`;
  if (keywords[typeName] !== undefined) return `keyword ${quote(token.image)}`;
  if (typeName === 'NumberLiteral' || typeName === 'MalformedNumber') {
    return `number ${shorten(token.image)}`;
  }
  if (typeName.endsWith('String')) return `string ${shorten(token.image)}`;
  return quote(shorten(token.image));
}

function isKeyword(token: IToken): boolean {
  return keywords[token.tokenType.name] !== undefined;
}

/** Says a keyword is no name, unless a name follows it (then it likely starts a statement). */
function keywordHint(found: IToken, next?: IToken): string {
  if (!isKeyword(found) || next?.tokenType.name === 'Identifier') return '';
  return ` ('${found.image}' is a keyword and cannot be used as a name)`;
}

// --- Lexer errors ----------------------------------------------------------------------------

function describeCharacter(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x20 || (code >= 0x7f && code < 0xa0) || /\s/u.test(c)) {
    return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return quote(c);
}

export function unexpectedCharacters(text: string): string {
  const chars = Array.from(text);
  if (chars.length === 1 && chars[0] === ';') {
    return "unexpected ';': statements end at the end of the line, no semicolons are needed";
  }
  if (chars.length === 1 && chars[0] !== undefined) {
    const hint = /\p{L}/u.test(chars[0]) ? " (names use only ASCII letters, digits and '_')" : '';
    return `unexpected character ${describeCharacter(chars[0])}${hint}`;
  }
  const printable = chars.every((c) => describeCharacter(c) === quote(c));
  return printable
    ? `unexpected characters ${quote(shorten(text))}`
    : `unexpected characters ${chars.slice(0, 8).map(describeCharacter).join(' ')}`;
}

export function unterminatedString(): string {
  return `unterminated string: the closing '"' is missing before the end of the line`;
}

export function singleQuotedString(image: string): string {
  const body = image.slice(1, image.length > 1 && image.endsWith("'") ? -1 : undefined);
  return `strings use double quotes: write "${shorten(body)}"`;
}

export function malformedNumber(image: string): string {
  return `malformed number ${quote(shorten(image))}`;
}

export function badEscape(written: string): string {
  return `unknown escape ${quote(written)} in a string (known: \\" \\\\ \\n \\t \\r \\uXXXX)`;
}

export function badUnicodeEscape(written: string): string {
  return `${quote(written)} in a string: '\\u' must be followed by four hex digits`;
}

export function nestingTooDeep(limit: number): string {
  return `nesting too deep: more than ${limit} levels of brackets`;
}

export function expressionTooDeep(limit: number): string {
  return `expression too deep: more than ${limit} nested operators (signs and +, -, *, /); give parts of it names, or write the value`;
}

export function tooManyErrors(limit: number): string {
  return `too many syntax errors: stopped after ${limit}`;
}

export function internalError(detail: string): string {
  return `netc bug: the parser failed (${detail})`;
}

// --- Parser errors ---------------------------------------------------------------------------

/** What an open bracket belongs to, found by scanning the tokens before it. */
export type OpenerOwner =
  | { readonly kind: 'network' | 'block'; readonly name: string }
  | { readonly kind: 'repeat' | 'list' | 'group' | 'braces' }
  | { readonly kind: 'call'; readonly name: string }
  | { readonly kind: 'params' | 'options'; readonly name: string };

export interface Opener {
  readonly owner: OpenerOwner;
  readonly line: number;
}

/** Everything known about a parse error, gathered from Chevrotain's exception and the tokens. */
export interface ParseErrorFacts {
  /** Chevrotain's exception name: MismatchedTokenException, NoViableAltException, ... */
  readonly kind: string;
  /** The grammar rule that failed (innermost), and the rule that called it. */
  readonly rule: string;
  readonly parentRule?: string;
  /** For a mismatch: the token type name that was expected. */
  readonly expected?: string;
  readonly found: IToken;
  /** The token after `found`, if any. */
  readonly next?: IToken;
  /** The last token before `found`, if any. */
  readonly previous?: IToken;
  /** The innermost bracket still open at `found`. */
  readonly opener?: Opener;
  /** The network or block being declared around `found`, if any. */
  readonly declaration?: { readonly kind: 'network' | 'block'; readonly name: string };
}

function ownerText(owner: OpenerOwner): string {
  switch (owner.kind) {
    case 'network':
    case 'block':
      return `${owner.kind} ${quote(owner.name)}`;
    case 'repeat':
      return 'the repeat body';
    case 'list':
      return 'the list';
    case 'group':
      return "the '('";
    case 'braces':
      return "the '{'";
    case 'call':
      return `the call to ${quote(owner.name)}`;
    case 'params':
      return `the parameters of block ${quote(owner.name)}`;
    case 'options':
      return `the options of network ${quote(owner.name)}`;
  }
}

const closerOf: Readonly<Record<string, string>> = {
  RCurly: '}',
  RParen: ')',
  RBracket: ']',
};

function isEof(token: IToken): boolean {
  return token.tokenType.name === 'EOF';
}

/** Tokens that can end an expression. */
const valueEnds = new Set([
  'Identifier',
  'NumberLiteral',
  'MalformedNumber',
  'StringLiteral',
  'UnterminatedString',
  'SingleQuotedString',
  'True',
  'False',
  'Question',
  'RParen',
  'RBracket',
]);

/** A token that stands for itself after "after": `','`, `'relu'`, `'return'`. */
function describePrevious(token: IToken): string {
  return quote(shorten(token.image));
}

/** "expected '}' to close network 'mnist' opened at line 3" and its variants. */
function missingCloser(closer: string, facts: ParseErrorFacts): string {
  const { found, opener, previous } = facts;
  const foundName = found.tokenType.name;
  const where = opener ? ` ${ownerText(opener.owner)} opened at line ${opener.line}` : '';
  const foundText = isEof(found) ? '' : `, found ${describeToken(found)}`;
  if (closer === '}') {
    if (isEof(found)) return `expected '}' to close${where || " the '{'"}`;
    if (foundName === 'RParen' || foundName === 'RBracket') {
      const open = foundName === 'RParen' ? '(' : '[';
      return `unexpected '${found.image}': there is no open '${open}' to close`;
    }
    // Something right after a value on the same line: most likely a missing operator or arrow.
    if (
      previous &&
      valueEnds.has(previous.tokenType.name) &&
      previous.endLine === found.startLine
    ) {
      return `expected an operator or '->' after ${describePrevious(previous)}${foundText}`;
    }
    if (foundName === 'Identifier') {
      const forms = 'statements are NAME = EXPR, input, output, repeat and return';
      return `expected a statement, found ${describeToken(found)} (${forms})`;
    }
    const hint = keywordHint(found, facts.next);
    return `expected a statement or '}' to close${where || " the '{'"}${foundText}${hint}`;
  }
  if (opener === undefined) return `expected '${closer}'${foundText}`;
  if (isEof(found)) return `expected '${closer}' to close${where}`;
  // Right after the opening bracket: an item was expected.
  const openerName = previous?.tokenType.name;
  if (openerName === 'LParen' || openerName === 'LBracket') {
    return `expected an expression or '${closer}' after '${previous?.image}'${foundText}`;
  }
  // After an item of a comma-separated list, a ',' could also have come.
  if (opener.owner.kind === 'group')
    return (
      `expected '${closer}' to close${where}${foundText}` +
      (foundName === 'Comma' ? "; netc writes Python's tuples as lists: [3, 3], not (3, 3)" : '')
    );
  return `expected ',' or '${closer}' in${where}${foundText}`;
}

function expectedName(facts: ParseErrorFacts): string {
  const found = `found ${describeToken(facts.found)}${keywordHint(facts.found, facts.next)}`;
  const prev = facts.previous?.image;
  switch (facts.rule) {
    case 'network':
    case 'block':
    case 'inputStmt':
    case 'outputStmt':
      return `expected a name after '${prev ?? facts.rule}', ${found}`;
    case 'param':
      return `expected a parameter name, ${found}`;
    case 'call':
      return `expected a layer or block name after '->', ${found}`;
    default:
      return `expected a name, ${found}`;
  }
}

function expectedExpression(facts: ParseErrorFacts): string {
  const { found, previous } = facts;
  const after = previous ? ` after ${describePrevious(previous)}` : '';
  const hint = keywordHint(found, facts.next);
  return `expected an expression${after}, found ${describeToken(found)}${hint}`;
}

function unexpectedAtTopLevel(found: IToken, next: IToken | undefined): string {
  if (found.tokenType.name === 'RCurly') return "unexpected '}': there is no open '{' to close";
  const statementLike =
    ['Input', 'Output', 'Repeat', 'Return'].includes(found.tokenType.name) ||
    (found.tokenType.name === 'Identifier' && next?.tokenType.name === 'Equals');
  const hint = statementLike ? ' (statements belong inside a network or block)' : '';
  return `expected 'network' or 'block', found ${describeToken(found)}${hint}`;
}

/** A mistake the parser accepts, so that parsing goes on undisturbed, and reports. */
export type MisuseKind = 'keywordAsName' | 'equalsForNamedArg' | 'colonForDefault';

/** The message for a mistake the parser accepted. */
export function misuseMessage(kind: MisuseKind, token: IToken): string {
  switch (kind) {
    case 'keywordAsName':
      return `'${token.image}' is a keyword and cannot be used as a name`;
    case 'equalsForNamedArg':
      return "named arguments use ':', not '=' (as in 'padding: same')";
    case 'colonForDefault':
      return "parameter defaults use '=', not ':' (as in 'strides = 2')";
  }
}

/** The message for one parse error. */
export function parseErrorMessage(facts: ParseErrorFacts): string {
  const { kind, rule, expected, found, previous, declaration } = facts;
  if (kind === 'NotAllInputParsedException' || (expected === 'EOF' && rule === 'file')) {
    return unexpectedAtTopLevel(found, facts.next);
  }
  if (kind === 'NoViableAltException' && (rule === 'operand' || rule === 'arg')) {
    return expectedExpression(facts);
  }
  if (kind === 'NoViableAltException' && rule === 'call') {
    const hint = keywordHint(found, facts.next);
    return `expected a layer or block name after '->', found ${describeToken(found)}${hint}`;
  }
  if (kind === 'MismatchedTokenException' && expected !== undefined) {
    const closer = closerOf[expected];
    if (closer !== undefined) return missingCloser(closer, facts);
    const foundText = `found ${describeToken(found)}`;
    switch (expected) {
      case 'Identifier':
        return expectedName(facts);
      case 'Colon':
        if (rule === 'inputStmt' && previous !== undefined) {
          return `missing ':' after input name ${quote(previous.image)}`;
        }
        break;
      case 'LCurly':
        if (facts.parentRule === 'repeatStmt') {
          return `expected '{' after the repeat count, ${foundText}`;
        }
        if (declaration !== undefined) {
          const what = `${declaration.kind} ${quote(declaration.name)}`;
          return `expected '{' to start the body of ${what}, ${foundText}`;
        }
        break;
      case 'LParen':
        if (rule === 'block' && previous !== undefined) {
          const name = quote(previous.image);
          return `expected '(' and the parameters after block name ${name}, ${foundText}`;
        }
        break;
    }
    return `expected ${describeTokenType(expected)}, ${foundText}`;
  }
  return `unexpected ${describeToken(found)}`;
}
