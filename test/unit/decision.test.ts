/**
 * Hand-computed cases for every branch of decide(). The numbers in the comments are worked
 * out by hand from DECISION.md; the reference fleet is control180() (decision-fixtures.ts):
 *
 *   control: 180 machines × one day of 20 runs with 1 failure → w = 5, F_m = 0.25 each,
 *            N_K = 900, F_K = 45, p_K = 0.05, residuals 0.
 *   floor rate q = (F_K + 1)/(N_K + 2) = 46/902 = 0.0509978;  q(1−q) = 0.0483970
 *   V_K = max(0, q(1−q)/900) = 5.37745e-5
 *   20 candidate machines × 20 runs (weight 5) → N_T = 100, V_T = q(1−q)/100 = 4.83970e-4
 *   V = 5.37745e-4;  τ = q0 = 0.05, τ² = 0.0025, a = 2α = 0.1
 *   (V+τ²)/τ² = 1.215098;  ln((V+τ²)/(V·a²)) = ln(564.90) = 6.336657
 *   h = sqrt(5.37745e-4 × 1.215098 × 6.336657) = sqrt(4.14053e-3) = 0.0643463
 *   stage 0 margin = max(2·q0, 0.05) = 0.10
 */
import { decide, halfWidth, aggregateArm, armVariance, chiSquare1Survival, erfc, sampleRatio } from '../../server/domain/decision';
import { pts } from '../../server/domain/decision/explain';
import { resolvePolicy } from '../../server/domain/policy';
import { DAY, HOUR_MS, T0, control180, evidence, fleet, md, policy, rollout } from './decision-fixtures';

const SOAKED = T0 + 48 * HOUR_MS;
const H_REF = 0.0643463;

describe('decision: statistics', () => {
  test('capping per machine-day and the cluster-robust variance', () => {
    // A, day 1: 10 runs, 4 failures → w = 5, F = 4·5/10 = 2
    // A, day 2: 2 runs, 1 failure + 1 error → w = 2, f = 2, F = 2      ⇒ N_A = 7, F_A = 4
    // B, day 1: 3 runs, 0 failures → N_B = 3, F_B = 0
    // N = 10, F = 4, p = 0.4; residuals A: 4 − 0.4·7 = 1.2, B: 0 − 0.4·3 = −1.2
    // cluster = G/(G−1) · Σr²/N² = 2 · 2.88 / 100 = 0.0576 (above the floor 0.05·0.95/10)
    const a = aggregateArm(
      { machineDays: [md('A', 10, 4, 0, '2025-01-06'), md('B', 3), md('A', 2, 1, 1, '2025-01-07')], failingTests: [] },
      5,
    );
    expect(a).toMatchObject({ N: 10, F: 4, G: 2, runs: 15, failures: 5, errors: 1, allFailing: 0 });
    expect(armVariance(a, 0.05)).toBeCloseTo(0.0576, 10);
    // identical machines have no spread: the binomial floor q(1−q)/N = 0.05·0.95/10 applies
    const flat = aggregateArm({ machineDays: fleet('m', 2, 5, 1), failingTests: [] }, 5);
    expect(armVariance(flat, 0.05)).toBeCloseTo(0.00475, 12);
  });

  test('the always-valid half-width', () => {
    // V = 1e-4, τ = 0.05, α = 0.05: (V+τ²)/τ² = 1.04, ln(0.0026/(1e-4·0.01)) = ln 2600 = 7.863267
    // h = sqrt(1e-4 · 1.04 · 7.863267) = sqrt(8.17780e-4) = 0.0285968
    expect(halfWidth(1e-4, 0.05, 0.05)).toBeCloseTo(0.0285968, 6);
    expect(halfWidth(5.37745e-4, 0.05, 0.05)).toBeCloseTo(H_REF, 6);
    expect(() => halfWidth(0, 0.05, 0.05)).toThrow(RangeError);
  });

  test('χ²(1) survival via erfc', () => {
    expect(erfc(0)).toBeCloseTo(1, 7);
    expect(chiSquare1Survival(3.841459)).toBeCloseTo(0.05, 6);
    expect(chiSquare1Survival(10.827566)).toBeCloseTo(0.001, 6);
    expect(chiSquare1Survival(0)).toBe(1);
  });
});

