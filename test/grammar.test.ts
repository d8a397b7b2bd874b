// Grammar tests: the lexer and parser on valid programs, spans, and syntax errors with recovery.
import { describe, expect, it } from 'vitest';
import type { Arg, Expr, Item, Program, Stmt, SyntaxIssue } from '../grammar/ast.js';
import { MAX_NESTING, MAX_PARSE_ERRORS, parse } from '../grammar/index.js';

// ------------------------------------------------------------------------------------ helpers

/** A compact, readable rendering of the tree: `(-> x (conv2d 8 padding:same) relu)`. */
function show(node: Expr | Stmt | Item): string {
  switch (node.kind) {
    case 'number':
      return node.raw;
    case 'string':
      return JSON.stringify(node.value);
    case 'bool':
      return String(node.value);
    case 'name':
      return node.name;
    case 'placeholder':
      return '?';
    case 'list':
      return `[${node.items.map(show).join(' ')}]`;
    case 'call':
      return node.hasParens
        ? `(${[node.callee.text, ...node.args.map(showArg)].join(' ')})`
        : node.callee.text;
    case 'chain':
      return `(-> ${[node.head, ...node.calls].map(show).join(' ')})`;
    case 'binary':
      return `(${node.op} ${show(node.left)} ${show(node.right)})`;
    case 'unary':
      return `(${node.op}${show(node.operand)})`;
    case 'input':
      return `input ${node.name.text}: ${show(node.shape)}`;
    case 'assign':
      return `${node.name.text} = ${show(node.value)}`;
    case 'output':
      return `output ${node.name.text}${node.value ? ` = ${show(node.value)}` : ''}`;
    case 'return':
      return `return ${show(node.value)}`;
    case 'repeat':
      return `repeat ${show(node.count)} { ${node.body.map(show).join('; ')} }`;
    case 'network': {
      const options = node.options.length ? `(${node.options.map(showArg).join(', ')})` : '';
      return `network ${node.name.text}${options} { ${node.body.map(show).join('; ')} }`;
    }
    case 'block': {
      const params = node.params.map((p) => p.name.text + (p.default ? `=${show(p.default)}` : ''));
      return `block ${node.name.text}(${params.join(', ')}) { ${node.body.map(show).join('; ')} }`;
    }
  }
}

function showArg(arg: Arg): string {
  return (arg.name ? `${arg.name.text}:` : '') + show(arg.value);
}

/** Parses text that must be free of errors. */
function ok(text: string): Program {
  const result = parse(text);
  expect(result.errors).toEqual([]);
  return result.program;
}

/** The statements of the single network or block in `text`, rendered. */
function body(text: string): string[] {
  const item = ok(text).items[0];
  if (item === undefined) throw new Error('no declaration');
  return item.body.map(show);
}

/** Renders the value of `x = EXPR` inside a network. */
function expr(source: string): string {
  const [first] = body(`network n {\n  x = ${source}\n}`);
  return first?.replace(/^x = /, '') ?? '';
}

/** Errors as `LINE:COL message`. */
function errors(text: string): string[] {
  return parse(text).errors.map((e) => `${e.span.line}:${e.span.col} ${e.message}`);
}

/** The source text a span covers. */
function slice(text: string, span: { start: number; end: number }): string {
  return text.slice(span.start, span.end);
}

