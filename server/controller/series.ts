import type { Decision } from '../domain/decision';

/** The compact point the dashboard charts: one per evaluation whose inputs changed. */
export interface SeriesPoint {
  at: number;
  stageIndex: number;
  percent: number;
  candidate: { p: number | null; N: number; G: number };
  control: { p: number | null; N: number; G: number };
  D: number | null;
  h: number | null;
  /** The advance bound's half-width (absent on points recorded before it existed). */
  hA?: number | null;
  /** The stage's non-inferiority margin (absent on points recorded before it was kept). */
  m?: number | null;
  verdict: Decision['verdict'];
  rule: Decision['rule'];
}

export function toPoint(d: Decision): SeriesPoint {
  const arm = (a: Decision['candidate']) => ({ p: a.p, N: a.N, G: a.G });
  return {
    at: d.at, stageIndex: d.stageIndex, percent: d.percent, candidate: arm(d.candidate), control: arm(d.control),
    D: d.D, h: d.h, hA: d.hAdvance, m: d.margin, verdict: d.verdict, rule: d.rule,
  };
}

/** True when a new point carries information the previous one did not. */
export function changed(prev: SeriesPoint | null, next: SeriesPoint): boolean {
  if (!prev) return true;
  return prev.candidate.N !== next.candidate.N || prev.control.N !== next.control.N || prev.verdict !== next.verdict
    || prev.rule !== next.rule || prev.stageIndex !== next.stageIndex;
}
