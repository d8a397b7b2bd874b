// resizing: Keras Resizing (no antialiasing): to height x width by bilinear or nearest
// interpolation, with samples placed as tf.image.resize places them for each `coordinates`
// mode. For output index o along an axis of input size n and output size m:
// - half_pixel (TensorFlow 2, the default): bilinear samples (o + 0.5) * n / m - 0.5, nearest
//   reads floor((o + 0.5) * n / m);
// - align_corners (PyTorch's align_corners=True): samples o * (n - 1) / (m - 1) (0 when m is
//   1), nearest rounds it (halves up);
// - asymmetric (TensorFlow 1's default): samples o * n / m, nearest floors it.
// Bilinear samples are clamped to [0, n - 1]. crop_to_aspect_ratio first crops the centre of
// the input to the target's aspect ratio, as Keras does. up_sampling2d is half_pixel resizing.
import { needImage } from './common.js';
import { bool, defineLayer, num, str } from '../ir/op.js';
import {
  image,
  inShapeOf,
  onnxInt,
  onnxSlice,
  type OnnxAttrs,
  type OnnxMapping,
} from '../ir/onnx.js';

export const COORDINATES = ['half_pixel', 'align_corners', 'asymmetric'] as const;

/** How output index o reads an axis: lo and hi, and hi's weight frac (0 for nearest). */
export interface Tap {
  readonly lo: number;
  readonly hi: number;
  readonly frac: number;
}

/** The taps of every output index along an axis of input size n and output size m. */
export function resizeTaps(n: number, m: number, coordinates: string, nearest: boolean): Tap[] {
  const taps: Tap[] = [];
  const ac = coordinates === 'align_corners';
  for (let o = 0; o < m; o++) {
    if (nearest) {
      // Exact integer arithmetic, so a sample on a whole number is not rounded away.
      let i: number;
      if (coordinates === 'half_pixel') i = Math.floor(((2 * o + 1) * n) / (2 * m));
      else if (ac) i = m === 1 ? 0 : Math.floor((2 * o * (n - 1) + (m - 1)) / (2 * (m - 1)));
      else i = Math.floor((o * n) / m);
      i = Math.min(i, n - 1);
      taps.push({ lo: i, hi: i, frac: 0 });
      continue;
    }
    let f: number;
    if (coordinates === 'half_pixel') f = ((o + 0.5) * n) / m - 0.5;
    else if (ac) f = m === 1 ? 0 : (o * (n - 1)) / (m - 1);
    else f = (o * n) / m;
    f = Math.min(Math.max(f, 0), n - 1);
    const lo = Math.floor(f);
    taps.push({ lo, hi: Math.min(lo + 1, n - 1), frac: f - lo });
  }
  return taps;
}

/** The window of the input that is resized: all of it, or Keras's centred crop to the
 * target's aspect ratio. */
export function resizeWindow(
  h: number,
  w: number,
  height: number,
  width: number,
  crop: boolean,
): { top: number; left: number; h: number; w: number } {
  if (!crop) return { top: 0, left: 0, h, w };
  const ch = Math.max(Math.min(h, Math.floor((w * height) / width)), 1);
  const cw = Math.max(Math.min(w, Math.floor((h * width) / height)), 1);
  return { top: Math.floor((h - ch) / 2), left: Math.floor((w - cw) / 2), h: ch, w: cw };
}

/** Output (oy, ox) from the taps ty[oy] and tx[ox] of the input rows and columns of a window
 * at (top, left) of an [H, W, C] map. */
export function resample(
  x: Float64Array,
  W: number,
  C: number,
  top: number,
  left: number,
  ty: readonly Tap[],
  tx: readonly Tap[],
): Float64Array {
  const OW = tx.length;
  const out = new Float64Array(ty.length * OW * C);
  for (let oy = 0; oy < ty.length; oy++)
    for (let ox = 0; ox < OW; ox++)
      for (let c = 0; c < C; c++) {
        const at = (y: number, xx: number): number => x[((top + y) * W + left + xx) * C + c]!;
        const { lo: y0, hi: y1, frac: fy } = ty[oy]!;
        const { lo: x0, hi: x1, frac: fx } = tx[ox]!;
        // A weight of 0 leaves its sample out (nearest copies values exactly, infinities too).
        const row = (y: number): number =>
          fx === 0 ? at(y, x0) : at(y, x0) * (1 - fx) + at(y, x1) * fx;
        out[(oy * OW + ox) * C + c] = fy === 0 ? row(y0) : row(y0) * (1 - fy) + row(y1) * fy;
      }
  return out;
}

