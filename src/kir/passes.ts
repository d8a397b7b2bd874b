// The KIR passes, by name, and the order each printer runs them in. A pass rewrites a kernel's
// statements and keeps their meaning (test/kir.test.ts checks each one against the interpreter).
import { addressInduction } from './induction.js';
import type { Stmt } from './kir.js';
import { scalarize } from './scalarize.js';
import { unroll } from './unroll.js';

export interface KirPass {
  readonly name: string;
  /** `params`: the kernel's parameters (element offsets, never negative). */
  readonly run: (body: readonly Stmt[], params: readonly string[]) => Stmt[];
}

/** Loops marked `unroll` (and one-trip loops) as copies of their body; dead ifs dropped. */
export const UNROLL: KirPass = { name: 'unroll', run: unroll };
/** v128 as four f32 lanes. */
export const SCALARIZE: KirPass = { name: 'scalarize', run: scalarize };
/** Addresses as byte pointers plus offsets, hoisted, and stepped by the loops (induction.ts). */
export const ADDRESS_INDUCTION: KirPass = { name: 'address_induction', run: addressInduction };

/** Ahead of the wasm printer, which keeps v128 and prints pointers as they are. */
export const WASM_PASSES: readonly KirPass[] = [UNROLL, ADDRESS_INDUCTION];
/** Ahead of the TypeScript printer: only number locals remain. */
export const TS_PASSES: readonly KirPass[] = [UNROLL, SCALARIZE];

/** Runs `passes` in order over a kernel's statements. */
export function applyPasses(
  body: readonly Stmt[],
  passes: readonly KirPass[],
  params: readonly string[],
): Stmt[] {
  let out = [...body];
  for (const p of passes) out = p.run(out, params);
  return out;
}
