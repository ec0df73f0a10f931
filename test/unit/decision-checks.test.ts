/**
 * The named checks of decide() (server/domain/decision/checks.ts), one at a time, at their
 * boundaries: each condition exactly at its threshold and one step either side. Arms are
 * built by hand (ArmAggregate) so each case isolates the one comparison it is about.
 */
import {
  MIN_REGRESSION_MACHINES, advanceCheck, decide, armAggregate, armsCheck, boundCheck, halfWidth, hardBreakCheck, q0Check, regressionCheck,
  segmentCheckPolicy, segmentsCheck, tauFor, TAU_FLOOR, type ArmsCheck, type BoundCheck,
} from '../../server/domain/decision';
import type { ArmAggregate } from '../../server/domain/decision/stats';
import { emptySegmentEvidence } from '../../server/domain/segments';
import { HOUR_MS, T0, control180, evidence, fleet, policy, rollout } from './decision-fixtures';

function agg(over: Partial<ArmAggregate> = {}): ArmAggregate {
  return { N: 0, F: 0, G: 0, sumFF: 0, sumFN: 0, sumNN: 0, runs: 0, failures: 0, errors: 0, allFailing: 0, windowMachines: 0, ...over };
}

function arms(cand: Partial<ArmAggregate>, ctrl: Partial<ArmAggregate>, over: Partial<ArmsCheck> = {}): ArmsCheck {
  const c = agg(cand);
  const k = agg(ctrl);
  return {
    cand: c, ctrl: k, q: (k.F + 1) / (k.N + 2), VT: c.N > 0 ? 1e-4 : null, VK: k.N > 0 ? 1e-4 : null,
    pT: c.N > 0 ? c.F / c.N : null, pK: k.N > 0 ? k.F / k.N : null, ...over,
  };
}

function bound(over: Partial<BoundCheck> = {}): BoundCheck {
  return { tau: 0.05, runAlpha: 0.05, D: 0, h: 0.01, hAdvance: 0.01, lower: -0.01, upper: 0.01, ...over };
}

describe('regressionCheck: D − h > 0 with at least 3 candidate machines', () => {
  test('exactly 3 machines fire, 2 do not', () => {
    expect(MIN_REGRESSION_MACHINES).toBe(3);
    expect(regressionCheck(arms({ G: 3, N: 10 }, { N: 10 }), bound({ lower: 0.001 })).fired).toBe(true);
    expect(regressionCheck(arms({ G: 2, N: 10 }, { N: 10 }), bound({ lower: 0.5 })).fired).toBe(false);
    expect(regressionCheck(arms({ G: 4, N: 10 }, { N: 10 }), bound({ lower: 0.001 })).fired).toBe(true);
  });

  test('the lower bound must be strictly above 0; no bound, no rollback', () => {
    expect(regressionCheck(arms({ G: 10, N: 10 }, { N: 10 }), bound({ lower: 0 })).fired).toBe(false);
    expect(regressionCheck(arms({ G: 10, N: 10 }, { N: 10 }), bound({ lower: -1e-12 })).fired).toBe(false);
    expect(regressionCheck(arms({ G: 10, N: 10 }, { N: 10 }), bound({ lower: 1e-12 })).fired).toBe(true);
    expect(regressionCheck(arms({ G: 10, N: 10 }, { N: 10 }), bound({ lower: null })).fired).toBe(false);
  });
});