/** Resize to the output's sizes (the batch from the input's shape), after Keras's crop. */
const resizingOnnx: OnnxMapping = {
  export(n, b) {
    const [H, W] = inShapeOf(b, n) as [number, number, number];
    const [OH, OW] = n.shape as [number, number, number];
    const win = resizeWindow(H, W, OH, OW, n.attrs['crop_to_aspect_ratio'] === true);
    let x = b.nchw(n);
    if (win.h !== H || win.w !== W)
      x = onnxSlice(b, x, n.name, [win.top, win.left], [win.top + win.h, win.left + win.w]);
    const shape = b.op('Shape', [x], `${n.name}/shape`, `${n.name}/shape`);
    const nc = b.op(
      'Slice',
      [shape, b.int64(`${n.name}/zero`, [0]), b.int64(`${n.name}/two`, [2])],
      `${n.name}/nc`,
      `${n.name}/nc`,
    );
    const sizes = b.op(
      'Concat',
      [nc, b.int64(`${n.name}/size`, [OH, OW])],
      `${n.name}/sizes`,
      `${n.name}/sizes`,
      { axis: onnxInt(0) },
    );
    const coords = n.attrs['coordinates'] as string;
    const nearest = n.attrs['interpolation'] === 'nearest';
    // tf.image.resize's nearest sample: floor((o + 0.5) * in / out) for half_pixel, which is
    // ONNX's half_pixel coordinate rounded with ties up; align_corners rounds (ties up, as
    // roundf on non-negative values); asymmetric floors.
    const attrs: OnnxAttrs = {
      mode: nearest ? 'nearest' : 'linear',
      coordinate_transformation_mode: coords,
    };
    if (nearest) attrs['nearest_mode'] = coords === 'asymmetric' ? 'floor' : 'round_prefer_ceil';
    return image(b.op('Resize', [x, '', '', sizes], n.name, n.name, attrs));
  },
};

export const resizing = defineLayer({
  kind: 'resizing',
  onnx: resizingOnnx,
  doc: 'resizes images by bilinear or nearest interpolation (Keras Resizing, tf.image.resize)',
  samples: [
    { inputs: [[5, 7, 8]], args: '8, 4' },
    { inputs: [[5, 7, 3]], args: '9, 13, nearest, coordinates: align_corners' },
    { inputs: [[9, 6, 12]], args: '4, 11, coordinates: asymmetric' },
    { inputs: [[7, 12, 4]], args: '5, 5, crop_to_aspect_ratio: true' },
    { inputs: [[6, 5, 4]], args: '6, 9, nearest' },
    { inputs: [[4, 6, 8]], args: '7, 6', why: 'vertical pass alone' },
  ],
  inputs: { min: 1, max: 1 },
  attrs: [
    { name: 'height', kind: { type: 'int', min: 1 }, default: undefined },
    { name: 'width', kind: { type: 'int', min: 1 }, default: undefined },
    {
      name: 'interpolation',
      kind: { type: 'enum', values: ['bilinear', 'nearest'] },
      default: 'bilinear',
    },
    { name: 'crop_to_aspect_ratio', kind: { type: 'bool' }, default: false },
    { name: 'coordinates', kind: { type: 'enum', values: COORDINATES }, default: 'half_pixel' },
  ],
  traits: {},
  infer(ctx) {
    if (!needImage(ctx)) return null;
    const c = ctx.inputs[0]![2]!;
    return { shape: [num(ctx.attrs, 'height'), num(ctx.attrs, 'width'), c] };
  },
  // The contract counts the multiply-accumulates of weighted layers only.
  macs: () => 0,
  reference(node, [x], [shape]) {
    const [H, W, C] = shape as [number, number, number];
    const [OH, OW] = node.shape as [number, number, number];
    const nearest = str(node.attrs, 'interpolation') === 'nearest';
    const coords = str(node.attrs, 'coordinates');
    const win = resizeWindow(H, W, OH, OW, bool(node.attrs, 'crop_to_aspect_ratio'));
    const ty = resizeTaps(win.h, OH, coords, nearest);
    const tx = resizeTaps(win.w, OW, coords, nearest);
    return resample(x!, W, C, win.top, win.left, ty, tx);
  },
});