describe('decision: verdicts', () => {
  test('advance: soaked, enough machines and runs, D + h below the margin', () => {
    // candidate 20 × (20 runs, 1 failure): p_T = 0.05, D = 0, h = 0.0643 → upper 0.0643 < 0.10
    const d = decide({ now: SOAKED, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 1), control180()) });
    expect(d.verdict).toBe('advance');
    expect(d.rule).toBe('advance');
    expect(d.D).toBeCloseTo(0, 12);
    expect(d.h).toBeCloseTo(H_REF, 6);
    expect(d.margin).toBeCloseTo(0.1, 12);
    expect(d.candidate).toMatchObject({ N: 100, F: 5, G: 20, runs: 400, failures: 20, errors: 0 });
    expect(d.control).toMatchObject({ N: 900, F: 45, G: 180 });
    expect(d.control.V).toBeCloseTo(5.37745e-5, 9);
    expect(d.candidate.V).toBeCloseTo(4.8397e-4, 8);
    expect(d.alarms).toEqual([]);
    expect(d.alert).toBe(false);
    expect(d.reason).toMatch(/candidate 5\.0% of 100 capped runs on 20 machines vs control 5\.0% of 900 on 180/);
  });

  test('regression: D − h > 0 with at least 3 candidate machines', () => {
    // candidate 20 × (20 runs, 4 failures): F_m = 1, p_T = 0.20, D = 0.15; residuals 0, so
    // V_T is still the floor and h = 0.0643 → lower = 0.0857 > 0
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 4), control180()) });
    expect(d.verdict).toBe('rollback');
    expect(d.rule).toBe('regression');
    expect(d.D).toBeCloseTo(0.15, 12);
    expect(d.lower).toBeCloseTo(0.15 - H_REF, 6);
    expect(d.reason).toMatch(/candidate 20\.0% .*\(D = \+15\.0 pts ± 6\.4/);
  });

  test('default levels: the rollback bound at α = 0.01 less the segments\' 0.0025, the advance bound at 0.05', () => {
    // V = 5.37745e-4 as above; run-level α = 0.01 − 0.0005 − 0.0005 − 0.0015 = 0.0075, a = 0.015:
    // ln((V+τ²)/(V·a²)) = ln(3.037745e-3 / 1.20993e-7) = ln(25106.9) = 10.130897
    // → h = sqrt(5.37745e-4 × 1.215098 × 10.130897) = 0.0813612.
    // Candidate 10 × (20 runs, 3 failures) + 10 × (20 runs, 2 failures): F = 12.5 of 100,
    // p_T = 0.125, D = 0.075; residuals ±0.125 → cluster 20/19 · 0.3125/10⁴ = 3.3e-5 < floor.
    const cand = [...fleet('a', 10, 20, 3), ...fleet('b', 10, 20, 2)];
    const def = rollout({ policy: resolvePolicy(3) });
    const d = decide({ now: T0 + HOUR_MS, rollout: def, evidence: evidence(cand, control180()) });
    expect([d.alpha, d.runAlpha, d.advanceAlpha]).toEqual([0.01, expect.closeTo(0.0075, 15), 0.05]);
    expect(d.h).toBeCloseTo(0.0813612, 6);
    expect(d.hAdvance).toBeCloseTo(H_REF, 6);
    expect(d.lower).toBeCloseTo(0.075 - 0.0813612, 6); // < 0: no rollback at α = 0.0075 …
    expect(d.upper).toBeCloseTo(0.075 + H_REF, 6);
    expect(d.verdict).toBe('hold');
    // … where one level of 0.05 would have rolled back (0.075 − 0.0643 > 0)
    expect(decide({ now: T0 + HOUR_MS, rollout: rollout(), evidence: evidence(cand, control180()) }).rule).toBe('regression');
    // the advance uses hAdvance: the reference advance case advances under the defaults too
    const ok = decide({ now: SOAKED, rollout: def, evidence: evidence(fleet('t', 20, 20, 1), control180()) });
    expect([ok.verdict, ok.upper]).toEqual(['advance', expect.closeTo(H_REF, 6)]);
  });

  test('hold: not proven non-inferior', () => {
    // candidate 20 × (20 runs, 2 failures): p_T = 0.10, D = 0.05; lower = −0.014 ≤ 0, upper = 0.114 ≥ 0.10
    const d = decide({ now: SOAKED, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 2), control180()) });
    expect(d.verdict).toBe('hold');
    expect(d.rule).toBe('not_proven_non_inferior');
    expect(d.upper).toBeCloseTo(0.05 + H_REF, 6);
    expect(d.blockers).toEqual(['not_proven_non_inferior']);
  });

  test('hold: soak, machines and runs each block the advance', () => {
    const ev = evidence(fleet('t', 20, 20, 1), control180());
    expect(decide({ now: SOAKED - 1000, rollout: rollout(), evidence: ev }).rule).toBe('insufficient_soak');
    const strict = (o: object) => rollout({ policy: policy({ stage: o }) });
    // G_T = 20 < 25
    expect(decide({ now: SOAKED, rollout: strict({ minMachines: 25 }), evidence: ev }).rule).toBe('insufficient_machines');
    // N_T = 100 capped runs (400 raw) < 150
    const d = decide({ now: SOAKED, rollout: strict({ minRuns: 150 }), evidence: ev });
    expect(d.rule).toBe('insufficient_runs');
    expect(d.reason).toMatch(/100 of 150 capped candidate runs/);
  });

  test('hard break: ≥ 3 and ≥ half of the candidate machines fail every run, control < 50%', () => {
    // 4 machines with 2 errored runs each + 2 healthy machines: 4 ≥ 3 and 4 ≥ 6/2; p_K = 0.05
    const cand = [...fleet('bad', 4, 2, 0, 2), ...fleet('ok', 2, 3)];
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout(), evidence: evidence(cand, control180()) });
    expect(d.verdict).toBe('rollback');
    expect(d.rule).toBe('hard_break');
    expect(d.candidate).toMatchObject({ allFailingMachines: 4, G: 6, errors: 8 });
    // P(Binomial(6, 0.05) ≥ 4) = 15·0.05⁴·0.95² + 6·0.05⁵·0.95 + 0.05⁶ = 8.6406e-5 < 0.001
    expect(d.hardBreakP).toBeCloseTo(8.6406e-5, 9);
    expect(d.reason).toMatch(/4 of 6 candidate machines failed or errored on every run/);
    expect(d.reason).toMatch(/p = 8\.6e-5/);
  });

  test('half of a handful of machines failing their one run at a 15% control is chance, not a hard break', () => {
    // control 180 × (20 runs, 3 failures): p_K = 0.15. Candidate: 3 machines with one failing
    // run + 3 with one passing run: the spec's clause holds (3 ≥ 3, 3 ≥ 6/2), but
    // P(Binomial(6, 0.15) ≥ 3) = 1 − (0.85⁶ + 6·0.15·0.85⁵ + 15·0.15²·0.85⁴)
    //                        = 1 − (0.377150 + 0.399335 + 0.176177) = 0.047338 ≥ 0.001
    const cand = [...fleet('f', 3, 1, 1), ...fleet('p', 3, 1)];
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout({ q0: 0.15 }), evidence: evidence(cand, fleet('k', 180, 20, 3)) });
    expect(d.hardBreakP).toBeCloseTo(0.047338, 5);
    expect(d.verdict).toBe('hold');
    // one more all-failing machine of 7: P(Binomial(7, 0.15) ≥ 4) = 0.012 — still chance;
    // 4 of 4: 0.15⁴ = 5.1e-4 < 0.001 — a hard break
    const four = decide({ now: T0 + HOUR_MS, rollout: rollout({ q0: 0.15 }), evidence: evidence(fleet('f', 4, 1, 1), fleet('k', 180, 20, 3)) });
    expect(four.hardBreakP).toBeCloseTo(0.15 ** 4, 12);
    expect(four.rule).toBe('hard_break');
  });

  test('a thin, lucky control does not make chance failures look like a hard break', () => {
    // First hour: q0 = 15% from history, control 20 × one passing run (p_K = 0). Judged at
    // p_K = 0, 3 of 6 single-run failures would be impossible (p = 0); at max(p_K, q0, q) =
    // 0.15 it is P(Binomial(6, 0.15) ≥ 3) = 0.047338.
    const cand = [...fleet('f', 3, 1, 1), ...fleet('p', 3, 1)];
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout({ q0: 0.15 }), evidence: evidence(cand, fleet('k', 20, 1)) });
    expect(d.hardBreakP).toBeCloseTo(0.047338, 5);
    expect(d.verdict).toBe('hold');
    // without q0, the thin control's shrunken rate q = (0 + 1)/(20 + 2) is the floor:
    // P(Binomial(6, 1/22) ≥ 3) = 1.693e-3 ≥ 0.001
    const noQ0 = decide({ now: T0 + HOUR_MS, rollout: rollout({ q0: null }), evidence: evidence(cand, fleet('k', 20, 1)) });
    expect(noQ0.hardBreakP).toBeCloseTo(1.6931e-3, 6);
    expect(noQ0.verdict).toBe('hold');
  });

  test('a few broken checkouts among healthy machines are not a hard break', () => {
    // 3 all-failing (2 runs, 2 failures) of 8 machines: 3 < 8/2. The regression test:
    // N_T = 3·2 + 5·3 = 21, F_T = 6, p_T = 0.2857, D = 0.2357; residuals 1.4286 (×3), −0.8571 (×5)
    // Σr² = 9.7959; cluster = 8/7 · 9.7959/441 = 0.025386 → V = 0.025440, h = 1.156 → hold
    const cand = [...fleet('bad', 3, 2, 2), ...fleet('ok', 5, 3)];
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout(), evidence: evidence(cand, control180()) });
    expect(d.verdict).toBe('hold');
    expect(d.candidate.V).toBeCloseTo(0.025386, 6);
    expect(d.h).toBeCloseTo(1.15585, 4);
  });

  test('no hard break when the control fails half of its runs too', () => {
    // control 180 × (2 runs, 1 failure): p_K = 0.5, not < 0.5
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout(), evidence: evidence(fleet('bad', 4, 2, 0, 2), fleet('k', 180, 2, 1)) });
    expect(d.rule).not.toBe('hard_break');
    expect(d.verdict).toBe('hold');
  });

  test('fewer than 3 candidate machines never give a regression rollback', () => {
    // 2 machines × (20 runs, 20 failures): D = 0.95, h = 0.269, but G_T = 2 < 3 (and 2 < 3 for a hard break)
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout(), evidence: evidence(fleet('t', 2, 20, 20), control180()) });
    expect(d.lower!).toBeGreaterThan(0);
    expect(d.verdict).toBe('hold');
  });

  test('paused or frozen rollouts still get a rollback verdict (the controller applies or not)', () => {
    const ev = evidence(fleet('t', 20, 20, 4), control180());
    expect(decide({ now: T0, rollout: rollout({ state: 'paused' }), evidence: ev }).verdict).toBe('rollback');
    expect(decide({ now: T0, rollout: rollout({ frozen: true }), evidence: ev }).verdict).toBe('rollback');
  });

  test('terminal rollouts and the last stage have nothing to decide', () => {
    const ev = evidence(fleet('t', 20, 20, 4), control180());
    expect(decide({ now: T0, rollout: rollout({ state: 'rolled_back' }), evidence: ev }).rule).toBe('not_active');
    const last = decide({ now: T0, rollout: rollout({ stageIndex: 2 }), evidence: ev });
    expect([last.verdict, last.rule]).toEqual(['hold', 'not_active']);
  });

  test('max stage age: keep holding and alert', () => {
    const d = decide({ now: T0 + 15 * 24 * HOUR_MS, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 2), control180()) });
    expect(d).toMatchObject({ verdict: 'hold', rule: 'max_stage_age', alert: true, blockers: ['not_proven_non_inferior'] });
    expect(d.reason).toMatch(/Holding for 15\.0 d/);
  });
});

