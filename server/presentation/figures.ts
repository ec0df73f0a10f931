/**
 * Every figure people see about a rollout — rates with their intervals, the difference and
 * its bounds, durations, the gauges toward the next advance and the segment lines — computed
 * once, here, and returned by the API (`figures` of a rollout view). The CLI (server/cli)
 * and the dashboard (server/web) only render these texts and numbers, so they cannot drift
 * apart. Pure: `now` is passed in.
 */
import { pct as pct1, pts } from '../domain/decision/explain';
import type { Decision } from '../domain/decision';
import type { ArmCounters } from '../domain/evidence';
import { runLevelAlpha, type Policy } from '../domain/policy';
import type { RolloutState } from '../domain/rollout';
import { evidenceFigure, findingSentence, type SegmentFinding } from '../domain/segments';

export { pts };

const Z = 1.959964;

/** What the figures are computed from: a rollout with its decision and raw counters. */
export interface FigureInput {
  state: RolloutState;
  stages: number[];
  stageIndex: number;
  stageEnteredAt: number;
  policy: Policy;
  q0: number | null;
  decision: Decision | null;
  evidence: { total: Record<'candidate' | 'control', ArmCounters> };
}

export interface RateFigure {
  p: number | null;
  lo: number | null;
  hi: number | null;
  /** decision: the controller's capped rate ± 1.96·√V; raw: raw runs with a Wilson interval. */
  basis: 'decision' | 'raw';
  /** "4.1%" or "–". */
  text: string;
  /** "2.0–7.3%" or "". */
  interval: string;
  /** "4.1% [2.0–7.3]" or "–". */
  full: string;
}

export type GaugeKey = 'soak' | 'machines' | 'runs' | 'control' | 'segment' | 'bound';

export interface GaugeFigure {
  key: GaugeKey;
  label: string;
  /** 0..1 */
  fraction: number;
  done: boolean;
  text: string;
}

export interface SegmentLine {
  family: SegmentFinding['family'];
  label: string;
  /** "blazar: 2 tests fail on 4 of 4 candidate machines, 0 of 61 control machines" */
  sentence: string;
  /** "e = 5.9e+7, needs 1.3e+6" */
  figure: string;
  fired: boolean;
  suspect: boolean;
}

export interface Figures {
  /** When they were computed (server clock, ms). */
  at: number;
  arms: Record<'candidate' | 'control', RateFigure>;
  /** How the rates and intervals are computed (one sentence). */
  rateBasis: string;
  /** "+1.2 pts" or "–". */
  difference: string;
  /** "[−0.4 pts, +2.8 pts]" or "–". */
  interval: string;
  /** "+5.0 pts" or "– (no q0 yet)". */
  margin: string;
  /** "2.4%" or "–". */
  q0: string;
  /** "α 0.01 (run-level 0.0075, segments 0.0025) rollback / 0.05 advance" or "–". */
  levels: string;
  /** Time in the current stage: "1d4h". */
  stageAge: string;
  /** Conditions of the next advance, each with how far it is met (empty unless active or paused). */
  gauges: GaugeFigure[];
  /** The least-met of soak, machines and runs (0..1): how far the stage is toward its advance. */
  stageProgress: number;
  segments: { fired: SegmentLine | null; suspect: SegmentLine | null; top: SegmentLine[] };
  /** Legend of the chart's band: its lower edge is the rollback bound, its upper edge the advance bound. */
  chart: { bandLow: string; bandHigh: string };
}

/** 0.0412 → "4.1%" ("–" for null). */
export function pct(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return digits === 1 ? pct1(x) : `${(100 * x).toFixed(digits)}%`;
}

/** Signed points or "–". */
export function points(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : pts(x);
}

/** 90 → "1m30s", 86400 → "1d", 90061 → "1d1h": at most two units, no spaces. */
export function duration(seconds: number): string {
  let s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const parts: string[] = [];
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
    if (parts.length === 2) break;
  }
  return parts.join('');
}

