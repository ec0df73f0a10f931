import fc from 'fast-check';
import { binomialUpperTail } from '../../server/domain/decision';

/** P(X ≥ k) by direct summation of C(n, j)·p^j·(1 − p)^(n − j) (fine for small n). */
function direct(k: number, n: number, p: number): number {
  let sum = 0;
  let c = 1; // C(n, 0)
  for (let j = 0; j <= n; j++) {
    if (j >= k) sum += c * p ** j * (1 - p) ** (n - j);
    c = (c * (n - j)) / (j + 1);
  }
  return sum;
}

describe('binomialUpperTail', () => {
  test('hand-computed cases', () => {
    expect(binomialUpperTail(3, 3, 0.05)).toBeCloseTo(1.25e-4, 15); // 0.05³
    expect(binomialUpperTail(2, 4, 0.5)).toBeCloseTo(11 / 16, 15); // (6 + 4 + 1)/16
    // P(Binomial(6, 0.15) ≥ 3) = 1 − (0.85⁶ + 6·0.15·0.85⁵ + 15·0.15²·0.85⁴)
    expect(binomialUpperTail(3, 6, 0.15)).toBeCloseTo(0.0473386, 7);
  });

  test('edges: k ≤ 0 is certain, k > n impossible, p = 0 and p = 1', () => {
    expect(binomialUpperTail(0, 5, 0.3)).toBe(1);
    expect(binomialUpperTail(6, 5, 0.3)).toBe(0);
    expect(binomialUpperTail(1, 5, 0)).toBe(0);
    expect(binomialUpperTail(5, 5, 1)).toBe(1);
    expect(() => binomialUpperTail(1, 5, 1.5)).toThrow(RangeError);
    expect(() => binomialUpperTail(1.5, 5, 0.5)).toThrow(RangeError);
  });

  test('below the mode (the complement branch) and far in the tail, without underflow trouble', () => {
    // k = 1 of 10,000 at p = 0.5: the first term underflows, the tail is 1 − 2^−10000 = 1
    expect(binomialUpperTail(1, 10_000, 0.5)).toBe(1);
    // the median of a symmetric binomial: P(X ≥ 5000) = 1/2 + P(X = 5000)/2 = 0.5039893
    expect(binomialUpperTail(5_000, 10_000, 0.5)).toBeCloseTo(0.5039893, 6);
    // far above the mean: tiny but positive, and no larger than its first term's bound
    const far = binomialUpperTail(300, 3_000, 0.01);
    expect(far).toBeGreaterThan(0);
    expect(far).toBeLessThan(1e-100);
  });

  test('agrees with direct summation for small n, on both sides of the mode', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: -1, max: 42 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, k, p) => {
        const got = binomialUpperTail(k, n, p);
        expect(got).toBeGreaterThanOrEqual(0);
        expect(got).toBeLessThanOrEqual(1);
        expect(Math.abs(got - direct(k, n, p))).toBeLessThan(1e-12);
      }),
    );
  });
});