describe('decision: q0', () => {
  test('a large enough control freezes q0 at its capped failure rate', () => {
    const d = decide({ now: SOAKED, rollout: rollout({ q0: null }), evidence: evidence(fleet('t', 20, 20, 1), control180()) });
    expect(d.q0ToFreeze).toBeCloseTo(0.05, 12);
    expect(d.q0).toBeCloseTo(0.05, 12);
    expect(d.verdict).toBe('advance');
  });

  test('without a q0 from history, the control rate is frozen only once the first stage has soaked', () => {
    // 900 capped control runs are plenty, but an hour in, the freeze waits (an advance could not
    // happen before the soak anyway); the margin is unknown, so the hold is no_q0
    const ev = evidence(fleet('t', 20, 20, 1), control180());
    const early = decide({ now: T0 + HOUR_MS, rollout: rollout({ q0: null }), evidence: ev });
    expect([early.rule, early.q0, early.q0ToFreeze, early.margin]).toEqual(['no_q0', null, null, null]);
    expect(early.tau).toBeCloseTo(0.05, 12); // τ from the current control rate meanwhile
    const later = decide({ now: T0 + HOUR_MS, rollout: rollout({ q0: null, stageIndex: 1 }), evidence: ev });
    expect(later.q0ToFreeze).toBeCloseTo(0.05, 12); // a later stage: the first has soaked
  });

  test('a thin control holds with no_q0, yet a regression still rolls back', () => {
    // control 30 × (20 runs, 1 failure): N_K = 150 < 200. q = 8.5/152 = 0.055921, q(1−q) = 0.052794
    // V_T = 5.2794e-4, V_K = 3.5196e-4, V = 8.7990e-4; τ = max(p_K, 0.01) = 0.05 → h = 0.084138
    const thin = fleet('k', 30, 20, 1);
    const held = decide({ now: SOAKED, rollout: rollout({ q0: null }), evidence: evidence(fleet('t', 20, 20, 1), thin) });
    expect(held).toMatchObject({ verdict: 'hold', rule: 'no_q0', q0: null, q0ToFreeze: null, margin: null });
    expect(held.alarms[0]).toMatch(/^control_runs_low: the control arm has 150 capped runs/);
    expect(held.alert).toBe(true); // soaked: a human should look
    // before the soak is over a thin control is the normal start of a rollout: alarm, no alert
    // (3 candidates of 33 machines at a 10% stage: no sample-ratio alarm either)
    const early = decide({ now: T0 + HOUR_MS, rollout: rollout({ q0: null }), evidence: evidence(fleet('t', 3, 20, 1), thin) });
    expect([early.rule, early.alert]).toEqual(['no_q0', false]);
    expect(early.alarms).toEqual([expect.stringMatching(/^control_runs_low/)]);
    expect(held.reason).toMatch(/150 of the 200 capped runs needed to freeze it/);
    const bad = decide({ now: T0 + HOUR_MS, rollout: rollout({ q0: null }), evidence: evidence(fleet('t', 20, 20, 4), thin) });
    expect(bad.verdict).toBe('rollback');
    expect(bad.rule).toBe('regression');
    expect(bad.tau).toBeCloseTo(0.05, 12);
    expect(bad.h).toBeCloseTo(0.084138, 5);
  });

  test('a hard break rolls back before q0 exists', () => {
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout({ q0: null }), evidence: evidence(fleet('t', 4, 1, 0, 1), fleet('k', 10, 1)) });
    expect([d.verdict, d.rule, d.q0]).toEqual(['rollback', 'hard_break', null]);
  });
});

