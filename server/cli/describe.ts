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
  if (v.state === 'rolled_back' || v.state === 'superseded' || v.state === 'abandoned') return `0% (was ${at}%)`;
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
  if (v.state === 'abandoned') return `abandoned: ${v.endReason ?? ''}`.trim();
  const prefix = v.state === 'paused' ? 'paused; ' : '';
  if (!v.decision) return `${prefix}no decision yet: the controller has not evaluated this rollout`;
  return prefix + v.decision.reason;
}

export function versionsText(v: View): string {
  return `${v.stable} → ${v.candidate}`;
}

/** "on stable/2025.2" (every view names the branch: each has its own base). */
export function branchText(v: View): string {
  return `on ${v.branch ?? 'master'}`;
}

/** Requires-Python and what it means for the lines: e.g. "candidate needs >=3.10 (package index); Python 3.9 keeps 4.9.1". */
export function pythonText(v: View): string {
  const src = v.requiresPythonSource === 'index' ? 'package index' : v.requiresPythonSource === 'request' ? 'given at start' : 'not read: index off';
  const req = v.requiresPython ? `candidate Requires-Python ${v.requiresPython}` : 'candidate declares no Requires-Python';
  const kept = v.keptPythons?.length ? `; Python ${v.keptPythons.join(', ')} keep${v.keptPythons.length === 1 ? 's' : ''} ${v.stable}` : '';
  return `${req} (${src})${kept}; community Pythons ${(v.pythons ?? []).join(', ') || 'unknown'}`;
}

/** What the rollout changes in the served files, and for whom. */
export function linesText(v: View): string {
  if (v.lines.status === 'ended') return 'ended: no line is overridden';
  if (v.lines.status === 'diverged') return `the base no longer pins ${v.stable} or ${v.candidate} for ${v.library}: nothing is overridden (reports are counted as mismatches)`;
  const parts: string[] = [];
  if (v.lines.candidateLines) parts.push(`candidate machines get ${v.candidate} on ${v.lines.candidateLines} line${v.lines.candidateLines === 1 ? '' : 's'}`);
  if (v.lines.controlLines) parts.push(`the base pins ${v.candidate} (the bump merged first): control machines get ${v.stable} on ${v.lines.controlLines} line${v.lines.controlLines === 1 ? '' : 's'}`);
  return parts.join('; ');
}

/** The emergency pin a rollback left, or null. */
export function emergencyText(v: View): string | null {
  const p = v.emergencyPin;
  if (!p) return null;
  if (!p.inForce) return `emergency pin released: the base no longer pins ${p.candidate}`;
  return `EMERGENCY PIN: every machine on ${p.branch} gets ${p.library} ${p.stable} until the base stops pinning ${p.candidate} (merge the revert); lift it with \`depcanary lift-pin ${v.id} --reason ...\``;
}
