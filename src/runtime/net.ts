// What a generated module knows about its network, as its runtime sees it. Types only, so
// generated TypeScript modules carry these declarations as a namespace (codegen/esm).
import type { WeightExpr } from './weight-expr.js';

/** What a generated module knows about its network. */
export interface NetSpec {
  readonly name: string;
  readonly batch: number | null;
  readonly inputs: readonly IoSpec[];
  readonly outputs: readonly IoSpec[];
  /** Outputs made slice by slice after the kernels run (see Stream in src/lower/program.ts):
   * the output's buffer holds one slice; slice j of a group belongs at at + j * atStep. */
  readonly streams: readonly StreamSpec[];
}

export interface StreamSpec {
  readonly output: string;
  readonly groups: readonly {
    readonly count: number;
    readonly at: number;
    readonly atStep: number;
    readonly size: number;
  }[];
}

/** An input or output: its key, and its buffer for one example. */
export interface IoSpec {
  readonly name: string;
  /** Element offset in memory of one example. */
  readonly offset: number;
  /** Elements per example. */
  readonly size: number;
  /** Per-example shape as the user sees it. */
  readonly shape: readonly number[];
}

/** One unfolded weight a safetensors file holds (its name in the file, its shape). */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Part of the weight area: the value at `offset`, computed from the unfolded weights, then
 * permuted (packed) when `pack` says so. */
export interface Segment {
  readonly offset: number;
  readonly value: WeightExpr;
  readonly pack: { readonly shape: readonly number[]; readonly perm: readonly number[] } | null;
}

/** What a generated module carries about its program (as JSON) for its loader. */
export interface NetData {
  readonly spec: NetSpec;
  /** The unfolded weights `load({ weights })` takes, in order. */
  readonly params: readonly ParamSpec[];
  /** How the weight area is computed from them. */
  readonly segments: readonly Segment[];
  /** The memory's size (weights, activations) in floats. */
  readonly memoryFloats: number;
  /** The weight area: [0, storedFloats) written at load, [0, weightFloats) once prepared. */
  readonly storedFloats: number;
  readonly weightFloats: number;
}

/** The options of a module's `load()`. */
export interface LoadOptions {
  readonly weights?: unknown;
  /** How many threads run the kernels (wasm target): 1 to MAX_THREADS, or 'auto'. */
  readonly threads?: unknown;
}

/** A loaded network (the module's `Net`, its types left to the module's declarations). */
export interface Net {
  readonly run: (feeds: unknown, into?: unknown) => Tensors;
  /** The threads its runs use (the TypeScript target: always 1). */
  readonly threads: number;
  /** Ends its workers; run() afterwards throws. */
  readonly dispose: () => void;
}

export type Tensors = Record<string, Float32Array<ArrayBufferLike>>;