describe('hardBreakCheck', () => {
  const p = policy(); // hardBreakMinMachines 3, hardBreakPValue 0.001, minControlRuns 200

  test('at least hardBreakMinMachines all-failing machines: 3 of 3 fire at a 5% control, 2 of 2 do not', () => {
    // P(Binomial(3, 0.05) ≥ 3) = 0.05³ = 1.25e-4 < 0.001
    const three = hardBreakCheck(arms({ G: 3, N: 15, F: 15, allFailing: 3 }, { N: 1000, F: 50 }), 0.05, p);
    expect(three.fired).toBe(true);
    expect(three.p).toBeCloseTo(1.25e-4, 15);
    const two = hardBreakCheck(arms({ G: 2, N: 10, F: 10, allFailing: 2 }, { N: 1000, F: 50 }), 0.05, p);
    expect(two).toEqual({ fired: false, p: null });
  });

  test('at least half of the machines: 3 of 6 qualify, 3 of 7 do not', () => {
    // 3 of 6 at 5%: P(X ≥ 3) = 20·0.05³·0.95³ + 15·0.05⁴·0.95² + 6·0.05⁵·0.95 + 0.05⁶
    //   = 0.00214344 + 0.00008461 + 0.00000178 + 0.00000002 = 0.0022298 ≥ 0.001: computed, not fired
    const half = hardBreakCheck(arms({ G: 6, N: 30, F: 15, allFailing: 3 }, { N: 1000, F: 50 }), 0.05, p);
    expect(half.p).toBeCloseTo(0.0022298, 6);
    expect(half.fired).toBe(false);
    expect(hardBreakCheck(arms({ G: 7, N: 35, F: 15, allFailing: 3 }, { N: 1000, F: 50 }), 0.05, p)).toEqual({ fired: false, p: null });
  });

  test('the control must be below 50%: 0.5 is not, 0.499 is; before any control run q0 stands in', () => {
    const cand = { G: 3, N: 15, F: 15, allFailing: 3 };
    expect(hardBreakCheck(arms(cand, { N: 1000, F: 500 }), 0.05, p).p).toBeNull();
    expect(hardBreakCheck(arms(cand, { N: 1000, F: 499 }), 0.05, p).p).not.toBeNull();
    // no control run and no q0: no rate to compare with
    expect(hardBreakCheck(arms(cand, {}), null, p)).toEqual({ fired: false, p: null });
    // no control run, q0 = 0.05: r = q0, P = 0.05³
    expect(hardBreakCheck(arms(cand, {}), 0.05, p).p).toBeCloseTo(1.25e-4, 15);
    // q0 at 0.6 alone blocks it
    expect(hardBreakCheck(arms(cand, {}), 0.6, p).p).toBeNull();
  });

  test('r = max(p_K, q0, q while the control is thin): each one can raise it', () => {
    const cand = { G: 3, N: 15, F: 15, allFailing: 3 };
    // p_K = 0.2 above q0 = 0.01: 0.2³ = 0.008, not below 0.001 (at r = 0.01 it would be 1e-6)
    const pk = hardBreakCheck(arms(cand, { N: 1000, F: 200 }), 0.01, p);
    expect(pk.p).toBeCloseTo(0.008, 15);
    expect(pk.fired).toBe(false);
    // q0 = 0.2 above p_K = 0.01
    expect(hardBreakCheck(arms(cand, { N: 1000, F: 10 }), 0.2, p).p).toBeCloseTo(0.008, 15);
    // a thin control (N_K = 199 < 200) with p_K = 0: q = 1/201 counts
    const thin = hardBreakCheck(arms(cand, { N: 199, F: 0 }), 0, p);
    expect(thin.p).toBeCloseTo((1 / 201) ** 3, 15);
    // at exactly minControlRuns the control is not thin: r = p_K = 0, P = 0
    expect(hardBreakCheck(arms(cand, { N: 200, F: 0 }), 0, p).p).toBe(0);
  });

  test('fires only strictly below hardBreakPValue', () => {
    const cand = { G: 3, N: 15, F: 15, allFailing: 3 };
    const P = hardBreakCheck(arms(cand, { N: 1000, F: 200 }), 0.2, p).p!; // 0.2³
    expect(hardBreakCheck(arms(cand, { N: 1000, F: 200 }), 0.2, policy({ hardBreakPValue: P })).fired).toBe(false);
    expect(hardBreakCheck(arms(cand, { N: 1000, F: 200 }), 0.2, policy({ hardBreakPValue: P * (1 + 1e-12) })).fired).toBe(true);
  });
});

