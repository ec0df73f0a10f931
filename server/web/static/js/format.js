/**
 * Display helpers of the page. Every rate, interval, difference, duration and gauge comes
 * computed from the server (the view's `figures`, server/presentation/figures.ts), as the
 * CLI gets them: this file only formats clock times and raw counts.
 */
export function num(x) {
  if (x === null || x === undefined) return '–';
  return Number.isInteger(x) ? x.toLocaleString('en') : x.toFixed(1);
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

export function reasonOf(v) {
  if (v.state === 'promoted') return `Promoted: ${v.endReason || ''}`;
  if (v.state === 'rolled_back') return `Rolled back: ${v.endReason || ''}`;
  if (v.state === 'superseded') return `Superseded: ${v.endReason || ''}`;
  const prefix = v.state === 'paused' ? 'Paused. ' : '';
  if (!v.decision) return `${prefix}No decision yet: the controller has not evaluated this rollout.`;
  return prefix + v.decision.reason;
}