describe('decision: data quality', () => {
  test('mismatched reports above 5% hold with an alert', () => {
    // counted = 180·20 + 20·20 = 4000; 250 / 4250 = 5.9% > 5%
    const ev = evidence(fleet('t', 20, 20, 1), control180(), { mismatched: 250 });
    const d = decide({ now: SOAKED, rollout: rollout(), evidence: ev });
    expect(d).toMatchObject({ verdict: 'hold', rule: 'data_quality', alert: true });
    expect(d.alarms).toEqual([expect.stringMatching(/^mismatched_reports: 250 of 4250 reports \(5\.9%\)/)]);
  });

  test('sample-ratio mismatch: 20 of 80 machines at a 10% stage', () => {
    // χ² = (20 − 8)²/8 + (60 − 72)²/72 = 18 + 2 = 20 → p = erfc(√10) = 7.7e-6 < 0.001
    const ev = evidence(fleet('t', 20, 20, 1), fleet('k', 60, 20, 1));
    const srm = sampleRatio(ev, 10, 0, T0);
    expect(srm!.chi2).toBeCloseTo(20, 10);
    expect(srm!.pValue).toBeCloseTo(7.74e-6, 7);
    const d = decide({ now: SOAKED, rollout: rollout(), evidence: ev });
    expect(d.rule).toBe('data_quality');
    expect(d.alarms[0]).toMatch(/^sample_ratio_mismatch: 20 of 80 machines/);
  });

  test('in a later stage only the days after the entry day count for the ratio', () => {
    const ev = evidence(fleet('t', 20, 20, 1), fleet('k', 60, 20, 1));
    expect(sampleRatio(ev, 10, 1, T0 + 10 * HOUR_MS)).toBeNull();
    const next = evidence(fleet('t', 20, 20, 1, 0, '2025-01-07'), fleet('k', 180, 20, 1, 0, '2025-01-07'));
    expect(sampleRatio(next, 10, 1, T0 + 10 * HOUR_MS)!.chi2).toBeCloseTo(0, 10);
    expect(DAY).toBe('2025-01-06');
  });
});

