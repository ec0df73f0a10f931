import type { Style } from '../cli/format';
import type { View } from '../cli/types';

/** What the demo's summary line says about one rollout. */
export function describeRollout(v: View): { percent: number; verdict: string; arms: string; colour: (s: Style, t: string) => string } {
  const live = v.state === 'active' || v.state === 'paused';
  const percent = v.state === 'promoted' ? 100 : live ? (v.stages[v.stageIndex] ?? 0) : 0;
  let verdict: string;
  let colour: (s: Style, t: string) => string;
  if (v.state === 'promoted') {
    verdict = 'PROMOTED';
    colour = (s, t) => s.green(t);
  } else if (v.state === 'rolled_back') {
    verdict = 'ROLLED BACK';
    colour = (s, t) => s.red(t);
  } else if (!v.decision) {
    verdict = 'waiting';
    colour = (s, t) => s.dim(t);
  } else {
    verdict = v.decision.verdict === 'hold' ? `hold` : v.decision.verdict;
    colour = (s, t) => (v.decision?.verdict === 'rollback' ? s.red(t) : v.decision?.verdict === 'advance' ? s.green(t) : s.yellow(t));
  }
  const why = live && v.decision ? `  ${v.decision.rule}` : '';
  const arms = `candidate ${v.figures.arms.candidate.text} on ${v.evidence.total.candidate.machines} machines, control ${v.figures.arms.control.text} on ${v.evidence.total.control.machines}${why}`;
  return { percent, verdict, arms, colour };
}
