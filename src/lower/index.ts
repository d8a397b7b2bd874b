// Lowering: a (folded) graph becomes a kernel program. Each node's layer builds its kernel; a
// static planner lays out weights and activations in one memory, reusing dead buffers.
import { InternalError } from '../diag/diagnostics.js';
import { size, type Graph, type Node, type Shape } from '../ir/graph.js';
import { implementationFor, type Implementation } from './strategy.js';
import { bodyText, type Kernel } from '../kir/kir.js';
import type {
  IoBuffer,
  KernelProgram,
  LowerOptions,
  LoweredNode,
  Parallel,
  PartCall,
  PreparedWeight,
  SliceGroup,
  Step,
  Stream,
  WeightSegment,
} from './program.js';

/** When outputs are streamed (see Stream): the smallest output that is, and the bytes of one
 * slice (a few rows), which should stay in L2 until the caller has copied it. */
export interface StreamOptions {
  readonly minBytes: number;
  readonly sliceBytes: number;
}

/** Streaming as the wasm target does it: outputs of 1 MB and more, in slices of 512 KB. */
export const STREAM_OUTPUTS: StreamOptions = { minBytes: 1 << 20, sliceBytes: 512 * 1024 };

/** How layers are split between threads (see Parallel in program.ts). */
export interface ParallelOptions {
  /** Most parts a layer is split into (bands of rows). */
  readonly maxParts: number;
  /** Fewest multiply-adds a part should have (a smaller layer is split less, or not). */
  readonly minPartMacs: number;
  /** Fewest multiply-adds the split layers of a network must have together for load()'s
   * `threads: 'auto'` to take more than one thread (`Parallel.autoOne`); default 0. */
  readonly minAutoMacs?: number;
}

/** The wasm target's split: up to 8 bands per layer (for 2 to 8 threads, taken dynamically),
 * each of at least 200 K multiply-adds (a barrier and a part cost a few microseconds). 'auto'
 * starts workers only for networks whose split layers have 50 M multiply-adds or more (a few
 * milliseconds on one thread): starting a worker costs tens of milliseconds, and a run on
 * threads a wake-up and a barrier per phase, which a smaller network (mnist: 3.5 M) never
 * earns back. */
export const PARALLEL_LAYERS: ParallelOptions = {
  maxParts: 8,
  minPartMacs: 200_000,
  minAutoMacs: 50_000_000,
};

export interface ProgramOptions extends LowerOptions {
  /** Stream large outputs whose layer can (`sliceRows`); default: none. */
  readonly stream?: StreamOptions;
  /** Also split the steps between threads (KernelProgram.parallel); default: no. */
  readonly parallel?: ParallelOptions;
}

/** Buffers are aligned to 4 floats (16 bytes) so v128 accesses of a channel run stay aligned. */
const ALIGN = 4;
const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Whether a node's output is its (first) input's data: no kernel, same buffer. */
export function isView(node: Node): boolean {
  return node.layer.traits.view === true || node.layer.traits.identity === true;
}

/** First-fit allocator over the activation area, with frees. */
class Arena {
  private readonly free: { start: number; end: number }[] = [];
  private top: number;
  constructor(private readonly base: number) {
    this.top = base;
  }

  alloc(n: number): number {
    const want = align(Math.max(n, 1));
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i]!;
      if (f.end - f.start >= want) {
        const at = f.start;
        f.start += want;
        if (f.start === f.end) this.free.splice(i, 1);
        return at;
      }
    }
    const at = this.top;
    this.top += want;
    return at;
  }

  release(at: number, n: number): void {
    const want = align(Math.max(n, 1));
    this.free.push({ start: at, end: at + want });
    this.free.sort((a, b) => a.start - b.start);
    // Coalesce neighbours; a block touching the top shrinks it.
    for (let i = this.free.length - 1; i > 0; i--) {
      const a = this.free[i - 1]!;
      const b = this.free[i]!;
      if (a.end === b.start) {
        a.end = b.end;
        this.free.splice(i, 1);
      }
    }
    const last = this.free[this.free.length - 1];
    if (last && last.end === this.top) {
      this.top = last.start;
      this.free.pop();
    }
  }

  get size(): number {
    return this.top - this.base;
  }
}

