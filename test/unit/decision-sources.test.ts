/**
 * No single source decides (docs/trust.md): the decision rule with report sources. The
 * machines of one source are one cluster of the variance, an automatic rollback needs its
 * failures from policy.rollbackMinSources sources, and the step to the last stage needs
 * candidate evidence from policy.minSources sources.
 */
import { aggregateArm, decide } from '../../server/domain/decision';
import type { MachineDay } from '../../server/domain/evidence';
import { parseDecision, serializeDecision } from '../../server/store/decision-record';
import { control180, evidence, fleet, HOUR_MS, policy, rollout, T0 } from './decision-fixtures';

const from = (source: string, xs: MachineDay[]) => xs.map((m) => ({ ...m, source }));
/** 30 honest candidate machines, each its own home network; two had one flaky failure. */
const honest = () => fleet('c', 30, 2).map((m, i) => ({ ...m, source: `net:h${i}`, failures: i < 2 ? 1 : 0 }));
const P = policy({ stage: { soakSeconds: 0, minMachines: 3, minRuns: 10 } });

describe('sources in the statistics', () => {
  test('a source is one cluster: its machines add their counts before the squares; machines without one stand alone', () => {
    const days = [...from('net:a', fleet('a', 4, 2, 1)), ...fleet('b', 2, 2)];
    const a = aggregateArm({ machineDays: days, failingTests: [] }, 5);
    expect(a).toMatchObject({ G: 6, clusters: 3, sources: 3, failingSources: 1, allFailingSources: 0, N: 12, F: 4 });
    // net:a: N = 8, F = 4; b0 and b1: N = 2, F = 0
    expect(a.sumFF).toBe(16);
    expect(a.sumFN).toBe(32);
    expect(a.sumNN).toBe(64 + 4 + 4);
    const alone = aggregateArm({ machineDays: days.map(({ source: _s, ...m }) => m), failingTests: [] }, 5);
    expect(alone).toMatchObject({ clusters: 6, sources: 6, failingSources: 4 });
  });
});

describe('no single source decides', () => {
  test('one source failing on many machines does not roll back, however many: the same machines from their own sources do', () => {
    for (const n of [10, 20, 40]) {
      const own = fleet('a', n, 5, 5);
      const spread = decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: P }), evidence: evidence([...honest(), ...own], control180()) });
      expect(spread.verdict).toBe('rollback');
      const one = decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: P }), evidence: evidence([...honest(), ...from('net:evil', own)], control180()) });
      expect(one.verdict).toBe('hold');
      // the two flaky honest sources make three failing sources, but the source cluster keeps the bound wide
      expect(one.lower!).toBeLessThan(0);
      expect(one.candidate).toMatchObject({ machines: 30 + n, sources: 31, failingSources: 3 });
    }
  });

  test('a hard break from one source holds with an alert and says why; from three sources it rolls back', () => {
    const ev = (sources: number) => evidence([...fleet('c', 4, 2).map((m, i) => ({ ...m, source: `net:h${i}` })),
      ...fleet('a', 12, 3, 3).map((m, i) => ({ ...m, source: `net:e${i % sources}` }))], control180());
    const one = decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: P }), evidence: ev(1) });
    expect(one).toMatchObject({ verdict: 'hold', rule: 'rollback_needs_sources', alert: true, held: { rule: 'hard_break', sources: 1, needed: 3 } });
    expect(one.reason).toMatch(/^Hold, a human should look: the evidence shows a hard break, but its failures come from 1 source and an automatic rollback needs 3 independent sources .*a release manager can roll back by hand/);
    expect(decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: P }), evidence: ev(2) }).held).toMatchObject({ sources: 2 });
    const three = decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: P }), evidence: ev(3) });
    expect(three).toMatchObject({ verdict: 'rollback', rule: 'hard_break', held: null });
    // rollbackMinSources 1: one source may decide again (a policy choice)
    const lax = decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: { ...P, rollbackMinSources: 1 } }), evidence: ev(1) });
    expect(lax.verdict).toBe('rollback');
  });

  test('completing the rollout needs candidate evidence from minSources sources; earlier steps do not', () => {
    const cand = (sources: number) => fleet('c', 40, 5).map((m, i) => ({ ...m, source: `net:${i % sources}` }));
    const last = (sources: number) => decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: P, stageIndex: 1, stages: [10, 50, 100] }), evidence: evidence(cand(sources), control180()) });
    const held = last(2);
    expect(held).toMatchObject({ verdict: 'hold', rule: 'insufficient_sources', blockers: ['insufficient_sources'] });
    expect(held.reason).toMatch(/completing the rollout needs candidate evidence from 3 independent sources, it has 2 .*a release manager's promote completes it by hand/);
    expect(last(3)).toMatchObject({ verdict: 'advance', rule: 'advance' });
    const first = decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: P, stageIndex: 0, stages: [10, 50, 100] }), evidence: evidence(cand(1), control180()) });
    expect(first.blockers).not.toContain('insufficient_sources');
    expect(first.candidate.sources).toBe(1);
  });

  test('reports over their source\'s cap ran their arm\'s version: they are no mismatches', () => {
    const ev = { ...evidence(fleet('c', 40, 5), control180()), mismatched: 50, counted: 500 };
    const alarmed = decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: P }), evidence: ev });
    expect(alarmed.alarms.some((a) => a.startsWith('mismatched_reports: 50 of 550 reports'))).toBe(true);
    const capped = decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: P }), evidence: { ...ev, sourceCapped: 1000 } });
    expect(capped.alarms.filter((a) => a.startsWith('mismatched_reports'))).toEqual([]);
  });

  test('a decision with held evidence and capped reports round-trips through its stored record; older records read with defaults', () => {
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: P }), evidence: { ...evidence(from('net:x', fleet('a', 12, 3, 3)), control180()), sourceCapped: 7 } });
    expect(d).toMatchObject({ rule: 'rollback_needs_sources', sourceCapped: 7 });
    expect(parseDecision(serializeDecision(d))).toEqual(d);
    const { held: _h, sourceCapped: _c, ...old } = d;
    const oldArm = ({ sources: _s, failingSources: _f, ...a }: typeof d.candidate) => a;
    const back = parseDecision(JSON.stringify({ v: 2, ...old, rule: 'hold' === old.verdict ? 'not_proven_non_inferior' : old.rule, candidate: oldArm(d.candidate), control: oldArm(d.control) }));
    expect(back).toMatchObject({ held: null, sourceCapped: 0, candidate: { sources: d.candidate.machines, failingSources: 0 } });
  });
});
