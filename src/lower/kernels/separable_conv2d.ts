// separable_conv2d kernel: per band of output rows, the depthwise stage into scratch, then the
// pointwise convolution (a 1x1 convolution core over the band's pixels) with the bias and the
// activation, so the depthwise result stays in cache.
import type { Node, Shape } from '../../ir/graph.js';
import { num, pair } from '../../ir/op.js';
import { add, i32, mul, type Expr, type Stmt } from '../../kir/kir.js';
import type { LowerOptions, LoweredNode } from '../program.js';
import { blockPack, convCore, weightBlock } from './conv_core.js';
import type { ConvSpec } from './tile.js';
import { depthwiseStage, depthwiseTags } from './depthwise_conv2d.js';
import { dotApplies, dotPack } from './dot_core.js';
import { activationDoc, activationTag, nodeActivation } from './epilogue.js';
import { convRuns, plainRuns, sharedBandTags, sliceRuns, type Run } from './spatial.js';
import {
  finish,
  Names,
  needWeight,
  range,
  scratchBase,
  weight,
  inputBase,
  outputBase,
} from './util.js';

export function lowerSeparableConv2d(
  node: Node,
  [shape]: readonly Shape[],
  opts: LowerOptions,
): LoweredNode {
  const [H, W, C] = shape as [number, number, number];
  const [OH, OW, F] = node.shape as [number, number, number];
  const mid = C * num(node.attrs, 'depth_multiplier');
  const act = nodeActivation(node.attrs);
  const names = new Names();
  const b = weight(node, 'bias');
  const k = pair(node.attrs, 'kernel_size');
  const st = pair(node.attrs, 'strides');
  const d = pair(node.attrs, 'dilation_rate');
  const pads = node.attrs['pads'] as readonly number[];
  // Bands of R output rows: the depthwise stage into scratch, then at once the pointwise stage
  // from it, so the intermediate never leaves the cache. Within a run of rows with the same
  // taps, whole bands are one loop (input and output move by R rows per band).
  // A band (LowerOptions.band) is a slice too, its bases moved by the step (bandShift), so
  // bands alike are one kernel.
  const part = opts.rows ?? opts.band;
  const rowsOut = part?.count ?? OH;
  const R = Math.max(1, Math.min(rowsOut, Math.floor(opts.schedule.bandBytes / (OW * mid * 4))));
  const pwSpec = (rows: number, y: Expr): ConvSpec => ({
    x: scratchBase,
    y,
    w: needWeight(node, 'pointwise_kernel'),
    b,
    inW: rows * OW,
    inC: mid,
    outW: rows * OW,
    outC: F,
    rows: plainRuns(1),
    cols: plainRuns(rows * OW),
    kh: 1,
    kw: 1,
    groups: 1,
    cg: mid,
    fg: F,
    schedule: opts.schedule,
    act,
  });
  const band = (run: Run, first: number, rows: number, shift: Expr): Stmt[] => {
    // Output rows run.o0 + first + shift .. (+ rows): x moves with shift, y is the band's row.
    const local: Run = { ...run, o0: 0, count: rows, i0: run.i0 + first * run.istep };
    const dw = depthwiseStage(
      node,
      shape!,
      {
        x: add(xBase, mul(shift, run.istep * W * C)),
        y: scratchBase,
        w: needWeight(node, 'depthwise_kernel'),
        b: null,
        act: { fn: 'linear' },
        schedule: opts.schedule,
        rows: [local],
      },
      names,
    );
    const oy = add(i32(run.o0 + first), shift);
    return [...dw, ...convCore(pwSpec(rows, add(yBase, mul(oy, OW * F))), names)];
  };
  // The output rows asked for (all, or one slice of a streamed output: see sliceRuns).
  const all = convRuns(OH, H, k[0], st[0], d[0], pads[0]!);
  const slice = part ? sliceRuns(all, part.from, part.count) : null;
  const xBase = inputBase(0);
  const yBase = outputBase;
  const runs = slice ? slice.runs : all;
  const body = runs.flatMap((run) => {
    const whole = Math.floor(run.count / R);
    return [
      ...range('sb', 0, whole, (i) => band(run, 0, R, mul(i, R))),
      ...(run.count % R ? band(run, whole * R, run.count % R, i32(0)) : []),
    ];
  });
  const pw = pwSpec(R, outputBase);
  const block = weightBlock(pw);
  const pointwisePack = dotApplies(pw)
    ? dotPack([1, 1], mid, F)
    : block
      ? blockPack([1, 1, mid], F, block)
      : null;
  const packs = node.weights.map((w) => (w.name === 'pointwise_kernel' ? pointwisePack : null));
  const tags = depthwiseTags(node, shape!);
  // A slice's code is fixed by its runs: equal runs, one kernel.
  const sliceTag =
    opts.rows && slice
      ? `rows${slice.runs.map((r) => `${r.o0}_${r.count}_${r.i0}_${r.t0}_${r.n}`).join('_')}`
      : !!opts.band && sharedBandTags(opts.band.count).name;
  return finish(node, {
    name: ['separable_conv2d', ...tags.name, `f${F}`, !b && 'nobias', activationTag(act), sliceTag],
    doc: [
      `separable_conv2d ${tags.doc}, then pointwise ${mid} -> ${F} channels`,
      `${b ? 'bias' : 'no bias'}, activation ${activationDoc(act)}; by bands of ${R} rows, the depthwise result in scratch`,
      ...(opts.rows
        ? [
            `output rows ${opts.rows.from}..${opts.rows.from + opts.rows.count - 1} only (a slice of a streamed output)`,
          ]
        : opts.band
          ? sharedBandTags(opts.band.count).doc
          : []),
    ],
    body,
    weights: ['depthwise_kernel', 'pointwise_kernel', 'bias'],
    scratch: R * OW * mid,
    packs,
    ...(slice && opts.rows ? { xShift: slice.shift * W * C } : {}),
    ...(slice && opts.band && !opts.rows
      ? { bandShift: { y: opts.band.from * OW * F, x: [slice.shift * W * C] } }
      : {}),
  });
}
