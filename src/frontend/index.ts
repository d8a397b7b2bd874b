// The front end's entry: text in, IR graphs and diagnostics out. Never throws for any input.
import { expressionTooDeep, parse } from '../../grammar/index.js';
import { Diagnostics, sortDiagnostics, type Diagnostic } from '../diag/diagnostics.js';
import type { Graph } from '../ir/graph.js';
import { elaborate } from './elaborate.js';

export interface FrontendResult {
  readonly graphs: readonly Graph[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Parses and resolves every network of a file. Graphs come back only when there is no error. */
export function compileSource(text: string): FrontendResult {
  const diags = new Diagnostics();
  const parsed = parse(text);
  const deep = expressionTooDeep(parsed.program);
  if (deep) {
    for (const e of [...parsed.errors, deep]) diags.error(e.span, e.message);
    return { graphs: [], diagnostics: sortDiagnostics(diags.list) };
  }
  const semantic = new Diagnostics();
  const graphs = elaborate(parsed.program, semantic);
  // NOTE: inside a declaration that has syntax errors, the recovered tree is partial, so its
  // semantic errors would be noise; elsewhere they are real and reported in the same run.
  const broken = parsed.program.items
    .filter((it) =>
      parsed.errors.some((e) => e.span.start >= it.span.start && e.span.start < it.span.end),
    )
    .map((it) => it.span);
  for (const e of parsed.errors) diags.error(e.span, e.message);
  for (const d of semantic.list)
    if (!broken.some((s) => d.span.start >= s.start && d.span.start < s.end)) diags.list.push(d);
  return { graphs: diags.count ? [] : graphs, diagnostics: sortDiagnostics(diags.list) };
}
