// The one tolerance float results are compared with in tests, written down once.

/**
 * Results agree when |actual - expected| <= TOLERANCE * max(1, |expected|): absolute near zero,
 * relative for large values. Float32 weights and kernels against the float64 reference stay far
 * inside it (float32 rounds at 6e-8 relative); a wrong channel, sign or bias is far outside.
 * Never loosen it to make a test pass.
 */
export const TOLERANCE = 1e-4;

/** Whether two numbers agree within TOLERANCE (NaN never agrees). */
export function close(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= TOLERANCE * Math.max(1, Math.abs(expected));
}

/** Throws, naming the first disagreeing element, unless the arrays agree element by element. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what = 'values',
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++)
    if (!close(actual[i]!, expected[i]!))
      throw new Error(
        `${what}[${i}] = ${actual[i]}, expected ${expected[i]} (tolerance ${TOLERANCE})`,
      );
}

/**
 * Against another framework's float32 results (TF.js, Keras: models whose weights were
 * trained there, run through many layers in another order of summation): issue 17's bound,
 * |actual - expected| <= 1e-4 * max(1, max |expected|) + 1e-3 * |expected|.
 */
export function expectCloseToFramework(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what = 'values',
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  let peak = 1;
  for (let i = 0; i < expected.length; i++) peak = Math.max(peak, Math.abs(expected[i]!));
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i]!;
    if (!(Math.abs(actual[i]! - e) <= 1e-4 * peak + 1e-3 * Math.abs(e)))
      throw new Error(
        `${what}[${i}] = ${actual[i]}, expected ${e} (tolerance 1e-4 * ${peak} + 1e-3 * |expected|)`,
      );
  }
}