describe('decision: explanation', () => {
  test('new-in-candidate failing tests are ranked by excess over the control expectation', () => {
    // G_T = 20, G_K = 180 → scale 1/9. a: 5 vs 9/9 = 1 (excess 4); c: 3 vs 0 (excess 3); b: 2 vs 36/9 = 4 (not listed)
    const ev = evidence(fleet('t', 20, 20, 1), control180());
    ev.candidate.failingTests = [{ id: 'b', machines: 2 }, { id: 'a', machines: 5 }, { id: 'c', machines: 3 }];
    ev.control.failingTests = [{ id: 'a', machines: 9 }, { id: 'b', machines: 36 }];
    const d = decide({ now: SOAKED, rollout: rollout(), evidence: ev });
    expect(d.newInCandidate).toEqual([
      { id: 'a', candidateMachines: 5, expectedMachines: 1 },
      { id: 'c', candidateMachines: 3, expectedMachines: 0 },
    ]);
  });

  test('percentage points keep a bound just above zero visibly above zero', () => {
    expect([pts(0.0003), pts(-0.0004), pts(0), pts(0.1234)]).toEqual(['+0.03 pts', '−0.04 pts', '+0.0 pts', '+12.3 pts']);
  });

  test('the decision survives a JSON round trip, even with empty evidence', () => {
    for (const ev of [evidence([], []), evidence(fleet('t', 20, 20, 4), control180())]) {
      const d = decide({ now: T0, rollout: rollout({ q0: null }), evidence: ev });
      expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    }
    const empty = decide({ now: T0, rollout: rollout({ q0: null }), evidence: evidence([], []) });
    expect(empty).toMatchObject({ verdict: 'hold', rule: 'no_q0', D: null, h: null, tau: 0.01 });
  });
});
