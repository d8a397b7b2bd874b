// The .net lexer: Chevrotain token types, and `lex`, which turns text into tokens and issues.
import { createToken, Lexer } from 'chevrotain';
import type { IToken, TokenType } from 'chevrotain';
import type { Span, SyntaxIssue } from './ast.js';
import * as msg from './messages.js';

// --- Skipped ---------------------------------------------------------------------------------

export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  pattern: /[ \t\r\n\f\v\u00a0\ufeff]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});

export const Comment = createToken({
  name: 'Comment',
  pattern: /(?:#|\/\/)[^\r\n]*/,
  group: Lexer.SKIPPED,
});

// --- Literals --------------------------------------------------------------------------------

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /"(?:[^"\\\r\n]|\\.)*"/,
});

/** A string missing its closing quote before the end of the line; parsed as a string, reported. */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\\r\n]|\\.)*\\?/,
  categories: [StringLiteral],
});

/** `'text'`: parsed as a string so the rest of the line makes sense, reported. */
export const SingleQuotedString = createToken({
  name: 'SingleQuotedString',
  pattern: /'(?:[^'\\\r\n]|\\.)*'?/,
  categories: [StringLiteral],
});

export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/,
});

/** A number that runs on (`1e`, `1.2.3`, `8x`): parsed as a number, and reported. */
export const MalformedNumber = createToken({
  name: 'MalformedNumber',
  pattern: /(?:\d|\.\d)[A-Za-z0-9_.]*/,
  categories: [NumberLiteral],
});
// NOTE: set after creation because MalformedNumber needs NumberLiteral as its category first.
NumberLiteral.LONGER_ALT = MalformedNumber;

// --- Keywords --------------------------------------------------------------------------------

/** Category of the statement and declaration keywords (not `true`, `false`: they are values). */
export const Keyword = createToken({ name: 'Keyword', pattern: Lexer.NA });

function keyword(name: string, word: string, categories: TokenType[] = [Keyword]): TokenType {
  return createToken({ name, pattern: new RegExp(word), longer_alt: Identifier, categories });
}

export const Network = keyword('Network', 'network');
export const Block = keyword('Block', 'block');
export const Input = keyword('Input', 'input');
export const Output = keyword('Output', 'output');
export const Repeat = keyword('Repeat', 'repeat');
export const Return = keyword('Return', 'return');
export const True = keyword('True', 'true', []);
export const False = keyword('False', 'false', []);

// --- Punctuation -----------------------------------------------------------------------------

/** Category of the four arithmetic operators. */
export const BinaryOperator = createToken({ name: 'BinaryOperator', pattern: Lexer.NA });
/** Category of the prefix operators `+` and `-`. */
export const SignOperator = createToken({ name: 'SignOperator', pattern: Lexer.NA });

