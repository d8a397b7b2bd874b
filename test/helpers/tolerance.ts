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
