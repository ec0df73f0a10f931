/**
 * P(X ≥ k) for X ~ Binomial(n, p): the chance that at least k of n machines fail every run
 * when each does so with probability p. Summed from the k-th term upwards in log space, so
 * it stays exact enough for the fleet sizes a rollout sees (n up to millions, p near 0 or 1).
 */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (!Number.isInteger(k) || !Number.isInteger(n) || n < 0) throw new RangeError(`need integers n ≥ 0 and k, got n=${n} k=${k}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`p must be in [0, 1], got ${p}`);
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p === 0) return 0;
  if (p === 1) return 1;
  // Below the mode the first term can underflow while the tail is near 1: use the complement,
  // P(X ≥ k) = 1 − P(n − X ≥ n − k + 1), whose sum starts above its own mode.
  if (k <= n * p) return 1 - binomialUpperTail(n - k + 1, n, 1 - p);
  // log C(n, k) + k·ln p + (n − k)·ln(1 − p), then t_{j+1} = t_j · (n − j)/(j + 1) · p/(1 − p)
  let logTerm = k * Math.log(p) + (n - k) * Math.log1p(-p);
  for (let i = 0; i < k; i++) logTerm += Math.log((n - i) / (i + 1));
  let term = Math.exp(logTerm);
  let sum = 0;
  const ratio = p / (1 - p);
  for (let j = k; j <= n; j++) {
    sum += term;
    term *= ((n - j) / (j + 1)) * ratio;
    // k is above the mode, so the terms only decrease: stop once they no longer move the sum
    if (term < sum * 1e-17 || term === 0) break;
  }
  return Math.min(1, sum);
}
