// Layer naming (language.md section 2): Keras counters per kind and scope, block call prefixes,
// explicit names, clashes and the reserved `name` parameter.
import { describe, expect, it } from 'vitest';
import { messages, names, net, oneError } from '../helpers/frontend.js';

const CONV_BLOCK = `
block conv_block(x, f1, f2, f3, strides = 2) {
  y = x -> conv2d(f1, 1, strides: strides) -> batch_normalization -> relu
        -> conv2d(f2, 3, padding: same) -> batch_normalization -> relu
        -> conv2d(f3, 1) -> batch_normalization
  shortcut = x -> conv2d(f3, 1, strides: strides) -> batch_normalization
  return relu(add(y, shortcut))
}
`;

describe('Keras counters per layer kind', () => {
  it('numbers each kind separately, in source order, from the bare kind', () => {
    const src = net(
      [8, 8, 3],
      `  a = x -> conv2d(4, 3) -> relu -> conv2d(4, 3) -> batch_normalization -> relu
  output y = a -> flatten -> dense(10) -> dense(5) -> softmax`,
    );
    expect(names(src)).toEqual([
      'x',
      'conv2d',
      'relu',
      'conv2d_1',
      'batch_normalization',
      'relu_1',
      'flatten',
      'dense',
      'dense_1',
      'softmax',
    ]);
  });

  it('counts layers made by repeat like any others', () => {
    const src = net([8, 8, 3], `  h = x\n  repeat 3 { h = h -> conv2d(3, 1) }\n  output y = h`);
    expect(names(src)).toEqual(['x', 'conv2d', 'conv2d_1', 'conv2d_2']);
  });

  it('names each layer of a call with several tensor inputs once', () => {
    const src = net(
      [4, 4, 2],
      `  output y = concatenate(add(x, x), multiply(x, x, x), add(x, x), axis: -1)`,
    );
    expect(names(src)).toEqual(['x', 'add', 'multiply', 'add_1', 'concatenate']);
  });

  it('does not list the softmax that activation: softmax adds as a layer of its own', () => {
    const src = net([3], `  output y = x -> dense(2, activation: softmax) -> dense(2)`);
    expect(names(src)).toEqual(['x', 'dense', 'dense_1']);
  });
});

describe('block calls open a scope', () => {
  it('prefixes layer names with the call name, counted per block in the enclosing scope', () => {
    const src = `${CONV_BLOCK}
network resnet {
  input image: [16, 16, 3]
  x = conv_block(image, 4, 4, 8)
  x = conv_block(x, 4, 4, 8, strides: 1)
  output y = x
}`;
    const all = names(src);
    // The language description's example: the third conv2d of the second conv_block call.
    expect(all).toContain('conv_block_1/conv2d_2');
    expect(all.filter((n) => n.startsWith('conv_block/'))).toEqual([
      'conv_block/conv2d',
      'conv_block/batch_normalization',
      'conv_block/relu',
      'conv_block/conv2d_1',
      'conv_block/batch_normalization_1',
      'conv_block/relu_1',
      'conv_block/conv2d_2',
      'conv_block/batch_normalization_2',
      'conv_block/conv2d_3',
      'conv_block/batch_normalization_3',
      'conv_block/add',
      'conv_block/relu_2',
    ]);
    expect(all.filter((n) => n.startsWith('conv_block_1/'))).toHaveLength(12);
  });

  it('restarts counters inside a call and leaves the enclosing counters alone', () => {
    const src = `
block b(x) { return x -> conv2d(2, 1) -> conv2d(2, 1) }
network n {
  input x: [4, 4, 2]
  h = x -> conv2d(2, 1) -> b -> conv2d(2, 1)
  output y = h -> b
}`;
    expect(names(src)).toEqual([
      'x',
      'conv2d',
      'b/conv2d',
      'b/conv2d_1',
      'conv2d_1',
      'b_1/conv2d',
      'b_1/conv2d_1',
    ]);
  });

  it('nests prefixes for blocks that call blocks', () => {
    const src = `
block inner(x) { return x -> relu }
block outer(x) {
  y = x -> inner -> inner
  return y -> conv2d(2, 1)
}
network n {
  input x: [4, 4, 2]
  output y = x -> outer -> outer -> inner
}`;
    expect(names(src)).toEqual([
      'x',
      'outer/inner/relu',
      'outer/inner_1/relu',
      'outer/conv2d',
      'outer_1/inner/relu',
      'outer_1/inner_1/relu',
      'outer_1/conv2d',
      'inner/relu',
    ]);
  });

  it('counts calls made by repeat and by the chain form alike', () => {
    const src = `
block bottleneck(x, f, expand = 2) {
  y = x -> conv2d(f, 1) -> relu -> conv2d(f * expand, 3, padding: same)
  return relu(add(x, y))
}
network block_repeat {
  input x: [6, 6, 8]
  h = x -> bottleneck(4)
  repeat 2 { h = bottleneck(h, 2, expand: 4) }
  output y = h -> conv2d(3, 1, name: "head")
}`;
    expect(names(src).filter((n) => n.includes('conv2d') || n === 'head')).toEqual([
      'bottleneck/conv2d',
      'bottleneck/conv2d_1',
      'bottleneck_1/conv2d',
      'bottleneck_1/conv2d_1',
      'bottleneck_2/conv2d',
      'bottleneck_2/conv2d_1',
      'head',
    ]);
  });
});

