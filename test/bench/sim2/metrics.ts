/** Per-scenario metrics of simulation v2 and its markdown table. */
import { median, num, pc, summarize, type RuleMetrics } from '../sim/metrics';
import type { RolloutResult2 } from './play';
import type { Scenario2 } from './scenarios';

export interface RuleMetrics2 extends RuleMetrics {
  /** Rollbacks while still in the first stage / all rollouts. */
  firstStageRollbackRate: number;
  /** Median candidate runs of the affected segment until the rollback (rollbacks only); null without a segment. */
  medianAffectedRuns: number | null;
}

export interface ScenarioResult2 {
  scenario: Scenario2;
  depcanary: RuleMetrics2;
  naive: RuleMetrics2;
  seconds: number;
}

export function summarize2(results: RolloutResult2[], scenario: Scenario2): RuleMetrics2 {
  const base = summarize(results, scenario.truth);
  const rolled = results.filter((r) => r.outcome === 'rollback');
  return {
    ...base,
    firstStageRollbackRate: results.filter((r) => r.outcome === 'rollback' && r.firstStage).length / results.length,
    medianAffectedRuns: scenario.affected ? median(rolled.map((r) => r.affectedRuns ?? 0)) : null,
  };
}

const pair = (a: string, b: string) => `${a} / ${b}`;

export function markdownTable2(rows: ScenarioResult2[], meta: { rollouts: number; seed: number; seconds: number }): string {
  const head =
    '| scenario | truth | rolled back | … in the first stage | promoted | holding at 21 d | median candidate runs of the affected segment to rollback | median h to decision | mean blast radius (runs on C) | depcanary: rollbacks by rule |\n' +
    '|---|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map((r) => {
    const d = r.depcanary;
    const n = r.naive;
    const rules = Object.entries(d.rollbackRules).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || '—';
    return (
      `| ${r.scenario.label} | ${r.scenario.truth} | ${pair(pc(d.rollbackRate), pc(n.rollbackRate))} | ` +
      `${pair(pc(d.firstStageRollbackRate), pc(n.firstStageRollbackRate))} | ${pair(pc(d.promotedRate), pc(n.promotedRate))} | ` +
      `${pair(pc(d.holdRate), pc(n.holdRate))} | ${pair(num(d.medianAffectedRuns), num(n.medianAffectedRuns))} | ` +
      `${pair(num(d.medianHours), num(n.medianHours))} | ${pair(num(d.meanBlastRadius), num(n.meanBlastRadius))} | ${rules} |`
    );
  });
  return [
    `Each cell: **depcanary / naive**. ${meta.rollouts} simulated rollouts per scenario, seed ${meta.seed}, q0 from the fleet's history, ` +
      `${Math.round(meta.seconds)} s. Segment rules: segment:signature (one test id of one project), segment:project, segment:python.`,
    '',
    head,
    ...lines,
  ].join('\n');
}
