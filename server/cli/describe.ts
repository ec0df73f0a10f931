import type { Style } from './format';
import type { View } from './types';

/** Short words shared by every view: state, stage and the decision line of a rollout. */
export function stateText(v: View, s: Style): string {
  const t = v.state.replace('_', ' ') + (v.frozen ? ' (frozen)' : '');
  switch (v.state) {
    case 'active':
      return s.green(t);
    case 'paused':
      return s.yellow(t);
    case 'rolled_back':
      return s.red(t);
    case 'promoted':
      return s.cyan(t);
    default:
      return s.dim(t);
  }
}

export function stageText(v: View): string {
  const n = v.stages.length;
  if (v.state === 'promoted') return `100% (${n}/${n})`;
  const at = v.stages[v.stageIndex] ?? 0;
  if (v.state === 'rolled_back' || v.state === 'superseded') return `0% (was ${at}%)`;
  return `${at}% (${v.stageIndex + 1}/${n})`;
}

export function verdictText(v: View, s: Style): string {
  const d = v.decision;
  if (v.state !== 'active' && v.state !== 'paused') return s.dim('ended');
  if (!d) return s.dim('none yet');
  const word = d.verdict.toUpperCase();
  const coloured = d.verdict === 'advance' ? s.green(word) : d.verdict === 'rollback' ? s.red(word) : s.yellow(word);
  return `${coloured} ${s.dim(d.rule)}${d.alert ? ' ' + s.red('⚠') : ''}`;
}

/** The one sentence that says why the rollout stands where it does. */
export function reasonText(v: View): string {
  if (v.state === 'promoted') return `promoted: ${v.endReason ?? ''}`.trim();
  if (v.state === 'rolled_back') return `rolled back: ${v.endReason ?? ''}`.trim();
  if (v.state === 'superseded') return `superseded: ${v.endReason ?? ''}`.trim();
  const prefix = v.state === 'paused' ? 'paused; ' : '';
  if (!v.decision) return `${prefix}no decision yet: the controller has not evaluated this rollout`;
  return prefix + v.decision.reason;
}

export function versionsText(v: View): string {
  return `${v.stable} → ${v.candidate}`;
}