/** A small seeded random generator, so garbage tests are reproducible. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const mnist = `# examples/mnist.net
network mnist {
  input image: [28, 28, 1]          # height, width, channels; the batch is implicit

  x = image
    -> conv2d(32, 5, padding: same, activation: relu)
    -> max_pooling2d(2)
    -> conv2d(64, 5, strides: 2, padding: same, activation: relu)
    -> flatten
    -> dense(128, activation: relu)
  output probs = x -> dense(10) -> softmax
}
`;

const resnet = `# a reusable block with parameters, as in ResNet-50's conv_block
block conv_block(x, f1, f2, f3, strides = 2) {
  y = x -> conv2d(f1, 1, strides: strides) -> batch_normalization -> relu
        -> conv2d(f2, 3, padding: same) -> batch_normalization -> relu
        -> conv2d(f3, 1) -> batch_normalization
  shortcut = x -> conv2d(f3, 1, strides: strides) -> batch_normalization
  return relu(add(y, shortcut))
}

block identity_block(x, f1, f2, f3) {
  y = x -> conv2d(f1, 1) -> batch_normalization -> relu
  return relu(add(y, x))
}

network resnet50 {
  input image: [224, 224, 3]
  x = image -> zero_padding2d(3) -> conv2d(64, 7, strides: 2) -> batch_normalization -> relu
            -> zero_padding2d(1) -> max_pooling2d(3, strides: 2)
  x = conv_block(x, 64, 64, 256, strides: 1)
  repeat 2 { x = identity_block(x, 64, 64, 256) }
  output probs = x -> global_average_pooling2d -> dense(1000, activation: softmax)
}
`;

// ------------------------------------------------------------------------------ valid programs

describe('valid programs', () => {
  it('parses the mnist example of the spec', () => {
    expect(body(mnist)).toEqual([
      'input image: [28 28 1]',
      'x = (-> image (conv2d 32 5 padding:same activation:relu) (max_pooling2d 2)' +
        ' (conv2d 64 5 strides:2 padding:same activation:relu) flatten' +
        ' (dense 128 activation:relu))',
      'output probs = (-> x (dense 10) softmax)',
    ]);
  });

  it('parses the resnet example of the spec, blocks and network in source order', () => {
    const program = ok(resnet);
    expect(program.items.map((i) => `${i.kind} ${i.name.text}`)).toEqual([
      'block conv_block',
      'block identity_block',
      'network resnet50',
    ]);
    expect(program.items.map(show)).toEqual([
      'block conv_block(x, f1, f2, f3, strides=2) { ' +
        'y = (-> x (conv2d f1 1 strides:strides) batch_normalization relu' +
        ' (conv2d f2 3 padding:same)' +
        ' batch_normalization relu (conv2d f3 1) batch_normalization); ' +
        'shortcut = (-> x (conv2d f3 1 strides:strides) batch_normalization); ' +
        'return (relu (add y shortcut)) }',
      'block identity_block(x, f1, f2, f3) { ' +
        'y = (-> x (conv2d f1 1) batch_normalization relu); return (relu (add y x)) }',
      'network resnet50 { input image: [224 224 3]; ' +
        'x = (-> image (zero_padding2d 3) (conv2d 64 7 strides:2) batch_normalization relu' +
        ' (zero_padding2d 1) (max_pooling2d 3 strides:2)); ' +
        'x = (conv_block x 64 64 256 strides:1); ' +
        'repeat 2 { x = (identity_block x 64 64 256) }; ' +
        'output probs = (-> x global_average_pooling2d (dense 1000 activation:softmax)) }',
    ]);
  });

  it('parses an empty file, comments only, and empty declarations', () => {
    expect(ok('').items).toEqual([]);
    expect(ok('# nothing\n// at all\n').items).toEqual([]);
    expect(ok('network n {}\nblock b() {}').items.map(show)).toEqual([
      'network n {  }',
      'block b() {  }',
    ]);
  });

  it('parses network options', () => {
    const program = ok('network n(data_format: channels_first, batch: 8) { input x: [3, 8, 8] }');
    expect(program.items.map(show)).toEqual([
      'network n(data_format:channels_first, batch:8) { input x: [3 8 8] }',
    ]);
  });

  it('parses block parameters with defaults', () => {
    expect(ok('block b(x, f = 2 * 8, act = relu) { return x }').items.map(show)).toEqual([
      'block b(x, f=(* 2 8), act=relu) { return x }',
    ]);
  });

  it('parses repeat, nested', () => {
    expect(body('network n { repeat 2 { x = f(x) repeat n * 2 { x = g(x) } } }')).toEqual([
      'repeat 2 { x = (f x); repeat (* n 2) { x = (g x) } }',
    ]);
  });

  it('tells calls with parentheses from bare ones', () => {
    const [stmt] = ok('network n { y = x -> flatten -> flatten() -> relu }').items[0]?.body ?? [];
    expect(stmt?.kind).toBe('assign');
    const chain = stmt?.kind === 'assign' ? stmt.value : undefined;
    expect(chain?.kind).toBe('chain');
    if (chain?.kind !== 'chain') return;
    expect(chain.calls.map((c) => [c.callee.text, c.hasParens, c.args.length])).toEqual([
      ['flatten', false, 0],
      ['flatten', true, 0],
      ['relu', false, 0],
    ]);
    // A bare name outside a chain is a name, not a call.
    expect(ok('network n { y = relu }').items[0]?.body[0]).toMatchObject({
      value: { kind: 'name', name: 'relu' },
    });
  });

  it('parses positional and named arguments', () => {
    expect(expr('conv2d(8, 3, strides: [2, 2], padding: same, use_bias: false)')).toBe(
      '(conv2d 8 3 strides:[2 2] padding:same use_bias:false)',
    );
    expect(expr('add(a, b)')).toBe('(add a b)');
    expect(expr('f()')).toBe('(f)');
  });

  it('applies arithmetic precedence and associativity', () => {
    expect(expr('1 + 2 * 3')).toBe('(+ 1 (* 2 3))');
    expect(expr('(1 + 2) * 3')).toBe('(* (+ 1 2) 3)');
    expect(expr('8 - 4 - 2')).toBe('(- (- 8 4) 2)');
    expect(expr('8 / 4 / 2')).toBe('(/ (/ 8 4) 2)');
    expect(expr('1 - 2 * 3 + 4 / 5')).toBe('(+ (- 1 (* 2 3)) (/ 4 5))');
    expect(expr('-f * 2')).toBe('(* (-f) 2)');
    expect(expr('- -1 + +2')).toBe('(+ (-(-1)) (+2))');
    expect(expr('a * 2 -> f')).toBe('(-> (* a 2) f)');
  });

  it('parses numbers', () => {
    const numbers = ok('network n { x = [8, 8.0, 1e-3, 2.5E+2, .5, 0] }').items[0]?.body[0];
    expect(numbers).toMatchObject({
      value: {
        kind: 'list',
        items: [
          { kind: 'number', value: 8, isIntLiteral: true, raw: '8' },
          { kind: 'number', value: 8, isIntLiteral: false, raw: '8.0' },
          { kind: 'number', value: 0.001, isIntLiteral: false },
          { kind: 'number', value: 250, isIntLiteral: false },
          { kind: 'number', value: 0.5, isIntLiteral: false },
          { kind: 'number', value: 0, isIntLiteral: true },
        ],
      },
    });
  });

  it('parses nested and empty lists, and batch placeholders', () => {
    expect(expr('[[1, 2], [0, 3]]')).toBe('[[1 2] [0 3]]');
    expect(expr('[]')).toBe('[]');
    expect(body('network n { input x: [None, ?, -1, 28] }')).toEqual(['input x: [None ? (-1) 28]']);
  });

  it('decodes strings with escapes', () => {
    expect(expr('"conv1"')).toBe('"conv1"');
    const [stmt] = ok(String.raw`network n { x = "a\"b\\c\nd\te\u0041\/" }`).items[0]?.body ?? [];
    expect(stmt).toMatchObject({ value: { kind: 'string', value: 'a"b\\c\nd\teA/' } });
  });

  it('parses booleans', () => {
    expect(expr('f(use_bias: true, center: false)')).toBe('(f use_bias:true center:false)');
  });

  it('skips comments of both kinds, and whitespace of any kind', () => {
    const text = '# one\nnetwork n { // two\r\n\tx = 1 # three\r\n  // four\n}\n// five';
    expect(body(text)).toEqual(['x = 1']);
  });

  it('keeps keywords apart from names that start with them', () => {
    expect(body('network network_a { inputs = 1\n output_x = inputs\n output output_x }')).toEqual([
      'inputs = 1',
      'output_x = inputs',
      'output output_x',
    ]);
    expect(ok('network network_a {}').items[0]?.name.text).toBe('network_a');
  });

  it('separates statements by structure alone', () => {
    expect(body('network n {\n  x = a -> relu\n  y = x\n}')).toEqual(['x = (-> a relu)', 'y = x']);
    expect(body('network n { output y x = 1 output z = x }')).toEqual([
      'output y',
      'x = 1',
      'output z = x',
    ]);
    expect(body('network n { x = a * 2\n y = -1 input i: [1] return x }')).toEqual([
      'x = (* a 2)',
      'y = (-1)',
      'input i: [1]',
      'return x',
    ]);
  });

  it('lets chains span lines', () => {
    expect(body('network n {\n  y = x\n    -> relu\n    -> f(1)\n  z = y\n}')).toEqual([
      'y = (-> x relu (f 1))',
      'z = y',
    ]);
  });

  it('parses chains inside arguments', () => {
    expect(expr('add(x -> relu, y -> f(2))')).toBe('(add (-> x relu) (-> y (f 2)))');
  });
});

// ------------------------------------------------------------------------------------- spans

describe('spans', () => {
  const text = [
    'network mnist {', // line 1
    '  input image: [28, 28, 1]', // line 2
    '  x = image -> conv2d(32, 5, padding: same) -> relu', // line 3
    '  output probs = x', // line 4
    '}', // line 5
  ].join('\n');
  const program = ok(text);
  const network = program.items[0];
  if (network?.kind !== 'network') throw new Error('expected a network');
  const [input, assign, output] = network.body;

  it('covers a declaration from its keyword to its closing brace', () => {
    expect(network.span).toEqual({ start: 0, end: text.length, line: 1, col: 1 });
    expect(network.name.span).toMatchObject({ line: 1, col: 9 });
    expect(slice(text, network.name.span)).toBe('mnist');
  });

  it('covers whole statements', () => {
    expect(input?.span).toMatchObject({ line: 2, col: 3 });
    expect(slice(text, input!.span)).toBe('input image: [28, 28, 1]');
    expect(slice(text, assign!.span)).toBe('x = image -> conv2d(32, 5, padding: same) -> relu');
    expect(slice(text, output!.span)).toBe('output probs = x');
    expect(output?.span).toMatchObject({ line: 4, col: 3 });
  });

  it('covers expressions: names, calls through their parenthesis, arguments, chains', () => {
    if (assign?.kind !== 'assign' || assign.value.kind !== 'chain') throw new Error('chain');
    const chain = assign.value;
    expect(chain.head).toMatchObject({ kind: 'name', span: { line: 3, col: 7 } });
    expect(slice(text, chain.head.span)).toBe('image');
    const [conv, relu] = chain.calls;
    expect(slice(text, conv!.span)).toBe('conv2d(32, 5, padding: same)');
    expect(conv?.span).toMatchObject({ line: 3, col: 16 });
    expect(slice(text, conv!.callee.span)).toBe('conv2d');
    expect(conv!.args.map((a) => slice(text, a.span))).toEqual(['32', '5', 'padding: same']);
    expect(slice(text, conv!.args[2]!.value.span)).toBe('same');
    expect(conv!.args[2]!.value.span).toMatchObject({ line: 3, col: 39 });
    expect(slice(text, relu!.span)).toBe('relu');
    expect(slice(text, chain.span)).toBe('image -> conv2d(32, 5, padding: same) -> relu');
  });

  it('covers lists, binary and unary expressions, parentheses and strings', () => {
    const source = 'network n { x = [(1 + 2) * -3, "a\\"b"] }';
    const stmt = ok(source).items[0]?.body[0];
    if (stmt?.kind !== 'assign' || stmt.value.kind !== 'list') throw new Error('list');
    const [product, str] = stmt.value.items;
    expect(slice(source, stmt.value.span)).toBe('[(1 + 2) * -3, "a\\"b"]');
    expect(slice(source, product!.span)).toBe('(1 + 2) * -3');
    if (product?.kind !== 'binary') throw new Error('binary');
    expect(slice(source, product.left.span)).toBe('(1 + 2)');
    expect(slice(source, product.right.span)).toBe('-3');
    expect(slice(source, str!.span)).toBe('"a\\"b"');
  });

  it('covers block parameters with their defaults', () => {
    const source = 'block b(x, strides = 2) {\n  return x\n}';
    const block = ok(source).items[0];
    if (block?.kind !== 'block') throw new Error('block');
    expect(block.params.map((p) => slice(source, p.span))).toEqual(['x', 'strides = 2']);
    expect(block.body[0]?.span).toMatchObject({ line: 2, col: 3 });
  });

  it('counts columns and lines across CRLF line breaks and tabs', () => {
    const source = 'network n {\r\n\tx = 1\r\n\ty = 2\r\n}';
    const [x, y] = ok(source).items[0]?.body ?? [];
    expect(x?.span).toMatchObject({ line: 2, col: 2 });
    expect(y?.span).toMatchObject({ line: 3, col: 2 });
    expect(slice(source, y!.span)).toBe('y = 2');
  });
});

// ------------------------------------------------------------------------------ syntax errors

describe('syntax errors', () => {
  it('reports a doubled comma on its line and keeps the rest of the call', () => {
    const text = 'network n {\n  x = conv2d(8, 3,, padding: same)\n  y = x\n}';
    const result = parse(text);
    expect(errors(text)).toEqual(["2:19 expected an expression after ',', found ','"]);
    expect(result.program.items.map(show)).toEqual([
      'network n { x = (conv2d 8 3 padding:same); y = x }',
    ]);
  });

  it('reports two independent errors in one run', () => {
    const text = [
      'network n {',
      '  a = conv2d(8 3)',
      '  b = a -> relu',
      '  c = [1, 2',
      '  output c',
      '}',
    ].join('\n');
    expect(errors(text)).toEqual([
      "2:16 expected ',' or ')' in the call to 'conv2d' opened at line 2, found number 3",
      "5:3 expected ',' or ']' in the list opened at line 4, found keyword 'output'",
    ]);
    // Recovery keeps the statements around the errors.
    expect(parse(text).program.items[0]?.body.map(show)).toEqual([
      'a = (conv2d 8)',
      'b = (-> a relu)',
      'c = [1 2]',
      'output c',
    ]);
  });

  it('reports errors in different declarations', () => {
    const text = 'network a { x = (1 + }\nblock b(x) { return x -> }\nnetwork c { input i [1] }';
    expect(errors(text)).toEqual([
      "1:22 expected an expression after '+', found '}'",
      "2:26 expected a layer or block name after '->', found '}'",
      "3:21 missing ':' after input name 'i'",
    ]);
  });

  it('reports an unterminated string and goes on', () => {
    const text = 'network n {\n  x = f(name: "conv1)\n  y = 2 @\n}';
    expect(errors(text)).toEqual([
      `2:15 unterminated string: the closing '"' is missing before the end of the line`,
      "3:3 expected ',' or ')' in the call to 'f' opened at line 2, found name 'y'",
      "3:9 unexpected character '@'",
    ]);
  });

  it('reports an unknown character once and parses around it', () => {
    const text = 'network n {\n  x = 1 @ \n  y = $$ 2\n}';
    const result = parse(text);
    expect(errors(text)).toEqual([
      "2:9 unexpected character '@'",
      "3:7 unexpected characters '$$'",
    ]);
    expect(result.errors[1]?.span).toMatchObject({
      start: text.indexOf('$$'),
      end: text.indexOf('$$') + 2,
    });
    expect(result.program.items[0]?.body.map(show)).toEqual(['x = 1', 'y = 2']);
  });

  it('reports a missing closing brace with where it was opened, at the end of the file', () => {
    const text = '# model\n\nnetwork mnist {\n  x = 1\n';
    const result = parse(text);
    expect(errors(text)).toEqual(["5:1 expected '}' to close network 'mnist' opened at line 3"]);
    expect(result.errors[0]?.span).toEqual({
      start: text.length,
      end: text.length,
      line: 5,
      col: 1,
    });
    expect(result.program.items.map(show)).toEqual(['network mnist { x = 1 }']);
    expect(errors('block b(x) {\n  repeat 2 {\n    x = f(x)\n  }')).toEqual([
      "4:4 expected '}' to close block 'b' opened at line 1",
    ]);
  });

  it('describes what was expected in plain words', () => {
    const cases: [string, string][] = [
      ['network n { input image [28, 28] }', "1:25 missing ':' after input name 'image'"],
      ['network n { input: [1] }', "1:18 expected a name after 'input', found ':'"],
      ['network { }', "1:9 expected a name after 'network', found '{'"],
      ['network n x = 1', "1:11 expected '{' to start the body of network 'n', found name 'x'"],
      ['block b { }', "1:9 expected '(' and the parameters after block name 'b', found '{'"],
      ['block b(x, 3) { }', '1:12 expected a parameter name, found number 3'],
      ['network n { repeat 2 x = 1 }', "1:22 expected '{' after the repeat count, found name 'x'"],
      ['network n { x = }', "1:17 expected an expression after '=', found '}'"],
      ['network n { return }', "1:20 expected an expression after 'return', found '}'"],
      ['network n { x = f(,) }', "1:19 expected an expression or ')' after '(', found ','"],
      ['network n { x = [1, 2,] }', "1:23 expected an expression after ',', found ']'"],
      [
        'network n { x = (1 2) }',
        "1:20 expected ')' to close the '(' opened at line 1, found number 2",
      ],
      [
        'network n { x = a -> 3 }',
        "1:22 expected a layer or block name after '->', found number 3",
      ],
      [
        'network n { x = f(1) relu }',
        "1:22 expected an operator or '->' after ')', found name 'relu'",
      ],
      ['network n { x = f(1)) }', "1:21 unexpected ')': there is no open '(' to close"],
      ['network n { x = 1 } }', "1:21 unexpected '}': there is no open '{' to close"],
      [
        'network n { x -> relu }',
        "1:13 expected a statement, found name 'x' " +
          '(statements are NAME = EXPR, input, output, repeat and return)',
      ],
      [
        'x = 1\nnetwork n {}',
        "1:1 expected 'network' or 'block', found name 'x' " +
          '(statements belong inside a network or block)',
      ],
      [
        'network n { x = 1; }',
        "1:18 unexpected ';': statements end at the end of the line, no semicolons are needed",
      ],
      ['network n { x = 1e }', "1:17 malformed number '1e'"],
      ['network n { x = 8x }', "1:17 malformed number '8x'"],
      ["network n { x = f(padding: 'same') }", '1:28 strings use double quotes: write "same"'],
      [
        String.raw`network n { x = "a\qb" }`,
        String.raw`1:19 unknown escape '\q' in a string (known: \" \\ \n \t \r \uXXXX)`,
      ],
      [
        String.raw`network n { x = "\u12" }`,
        String.raw`1:18 '\u12' in a string: '\u' must be followed by four hex digits`,
      ],
      [
        'network n { x = café }',
        "1:20 unexpected character 'é' (names use only ASCII letters, digits and '_')",
      ],
      ['network', "1:8 expected a name after 'network', found end of file"],
    ];
    for (const [text, message] of cases) expect(errors(text), text).toEqual([message]);
  });

  it('accepts common slips, reports them, and keeps their meaning', () => {
    const text = 'block b(x, s: 2) { return x }\nnetwork n { x = f(padding = same, axis: input) }';
    const result = parse(text);
    expect(errors(text)).toEqual([
      "1:13 parameter defaults use '=', not ':' (as in 'strides = 2')",
      "2:27 named arguments use ':', not '=' (as in 'padding: same')",
      "2:41 'input' is a keyword and cannot be used as a name",
    ]);
    expect(result.program.items.map(show)).toEqual([
      'block b(x, s=2) { return x }',
      'network n { x = (f padding:same axis:input) }',
    ]);
  });

  it('takes NAME = on a new line after an unclosed call as the next statement', () => {
    const text = 'network n {\n  x = f(1,\n  y = 2\n}';
    expect(errors(text)).toEqual(["3:3 expected an expression after ',', found name 'y'"]);
    expect(parse(text).program.items[0]?.body.map(show)).toEqual(['x = (f 1)', 'y = 2']);
  });

  it('does not let a chain swallow the next statement', () => {
    const text = 'network n {\n  x = a ->\n  y = 2\n}';
    expect(errors(text)).toEqual(["3:3 expected a layer or block name after '->', found name 'y'"]);
    expect(parse(text).program.items[0]?.body.map(show)).toEqual(['x = a', 'y = 2']);
  });

  it('stops after too many errors, and says so', () => {
    const text = `network n {\n${'  x = 1 2\n'.repeat(MAX_PARSE_ERRORS + 50)}}`;
    const result = parse(text);
    expect(result.errors).toHaveLength(MAX_PARSE_ERRORS + 1);
    expect(result.errors.at(-1)?.message).toBe(
      `too many syntax errors: stopped after ${MAX_PARSE_ERRORS}`,
    );
  });
});

// ------------------------------------------------------------------------------- robustness

describe('robustness', () => {
  it(`parses brackets nested ${MAX_NESTING} deep`, () => {
    const n = MAX_NESTING - 1; // the network's braces are one level
    const wrap = (open: string, close: string, inner: string, times = n) =>
      `network n {\n  x = ${open.repeat(times)}${inner}${close.repeat(times)}\n}`;
    for (const text of [
      wrap('(', ')', '1'),
      wrap('[', ']', '1'),
      wrap('f(', ')', '1'),
      wrap('a -> f(', ')', '1'),
      wrap('f(k: [', '])', '1', Math.floor(n / 2)), // alternating '(' and '['
      `network n {\n${'repeat 1 { '.repeat(n)}x = 1${' }'.repeat(n)}\n}`,
    ]) {
      expect(parse(text).errors, text.slice(0, 40)).toEqual([]);
    }
  });

  it('reports nesting too deep instead of overflowing the stack', () => {
    for (const open of ['(', '[', 'f(', '{']) {
      const text = `network n { x = ${open.repeat(10_000)}1 }`;
      const result = parse(text);
      expect(result.errors.map((e) => e.message)).toContain(
        `nesting too deep: more than ${MAX_NESTING} levels of brackets`,
      );
    }
  });

  it('handles long flat expressions without recursion', () => {
    const n = 5_000;
    expect(parse(`network n { x = ${'1 + '.repeat(n)}1 }`).errors).toEqual([]);
    expect(parse(`network n { x = ${'-'.repeat(n)}1 }`).errors).toEqual([]);
    expect(parse(`network n { x = a${' -> relu'.repeat(n)} }`).errors).toEqual([]);
  });

  it('never throws on random garbage, and reports errors with sane spans', () => {
    const words = 'network block input output repeat return true x conv2d 1 2.5 1e "s" "open';
    const symbols = "'q' { } ( ) [ ] , : = -> + - * / ? @ ; \\ \u00e9";
    const pieces = [...words.split(' '), ...symbols.split(' '), '#c\n', '\n', '\0'];
    const next = random(12345);
    for (let i = 0; i < 300; i++) {
      const length = Math.floor(next() * 60);
      let text = '';
      for (let j = 0; j < length; j++) text += pieces[Math.floor(next() * pieces.length)] + ' ';
      const result = parse(text);
      for (const e of result.errors) checkIssue(text, e);
    }
  });

  it('never throws on random characters', () => {
    const next = random(99);
    for (let i = 0; i < 300; i++) {
      const length = Math.floor(next() * 80);
      let text = '';
      for (let j = 0; j < length; j++) text += String.fromCharCode(Math.floor(next() * 128));
      const result = parse(text);
      for (const e of result.errors) checkIssue(text, e);
    }
  });

  it('never throws on every prefix of a valid program', () => {
    for (let i = 0; i <= resnet.length; i += 7) {
      const result = parse(resnet.slice(0, i));
      for (const e of result.errors) checkIssue(resnet.slice(0, i), e);
    }
  });

  it('reuses one parser: a parse after a broken one is clean', () => {
    expect(parse('network n { x = ((( }').errors.length).toBeGreaterThan(0);
    expect(parse(`network n { x = ${'('.repeat(100_000)} }`).errors.length).toBeGreaterThan(0);
    expect(body(mnist)).toHaveLength(3);
  });

  it('parses a 10,000-statement file quickly', () => {
    const lines = ['network big {', '  input image: [28, 28, 1]', '  x = image'];
    for (let i = 0; i < 10_000; i++) {
      lines.push(`  x = x -> conv2d(${(i % 64) + 1}, 3, padding: same) -> relu  # layer ${i}`);
    }
    lines.push('  output y = x', '}');
    const text = lines.join('\n');
    const before = process.cpuUsage();
    const result = parse(text);
    const used = process.cpuUsage(before);
    expect(result.errors).toEqual([]);
    expect(result.program.items[0]?.body).toHaveLength(10_003);
    // NOTE: CPU time, not wall time, so a busy machine does not fail the test. It is typically a
    // few hundred milliseconds; the bound leaves room for a slow machine and a cold start.
    expect((used.user + used.system) / 1000).toBeLessThan(3000);
  });
});

function checkIssue(text: string, issue: SyntaxIssue): void {
  expect(issue.message.length).toBeGreaterThan(0);
  expect(issue.message).not.toMatch(/Exception|Identifier|LCurly|RParen|undefined|NaN/);
  expect(issue.span.start).toBeGreaterThanOrEqual(0);
  expect(issue.span.end).toBeLessThanOrEqual(text.length);
  expect(issue.span.start).toBeLessThanOrEqual(issue.span.end);
  expect(issue.span.line).toBeGreaterThanOrEqual(1);
  expect(issue.span.col).toBeGreaterThanOrEqual(1);
}
