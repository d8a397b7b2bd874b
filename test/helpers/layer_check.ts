// Runs one node's kernel on both backends against the layer's float64 reference: the
// TypeScript print (evaluated with `new Function`) and the wasm module (plain and relaxed
// SIMD, and the KIR interpreter, which must agree with wasm). Memory outside the inputs and
// weights starts as NaN, so an element never written fails; guards between regions, the
// inputs and the weights must come back unchanged.
import v8 from 'node:v8';
import { expect } from 'vitest';
import { printKernelTS } from '../../codegen/ts/print.js';
import { emitWasm } from '../../codegen/wasm/emit.js';
import { size, type Node, type Shape } from '../../src/ir/graph.js';
import { runKernel } from '../../src/kir/interpret.js';
import type { Kernel } from '../../src/kir/kir.js';
import type { KernelProgram, LoweredNode, Pack } from '../../src/lower/program.js';
import { scheduleFor } from '../../src/lower/schedule.js';
import { bandsOf, channelBlocksOf, stagesOf } from '../../src/lower/index.js';
import { implementationFor, lowerNode } from '../../src/lower/strategy.js';
import { erf } from '../../src/runtime/erf.js';
import { permute } from './permute.js';
import { randomFloats } from './random.js';
import { close, expectClose, TOLERANCE } from './tolerance.js';

/** Test data for a node: f32-exact inputs and weights (variances positive). Activation layers
 * get inputs over [-6, 6) so their curves' far parts are covered. */
function dataFor(node: Node, shapes: readonly Shape[], seed: number) {
  let stream = seed * 1009;
  const uniform = (n: number, lo: number, hi: number): Float32Array =>
    randomFloats(n, stream++, lo, hi);
  const span = node.layer.traits.activation !== undefined ? 6 : 2;
  return {
    inputs: shapes.map((s) => uniform(size(s), -span, span)),
    weights: node.weights.map((w) =>
      w.name === 'moving_variance' ? uniform(size(w.shape), 0.2, 2) : uniform(size(w.shape), -1, 1),
    ),
  };
}

const packed = (w: Float32Array, pack: Pack | null | undefined): Float32Array =>
  pack ? permute(w, pack.shape, pack.perm) : w;

const reference = (node: Node, shapes: readonly Shape[], d: ReturnType<typeof dataFor>) =>
  node.layer.reference(
    node,
    d.inputs.map((x) => Float64Array.from(x)),
    shapes,
    Object.fromEntries(node.weights.map((w, i) => [w.name, Float64Array.from(d.weights[i]!)])),
  );

// Node 20 has relaxed SIMD behind a flag; set in this process, the relaxed builds run here too.
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

type KernelFn = (...offsets: number[]) => void;

/** A kernel printed as JavaScript (`types: false`), compiled to a function over `M`. */
export function compileJs(js: string, name: string, M: Float32Array): KernelFn {
  expect(js).not.toMatch(/: (number|void)|\]!/);
  return new Function('M', 'erf', `${js}\nreturn ${name};`)(M, erf) as KernelFn;
}

/** Every kernel name seen, with its code: equal names must mean equal code. */
export const kernelsSeen = new Map<string, string>();

const GUARD = 8;

interface Region {
  readonly offset: number;
  readonly size: number;
}

/** The TypeScript backend: the node lowered (with or without v128, which it scalarizes),
 * printed, run, and compared with the reference; also cut into parts of 16 lines. */