/** Whole numbers as they are, others with one decimal; thousands separated ("12,345"). */
export function count(x: number): string {
  return Number.isInteger(x) ? x.toLocaleString('en') : x.toLocaleString('en', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

export function wilson(k: number, n: number): { p: number | null; lo: number | null; hi: number | null } {
  if (!(n > 0)) return { p: null, lo: null, hi: null };
  const p = k / n;
  const z2 = Z * Z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (Z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

function rateFigure(r: { p: number | null; lo: number | null; hi: number | null }, basis: RateFigure['basis']): RateFigure {
  if (r.p === null || r.lo === null || r.hi === null) return { ...r, basis, text: '–', interval: '', full: '–' };
  const band = `${(100 * r.lo).toFixed(1)}–${(100 * r.hi).toFixed(1)}`;
  return { ...r, basis, text: pct(r.p), interval: `${band}%`, full: `${pct(r.p)} [${band}]` };
}

/** An arm's failure rate: the controller's capped rate with its variance, or before its first evaluation the raw rate. */
export function armRate(v: FigureInput, arm: 'candidate' | 'control'): RateFigure {
  const d = v.decision?.[arm];
  if (d && d.p !== null && d.V !== null) {
    const sd = Math.sqrt(d.V);
    return rateFigure({ p: d.p, lo: Math.max(0, d.p - Z * sd), hi: Math.min(1, d.p + Z * sd) }, 'decision');
  }
  const c = v.evidence.total[arm];
  return rateFigure(wilson(c.failures + c.errors, c.runs), 'raw');
}

export const RATE_BASIS =
  'fail = (failures + errors) / runs over the whole rollout; [95%]: the controller\'s capped rate ± 1.96·√V, or a Wilson interval before its first evaluation';

const live = (s: RolloutState) => s === 'active' || s === 'paused';

function gauge(key: GaugeKey, label: string, have: number, need: number, text: string): GaugeFigure {
  const fraction = need <= 0 ? 1 : Math.max(0, Math.min(1, have / need));
  return { key, label, fraction, text, done: have >= need };
}

/**
 * One gauge per condition of the stage's advance: soak time, distinct candidate machines,
 * capped candidate runs, the control runs that freeze q0 (while there is none), no segment
 * nearly proven worse, and the non-inferiority bound. Counts are the latest decision's
 * (capped, as the rule counts them) or, before the first evaluation, the raw counters.
 */
export function gauges(v: FigureInput, now: number): GaugeFigure[] {
  if (!live(v.state)) return [];
  const stage = v.policy.stages[v.stageIndex];
  if (!stage) return [];
  const d = v.decision;
  const out: GaugeFigure[] = [];
  const age = Math.max(0, (now - v.stageEnteredAt) / 1000);
  out.push(gauge('soak', 'Soak time', age, stage.soakSeconds, `${duration(age)} of ${duration(stage.soakSeconds)}`));
  const machines = d?.candidate.G ?? v.evidence.total.candidate.machines;
  out.push(gauge('machines', 'Candidate machines', machines, stage.minMachines, `${count(machines)} of ${count(stage.minMachines)}`));
  const runs = d?.candidate.N ?? v.evidence.total.candidate.runs;
  out.push(gauge('runs', 'Candidate runs (capped)', runs, stage.minRuns, `${count(runs)} of ${count(stage.minRuns)}`));
  if (v.q0 === null && !(d && d.q0 !== null)) {
    const ctrl = d?.control.N ?? v.evidence.total.control.runs;
    out.push(gauge('control', 'Control runs for q0', ctrl, v.policy.minControlRuns, `${count(ctrl)} of ${count(v.policy.minControlRuns)}`));
  }
  const suspect = d?.segments?.suspect ?? null;
  out.push(
    suspect
      ? { key: 'segment', label: 'Segments', fraction: 0, done: false, text: `${suspect.label} nearly proven worse (${evidenceFigure(suspect)})` }
      : d
        ? { key: 'segment', label: 'Segments', fraction: 1, done: true, text: 'none nearly proven worse' }
        : { key: 'segment', label: 'Segments', fraction: 0, done: false, text: 'not evaluated yet' },
  );
  if (d && d.upper !== null && d.margin !== null) {
    const done = d.upper < d.margin;
    const fraction = done ? 1 : d.margin > 0 && d.upper > 0 ? Math.min(1, d.margin / d.upper) : 0;
    out.push({ key: 'bound', label: 'Non-inferiority', fraction, done, text: `D + h ${pts(d.upper)} vs margin ${pts(d.margin)}` });
  } else {
    out.push({ key: 'bound', label: 'Non-inferiority', fraction: 0, done: false, text: 'no comparison yet' });
  }
  return out;
}

function segmentLine(f: SegmentFinding, tests: readonly string[] = []): SegmentLine {
  return { family: f.family, label: f.label, sentence: findingSentence(f, tests), figure: evidenceFigure(f), fired: f.fired, suspect: f.suspect };
}

function levels(d: Decision): string {
  const seg = d.alpha - d.runAlpha;
  const split = seg > 1e-12 ? ` (run-level ${round(d.runAlpha)}, segments ${round(seg)})` : '';
  return `α ${round(d.alpha)}${split} rollback / ${round(d.advanceAlpha)} advance`;
}

/** "98.5%": the always-valid coverage 1 − 2α of a bound at level α. */
function coverage(alpha: number): string {
  return `${round(100 * (1 - 2 * alpha))}%`;
}

function round(x: number): string {
  return String(Number(x.toPrecision(6)));
}

export function figuresOf(v: FigureInput, now: number): Figures {
  const d = v.decision;
  const gs = gauges(v, now);
  const hard = gs.filter((g) => g.key === 'soak' || g.key === 'machines' || g.key === 'runs');
  const seg = d?.segments ?? null;
  return {
    at: now,
    arms: { candidate: armRate(v, 'candidate'), control: armRate(v, 'control') },
    rateBasis: RATE_BASIS,
    difference: points(d?.D),
    interval: d && d.lower !== null && d.upper !== null ? `[${pts(d.lower)}, ${pts(d.upper)}]` : '–',
    margin: d?.margin != null ? pts(d.margin) : '– (no q0 yet)',
    q0: pct(d?.q0 ?? v.q0),
    levels: d ? levels(d) : '–',
    stageAge: duration(Math.max(0, (now - v.stageEnteredAt) / 1000)),
    gauges: gs,
    stageProgress: hard.length === 0 ? 0 : Math.min(...hard.map((g) => g.fraction)),
    segments: {
      fired: seg?.fired ? segmentLine(seg.fired, seg.firedTests) : null,
      suspect: seg?.suspect ? segmentLine(seg.suspect) : null,
      top: (seg?.top ?? []).map((f) => segmentLine(f)),
    },
    chart: {
      bandLow: `p_T − h, ${coverage(d?.runAlpha ?? runLevelAlpha(v.policy))} always-valid, rollback`,
      bandHigh: `p_T + h, ${coverage(d?.advanceAlpha ?? v.policy.advanceAlpha)} always-valid, advance`,
    },
  };
}