export const Arrow = createToken({ name: 'Arrow', pattern: /->/ });
export const Plus = createToken({
  name: 'Plus',
  pattern: /\+/,
  categories: [BinaryOperator, SignOperator],
});
export const Minus = createToken({
  name: 'Minus',
  pattern: /-/,
  categories: [BinaryOperator, SignOperator],
});
export const Star = createToken({ name: 'Star', pattern: /\*/, categories: [BinaryOperator] });
export const Slash = createToken({ name: 'Slash', pattern: /\//, categories: [BinaryOperator] });
export const LCurly = createToken({ name: 'LCurly', pattern: /\{/ });
export const RCurly = createToken({ name: 'RCurly', pattern: /\}/ });
export const LParen = createToken({ name: 'LParen', pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', pattern: /\)/ });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/ });
export const Comma = createToken({ name: 'Comma', pattern: /,/ });
export const Colon = createToken({ name: 'Colon', pattern: /:/ });
export const Equals = createToken({ name: 'Equals', pattern: /=/ });
export const Question = createToken({ name: 'Question', pattern: /\?/ });

/** Every token type, in matching order (first match wins, except where `longer_alt` says). */
export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  StringLiteral,
  UnterminatedString,
  SingleQuotedString,
  NumberLiteral,
  MalformedNumber,
  Network,
  Block,
  Input,
  Output,
  Repeat,
  Return,
  True,
  False,
  Identifier,
  Arrow,
  Plus,
  Minus,
  Star,
  Slash,
  LCurly,
  RCurly,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Equals,
  Question,
  BinaryOperator,
  SignOperator,
  Keyword,
];

const lexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: true });

// --- Spans -----------------------------------------------------------------------------------

/** The span of one real token (not one inserted by error recovery). */
export function tokenSpan(token: IToken): Span {
  return {
    start: token.startOffset,
    end: (token.endOffset ?? token.startOffset) + 1,
    line: token.startLine ?? 1,
    col: token.startColumn ?? 1,
  };
}

/** True for a token that is really in the text (error recovery may insert virtual ones). */
export function isRealToken(token: IToken | undefined): token is IToken {
  return token !== undefined && token.isInsertedInRecovery !== true && !isNaN(token.startOffset);
}

/** The empty span at the end of the text, where "end of file" errors point. */
export function endOfTextSpan(text: string): Span {
  // NOTE: counts line breaks the way Chevrotain does (\n, \r\n and a lone \r).
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { start: text.length, end: text.length, line, col: text.length - lineStart + 1 };
}

// --- Lexing ----------------------------------------------------------------------------------

export interface LexResult {
  /** Tokens without whitespace and comments; a string token's `payload` is its decoded value. */
  readonly tokens: IToken[];
  readonly errors: SyntaxIssue[];
}

/** Splits `text` into tokens. Never throws; bad characters are reported and skipped. */
export function lex(text: string): LexResult {
  const result = lexer.tokenize(text);
  const errors: SyntaxIssue[] = result.errors.map((e) => {
    const bad = text.slice(e.offset, e.offset + e.length);
    return {
      message: msg.unexpectedCharacters(bad),
      span: {
        start: e.offset,
        end: e.offset + e.length,
        line: e.line ?? 1,
        col: e.column ?? 1,
      },
    };
  });
  for (const token of result.tokens) {
    switch (token.tokenType) {
      case StringLiteral:
        token.payload = decodeString(token, token.image.slice(1, -1), errors);
        break;
      case UnterminatedString:
        errors.push({ message: msg.unterminatedString(), span: tokenSpan(token) });
        token.payload = decodeString(token, token.image.slice(1), errors);
        break;
      case SingleQuotedString: {
        errors.push({ message: msg.singleQuotedString(token.image), span: tokenSpan(token) });
        const closed = token.image.length > 1 && token.image.endsWith("'");
        token.payload = decodeString(token, token.image.slice(1, closed ? -1 : undefined), errors);
        break;
      }
      case MalformedNumber:
        errors.push({ message: msg.malformedNumber(token.image), span: tokenSpan(token) });
        break;
    }
  }
  return { tokens: result.tokens, errors };
}

const simpleEscapes: Readonly<Record<string, string>> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  '/': '/',
  n: '\n',
  t: '\t',
  r: '\r',
};

/** Decodes a string body's escapes; reports bad ones and keeps them as written. */
function decodeString(token: IToken, body: string, errors: SyntaxIssue[]): string {
  if (!body.includes('\\')) return body;
  let out = '';
  // The body starts one character after the token (the opening quote).
  const bodyStart = token.startOffset + 1;
  for (let i = 0; i < body.length; i++) {
    const c = body.charAt(i);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = body.charAt(i + 1);
    const simple = simpleEscapes[next];
    if (simple !== undefined) {
      out += simple;
      i++;
    } else if (next === 'u' && /^[0-9A-Fa-f]{4}$/.test(body.slice(i + 2, i + 6))) {
      out += String.fromCharCode(parseInt(body.slice(i + 2, i + 6), 16));
      i += 5;
    } else if (next === '') {
      // A backslash ending an unterminated string: that error is reported already.
      out += c;
    } else {
      const hexDigits = /^[0-9A-Fa-f]*/.exec(body.slice(i + 2, i + 6))?.[0] ?? '';
      const written = next === 'u' ? `\\u${hexDigits}` : body.slice(i, i + 2);
      const start = bodyStart + i;
      errors.push({
        message: next === 'u' ? msg.badUnicodeEscape(written) : msg.badEscape(written),
        span: {
          start,
          end: start + written.length,
          line: token.startLine ?? 1,
          col: (token.startColumn ?? 1) + 1 + i,
        },
      });
      out += written;
      i += written.length - 1;
    }
  }
  return out;
}
