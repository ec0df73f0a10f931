/** Per-scenario metrics of one rule over many simulated rollouts, and the markdown table. */
import type { RolloutResult } from './play';
import type { Scenario, Truth } from './scenarios';

export interface RuleMetrics {
  rollouts: number;
  rollbackRate: number;
  promotedRate: number;
  holdRate: number;
  /** Rollbacks of a good candidate / all rollouts (null unless truth is good). */
  falseRollbackRate: number | null;
  /** Promotions of a bad candidate / all rollouts (null unless truth is bad). */
  missedRegressionRate: number | null;
  /** Median over rollouts with a final decision (rollback or promotion). */
  medianHours: number | null;
  medianCandidateRuns: number | null;
  /** Mean runs on the bad version before rollback (horizon if never rolled back); null unless bad. */
  meanBlastRadius: number | null;
  /** Rollbacks by the rule that fired. */
  rollbackRules: Record<string, number>;
  /** Rollouts still holding at the horizon, by the rule of their last evaluation. */
  holdRules: Record<string, number>;
  /** Median frozen q0 (depcanary), null for the naive rule. */
  medianQ0: number | null;
}

export interface ScenarioResult {
  scenario: Scenario;
  depcanary: RuleMetrics;
  naive: RuleMetrics;
  seconds: number;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(results: RolloutResult[], truth: Truth): RuleMetrics {
  const n = results.length;
  const count = (o: string) => results.filter((r) => r.outcome === o).length;
  const decided = results.filter((r) => r.outcome !== 'hold');
  const rules: Record<string, number> = {};
  const holds: Record<string, number> = {};
  for (const r of results) {
    if (r.outcome === 'rollback' && r.rule) rules[r.rule] = (rules[r.rule] ?? 0) + 1;
    if (r.outcome === 'hold' && r.lastRule) holds[r.lastRule] = (holds[r.lastRule] ?? 0) + 1;
  }
  const q0s = results.filter((r) => typeof r.q0 === 'number').map((r) => r.q0!);
  return {
    rollouts: n,
    rollbackRate: count('rollback') / n,
    promotedRate: count('promoted') / n,
    holdRate: count('hold') / n,
    falseRollbackRate: truth === 'good' ? count('rollback') / n : null,
    missedRegressionRate: truth === 'bad' ? count('promoted') / n : null,
    medianHours: median(decided.map((r) => r.hours!)),
    medianCandidateRuns: median(decided.map((r) => r.candidateRuns)),
    meanBlastRadius: truth === 'bad' ? results.reduce((s, r) => s + r.blast, 0) / n : null,
    rollbackRules: rules,
    holdRules: holds,
    medianQ0: median(q0s),
  };
}

export const pc = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(1)}%`);
export const num = (x: number | null) => (x === null ? '—' : x >= 100 ? String(Math.round(x)) : String(Math.round(x * 10) / 10));
function ratio(a: number | null, b: number | null): string {
  if (a === null || b === null) return '';
  if (b === 0) return a === 0 ? ' (=)' : '';
  return ` (${(a / b).toFixed(2)}×)`;
}
const pair = (a: string, b: string, r = '') => `${a} / ${b}${r}`;

export function markdownTable(rows: ScenarioResult[], meta: { rollouts: number; seed: number; q0: string; seconds: number }): string {
  const head =
    '| scenario | truth | rolled back | promoted | holding at 21 d | median h to decision | median candidate runs to decision | mean blast radius (runs on C) | depcanary: rollbacks / holds by rule |\n' +
    '|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map((r) => {
    const d = r.depcanary;
    const n = r.naive;
    const list = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
    const rules = [list(d.rollbackRules), list(d.holdRules)].map((x) => x || '—').join(' / ');
    return (
      `| ${r.scenario.label} | ${r.scenario.truth} | ${pair(pc(d.rollbackRate), pc(n.rollbackRate))} | ` +
      `${pair(pc(d.promotedRate), pc(n.promotedRate))} | ${pair(pc(d.holdRate), pc(n.holdRate))} | ` +
      `${pair(num(d.medianHours), num(n.medianHours), ratio(d.medianHours, n.medianHours))} | ` +
      `${pair(num(d.medianCandidateRuns), num(n.medianCandidateRuns), ratio(d.medianCandidateRuns, n.medianCandidateRuns))} | ` +
      `${pair(num(d.meanBlastRadius), num(n.meanBlastRadius), ratio(d.meanBlastRadius, n.meanBlastRadius))} | ${rules} |`
    );
  });
  return [
    `Each cell: **depcanary / naive** (ratio depcanary ÷ naive). ${meta.rollouts} simulated rollouts per scenario, seed ${meta.seed}, ` +
      `q0 ${meta.q0 === 'freeze' ? 'frozen from the control at the end of the first soak (fallback)' : "from the fleet's week before the rollout"}, ` +
      `${Math.round(meta.seconds)} s. "truth": good = no worse (any rollback is a false rollback); bad = worse than the final ` +
      `margin (any promotion is a missed regression); small = worse but within the final margin.`,
    '',
    head,
    ...lines,
  ].join('\n');
}
