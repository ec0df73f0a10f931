import { sourceText } from './render-canary';
import { table, truncate, type Style } from './format';
import { reasonText, stageText, stateText, verdictText, versionsText } from './describe';
import type { View } from './types';

/**
 * `depcanary rollouts`: one row per rollout (active first, then newest), the reason the
 * controller gave on an indented line beneath, so the table stays readable at 120 columns.
 */
export function renderRollouts(views: View[], s: Style, width: number | undefined): string {
  if (views.length === 0) return 'No rollouts yet. Start one with: depcanary start LIBRARY VERSION\n';
  const rank = (v: View) => (v.state === 'active' ? 0 : v.state === 'paused' ? 1 : 2);
  const sorted = [...views].sort((a, b) => rank(a) - rank(b) || b.createdAt - a.createdAt);
  const rows: string[][] = [];
  const reasons: string[] = [];
  for (const v of sorted) {
    const c = v.evidence.total.candidate;
    const k = v.evidence.total.control;
    rows.push([
      v.id,
      v.library,
      v.branch ?? 'master',
      versionsText(v),
      stateText(v, s),
      stageText(v),
      `${c.runs}/${c.machines}`,
      v.figures.arms.candidate.full,
      `${k.runs}/${k.machines}`,
      v.figures.arms.control.full,
      verdictText(v, s),
    ]);
    const why = v.emergencyPin?.inForce ? `emergency pin: every machine gets ${v.stable} until the base stops pinning ${v.candidate}` : reasonText(v);
    const source = sourceText(v);
    reasons.push(source ? `${source}: ${why}` : why);
  }
  const lines = table(
    ['ID', 'LIBRARY', 'BRANCH', 'S → C', 'STATE', 'STAGE', 'CAND runs/mach', 'CAND fail [95%]', 'CTRL runs/mach', 'CTRL fail [95%]', 'DECISION'],
    rows,
    s,
  );
  const out = [lines[0]!];
  for (let i = 0; i < rows.length; i++) {
    out.push(lines[i + 1]!);
    const reason = `  ↳ ${reasons[i]!}`;
    out.push(s.dim(width ? truncate(reason, width) : reason));
  }
  out.push(s.dim(sorted[0]!.figures.rateBasis));
  return out.join('\n') + '\n';
}