export function lowerGraph(graph: Graph, programOpts: ProgramOptions): KernelProgram {
  const { stream: streamOpts, parallel: parallelOpts, ...opts } = programOpts;
  const nodes = graph.nodes;
  // The buffer each node's output lives in: views share their input's.
  const shapesOf = (n: Node): Shape[] => n.inputs.map((i) => nodes[i]!.shape);
  const implementations = new Map<number, Implementation>();
  const owner = nodes.map((n) => n.id);
  for (const n of nodes) if (isView(n)) owner[n.id] = owner[n.inputs[0]!]!;
  // Outputs computed slice by slice after every step: large ones, nobody else reads them, and
  // their layer can compute a slice of rows.
  const streamed = new Map<number, number>(); // node -> rows per slice
  if (streamOpts)
    for (const o of graph.outputs) {
      const n = nodes[o.node]!;
      const [OH, OW, F] = n.shape as [number, number, number];
      if (
        implementationFor(n, shapesOf(n), opts)?.sliceRows === true &&
        n.shape.length === 3 &&
        graph.outputs.filter((p) => p.node === n.id).length === 1 &&
        !nodes.some((m) => m.inputs.includes(n.id)) &&
        size(n.shape) * 4 >= streamOpts.minBytes
      )
        streamed.set(
          n.id,
          Math.min(OH, Math.max(1, Math.floor(streamOpts.sliceBytes / (OW * F * 4)))),
        );
    }

  const kernels = new Map<string, Kernel>();
  const addKernel = (k: Kernel): void => addDistinct(kernels, k);
  const prepare: Step[] = [];
  const toPrepare: {
    node: Node;
    offs: number[];
    at: number;
    prepared: PreparedWeight;
    /** The taps' segment (its offset set below) and floats. */
    segment: number;
    taps: number;
  }[] = [];

  // Lower every computing node and lay out its weights (those a prepare step transforms last).
  const lowered = new Map<number, LoweredNode>();
  const weights: { -readonly [K in keyof WeightSegment]: WeightSegment[K] }[] = [];
  const weightOffsets = new Map<number, number[]>();
  let wTop = 0;
  for (const n of nodes) {
    if (n.layer.kind === 'input' || isView(n)) continue;
    const impl = implementationFor(n, shapesOf(n), opts);
    if (!impl) throw new InternalError(`layer ${n.layer.kind} has no kernel`);
    implementations.set(n.id, impl);
    const l = impl.lower(n, shapesOf(n), opts);
    lowered.set(n.id, l);
    const offs: number[] = [];
    n.weights.forEach((w, i) => {
      const s = size(w.shape);
      const prepared = l.prepares?.[i] ?? null;
      // The kernel reads the transform: the taps are placed below, with the transforms.
      if (prepared)
        toPrepare.push({
          node: n,
          offs,
          at: offs.length,
          prepared,
          segment: weights.length,
          taps: align(s),
        });
      weights.push({
        label: `${n.name}/${w.name}`,
        offset: prepared ? -1 : wTop,
        size: s,
        value: w.value,
        pack: l.packs?.[i] ?? null,
      });
      offs.push(prepared ? -1 : wTop);
      if (!prepared) wTop += align(s);
    });
    weightOffsets.set(n.id, offs);
  }
  // The transforms (U) lie back to back from `base`, smallest first, and the taps they are
  // computed from are stored at the end of the stored area, from `base` too, inside the
  // transforms' region, where the transforms written before them do not reach: prepare runs
  // from the largest down, so a transform only covers taps already consumed (its own are
  // below its start: each covered transform is at least its taps' size beyond them). Taps
  // that would be covered too early are stored below `base` instead. The pages of the taps
  // are then reused by the transforms (ResNet-50: 44 MB fewer fresh pages at load); the taps
  // are gone after prepare, so a later load copies the prepared area (`NetData.weightFloats`).
  toPrepare.sort((a, b) => a.prepared.size - b.prepared.size || a.segment - b.segment);
  const place: number[] = []; // relative to base; -1: below base
  let covered = 0;
  let inside = 0;
  for (const p of toPrepare) {
    const u = align(p.prepared.size);
    if (covered >= inside + p.taps) {
      place.push(inside);
      inside += p.taps;
    } else place.push(-1);
    covered += u;
  }
  toPrepare.forEach((p, k) => {
    if (place[k] !== -1) return;
    weights[p.segment]!.offset = wTop;
    wTop += p.taps;
  });
  const base = wTop;
  let uTop = base;
  toPrepare.forEach((p, k) => {
    if (place[k] !== -1) weights[p.segment]!.offset = base + place[k]!;
    p.offs[p.at] = uTop;
    uTop += align(p.prepared.size);
  });
  const storedFloats = base + inside;
  const preparesInOrder = inside > 0;
  for (const p of [...toPrepare].reverse()) {
    addKernel(p.prepared.kernel);
    prepare.push({
      kernel: p.prepared.kernel.name,
      args: [p.offs[p.at]!, weights[p.segment]!.offset],
      layer: p.node.name,
      line: p.node.span.line,
    });
  }
  const weightFloats = Math.max(uTop, storedFloats);

  // Liveness: the last step that reads each buffer; outputs live to the end.
  const lastUse = new Map<number, number>();
  for (const n of nodes)
    for (const i of n.inputs) lastUse.set(owner[i]!, Math.max(lastUse.get(owner[i]!) ?? -1, n.id));
  for (const o of graph.outputs) lastUse.set(owner[o.node]!, Infinity);
  // A streamed output's inputs are read after every step.
  for (const id of streamed.keys())
    for (const i of nodes[id]!.inputs) lastUse.set(owner[i]!, Infinity);

  const arena = new Arena(weightFloats);
  /** A step's base offsets for node n lowered as l: its output, its inputs (the first moved by
   * l.xShift), its weights, then `scratch` when l asks for scratch. */
  const argsOf = (n: Node, l: LoweredNode, scratch: number): number[] => {
    const args = [
      offset.get(owner[n.id]!)!,
      ...n.inputs.map((i, k) => offset.get(owner[i]!)! + (k === 0 ? (l.xShift ?? 0) : 0)),
      ...weightOffsets.get(n.id)!,
    ];
    if (l.scratch) args.push(scratch);
    const k = l.kernel;
    if (args.length !== k.params.length)
      throw new InternalError(
        `kernel ${k.name} takes ${k.params.length} offsets, got ${args.length}`,
      );
    return args;
  };
  /** Lowers output node n by slices of `rows` rows and groups alike slices (see Stream); the
   * scratch it takes is held to the end, since slices run after every step. */
  const streamSlices = (n: Node, output: string, rows: number, whole: LoweredNode): Stream => {
    const [OH] = n.shape as [number];
    const perRow = size(n.shape) / OH;
    const shapes = n.inputs.map((i) => nodes[i]!.shape);
    const slices: (Step & { at: number; size: number })[] = [];
    let scratchAt = -1;
    let scratchSize = 0;
    for (let from = 0; from < OH; from += rows) {
      const count = Math.min(rows, OH - from);
      const l = implementations.get(n.id)!.lower(n, shapes, { ...opts, rows: { from, count } });
      if (JSON.stringify(l.packs ?? null) !== JSON.stringify(whole.packs ?? null))
        throw new InternalError(`slices of ${n.name} pack its weights differently`);
      addKernel(l.kernel);
      if ((l.scratch ?? 0) > scratchSize) {
        if (scratchAt >= 0) arena.release(scratchAt, scratchSize);
        scratchSize = l.scratch!;
        scratchAt = arena.alloc(scratchSize);
      }
      slices.push({
        kernel: l.kernel.name,
        args: argsOf(n, l, scratchAt),
        layer: n.name,
        line: n.span.line,
        at: from * perRow,
        size: count * perRow,
      });
    }
    return { output, groups: groupSlices(slices) };
  };
  let high = 0;
  const offset = new Map<number, number>();
  const steps: Step[] = [];
  const pending: number[] = [];
  // Every input is written before the first step runs: all their buffers exist from the start.
  for (const p of graph.inputs) offset.set(p.node, arena.alloc(size(nodes[p.node]!.shape)));
  high = Math.max(high, arena.size);
  const streams: Stream[] = [];
  /** Each step's node and lowering, for the split between threads. */
  const stepNodes: { node: Node; lowered: LoweredNode; step: Step }[] = [];
  for (const n of nodes) {
    const sliceRows = streamed.get(n.id);
    if (owner[n.id] === n.id && !offset.has(n.id)) {
      // A streamed output's buffer holds one slice.
      const floats =
        sliceRows === undefined ? size(n.shape) : (size(n.shape) / n.shape[0]!) * sliceRows;
      offset.set(n.id, arena.alloc(floats));
      high = Math.max(high, arena.size);
    }
    const l = lowered.get(n.id);
    if (l && sliceRows !== undefined) {
      const name = graph.outputs.find((o) => o.node === n.id)!.name;
      streams.push(streamSlices(n, name, sliceRows, l));
      high = Math.max(high, arena.size);
    } else if (l) {
      const scratch = l.scratch ? arena.alloc(l.scratch) : -1;
      high = Math.max(high, arena.size);
      addKernel(l.kernel);
      const step = {
        kernel: l.kernel.name,
        args: argsOf(n, l, scratch),
        layer: n.name,
        line: n.span.line,
      };
      steps.push(step);
      stepNodes.push({ node: n, lowered: l, step });
      if (l.scratch) arena.release(scratch, l.scratch);
    }
    // Free the buffers whose last reader was this node (after it ran: no overlap in a step).
    for (const i of new Set(n.inputs.map((x) => owner[x]!)))
      if (lastUse.get(i) === n.id) pending.push(i);
    if (!lastUse.has(owner[n.id]!)) pending.push(owner[n.id]!); // never read: dead after writing
    for (const b of pending.splice(0)) {
      const at = offset.get(b);
      if (at !== undefined && owner[b] === b && lastUse.get(b) !== Infinity) {
        arena.release(at, size(nodes[b]!.shape));
        lastUse.delete(b);
      }
    }
  }
  const io = (name: string, node: number, shape: readonly number[]): IoBuffer => {
    const at = offset.get(owner[node]!);
    if (at === undefined) throw new InternalError(`no buffer for ${name}`);
    return { name, offset: at, size: size(shape), shape };
  };
  const parallel =
    parallelOpts &&
    splitSteps(
      stepNodes,
      parallelOpts,
      (n) => implementations.get(n.id)!,
      (n, l) => argsOf(n, l, 0),
      {
        opts,
        shapesOf,
      },
    );
  return {
    ...(parallel ? { parallel } : {}),
    name: graph.name,
    batch: graph.batch,
    memoryFloats: weightFloats + align(high),
    weightFloats,
    storedFloats,
    ...(preparesInOrder ? { preparesInOrder } : {}),
    weights,
    params: graph.params,
    inputs: graph.inputs.map((p) => io(p.name, p.node, p.shape)),
    outputs: graph.outputs.map((p) => io(p.name, p.node, p.shape)),
    kernels: [...kernels.values()],
    steps,
    prepare,
    streams,
  };
}

