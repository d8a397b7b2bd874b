// The wasm SIMD ceiling on this machine: a Binaryen-built loop of f32x4 multiply then add (or
// relaxed multiply-add) with independent accumulators, timed in-process (run it in a fresh
// child for a clean figure; the relaxed one needs relaxed SIMD in the engine).
import binaryen from 'binaryen';

/**
 * A module exporting `peak(n: i32) -> f32`: n iterations, each `acc_i = acc_i * m + a` for
 * `accumulators` f32x4 registers, 2 * 4 * accumulators flops per iteration. Each product
 * depends on the last sum, so nothing can be hoisted out of the loop; with too few
 * accumulators the loop is latency-bound, with enough it runs at the multiply/add throughput.
 * Values converge to a / (1 - m) = 1: no overflow, no denormals.
 */
export function peakModule(accumulators = 12, relaxed = false) {
  const m = new binaryen.Module();
  try {
    m.setFeatures(
      binaryen.Features.MVP |
        binaryen.Features.SIMD128 |
        (relaxed ? binaryen.Features.RelaxedSIMD : 0),
    );
    // With `relaxed`, each step is one f32x4.relaxed_madd (binaryen.js has no wrapper for it).
    const madd = (a, b, c) =>
      relaxed
        ? binaryen._BinaryenSIMDTernary(m.ptr, binaryen.RelaxedMaddVecF32x4, a, b, c)
        : m.f32x4.add(m.f32x4.mul(a, b), c);
    const v = binaryen.v128;
    const N = 0;
    const acc = (i) => 1 + i;
    const M = 1 + accumulators;
    const A = M + 1;
    const splat = (f) => m.f32x4.splat(m.f32.const(f));
    const init = [];
    for (let i = 0; i < accumulators; i++) init.push(m.local.set(acc(i), splat(0.01 * i)));
    init.push(m.local.set(M, splat(0.999)), m.local.set(A, splat(0.001)));
    const body = [];
    for (let i = 0; i < accumulators; i++)
      body.push(
        m.local.set(acc(i), madd(m.local.get(acc(i), v), m.local.get(M, v), m.local.get(A, v))),
      );
    body.push(m.local.set(N, m.i32.sub(m.local.get(N, binaryen.i32), m.i32.const(1))));
    body.push(m.br('loop', m.i32.gt_s(m.local.get(N, binaryen.i32), m.i32.const(0))));
    let sum = m.local.get(acc(0), v);
    for (let i = 1; i < accumulators; i++) sum = m.f32x4.add(sum, m.local.get(acc(i), v));
    // An expression may appear once in the tree: the sum goes through a local.
    const S = A + 1;
    const lanes = [0, 1, 2, 3].map((l) => m.f32x4.extract_lane(m.local.get(S, v), l));
    const result = m.f32.add(m.f32.add(lanes[0], lanes[1]), m.f32.add(lanes[2], lanes[3]));
    const locals = new Array(accumulators + 3).fill(v);
    m.addFunction(
      'peak',
      binaryen.createType([binaryen.i32]),
      binaryen.f32,
      locals,
      m.block(
        null,
        [...init, m.loop('loop', m.block(null, body)), m.local.set(S, sum), m.return(result)],
        binaryen.f32,
      ),
    );
    m.addFunctionExport('peak', 'peak');
    if (!m.validate()) throw new Error('peak module does not validate');
    m.optimize();
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** GFLOP/s of the best of `repeats` timed calls of about `ms` milliseconds each. */
export async function measurePeak({
  accumulators = 12,
  ms = 200,
  repeats = 5,
  relaxed = false,
} = {}) {
  const { instance } = await WebAssembly.instantiate(peakModule(accumulators, relaxed));
  const peak = instance.exports.peak;
  peak(1e6); // tier up
  let n = 1e6;
  for (;;) {
    const t0 = performance.now();
    peak(n);
    const dt = performance.now() - t0;
    if (dt >= ms / 4) {
      n = Math.max(1, Math.round((n * ms) / dt));
      break;
    }
    n *= 4;
  }
  let best = 0;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    const sink = peak(n);
    const dt = (performance.now() - t0) / 1000;
    if (!Number.isFinite(sink)) throw new Error('peak kernel overflowed');
    best = Math.max(best, (n * accumulators * 8) / dt / 1e9);
  }
  return best;
}
