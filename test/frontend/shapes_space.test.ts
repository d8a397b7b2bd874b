// Shape rules and diagnostics of the space and layout layers of language.md section 3:
// depth_to_space, space_to_depth, permute, reshape to ranks 1-5, cropping2d, padding2d,
// resizing; in both data formats.
import { describe, expect, it } from 'vitest';
import { graphs, net, oneError, row, shapeOf } from '../helpers/frontend.js';

const cf = '(data_format: channels_first)';

describe('depth_to_space and space_to_depth', () => {
  it('moves b x b blocks between space and channels, dcr by default', () => {
    expect(shapeOf([7, 5, 8], 'depth_to_space(2)')).toEqual([14, 10, 2]);
    expect(shapeOf([3, 4, 18], 'depth_to_space(3, mode: crd)')).toEqual([9, 12, 2]);
    expect(shapeOf([6, 4, 3], 'space_to_depth(2)')).toEqual([3, 2, 12]);
    expect(shapeOf([6, 9, 1], 'space_to_depth(block_size: 3, mode: crd)')).toEqual([2, 3, 9]);
    expect(shapeOf([7, 5, 8], 'depth_to_space(2, crd) -> space_to_depth(2)')).toEqual([7, 5, 8]);
    expect(
      row(net([2, 3, 4], '  output y = x -> depth_to_space(2)'), 'depth_to_space').shape,
    ).toEqual([4, 6, 1]);
  });

  it('in channels_first, shapes read [C, H, W]', () => {
    expect(shapeOf([8, 7, 5], 'depth_to_space(2)', cf)).toEqual([2, 14, 10]);
    expect(shapeOf([3, 6, 4], 'space_to_depth(2, crd)', cf)).toEqual([12, 3, 2]);
  });

  it('reports channels not divisible by block_size squared, naming the input and a fix', () => {
    const e = oneError(net([5, 7, 6], '  output y = x -> depth_to_space(2)'));
    expect(e.text).toMatch(/depth_to_space/);
    expect(e.text).toMatch(/\[5, 7, 6\]/);
    expect(e.text).toMatch(/6 channels/);
    expect(e.text).toMatch(/multiple of 4/);
    expect(e.text).toMatch(/4 or 8 channels/);
  });

  it('reports a height or width that is not a multiple of the block', () => {
    const e = oneError(net([5, 6, 3], '  output y = x -> space_to_depth(2)'));
    expect(e.text).toMatch(/\[5, 6, 3\]/);
    expect(e.text).toMatch(/multiples of 2/);
    expect(e.text).toMatch(/4x6/);
  });

  it('rejects block sizes below 2, unknown modes and rank-1 inputs', () => {
    expect(oneError(net([4, 4, 4], '  output y = x -> depth_to_space(1)')).text).toMatch(
      /at least 2/,
    );
    expect(oneError(net([4, 4, 4], '  output y = x -> depth_to_space(2, mode: cdr)')).text).toMatch(
      /dcr|crd/,
    );
    expect(oneError(net([16], '  output y = x -> depth_to_space(2)')).text).toMatch(/rank 3/);
  });
});