/** Adds a kernel to a program's kernels by name; a name seen before must come with the same
 * code (compared as text only then). */
function addDistinct(kernels: Map<string, Kernel>, k: Kernel): void {
  const prev = kernels.get(k.name);
  if (prev === undefined) kernels.set(k.name, k);
  else if (prev.body !== k.body && bodyText(prev.body) !== bodyText(k.body))
    throw new InternalError(`two different kernels are both named ${k.name}`);
}

/**
 * The steps split between threads: a layer whose implementation takes bands (`bands`) and has
 * the work for it is lowered once per band of output rows (bands start at multiples of
 * `bands` rows), its parts a phase; other steps are one part each, and consecutive ones are
 * one phase run by one thread (no barrier between them). Each part's scratch is its thread's.
 */
function splitSteps(
  stepNodes: readonly { node: Node; lowered: LoweredNode; step: Step }[],
  par: ParallelOptions,
  implOf: (n: Node) => Implementation,
  argsOf: (n: Node, l: LoweredNode) => number[],
  { opts, shapesOf }: { opts: LowerOptions; shapesOf: (n: Node) => Shape[] },
): Parallel {
  const kernels = new Map<string, Kernel>();
  const phases: PartCall[][][] = [];
  let scratchFloats = 0;
  // `threadScratch` false: the part's scratch is not the thread's (a Winograd input stage's).
  const part = (l: LoweredNode, step: Step, threadScratch = true): PartCall => {
    addDistinct(kernels, l.kernel);
    if (threadScratch) scratchFloats = Math.max(scratchFloats, l.scratch ?? 0);
    return { ...step, scratchArg: l.scratch && threadScratch ? step.args.length - 1 : null };
  };
  /** A part of a layer lowered with `cut` (its weights packed as the whole layer's), and its
   * arguments with the bases moved. */
  const lowerPart = (
    node: Node,
    shapes: Shape[],
    impl: Implementation,
    lowered: LoweredNode,
    cut: Partial<LowerOptions>,
  ): { l: LoweredNode; args: number[] } => {
    const l = impl.lower(node, shapes, { ...opts, ...cut });
    if (JSON.stringify(l.packs ?? null) !== JSON.stringify(lowered.packs ?? null))
      throw new InternalError(`parts of ${node.name} pack its weights differently`);
    return { l, args: shifted(node, l, argsOf(node, l)) };
  };
  let single: PartCall[] | null = null;
  let splitMacs = 0;
  // The last phase when it is a layer's bands of rows (for fusing the next layer into it).
  let banded: Banded | null = null;
  for (const { node, lowered, step } of stepNodes) {
    const impl = implOf(node);
    const shapes = shapesOf(node);
    const prevBanded = banded;
    banded = null;
    // A layer whose bands read only their own rows of the last phase's layer (a pointwise
    // conv2d after a depthwise one) runs its band i in that phase's part i, after it: no
    // barrier between them, and the rows it reads are still in the cache of the thread that
    // wrote them.
    const fused = prevBanded && fusedBands(prevBanded, node, step, shapes, impl, par, opts);
    if (fused) {
      splitMacs += node.layer.macs(node, shapes);
      const last = phases[phases.length - 1]!;
      fused.forEach((band, i) => {
        const { l, args } = lowerPart(node, shapes, impl, lowered, { band });
        last[i]!.push(part(l, { ...step, kernel: l.kernel.name, args }));
      });
      continue;
    }
    // A Winograd layer whose rows give fewer bands than the split's parts (each band re-reading
    // all of U) in stages, when it can be: its input transform by bands, then the rest by
    // blocks of channels (no block repeating the transform).
    const stages = stagesOf(node, shapes, impl, par, opts);
    if (
      stages &&
      stages.input.length < par.maxParts &&
      stages.rest.length > stages.input.length &&
      lowered.scratch
    ) {
      single = null;
      splitMacs += node.layer.macs(node, shapes);
      // V: the one-thread step's scratch (the layer's V and M), free while the layer runs.
      const v = step.args[step.args.length - 1]!;
      phases.push(
        stages.input.map((band) => {
          const { l, args } = lowerPart(node, shapes, impl, lowered, { band, stage: 'input' });
          args[args.length - 1] = v + (l.bandShift?.s ?? 0);
          return [part(l, { ...step, kernel: l.kernel.name, args }, false)];
        }),
        stages.rest.map((channels) => {
          const { l, args } = lowerPart(node, shapes, impl, lowered, { channels, stage: 'rest' });
          args[1] = v;
          return [part(l, { ...step, kernel: l.kernel.name, args })];
        }),
      );
      continue;
    }
    const bands = partsOf(node, shapes, impl, par, opts);
    if (bands.length > 1) splitMacs += node.layer.macs(node, shapes);
    if (bands.length <= 1) {
      const call = part(lowered, step);
      if (single) single.push(call);
      else phases.push([(single = [call])]);
      continue;
    }
    single = null;
    const units = impl.bandUnits?.(node) ?? node.shape[0]!;
    const rows = bands.flatMap((b) => ('band' in b ? [b.band] : []));
    if (rows.length === bands.length && units === node.shape[0] && node.shape.length === 3)
      banded = { node, step, inputs: shapes, rows };
    phases.push(
      bands.map((cut) => {
        const { l, args } = lowerPart(node, shapes, impl, lowered, cut);
        return [part(l, { ...step, kernel: l.kernel.name, args })];
      }),
    );
  }
  return {
    kernels: [...kernels.values()],
    phases: phases.map((parts) => ({ parts })),
    scratchFloats,
    autoOne: splitMacs < (par.minAutoMacs ?? 0),
  };
}

