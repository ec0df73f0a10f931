/**
 * Formatting and the small statistics the page shows. These mirror server/cli/rates.ts and
 * server/cli/progress.ts (the CLI's), so the dashboard and `depcanary rollouts` agree.
 */
const Z = 1.959964;

export function pct(x, digits = 1) {
  return x === null || x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(digits)}%`;
}

export function pts(x) {
  if (x === null || x === undefined) return '–';
  const v = 100 * x;
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)} pts`;
}

export function num(x) {
  if (x === null || x === undefined) return '–';
  return Number.isInteger(x) ? x.toLocaleString('en') : x.toFixed(1);
}

/**
 * Failure rate of an arm with a 95% interval: the controller's capped rate ± 1.96·√V when
 * it has evaluated the rollout, else the raw rate with a Wilson interval.
 */
export function armRate(view, arm) {
  const d = view.decision && view.decision[arm];
  if (d && d.p !== null && d.V !== null) {
    const sd = Math.sqrt(d.V);
    return { p: d.p, lo: Math.max(0, d.p - Z * sd), hi: Math.min(1, d.p + Z * sd), basis: 'decision' };
  }
  const c = view.evidence.total[arm];
  return { ...wilson(c.failures + c.errors, c.runs), basis: 'raw' };
}

export function wilson(k, n) {
  if (n <= 0) return { p: null, lo: null, hi: null };
  const p = k / n;
  const z2 = Z * Z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (Z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

export function rateInterval(r) {
  return r.p === null ? '' : `${(100 * r.lo).toFixed(1)}–${(100 * r.hi).toFixed(1)}%`;
}

export function duration(seconds) {
  let s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const parts = [];
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

export function ago(ms, now = Date.now()) {
  const s = Math.round((now - ms) / 1000);
  if (s < 2) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function clock(ms) {
  return new Date(ms).toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'medium' });
}

export function time(ms) {
  return new Date(ms).toLocaleTimeString('en-GB');
}

export const LIVE = new Set(['active', 'paused']);

export function stageLabel(v) {
  const n = v.stages.length;
  if (v.state === 'promoted') return `100% · done`;
  if (!LIVE.has(v.state)) return `0% · ended at ${v.stages[v.stageIndex]}%`;
  return `${v.stages[v.stageIndex]}% · stage ${v.stageIndex + 1} of ${n}`;
}

/**
 * Conditions of the current stage's advance, each with how far it is met (0..1): soak
 * time, distinct candidate machines, capped candidate runs, control runs for q0, and the
 * non-inferiority bound (D + h below the margin).
 */
export function gauges(v, now = Date.now()) {
  if (!LIVE.has(v.state)) return [];
  const stage = v.policy.stages[v.stageIndex];
  if (!stage) return [];
  const d = v.decision;
  const out = [];
  const g = (key, label, have, need, text) =>
    out.push({ key, label, fraction: need <= 0 ? 1 : Math.max(0, Math.min(1, have / need)), done: have >= need, text });
  const age = Math.max(0, (now - v.stageEnteredAt) / 1000);
  g('soak', 'Soak time', age, stage.soakSeconds, `${duration(age)} of ${duration(stage.soakSeconds)}`);
  const machines = d ? d.candidate.G : v.evidence.total.candidate.machines;
  g('machines', 'Candidate machines', machines, stage.minMachines, `${num(machines)} of ${num(stage.minMachines)}`);
  const runs = d ? d.candidate.N : v.evidence.total.candidate.runs;
  g('runs', 'Candidate runs (capped)', runs, stage.minRuns, `${num(runs)} of ${num(stage.minRuns)}`);
  if (v.q0 === null && !(d && d.q0 !== null)) {
    const ctrl = d ? d.control.N : v.evidence.total.control.runs;
    g('control', 'Control runs for q0', ctrl, v.policy.minControlRuns, `${num(ctrl)} of ${num(v.policy.minControlRuns)}`);
  }
  if (d && d.upper !== null && d.margin !== null) {
    const done = d.upper < d.margin;
    const fraction = done ? 1 : d.margin > 0 && d.upper > 0 ? Math.min(1, d.margin / d.upper) : 0;
    out.push({ key: 'bound', label: 'Non-inferiority', fraction, done, text: `D + h ${pts(d.upper)} vs margin ${pts(d.margin)}` });
  } else {
    out.push({ key: 'bound', label: 'Non-inferiority', fraction: 0, done: false, text: 'not enough data to compare yet' });
  }
  return out;
}

/** The least-met hard requirement of the current stage (soak, machines, runs): 0..1. */
export function stageProgress(v, now = Date.now()) {
  const gs = gauges(v, now).filter((g) => g.key !== 'bound');
  return gs.length === 0 ? 0 : Math.min(...gs.map((g) => g.fraction));
}

export function reasonOf(v) {
  if (v.state === 'promoted') return `Promoted: ${v.endReason || ''}`;
  if (v.state === 'rolled_back') return `Rolled back: ${v.endReason || ''}`;
  if (v.state === 'superseded') return `Superseded: ${v.endReason || ''}`;
  const prefix = v.state === 'paused' ? 'Paused. ' : '';
  if (!v.decision) return `${prefix}No decision yet: the controller has not evaluated this rollout.`;
  return prefix + v.decision.reason;
}