describe('name: sets a name', () => {
  it('names a layer and uses no counter', () => {
    const src = net(
      [4, 4, 2],
      `  output y = x -> conv2d(2, 1, name: "stem") -> conv2d(2, 1) -> conv2d(2, 1, name: stem2)`,
    );
    expect(names(src)).toEqual(['x', 'stem', 'conv2d', 'stem2']);
  });

  it('names a block call (its prefix) and uses no counter', () => {
    const src = `
block b(x) { return x -> conv2d(2, 1) }
network n {
  input x: [4, 4, 2]
  h = b(x, name: "res2a")
  h = h -> b(name: "res2b") -> b
  output y = h
}`;
    expect(names(src)).toEqual(['x', 'res2a/conv2d', 'res2b/conv2d', 'b/conv2d']);
  });

  it('prefixes an explicit name inside a block with the call name', () => {
    const src = `
block b(x) { return x -> conv2d(2, 1, name: "proj") -> relu }
network n {
  input x: [4, 4, 2]
  output y = x -> b -> b(name: "last")
}`;
    expect(names(src)).toEqual(['x', 'b/proj', 'b/relu', 'last/proj', 'last/relu']);
  });

  it('lets counters skip a name already taken explicitly', () => {
    const src = net(
      [4, 4, 2],
      `  output y = x -> conv2d(2, 1, name: "conv2d_1") -> conv2d(2, 1) -> conv2d(2, 1)`,
    );
    expect(names(src)).toEqual(['x', 'conv2d_1', 'conv2d', 'conv2d_2']);
  });

  it('rejects an empty name and a name with a slash', () => {
    expect(oneError(net([4, 4, 2], `  output y = x -> relu(name: "")`)).text).toMatch(
      /name cannot be empty/,
    );
    const e = oneError(net([4, 4, 2], `  output y = x -> relu(name: "a/b")`));
    expect(e.text).toMatch(/'\/'/);
    expect(e.caret).toBe('"a/b"');
  });

  it('rejects a name that is not a string or a word', () => {
    expect(oneError(net([4, 4, 2], `  output y = x -> relu(name: 3)`)).text).toMatch(
      /name takes a string/,
    );
  });
});

describe('clashes are errors', () => {
  it('two layers with one explicit name', () => {
    const src = net(
      [4, 4, 2],
      `  a = x -> conv2d(2, 1, name: "c")\n  output y = a -> conv2d(2, 1, name: "c")`,
    );
    const e = oneError(src);
    expect(e.text).toMatch(/'c' is already used \(line 3\)/);
    expect(e.at).toBe('4:38');
    expect(e.caret).toBe('"c"');
  });

  it('an explicit name equal to an earlier automatic one', () => {
    const src = net([4, 4, 2], `  output y = x -> relu -> relu(name: "relu")`);
    expect(oneError(src).text).toMatch(/'relu' is already used/);
  });

  it('a layer named like an input', () => {
    const src = net([4, 4, 2], `  output y = x -> relu(name: "x")`);
    expect(oneError(src).text).toMatch(/'x' is already used \(line 2\)/);
  });

  it('two inputs with one name', () => {
    const src = `network n {\n  input x: [2]\n  input x: [3]\n  output y = x\n}`;
    expect(messages(src).join('\n')).toMatch(/input 'x' is declared twice/);
  });

  it('two block calls with one explicit name', () => {
    const src = `
block b(x) { return x -> relu }
network n {
  input x: [4, 4, 2]
  output y = x -> b(name: "u") -> b(name: "u")
}`;
    expect(oneError(src).text).toMatch(/'u' is already used/);
  });

  it('a block call named like an earlier automatic call', () => {
    const src = `
block b(x) { return x -> relu }
network n {
  input x: [4, 4, 2]
  output y = x -> b -> b(name: "b")
}`;
    const e = oneError(src);
    expect(e.text).toMatch(/'b' is already used/);
    expect(e.caret).toBe('"b"');
  });

  it('is reported once per clash and in the same run as other errors', () => {
    const src = net(
      [4, 4, 2],
      `  a = x -> relu(name: "r")\n  b = x -> relu(name: "r")\n  c = x -> relu(name: "r")\n  output y = x -> bogus`,
    );
    const all = messages(src);
    expect(all.filter((m) => m.includes("'r' is already used"))).toHaveLength(2);
    expect(all.some((m) => m.includes("unknown layer or block 'bogus'"))).toBe(true);
  });
});

describe('name is reserved', () => {
  it('cannot be a block parameter', () => {
    const src = `
block b(x, name) { return x -> relu }
network n {
  input x: [4, 4, 2]
  output y = x -> relu
}`;
    const e = oneError(src);
    expect(e.text).toMatch(/'name' is reserved/);
    expect(e.at).toBe('2:12');
    expect(e.caret).toBe('name');
  });

  it('cannot be a defaulted block parameter either', () => {
    const src = `
block b(x, name = 2) { return x -> relu }
network n {
  input x: [4, 4, 2]
  output y = x -> relu
}`;
    expect(oneError(src).text).toMatch(/'name' is reserved/);
  });
});