/** A phase that is one layer's bands of rows: the layer, its step, its inputs' shapes and the
 * bands, in order. */
interface Banded {
  readonly node: Node;
  readonly step: Step;
  readonly inputs: readonly Shape[];
  readonly rows: readonly { from: number; count: number }[];
}

/**
 * The bands (in the node's units) to run `node` in the parts of the phase before it, the
 * bands of rows of `prev`, or null when it cannot: its implementation's bands read only their
 * own rows of its first input (`Implementation.rowLocal`), which is `prev`'s output, of as many
 * rows; a module would split it in bands anyway (partsOf); and its output does not overlap
 * any input of `prev`, which the other parts read while it is written.
 */
function fusedBands(
  prev: Banded,
  node: Node,
  step: Step,
  shapes: readonly Shape[],
  impl: Implementation,
  par: ParallelOptions,
  opts: LowerOptions,
): { from: number; count: number }[] | null {
  if (!impl.rowLocal?.(node) || node.inputs[0] !== prev.node.id) return null;
  if (node.inputs.slice(1).includes(prev.node.id)) return null;
  const [OH, OW] = node.shape as [number, number];
  if (node.shape.length !== 3 || prev.node.shape[0] !== OH || prev.node.shape[1] !== OW)
    return null;
  const own = partsOf(node, shapes, impl, par, opts);
  if (own.length <= 1 || !own.every((p) => 'band' in p)) return null;
  const out = { at: step.args[0]!, size: size(node.shape) };
  const overlaps = (at: number, n: number): boolean => at < out.at + out.size && out.at < at + n;
  if (prev.inputs.some((shape, i) => overlaps(prev.step.args[1 + i]!, size(shape)))) return null;
  const units = impl.bandUnits?.(node) ?? OH;
  const per = units === OH ? 1 : units === OH * OW ? OW : 0;
  if (per === 0) return null;
  return prev.rows.map((r) => ({ from: r.from * per, count: r.count * per }));
}

