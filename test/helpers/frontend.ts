// Helpers for the front-end tests: compile a source and read back layer rows or diagnostics.
import { expect } from 'vitest';
import { renderDiagnostic, type Diagnostic } from '../../src/diag/diagnostics.js';
import { compileSource } from '../../src/frontend/index.js';
import type { Graph } from '../../src/ir/graph.js';

export interface Row {
  readonly name: string;
  readonly kind: string;
  /** The output shape in the user's data format, batch excluded. */
  readonly shape: readonly number[];
  /** Weight name -> shape. */
  readonly weights: Readonly<Record<string, readonly number[]>>;
}

/** Compiles a source that must be free of errors; returns its graphs. */
export function graphs(src: string): readonly Graph[] {
  const r = compileSource(src);
  expect(r.diagnostics.map((d) => renderDiagnostic('test.net', src, d))).toEqual([]);
  return r.graphs;
}

/** The visible layers of a network (the first one unless named), as `netc summary` lists them. */
export function rows(src: string, network?: string): Row[] {
  const all = graphs(src);
  const g = network === undefined ? all[0] : all.find((x) => x.name === network);
  if (!g) throw new Error(`no network ${network ?? ''}`);
  return g.nodes
    .filter((n) => !n.hidden)
    .map((n) => ({
      name: n.name,
      kind: n.layer.kind,
      shape: [...n.userShape],
      weights: Object.fromEntries(n.weights.map((w) => [w.name, [...w.shape]])),
    }));
}

/** The names of the visible layers, inputs included. */
export function names(src: string): string[] {
  return rows(src).map((r) => r.name);
}

/** The row of the one layer called `name`. */
export function row(src: string, name: string): Row {
  const r = rows(src).find((x) => x.name === name);
  if (!r) throw new Error(`no layer ${name} in ${names(src).join(', ')}`);
  return r;
}

/** The output shape of the last visible layer. */
export function lastShape(src: string): readonly number[] {
  const all = rows(src);
  return all[all.length - 1]!.shape;
}

/** Diagnostics of a source that must fail. */
export function diagnostics(src: string): readonly Diagnostic[] {
  const r = compileSource(src);
  expect(r.diagnostics.length, 'expected at least one error').toBeGreaterThan(0);
  expect(r.graphs).toEqual([]);
  return r.diagnostics;
}

/** All error messages (with their notes) of a failing source, as one string per diagnostic. */
export function messages(src: string): string[] {
  return diagnostics(src).map((d) => [d.message, ...d.notes].join('\n'));
}

/** The single error of a failing source: its message with notes and its 1-based line:col. */
export function oneError(src: string): { text: string; at: string; caret: string } {
  const ds = diagnostics(src);
  expect(ds.map((d) => d.message)).toHaveLength(1);
  const d = ds[0]!;
  return {
    text: [d.message, ...d.notes].join('\n'),
    at: `${d.span.line}:${d.span.col}`,
    caret: src.slice(d.span.start, d.span.end),
  };
}

/** A one-network source around some statements, with one input `x` of the given shape. */
export function net(shape: readonly number[], body: string, options = ''): string {
  return `network t${options} {\n  input x: [${shape.join(', ')}]\n${body}\n}\n`;
}

/** The output shape of `x -> CHAIN` on an input of `shape`. */
export function shapeOf(shape: readonly number[], chain: string, options = ''): readonly number[] {
  return lastShape(net(shape, `  output y = x -> ${chain}`, options));
}
