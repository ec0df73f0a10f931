import type { Arm, View } from './types';

/**
 * A failure rate (failures + errors per run) with a 95% interval. When the controller has
 * evaluated the rollout, this is its capped rate with the cluster-robust variance V the rule
 * uses (p ± 1.96·√V); before that, the raw rate with a Wilson interval.
 */
export interface Rate {
  p: number | null;
  lo: number | null;
  hi: number | null;
  basis: 'decision' | 'raw';
}

const Z = 1.959964;

export function armRate(v: View, arm: Arm): Rate {
  const d = v.decision?.[arm];
  if (d && d.p !== null && d.V !== null) {
    const sd = Math.sqrt(d.V);
    return { p: d.p, lo: Math.max(0, d.p - Z * sd), hi: Math.min(1, d.p + Z * sd), basis: 'decision' };
  }
  const c = v.evidence.total[arm];
  return { ...wilson(c.failures + c.errors, c.runs), basis: 'raw' };
}

export function wilson(k: number, n: number): { p: number | null; lo: number | null; hi: number | null } {
  if (n <= 0) return { p: null, lo: null, hi: null };
  const p = k / n;
  const z2 = Z * Z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (Z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/** 0.0412 → "4.1%". */
export function pct(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined ? '–' : `${(100 * x).toFixed(digits)}%`;
}

/** "4.1% [2.0–7.3]" or "–". */
export function rateText(r: Rate): string {
  if (r.p === null) return '–';
  return `${pct(r.p)} [${(100 * (r.lo ?? 0)).toFixed(1)}–${(100 * (r.hi ?? 0)).toFixed(1)}]`;
}

/** Signed points: 0.012 → "+1.2 pts". */
export function pts(x: number | null | undefined): string {
  if (x === null || x === undefined) return '–';
  const v = 100 * x;
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)} pts`;
}
