import { formatDuration } from './duration';
import { pts } from './rates';
import type { View } from './types';

/**
 * How far a rollout is toward the controller's next advance: one gauge per condition of the
 * stage (soak time, distinct candidate machines, capped candidate runs, the control runs that
 * freeze q0, and the non-inferiority bound). Counts come from the latest decision (capped,
 * as the rule counts them) or, before the first evaluation, from the raw evidence.
 */
export interface Gauge {
  label: string;
  fraction: number;
  text: string;
  done: boolean;
}

export function nextDecisionGauges(v: View, now: number): Gauge[] {
  if (v.state !== 'active' && v.state !== 'paused') return [];
  const stage = v.policy.stages[v.stageIndex];
  if (!stage) return [];
  const d = v.decision;
  const gauges: Gauge[] = [];
  const age = Math.max(0, (now - v.stageEnteredAt) / 1000);
  gauges.push(gauge('soak', age, stage.soakSeconds, `${formatDuration(age)} / ${formatDuration(stage.soakSeconds)}`));
  const machines = d?.candidate.G ?? v.evidence.total.candidate.machines;
  gauges.push(gauge('machines', machines, stage.minMachines, `${machines} / ${stage.minMachines}`));
  const runs = d?.candidate.N ?? v.evidence.total.candidate.runs;
  gauges.push(gauge('runs', runs, stage.minRuns, `${round(runs)} / ${stage.minRuns}`));
  if (v.q0 === null && !(d && d.q0 !== null)) {
    const ctrl = d?.control.N ?? v.evidence.total.control.runs;
    gauges.push(gauge('control', ctrl, v.policy.minControlRuns, `${round(ctrl)} / ${v.policy.minControlRuns} for q0`));
  }
  if (d && d.upper !== null && d.margin !== null) {
    const done = d.upper < d.margin;
    const fraction = done ? 1 : d.margin > 0 && d.upper > 0 ? Math.min(1, d.margin / d.upper) : 0;
    gauges.push({ label: 'bound', fraction, done, text: `D+h ${pts(d.upper)} vs margin ${pts(d.margin)}` });
  } else {
    gauges.push({ label: 'bound', fraction: 0, done: false, text: 'no comparison yet' });
  }
  return gauges;
}

function gauge(label: string, have: number, need: number, text: string): Gauge {
  const fraction = need <= 0 ? 1 : Math.max(0, Math.min(1, have / need));
  return { label, fraction, text, done: have >= need };
}

function round(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}
