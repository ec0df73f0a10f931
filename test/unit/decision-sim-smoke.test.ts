/**
 * Smoke test of the simulation benchmark (test/bench/decision-sim.ts) at a small size:
 * sanity bounds only; the real figures come from the full run (README, docs/decision.md).
 */
import { runScenario, runScenario2 } from '../bench/decision-sim';

describe('decision simulation (smoke)', () => {
  test('a hard break is always rolled back, within a few candidate runs', () => {
    const r = runScenario('hard-break', { rollouts: 30, seed: 7 });
    expect(r.depcanary.rollbackRate).toBe(1);
    expect(r.depcanary.rollbackRules).toEqual({ hard_break: 30 });
    expect(r.depcanary.medianCandidateRuns!).toBeLessThanOrEqual(8);
    expect(r.depcanary.meanBlastRadius!).toBeLessThan(r.naive.meanBlastRadius!);
  });

  test('no regression: no false rollback, and promotion after the two soaks', () => {
    const r = runScenario('none-5', { rollouts: 30, seed: 7 });
    expect(r.depcanary.falseRollbackRate!).toBeLessThanOrEqual(1 / 30);
    expect(r.depcanary.promotedRate).toBeGreaterThanOrEqual(0.8);
    expect(r.depcanary.medianHours!).toBeGreaterThanOrEqual(120);
    // the naive threshold rule trips over broken checkouts
    expect(r.naive.falseRollbackRate!).toBeGreaterThan(r.depcanary.falseRollbackRate!);
  });

  test('runs are deterministic per seed', () => {
    const a = runScenario('x2-15', { rollouts: 5, seed: 3 });
    const b = runScenario('x2-15', { rollouts: 5, seed: 3 });
    expect(a.depcanary).toEqual(b.depcanary);
    expect(a.naive).toEqual(b.naive);
    expect(a.depcanary.rollbackRate).toBeGreaterThanOrEqual(0.8);
  });

  test('v2: a one-project break is rolled back by its failing tests, in the first stage, after a few of its candidate runs', () => {
    const r = runScenario2('v2-one-project', { rollouts: 6, seed: 7 });
    expect(r.depcanary.rollbackRate).toBe(1);
    expect(r.depcanary.rollbackRules).toEqual({ 'segment:signature': 6 });
    expect(r.depcanary.medianAffectedRuns!).toBeLessThanOrEqual(8);
    expect(r.depcanary.firstStageRollbackRate).toBeGreaterThanOrEqual(5 / 6);
  });

  test('v2: a healthy candidate with a flaky test in both arms is promoted, not rolled back', () => {
    const r = runScenario2('v2-flaky-id', { rollouts: 3, seed: 7 });
    expect(r.depcanary.falseRollbackRate).toBe(0);
    expect(r.depcanary.promotedRate).toBe(1);
  });
});