/** A relative part's arguments, its bases moved (bandShift): output, then each input, then
 * each weight. */
function shifted(node: Node, l: LoweredNode, args: number[]): number[] {
  const shift = l.bandShift;
  const ins = node.inputs.length;
  return args.map((a, i) =>
    !shift
      ? a
      : i === 0
        ? a + shift.y
        : i <= ins
          ? a + shift.x[i - 1]!
          : i <= ins + node.weights.length
            ? a + (shift.w?.[i - ins - 1] ?? 0)
            : a,
  );
}

/** How a layer is split between threads: bands of output rows (bandsOf), or blocks of output
 * channels (channelBlocksOf) when rows give fewer parts than its channels would, or when its
 * weights outweigh its input (each band reads all the weights, each block all the input:
 * ResNet-50's 14x14 and 7x7 stages, DCGAN's first transposed layer, dense layers); Winograd
 * only in blocks of 64+ channels where rows are too few (ResNet-50's 7x7 maps). Each part as
 * the `LowerOptions` to lower it by; empty: one part. */
export function partsOf(
  node: Node,
  shapes: readonly Shape[],
  impl: Implementation,
  par: ParallelOptions,
  opts: LowerOptions,
): ({ band: { from: number; count: number } } | { channels: { from: number; count: number } })[] {
  const bands = bandsOf(node, shapes, impl, par);
  const blocks = channelBlocksOf(node, shapes, impl, par, opts);
  if (blocks.length > 1) {
    // Bytes each extra part re-reads: all the weights for a band, all the input for a block.
    const weightBytes = node.weights.reduce((n, w) => n + size(w.shape), 0) * 4;
    const inputBytes = size(shapes[0]!) * 4;
    const min = impl.minBlockChannels;
    const ok =
      min !== undefined
        ? bands.length < blocks.length && blocks.every((b) => b.count >= min)
        : bands.length < blocks.length || weightBytes > inputBytes;
    if (ok) return blocks.map((channels) => ({ channels }));
  }
  return bands.map((band) => ({ band }));
}