describe('permute and reshape', () => {
  it('permute reorders the per-example axes, 1-based as Keras', () => {
    expect(shapeOf([5, 7, 8], 'permute([3, 1, 2])')).toEqual([8, 5, 7]);
    expect(shapeOf([5, 7, 8], 'permute([2, 1, 3])')).toEqual([7, 5, 8]);
    expect(shapeOf([4, 6], 'permute([2, 1])')).toEqual([6, 4]);
    expect(shapeOf([5, 7, 2, 4], 'permute([1, 2, 4, 3])')).toEqual([5, 7, 4, 2]);
  });

  it('reshape makes ranks 1 to 5, and a channel shuffle is reshape -> permute -> reshape', () => {
    expect(shapeOf([5, 7, 8], 'reshape([5, 7, 2, 4])')).toEqual([5, 7, 2, 4]);
    expect(shapeOf([4, 6, 8], 'reshape([2, 2, 6, 2, 4])')).toEqual([2, 2, 6, 2, 4]);
    expect(
      shapeOf([5, 7, 8], 'reshape([5, 7, 2, 4]) -> permute([1, 2, 4, 3]) -> reshape([5, 7, 8])'),
    ).toEqual([5, 7, 8]);
    expect(shapeOf([5, 7, 8], 'reshape([-1, 8]) -> dense(4)')).toEqual([35, 4]);
  });

  it('reports dims that are not a permutation of the axes', () => {
    for (const dims of ['[1, 2]', '[1, 1, 2]', '[1, 2, 4]']) {
      const e = oneError(net([5, 7, 8], `  output y = x -> permute(${dims})`));
      expect(e.text, dims).toMatch(/each axis 1 to 3/);
      expect(e.text, dims).toMatch(/\[5, 7, 8\]/);
    }
    // 1-based: the batch axis 0 is not a dim.
    expect(oneError(net([5, 7, 8], '  output y = x -> permute([0, 1, 2])')).text).toMatch(
      /at least 1/,
    );
  });

  it('reports a reshape of another element count with both counts, and ranks above 5', () => {
    const e = oneError(
      net([5, 5, 2], '  h = x -> conv2d(4, 1)\n  output y = h -> reshape([4, 4, 6])'),
    );
    expect(e.text).toMatch(/100 elements/);
    expect(e.text).toMatch(/96 elements/);
    const d = oneError(net([5, 5, 4], '  output y = x -> reshape([-1, 7])'));
    expect(d.text).toMatch(/7 elements, which do not divide 100/);
    expect(oneError(net([64], '  output y = x -> reshape([2, 2, 2, 2, 2, 2])')).text).toMatch(
      /rank 6.*1 to 5/,
    );
  });

  it('in channels_first, permute and reshape act on the stored C, H, W layout', () => {
    expect(shapeOf([8, 5, 7], 'permute([2, 3, 1])', cf)).toEqual([5, 7, 8]);
    expect(shapeOf([8, 5, 7], 'reshape([2, 4, 35])', cf)).toEqual([2, 4, 35]);
    const src = net(
      [8, 5, 7],
      '  output y = x -> reshape([2, 4, 5, 7]) -> permute([2, 1, 3, 4]) -> reshape([8, 5, 7]) -> conv2d(3, 1)',
      cf,
    );
    expect(row(src, 'conv2d').shape).toEqual([3, 5, 7]);
  });
});

describe('cropping2d', () => {
  it('crops c, [ch, cw] or [[top, bottom], [left, right]], nothing by default', () => {
    expect(shapeOf([11, 9, 8], 'cropping2d')).toEqual([11, 9, 8]);
    expect(shapeOf([11, 9, 8], 'cropping2d(1)')).toEqual([9, 7, 8]);
    expect(shapeOf([11, 9, 8], 'cropping2d([2, 1])')).toEqual([7, 7, 8]);
    expect(shapeOf([11, 9, 8], 'cropping2d([[1, 0], [0, 1]])')).toEqual([10, 8, 8]);
    expect(shapeOf([8, 11, 9], 'cropping2d([[1, 0], [0, 3]])', cf)).toEqual([8, 10, 6]);
  });

  it('must leave a row and a column: the error names the input and what is removed', () => {
    const e = oneError(net([5, 6, 3], '  output y = x -> cropping2d([[2, 3], [0, 0]])'));
    expect(e.text).toMatch(/cropping2d/);
    expect(e.text).toMatch(/removes 5 rows of the input \[5, 6, 3\]/);
    expect(e.text).toMatch(/at most 4 rows/);
    expect(oneError(net([5, 6, 3], '  output y = x -> cropping2d([0, 3])')).text).toMatch(
      /removes 6 columns/,
    );
    expect(oneError(net([5, 6, 3], '  output y = x -> cropping2d(-1)')).text).toMatch(/negative/);
  });
});

