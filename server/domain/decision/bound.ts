/**
 * The always-valid half-width of the mixture SPRT (normal approximation), DECISION.md:
 *
 *   h = sqrt( V·(V+τ²)/τ² · ln( (V+τ²) / (V·a²) ) ),  a = 2α
 *
 * D ± h covers the true difference with probability ≥ 1 − a at every moment at once, so
 * the rule may look after every report. τ only chooses where the bound is tightest; the
 * guarantee holds for any τ fixed in advance. h grows with V, so it shrinks as data accrue.
 */
export const TAU_FLOOR = 0.01;

export function tauFor(rate: number | null): number {
  return Math.max(rate ?? 0, TAU_FLOOR);
}

export function halfWidth(V: number, tau: number, alpha: number): number {
  if (!(V > 0) || !Number.isFinite(V)) throw new RangeError(`variance must be positive and finite, got ${V}`);
  if (!(tau > 0)) throw new RangeError(`tau must be positive, got ${tau}`);
  if (!(alpha > 0 && alpha < 0.5)) throw new RangeError(`alpha must be in (0, 0.5), got ${alpha}`);
  const a = 2 * alpha;
  const t2 = tau * tau;
  return Math.sqrt(((V * (V + t2)) / t2) * Math.log((V + t2) / (V * a * a)));
}