/** A Winograd layer split in two phases (`Implementation.stages`, `LowerOptions.stage`): its
 * input transform in bands of rows (bandsOf; one band when they give none), then the GEMMs
 * and output transform in blocks of channels (channelBlocksOf). Null: it cannot be (no such
 * implementation, a layer computed in several blocks of tile rows, fewer than two blocks). */
export function stagesOf(
  node: Node,
  shapes: readonly Shape[],
  impl: Implementation,
  par: ParallelOptions,
  opts: LowerOptions,
): { input: { from: number; count: number }[]; rest: { from: number; count: number }[] } | null {
  if (!impl.stages?.(node, shapes, opts)) return null;
  const rest = channelBlocksOf(node, shapes, impl, par, opts);
  if (rest.length < 2) return null;
  const bands = bandsOf(node, shapes, impl, par);
  return { input: bands.length ? bands : [{ from: 0, count: node.shape[0]! }], rest };
}

/** The blocks of output channels (units of a dense layer) a layer is split into, when its
 * implementation takes them (`channelBlock`): as many as its blocks and multiply-adds allow,
 * up to `maxParts`, of equal sizes (one kernel: blocks are relative to their bases) but the
 * last few one block larger. Empty: none. */
export function channelBlocksOf(
  node: Node,
  shapes: readonly Shape[],
  impl: Implementation,
  par: ParallelOptions,
  opts: LowerOptions,
): { from: number; count: number }[] {
  const block = impl.channelBlock?.(node, shapes, opts) ?? 0;
  if (block === 0) return [];
  const F = node.shape[node.shape.length - 1]!;
  if (F % block !== 0) return [];
  const units = F / block;
  const work = node.layer.macs(node, shapes);
  const byWork = par.minPartMacs > 0 ? Math.floor(work / par.minPartMacs) : Infinity;
  const n = Math.min(par.maxParts, units, Math.max(1, byWork));
  if (n <= 1) return [];
  return Array.from({ length: n }, (_, i) => {
    const from = Math.floor((i * units) / n);
    const to = Math.floor(((i + 1) * units) / n);
    return { from: from * block, count: (to - from) * block };
  });
}