describe('padding2d', () => {
  it('pads as zero_padding2d, any mode and constant', () => {
    expect(shapeOf([3, 4, 2], 'padding2d')).toEqual([5, 6, 2]);
    expect(shapeOf([3, 4, 2], 'padding2d([[2, 0], [1, 3]], mode: edge)')).toEqual([5, 8, 2]);
    expect(shapeOf([3, 4, 2], 'padding2d(5, mode: reflect)')).toEqual([13, 14, 2]);
    expect(shapeOf([3, 4, 2], 'padding2d(2, symmetric)')).toEqual([7, 8, 2]);
    expect(shapeOf([3, 4, 2], 'padding2d(2, constant_value: -1.5)')).toEqual([7, 8, 2]);
    expect(shapeOf([2, 3, 4], 'padding2d([1, 2], mode: reflect)', cf)).toEqual([2, 5, 8]);
  });

  it('rejects unknown modes and a constant_value with another mode', () => {
    expect(oneError(net([3, 4, 2], '  output y = x -> padding2d(1, mode: wrap)')).text).toMatch(
      /reflect/,
    );
    expect(
      oneError(net([3, 4, 2], '  output y = x -> padding2d(1, mode: edge, constant_value: 1)'))
        .text,
    ).toMatch(/constant_value applies to mode constant only/);
  });
});

describe('resizing', () => {
  it('resizes to height x width, keeping the channels', () => {
    expect(shapeOf([5, 7, 3], 'resizing(8, 4)')).toEqual([8, 4, 3]);
    expect(shapeOf([5, 7, 3], 'resizing(3, 11, nearest, coordinates: asymmetric)')).toEqual([
      3, 11, 3,
    ]);
    expect(shapeOf([5, 7, 3], 'resizing(4, 4, crop_to_aspect_ratio: true)')).toEqual([4, 4, 3]);
    expect(shapeOf([3, 5, 7], 'resizing(8, 4)', cf)).toEqual([3, 8, 4]);
  });

  it('rejects sizes below 1 and unknown coordinates and interpolations', () => {
    expect(oneError(net([5, 7, 3], '  output y = x -> resizing(0, 4)')).text).toMatch(/at least 1/);
    expect(oneError(net([5, 7, 3], '  output y = x -> resizing(2, 4, bicubic)')).text).toMatch(
      /bilinear/,
    );
    expect(
      oneError(net([5, 7, 3], '  output y = x -> resizing(2, 4, coordinates: tf_half_pixel)')).text,
    ).toMatch(/align_corners/);
    expect(oneError(net([4], '  output y = x -> resizing(2, 4)')).text).toMatch(/rank 3/);
  });

  it('counts no MACs, bilinear or nearest (the contract counts weighted layers only)', () => {
    const src = net(
      [5, 7, 3],
      '  output a = x -> resizing(8, 4)\n  output b = x -> resizing(8, 4, nearest)',
    );
    for (const n of graphs(src)[0]!.nodes.filter((m) => m.layer.kind === 'resizing'))
      expect(n.layer.macs(n, [[5, 7, 3]])).toBe(0);
  });
});

describe("other frameworks' names", () => {
  it('suggest the layer netc has', () => {
    for (const [word, layer] of [
      ['PixelShuffle(2)', 'depth_to_space'],
      ['pixel_unshuffle(2)', 'space_to_depth'],
      ['ReflectionPad2d(1)', 'padding2d'],
      ['transpose([2, 1, 3])', 'permute'],
      ['interpolate(4, 4)', 'resizing'],
      ['crop(1)', 'cropping2d'],
    ])
      expect(oneError(net([4, 4, 4], `  output y = x -> ${word}`)).text, word).toMatch(
        new RegExp(`did you mean '${layer}'`),
      );
  });
});