describe('q0Check', () => {
  const p = policy(); // minControlRuns 200

  test('freezes the control rate at exactly minControlRuns capped runs once soaked (or after the first stage)', () => {
    expect(q0Check(null, arms({}, { N: 200, F: 10 }), p, 0, true)).toEqual({ q0: 0.05, q0ToFreeze: 0.05 });
    expect(q0Check(null, arms({}, { N: 199, F: 10 }), p, 0, true)).toEqual({ q0: null, q0ToFreeze: null });
    expect(q0Check(null, arms({}, { N: 200, F: 10 }), p, 0, false)).toEqual({ q0: null, q0ToFreeze: null });
    expect(q0Check(null, arms({}, { N: 200, F: 10 }), p, 1, false)).toEqual({ q0: 0.05, q0ToFreeze: 0.05 });
  });

  test('a stored q0 is kept, and no control means nothing to freeze', () => {
    expect(q0Check(0.02, arms({}, { N: 1000, F: 100 }), p, 1, true)).toEqual({ q0: 0.02, q0ToFreeze: null });
    expect(q0Check(0, arms({}, { N: 1000, F: 100 }), p, 1, true)).toEqual({ q0: 0, q0ToFreeze: null });
    expect(q0Check(null, arms({}, {}), policy({ minControlRuns: 0 }), 1, true)).toEqual({ q0: null, q0ToFreeze: null });
  });
});

describe('boundCheck', () => {
  test('nothing without both arms; D, h at the run level, hAdvance at advanceAlpha, lower and upper', () => {
    const p = policy({ advanceAlpha: 0.1 }); // alpha 0.05, all of it run-level
    expect(boundCheck(arms({ N: 10 }, {}), 0.05, p)).toEqual({ tau: 0.05, runAlpha: 0.05, D: null, h: null, hAdvance: null, lower: null, upper: null });
    expect(boundCheck(arms({}, { N: 10 }), 0.05, p).D).toBeNull();
    const b = boundCheck(arms({ N: 100, F: 10 }, { N: 100, F: 5 }, { VT: 3e-4, VK: 1e-4 }), 0.05, p);
    expect(b.D).toBeCloseTo(0.05, 15);
    expect(b.h).toBeCloseTo(halfWidth(4e-4, 0.05, 0.05), 15);
    expect(b.hAdvance).toBeCloseTo(halfWidth(4e-4, 0.05, 0.1), 15);
    expect(b.hAdvance!).toBeLessThan(b.h!);
    expect(b.lower).toBeCloseTo(0.05 - b.h!, 15);
    expect(b.upper).toBeCloseTo(0.05 + b.hAdvance!, 15);
  });

  test('one level: hAdvance is h; τ from q0, else from the control rate, floored at 1%', () => {
    const same = boundCheck(arms({ N: 100, F: 10 }, { N: 100, F: 5 }), 0.2, policy());
    expect(same.hAdvance).toBe(same.h);
    expect(same.tau).toBe(0.2);
    expect(boundCheck(arms({ N: 100, F: 10 }, { N: 100, F: 30 }), null, policy()).tau).toBeCloseTo(0.3, 15);
    expect(boundCheck(arms({ N: 100, F: 10 }, { N: 100, F: 0 }), null, policy()).tau).toBe(TAU_FLOOR);
    expect(tauFor(null)).toBe(0.01);
    expect(tauFor(0.004)).toBe(0.01);
    expect(tauFor(0.02)).toBe(0.02);
  });

  test('the run level is what the segment families leave', () => {
    const p = policy({ alpha: 0.01, projectAlpha: 0.001, pythonAlpha: 0.002, signatureAlpha: 0.003 });
    const b = boundCheck(arms({ N: 100, F: 10 }, { N: 100, F: 5 }), 0.05, p);
    expect(b.runAlpha).toBeCloseTo(0.004, 15);
    expect(b.h).toBeCloseTo(halfWidth(2e-4, 0.05, 0.004), 12);
  });
});