/** The bands of output rows (or `impl.bandUnits`) a layer is split into: as many as its rows
 * (in units of `impl.bands`) and its multiply-adds allow, up to `maxParts`; the interior ones
 * of one size, the first and last of about that size. */
export function bandsOf(
  node: Node,
  shapes: readonly Shape[],
  impl: Implementation,
  par: ParallelOptions,
): { from: number; count: number }[] {
  if (!impl.bands || impl.splits?.(node) === false) return [];
  // A split that is correct but measured not to pay: modules keep the layer whole (the layer
  // harness, minPartMacs 0, still checks its bands).
  if (par.minPartMacs > 0 && impl.pays?.(node) === false) return [];
  if (node.shape.length !== 3 && !(impl.anyRank && node.shape.length > 0)) return [];
  const OH = impl.bandUnits?.(node) ?? node.shape[0]!;
  const units = Math.ceil(OH / impl.bands);
  // The work: multiply-adds, or for a layer without any (merges, copies, elementwise layers:
  // bound by memory) its output elements, each a load and a store at least.
  const work = node.layer.macs(node, shapes) || node.shape.reduce((a, b) => a * b, 1);
  // minPartMacs 0: as many as asked, whatever the work (0 / 0 is no count).
  const byWork = par.minPartMacs > 0 ? Math.floor(work / par.minPartMacs) : Infinity;
  const n = Math.min(par.maxParts, units, Math.max(1, byWork));
  if (n <= 1) return [];
  // Bands in units; the interior ones of one size q, so that they are one kernel (a band's
  // kernel is relative to its bases: bands alike share it), the first and last (the borders,
  // whose kernels differ anyway) sharing what is left.
  let sizes = Array.from(
    { length: n },
    (_, i) => Math.floor(((i + 1) * units) / n) - Math.floor((i * units) / n),
  );
  if (n >= 3)
    for (const q of [Math.round(units / n), Math.floor(units / n)]) {
      const rest = units - (n - 2) * q;
      if (q < 1 || rest < 2) continue;
      sizes = [Math.floor(rest / 2), ...Array<number>(n - 2).fill(q), rest - Math.floor(rest / 2)];
      break;
    }
  const out: { from: number; count: number }[] = [];
  let at = 0;
  for (const size of sizes) {
    const from = at * impl.bands;
    const to = Math.min(OH, (at + size) * impl.bands);
    at += size;
    if (to > from) out.push({ from, count: to - from });
  }
  return out;
}

/** Consecutive slices that call one kernel with arguments and places in steady steps, as
 * groups. */
function groupSlices(slices: readonly (Step & { at: number; size: number })[]): SliceGroup[] {
  const groups: SliceGroup[] = [];
  const minus = (a: readonly number[], b: readonly number[]): number[] =>
    a.map((v, i) => v - b[i]!);
  for (const s of slices) {
    const g = groups[groups.length - 1];
    const fits =
      g !== undefined &&
      g.kernel === s.kernel &&
      g.size === s.size &&
      (g.count === 1 ||
        (s.at - g.at === g.count * g.atStep &&
          minus(s.args, g.args).every((d, i) => d === g.count * g.argStep[i]!)));
    if (g && fits) {
      const argStep = g.count === 1 ? minus(s.args, g.args) : g.argStep;
      const atStep = g.count === 1 ? s.at - g.at : g.atStep;
      groups[groups.length - 1] = { ...g, count: g.count + 1, argStep, atStep };
    } else
      groups.push({
        kernel: s.kernel,
        args: s.args,
        argStep: s.args.map(() => 0),
        count: 1,
        at: s.at,
        atStep: 0,
        size: s.size,
        layer: s.layer,
        line: s.line,
      });
  }
  return groups;
}
