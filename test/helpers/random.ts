// Seeded test data, from the project's own generator (src/weights/random.ts, xoshiro128**).
import type { Graph } from '../../src/ir/graph.js';
import { Rng } from '../../src/weights/random.js';

/** A seeded stream of doubles uniform in [lo, hi), by default [-1, 1). */
export function rng(seed: number, lo = -1, hi = 1): () => number {
  const r = Rng.fromSeed(seed);
  return () => r.uniform(lo, hi);
}

/** `n` seeded float32 values uniform in [lo, hi), by default [-1, 1). */
export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, rng(seed, lo, hi));
}

/** Seeded feeds for every input of `graph`, `batch` examples each, uniform in [lo, hi). */
export function randomFeeds(
  graph: Graph,
  batch: number,
  seed: number,
  lo = -1,
  hi = 1,
): Record<string, Float32Array> {
  const next = rng(seed, lo, hi);
  const feeds: Record<string, Float32Array> = {};
  for (const p of graph.inputs) {
    const n = batch * p.shape.reduce((a, b) => a * b, 1);
    feeds[p.name] = Float32Array.from({ length: n }, next);
  }
  return feeds;
}