export function checkTs(node: Node, shapes: readonly Shape[], simd: boolean, seed: number): void {
  const opts = { schedule: scheduleFor(simd) };
  const lowered: LoweredNode = lowerNode(node, shapes, opts);
  const { kernel } = lowered;
  const code = printKernelTS(kernel, { types: false });
  expect(printKernelTS(lowerNode(node, shapes, opts).kernel, { types: false })).toBe(code);
  const prev = kernelsSeen.get(kernel.name);
  if (prev !== undefined) expect(code, `kernel ${kernel.name} differs`).toBe(prev);
  kernelsSeen.set(kernel.name, code);

  const d = dataFor(node, shapes, seed);
  const packs = d.weights.map((w, i) => packed(w, lowered.packs?.[i]));
  // A prepared weight (Winograd's transform): the kernel reads the prepare kernel's output.
  const prepares = node.weights.map((_, i) => lowered.prepares?.[i] ?? null);

  // Layout in parameter order: y, x0.., w0.., s, then the packed weights that prepare kernels
  // read; each region followed by a guard.
  const sizes = [
    size(node.shape),
    ...shapes.map(size),
    ...packs.map((w, i) => prepares[i]?.size ?? w.length),
  ];
  if (lowered.scratch) sizes.push(lowered.scratch);
  const raws = packs.flatMap((w, i) => (prepares[i] ? [{ i, w }] : []));
  sizes.push(...raws.map((r) => r.w.length));
  const regions: Region[] = [];
  let top = GUARD;
  for (const n of sizes) {
    regions.push({ offset: top, size: n });
    top += Math.ceil((n + GUARD) / 4) * 4;
  }
  const M = new Float32Array(top).fill(NaN);
  const params = kernel.params.length;
  const weightRegion = (i: number): Region => regions[1 + shapes.length + i]!;
  d.inputs.forEach((x, i) => M.set(x, regions[1 + i]!.offset));
  packs.forEach((w, i) => {
    if (!prepares[i]) M.set(w, weightRegion(i).offset);
  });
  raws.forEach((r, j) => M.set(r.w, regions[params + j]!.offset));
  const before = M.slice();

  expect(params + raws.length).toBe(regions.length);
  raws.forEach((r, j) => {
    const p = prepares[r.i]!;
    const js = printKernelTS(p.kernel, { types: false });
    compileJs(js, p.kernel.name, M)(weightRegion(r.i).offset, regions[params + j]!.offset);
  });
  const offsets = regions.slice(0, params).map((r) => r.offset);
  // The same kernel cut into parts of at most 16 lines (long kernels are printed so) must write
  // the same values, -0 and NaN included.
  const split = printKernelTS(kernel, { types: false, partLines: 16 });
  const M2 = split === code ? null : M.slice();
  compileJs(code, kernel.name, M)(...offsets);
  if (M2) {
    expect(split).toMatch(new RegExp(`function ${kernel.name}_part0\\(`));
    compileJs(split, kernel.name, M2)(...offsets);
    const same = M.every((v, i) => Object.is(v, M2[i]));
    expect(same, `${kernel.name} cut into parts`).toBe(true);
  }

  const expected = reference(node, shapes, d);
  const y = regions[0]!;
  const actual = M.subarray(y.offset, y.offset + y.size);
  const bad = actual.findIndex((a, i) => !close(a, expected[i]!));
  if (bad >= 0)
    throw new Error(
      `${kernel.name}: y[${bad}] = ${actual[bad]}, expected ${expected[bad]} ` +
        `(tolerance ${TOLERANCE}; simd ${simd})\n${code}`,
    );
  // Nothing but y, scratch and prepared weights changed.
  const written = [y, ...(lowered.scratch ? [regions[params - 1]!] : [])];
  raws.forEach((r) => written.push(weightRegion(r.i)));
  for (let i = 0; i < M.length; i++) {
    const inside = written.some((r) => i >= r.offset && i < r.offset + r.size);
    if (!inside && !Object.is(M[i], before[i]))
      throw new Error(`${kernel.name}: wrote M[${i}] outside its output (simd ${simd})`);
  }
}

/** A kernel program of `kernels` run by `steps` over `memoryFloats`, the first `weightFloats`
 * of them weights (no inputs, outputs or weight segments: tests set memory themselves). */
export function programOf(
  kernels: readonly Kernel[],
  steps: readonly { kernel: string; args: number[] }[],
  memoryFloats: number,
  weightFloats = 0,
): KernelProgram {
  return {
    name: 'test',
    batch: 1,
    memoryFloats,
    weightFloats,
    storedFloats: weightFloats,
    weights: [],
    params: [],
    inputs: [],
    outputs: [],
    kernels,
    steps: steps.map((s) => ({ ...s, layer: 'test', line: 1 })),
    prepare: [],
    streams: [],
  };
}

/** The wasm backend: the node lowered with v128, emitted as a module (plain and relaxed SIMD),
 * run, and compared with the reference; the KIR interpreter must agree with wasm. */