describe('advanceCheck: every unmet condition, in the order of the rule', () => {
  const stage = { soakSeconds: 100, minMachines: 10, minRuns: 50, marginFactor: 2, marginFloor: 0.05 };
  const ok = { q0: 0.05, alarms: [], segments: null, stageAgeSeconds: 100, stage, completing: false, minSources: 3, arms: arms({ G: 10, N: 50 }, { N: 900 }), bound: bound({ upper: 0.0999 }) };

  test('every condition exactly at its threshold: advance (margin max(2·0.05, 0.05) = 0.10)', () => {
    expect(advanceCheck(ok)).toEqual({ blockers: [], margin: 0.1 });
  });

  test('one step short of each', () => {
    expect(advanceCheck({ ...ok, stageAgeSeconds: 99.9 }).blockers).toEqual(['insufficient_soak']);
    expect(advanceCheck({ ...ok, arms: arms({ G: 9, N: 50 }, { N: 900 }) }).blockers).toEqual(['insufficient_machines']);
    expect(advanceCheck({ ...ok, arms: arms({ G: 10, N: 49.5 }, { N: 900 }) }).blockers).toEqual(['insufficient_runs']);
    expect(advanceCheck({ ...ok, bound: bound({ upper: 0.1 }) }).blockers).toEqual(['not_proven_non_inferior']);
    expect(advanceCheck({ ...ok, bound: bound({ upper: null }) }).blockers).toEqual(['not_proven_non_inferior']);
    expect(advanceCheck({ ...ok, alarms: ['x: y'] }).blockers).toEqual(['data_quality']);
  });

  test('no q0: no margin, so it is not proven either; a suspect segment holds', () => {
    expect(advanceCheck({ ...ok, q0: null })).toEqual({ blockers: ['no_q0', 'not_proven_non_inferior'], margin: null });
    const suspect = { suspect: {} } as unknown as NonNullable<Parameters<typeof advanceCheck>[0]['segments']>;
    expect(advanceCheck({ ...ok, segments: suspect }).blockers).toEqual(['segment_suspect']);
    const calm = { suspect: null } as unknown as NonNullable<Parameters<typeof advanceCheck>[0]['segments']>;
    expect(advanceCheck({ ...ok, segments: calm }).blockers).toEqual([]);
  });

  test('all of them at once keep the rule order', () => {
    const suspect = { suspect: {} } as unknown as NonNullable<Parameters<typeof advanceCheck>[0]['segments']>;
    expect(advanceCheck({ q0: null, alarms: ['a: b'], segments: suspect, stageAgeSeconds: 0, stage, completing: false, minSources: 3, arms: arms({}, {}), bound: bound({ upper: null }) }).blockers).toEqual([
      'no_q0', 'data_quality', 'segment_suspect', 'insufficient_soak', 'insufficient_machines', 'insufficient_runs', 'not_proven_non_inferior',
    ]);
  });
});

describe('armsCheck and armAggregate', () => {
  test('rates and variances per arm; none for an arm without runs', () => {
    const a = armsCheck(evidence(fleet('t', 2, 10, 1), []), 5, null);
    // candidate: 2 machines × weight 5, F_m = 1·5/10 = 0.5 → N 10, F 1; control empty: q = 1/2
    expect([a.cand.N, a.cand.F, a.pT, a.pK, a.VK]).toEqual([10, 1, 0.1, null, null]);
    expect(a.q).toBe(0.5);
    expect(a.VT).toBeCloseTo(0.025, 15); // the floor q(1−q)/N = 0.25/10 (no spread)
  });

  test('a kept aggregate is used when its cap matches, refused when it does not', () => {
    const kept = agg({ N: 7, F: 1, G: 1 });
    const windows: (string | null)[] = [];
    const arm = { machineDays: [], failingTests: [], aggregate: { cap: 5, aggregate: (w: string | null) => (windows.push(w), kept) } };
    expect(armAggregate(arm, 5, '2025-01-06')).toBe(kept);
    expect(windows).toEqual(['2025-01-06']);
    expect(() => armAggregate(arm, 6, null)).toThrow('the arm\'s aggregate was kept with cap 5, the policy caps at 6');
  });
});

