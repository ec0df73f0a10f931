import type { RolloutState } from '../rollout';
import { evidenceFigure, findingSentence, segmentReason } from '../segments';
import type { Decision, DecisionRule } from './types';

export interface ExplainContext {
  soakSeconds: number;
  minMachines: number;
  minRuns: number;
  maxStageAgeSeconds: number;
  minControlRuns: number;
  minSources: number;
  state: RolloutState;
}

/** Percent with one decimal: 0.0512 → "5.1%". */
export function pct(x: number | null): string {
  return x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`;
}

/** Signed percentage points: 0.0123 → "+1.2 pts". */
export function pts(x: number | null): string {
  if (x === null) return 'n/a';
  const v = 100 * x;
  // a bound just above (or below) zero keeps its sign visible: "+0.04 pts", not "+0.0 pts"
  const digits = v !== 0 && Math.abs(v) < 0.05 ? 2 : 1;
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)} pts`;
}

/** A duration in a decision's reason: "45 s", "3.5 h", "14.0 d" (days from 48 h). */
export function hours(s: number): string {
  return s >= 48 * 3600 ? `${(s / 86400).toFixed(1)} d` : s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s)} s`;
}

function runs(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

function comparison(d: Decision): string {
  const c = d.candidate;
  const k = d.control;
  if (c.N === 0 || k.N === 0) {
    const arm = (name: string, a: typeof c) => (a.N === 0 ? `no ${name} runs yet` : `${name} ${pct(a.p)} of ${runs(a.N)} capped runs on ${a.G} machines`);
    return `${arm('candidate', c)}, ${arm('control', k)}`;
  }
  return (
    `candidate ${pct(c.p)} of ${runs(c.N)} capped runs on ${c.G} machines vs control ${pct(k.p)} of ${runs(k.N)} on ${k.G}` +
    (d.D === null || d.h === null
      ? ''
      : d.hAdvance === null || d.hAdvance === d.h
        ? ` (D = ${pts(d.D)} ± ${(100 * d.h).toFixed(1)})`
        : ` (D = ${pts(d.D)}, always-valid interval ${pts(d.lower)} to ${pts(d.upper)})`)
  );
}

function blockerText(rule: DecisionRule, d: Decision, x: ExplainContext): string {
  switch (rule) {
    case 'no_q0':
      return d.control.N >= x.minControlRuns
        ? `no baseline failure rate q0 yet: it is frozen from the control arm (${runs(d.control.N)} capped runs) once the first stage has soaked`
        : `no baseline failure rate q0 yet: the control arm has ${runs(d.control.N)} of the ${x.minControlRuns} capped runs needed to freeze it`;
    case 'segment_suspect':
      return d.segments?.suspect ? `a segment is nearly proven worse (${findingSentence(d.segments.suspect)}; ${evidenceFigure(d.segments.suspect)})` : 'a segment is nearly proven worse';
    case 'data_quality':
      return `data-quality alarm (${d.alarms.map((a) => a.split(':')[0]).join(', ')})`;
    case 'insufficient_soak':
      return `soaking ${hours(d.stageAgeSeconds)} of ${hours(x.soakSeconds)} in the ${d.percent}% stage`;
    case 'insufficient_machines':
      return `${d.candidate.G} of ${x.minMachines} distinct candidate machines`;
    case 'insufficient_runs':
      return `${runs(d.candidate.N)} of ${x.minRuns} capped candidate runs`;
    case 'insufficient_sources':
      return `completing the rollout needs candidate evidence from ${x.minSources} independent sources, it has ${d.candidate.sources} ` +
        `(${d.candidate.sources === 1 ? 'one enrolment address block or reporter token' : 'enrolment address blocks or reporter tokens'}); a release manager's promote completes it by hand`;
    case 'not_proven_non_inferior':
      return d.upper === null || d.margin === null
        ? 'no comparison possible yet'
        : `upper bound ${pts(d.upper)} not below the ${(100 * d.margin).toFixed(1)}-point margin`;
    default:
      return rule;
  }
}

export function explain(d: Decision, x: ExplainContext): string {
  switch (d.rule) {
    case 'not_active':
      return `Nothing to decide: the rollout is ${x.state} at stage ${d.stageIndex} (${d.percent}%).`;
    case 'hard_break':
      return (
        `Hard break: ${d.candidate.allFailingMachines} of ${d.candidate.G} candidate machines failed or errored on every run ` +
        `(${d.candidate.runs} runs, ${d.candidate.failures} failures, ${d.candidate.errors} errors) while the control fails ${pct(d.control.p ?? d.q0)}` +
        ` (that many by chance: p = ${(d.hardBreakP ?? 0).toExponential(1)}).`
      );
    case 'regression':
      return `Regression: ${comparison(d)}; the always-valid lower bound ${pts(d.lower)} is above zero.`;
    case 'segment':
      return `Segment regression: ${d.segments ? segmentReason(d.segments) : 'n/a'}; the whole arms: ${comparison(d)}.`;
    case 'rollback_needs_sources': {
      const h = d.held!;
      const what = h.rule === 'hard_break' ? 'a hard break' : h.rule === 'regression' ? 'a regression' : 'a segment regression';
      const seg = h.rule === 'segment' && d.segments?.held ? ` (${findingSentence(d.segments.held)})` : '';
      return (
        `Hold, a human should look: the evidence shows ${what}${seg}, but its failures come from ${h.sources} ` +
        `${h.sources === 1 ? 'source' : 'sources'} and an automatic rollback needs ${h.needed} independent sources ` +
        `(enrolment address blocks or reporter tokens); a release manager can roll back by hand; ${comparison(d)}.`
      );
    }
    case 'advance':
      return (
        `Advance from ${d.percent}%: after ${hours(d.stageAgeSeconds)}, ${comparison(d)}; ` +
        `the upper bound ${pts(d.upper)} is below the ${(100 * (d.margin ?? 0)).toFixed(1)}-point margin.`
      );
    case 'max_stage_age':
      return (
        `Holding for ${hours(d.stageAgeSeconds)} in the ${d.percent}% stage (max ${hours(x.maxStageAgeSeconds)}), a human should look: ` +
        `${d.blockers.map((b) => blockerText(b, d, x)).join('; ')}; ${comparison(d)}.`
      );
    default:
      return `Hold: ${d.blockers.map((b) => blockerText(b, d, x)).join('; ')}; ${comparison(d)}.`;
  }
}