export async function checkWasm(node: Node, shapes: readonly Shape[], seed: number): Promise<void> {
  const lowered = lowerNode(node, shapes, { schedule: scheduleFor(true) });
  const d = dataFor(node, shapes, seed);
  // Layout: weights (packed), inputs, output (NaN), scratch; 4-float aligned.
  let top = 0;
  const alloc = (n: number): number => {
    const at = top;
    top += Math.ceil(Math.max(n, 1) / 4) * 4;
    return at;
  };
  const offsets = new Map<string, number>();
  const prepares: { kernel: Kernel; args: number[] }[] = [];
  const init: [number, Float32Array][] = [];
  node.weights.forEach((_, k) => {
    const value = packed(d.weights[k]!, lowered.packs?.[k]);
    const at = alloc(value.length);
    init.push([at, value]);
    const prepared = lowered.prepares?.[k] ?? null;
    if (prepared) {
      // The kernel reads the prepare kernel's transform of the weight.
      const u = alloc(prepared.size);
      offsets.set(`w${k}`, u);
      prepares.push({ kernel: prepared.kernel, args: [u, at] });
    } else offsets.set(`w${k}`, at);
  });
  const weightFloats = top;
  d.inputs.forEach((value, k) => {
    const at = alloc(value.length);
    offsets.set(`x${k}`, at);
    init.push([at, value]);
  });
  const outSize = size(node.shape);
  const yAt = alloc(outSize);
  offsets.set('y', yAt);
  init.push([yAt, new Float32Array(outSize).fill(NaN)]);
  // Split between threads (a threads build): the layer in 2, 3 and 4 bands of rows as the
  // module splits it (bandsOf, however small; fewer when it has fewer rows), each split's bands
  // computing an output of its own, which must be the whole layer's bit for bit. Which thread
  // runs a band does not change its code (the split is made at build time): the thread counts
  // themselves are tested on whole modules (e2e/examples, e2e/threads).
  // A layer whose implementation also takes blocks of output channels (channelBlocksOf) is
  // cut in 2, 3 and 4 blocks too, whichever the module would choose for these shapes (samples
  // of up to 16 K outputs: the large Winograd one is there for its blocks of tile rows, and
  // its channel blocks run the code of the small ones).
  const opts = { schedule: scheduleFor(true) };
  const impl = implementationFor(node, shapes, opts)!;
  const splits = [2, 3, 4]
    .flatMap((parts) => {
      const par = { maxParts: parts, minPartMacs: 0 };
      return [
        {
          parts,
          what: 'bands',
          bands: bandsOf(node, shapes, impl, par).map((band) =>
            impl.lower(node, shapes, { ...opts, band }),
          ),
        },
        {
          parts,
          what: 'channel blocks',
          bands: (outSize <= 16384 ? channelBlocksOf(node, shapes, impl, par, opts) : []).map(
            (channels) => impl.lower(node, shapes, { ...opts, channels }),
          ),
        },
      ];
    })
    .filter((sp) => sp.bands.length > 0)
    .map((sp) => ({ ...sp, y: alloc(outSize) }));
  for (const sp of splits) init.push([sp.y, new Float32Array(outSize).fill(NaN)]);
  // A Winograd layer split in two phases (stagesOf): its input transform in bands of rows
  // into a shared V (the whole layer's scratch, as the module passes the one-thread step's),
  // then the rest in blocks of channels reading V at the input base, M in the thread's scratch.
  const staged = [2, 3, 4].flatMap((parts) => {
    const cuts = stagesOf(node, shapes, impl, { maxParts: parts, minPartMacs: 0 }, opts);
    if (!cuts) return [];
    return [
      {
        parts,
        input: cuts.input.map((band) =>
          impl.lower(node, shapes, { ...opts, band, stage: 'input' }),
        ),
        rest: cuts.rest.map((channels) =>
          impl.lower(node, shapes, { ...opts, channels, stage: 'rest' }),
        ),
        y: alloc(outSize),
        v: alloc(lowered.scratch ?? 0),
      },
    ];
  });
  for (const st of staged) {
    init.push([st.y, new Float32Array(outSize).fill(NaN)]);
    init.push([st.v, new Float32Array(lowered.scratch ?? 0).fill(NaN)]);
  }
  const scratch = Math.max(
    lowered.scratch ?? 0,
    ...splits.flatMap((sp) => sp.bands.map((b) => b.scratch ?? 0)),
    ...staged.flatMap((st) => st.rest.map((b) => b.scratch ?? 0)),
  );
  if (scratch) offsets.set('s', alloc(scratch));
  const memoryFloats = top;
  const argsOf = (k: Kernel, y: number): number[] =>
    k.params.map((p) => {
      const at = p === 'y' ? y : offsets.get(p);
      if (at === undefined) throw new Error(`no buffer for kernel parameter ${p}`);
      return at;
    });
  const args = argsOf(lowered.kernel, yAt);
  // A band computed relative to moved bases (bandShift) is called as the module calls it:
  // output and input bases moved, so bands alike run one kernel.
  const movedArgs = (b: LoweredNode, y: number): number[] =>
    argsOf(b.kernel, y).map((a, i) => {
      const param = b.kernel.params[i]!;
      const shift = b.bandShift;
      if (!shift) return a;
      if (param === 'y') return a + shift.y;
      if (/^w\d+$/.test(param)) return a + (shift.w?.[Number(param.slice(1))] ?? 0);
      return /^x\d+$/.test(param) ? a + shift.x[Number(param.slice(1))]! : a;
    });
  const bandSteps = [
    ...splits.flatMap((sp) =>
      sp.bands.map((b) => ({ kernel: b.kernel.name, args: movedArgs(b, sp.y) })),
    ),
    ...staged.flatMap((st) => [
      // The input stage writes V at the shared scratch (its band's place: shift.s).
      ...st.input.map((b) => ({
        kernel: b.kernel.name,
        args: movedArgs(b, st.y).map((a, i) =>
          b.kernel.params[i] === 's' ? st.v + (b.bandShift?.s ?? 0) : a,
        ),
      })),
      // The rest reads V at its input base.
      ...st.rest.map((b) => ({
        kernel: b.kernel.name,
        args: movedArgs(b, st.y).map((a, i) => (b.kernel.params[i] === 'x0' ? st.v : a)),
      })),
    ]),
  ];
  const bandKernels = new Map(
    [...splits.flatMap((sp) => sp.bands), ...staged.flatMap((st) => [...st.input, ...st.rest])].map(
      (b) => [b.kernel.name, b.kernel] as const,
    ),
  );
  // The weight transforms run first (in the module, `prepare` does before any run).
  const p = programOf(
    [...prepares.map((x) => x.kernel), lowered.kernel, ...bandKernels.values()],
    [
      ...prepares.map((x) => ({ kernel: x.kernel.name, args: x.args })),
      { kernel: lowered.kernel.name, args },
      ...bandSteps,
    ],
    memoryFloats,
    weightFloats,
  );
  let memory = new Float32Array(0);
  const outputOf = async (relaxed: boolean): Promise<Float32Array> => {
    const bytes = emitWasm(p, { relaxed }) as Uint8Array<ArrayBuffer>;
    const { instance } = await WebAssembly.instantiate(bytes);
    memory = new Float32Array((instance.exports.memory as WebAssembly.Memory).buffer);
    for (const [at, v] of init) memory.set(v, at);
    (instance.exports.run as () => void)();
    return memory.slice(yAt, yAt + outSize);
  };
  /** Each split's output (in `memory`, after a run) is the whole layer's, bit for bit. */
  const expectBandsAs = (whole: Float32Array, build: string): void => {
    for (const sp of splits) {
      const band = memory.subarray(sp.y, sp.y + outSize);
      const same = band.every((v, i) => Object.is(v, whole[i]));
      expect(
        same,
        `${node.layer.kind} in ${sp.bands.length} ${sp.what} (of ${sp.parts} asked for) differs from the whole layer${build}`,
      ).toBe(true);
    }
    for (const st of staged) {
      const band = memory.subarray(st.y, st.y + outSize);
      const same = band.every((v, i) => Object.is(v, whole[i]));
      expect(
        same,
        `${node.layer.kind} in stages (${st.input.length} bands, then ${st.rest.length} channel blocks, of ${st.parts} asked for) differs from the whole layer${build}`,
      ).toBe(true);
    }
  };
  const got = await outputOf(false);
  expectBandsAs(got, '');
  const want = reference(node, shapes, d);
  const kind = node.layer.kind;
  expectClose(got, want, `${kind} output`);
  // The relaxed SIMD build too (fused multiply-adds round once instead of twice), its bands
  // the whole layer's bits there too (the threads build has a relaxed SIMD build).
  const relaxed = await outputOf(true);
  expectClose(relaxed, want, `${kind} output (relaxed SIMD)`);
  expectBandsAs(relaxed, ' (relaxed SIMD)');
  // And the interpreter agrees with wasm (up to the math helpers' last bit).
  const M = new Float32Array(memoryFloats);
  for (const [at, v] of init) M.set(v, at);
  for (const x of prepares) runKernel(x.kernel, M, x.args);
  runKernel(lowered.kernel, M, args);
  expectClose(got, M.slice(yAt, yAt + outSize), `${kind} interpreter`);
}