describe('segment settings of the policy', () => {
  test('segmentCheckPolicy copies exactly the segment settings', () => {
    const p = policy({ projectAlpha: 0.001, pythonAlpha: 0.002, signatureAlpha: 0.003, maxProjects: 7, maxPythons: 4, maxSignatures: 9, segmentMinMachines: 5, segmentHoldFactor: 3, rollbackMinSources: 4 });
    expect(segmentCheckPolicy(p)).toEqual({
      project: 0.001, python: 0.002, signature: 0.003, maxProjects: 7, maxPythons: 4, maxSignatures: 9, segmentMinMachines: 5, segmentHoldFactor: 3, segmentMinSources: 4,
    });
  });

  test('segmentsCheck: null without segment evidence, the levels split with segment evidence', () => {
    const p = policy({ alpha: 0.01, projectAlpha: 0.001, pythonAlpha: 0.002, signatureAlpha: 0.003 });
    expect(segmentsCheck(evidence([], []), [1, 10, 100], p)).toBeNull();
    const s = segmentsCheck(evidence([], [], { segments: emptySegmentEvidence() }), [1, 10, 100], p)!;
    expect(s.fired).toBeNull();
    expect(s.alpha.run).toBeCloseTo(0.004, 15);
    expect(s.alpha).toMatchObject({ project: 0.001, python: 0.002, signature: 0.003 });
  });
});

describe('decide(): which rollouts are decided, and the alert', () => {
  const now = T0 + 48 * HOUR_MS;
  const healthy = () => evidence(fleet('t', 20, 20, 1), control180());

  test('the last stage has nothing to decide even when the policy has an entry for it', () => {
    // a policy for four stages on a three-stage rollout: stage 2 (100%) has a policy entry
    const d = decide({ now, rollout: rollout({ stageIndex: 2, policy: policy({}, 4) }), evidence: healthy() });
    expect([d.verdict, d.rule, d.blockers]).toEqual(['hold', 'not_active', []]);
  });

  test('a stage without a policy entry is not decided: no alert for its age, no q0 to freeze', () => {
    // three stages, a policy for two (one entry): stage 1 has none
    const d = decide({ now: T0 + 30 * 24 * HOUR_MS, rollout: rollout({ stageIndex: 1, q0: null, policy: policy({}, 2) }), evidence: healthy() });
    expect([d.rule, d.alert, d.q0ToFreeze]).toEqual(['not_active', false, null]);
  });

  test('max stage age from exactly maxStageAgeSeconds; a rollback past it is no alert', () => {
    const max = policy().maxStageAgeSeconds;
    const at = decide({ now: T0 + max * 1000, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 2), control180()) });
    expect([at.rule, at.alert]).toEqual(['max_stage_age', true]);
    const before = decide({ now: T0 + max * 1000 - 1000, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 2), control180()) });
    expect([before.rule, before.alert]).toEqual(['not_proven_non_inferior', false]);
    const rolled = decide({ now: T0 + max * 1000, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 4), control180()) });
    expect([rolled.verdict, rolled.rule, rolled.alert, rolled.blockers]).toEqual(['rollback', 'regression', false, []]);
  });

  test('an advance has no blockers and no alert', () => {
    const d = decide({ now, rollout: rollout(), evidence: healthy() });
    expect([d.verdict, d.blockers, d.alert, d.q0ToFreeze]).toEqual(['advance', [], false, null]);
  });
});
