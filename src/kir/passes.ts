// The KIR passes, by name, and the order each printer runs them in. A pass rewrites a kernel's
// statements and keeps their meaning (test/kir.test.ts checks each one against the interpreter).
import type { Stmt } from './kir.js';
import { scalarize } from './scalarize.js';
import { unroll } from './unroll.js';

export interface KirPass {
  readonly name: string;
  readonly run: (body: readonly Stmt[]) => Stmt[];
}

/** Loops marked `unroll` (and one-trip loops) as copies of their body; dead ifs dropped. */
export const UNROLL: KirPass = { name: 'unroll', run: unroll };
/** v128 as four f32 lanes. */
export const SCALARIZE: KirPass = { name: 'scalarize', run: scalarize };

/** Ahead of the wasm printer, which keeps v128 and analyses addresses as it prints
 * (src/kir/affine.ts). */
export const WASM_PASSES: readonly KirPass[] = [UNROLL];
/** Ahead of the TypeScript printer: only number locals remain. */
export const TS_PASSES: readonly KirPass[] = [UNROLL, SCALARIZE];

/** Runs `passes` in order over a kernel's statements. */
export function applyPasses(body: readonly Stmt[], passes: readonly KirPass[]): Stmt[] {
  let out = [...body];
  for (const p of passes) out = p.run(out);
  return out;
}
