/**
 * The decision's building blocks at their edges: arm aggregation (capping, ordering, bad
 * counts, the sample-ratio window), the variance, the data-quality alarms and their
 * thresholds, and the new-in-candidate ranking. Hand-computed; each comparison is checked
 * exactly at its threshold and one step either side.
 */
import {
  aggregateArm, armVariance, binomialUpperTail, erfc, halfWidth, dataQualityAlarms, floorRate, newInCandidate, sampleRatio, srmTest, srmWindowAfter,
} from '../../server/domain/decision';
import type { RolloutEvidence } from '../../server/domain/evidence';
import { DAY, T0, evidence, fleet, md, policy } from './decision-fixtures';

const arm = (machineDays: ReturnType<typeof md>[]) => ({ machineDays, failingTests: [] });

describe('aggregateArm', () => {
  test('weights: w = min(n, cap), F_m = f·w/n; failures + errors beyond the runs count as the runs', () => {
    // m: 8 runs, 3 failures, 1 error at cap 4 → w = 4, F = 4·4/8 = 2; n: 2 runs, 5 failures → f = min(5, 2) = 2, F = 2
    const a = aggregateArm(arm([md('m', 8, 3, 1), md('n', 2, 5, 0)]), 4);
    // machines without a source are each their own cluster and source
    expect(a).toEqual({ N: 6, F: 4, G: 2, sumFF: 8, sumFN: 12, sumNN: 20, runs: 10, failures: 8, errors: 1, allFailing: 1, windowMachines: 2, clusters: 2, sources: 2, failingSources: 2, allFailingSources: 1 });
  });

  test('exactly at the cap and one above', () => {
    expect(aggregateArm(arm([md('m', 5, 5)]), 5)).toMatchObject({ N: 5, F: 5, allFailing: 1 });
    expect(aggregateArm(arm([md('m', 6, 3)]), 5)).toMatchObject({ N: 5, F: 2.5, allFailing: 0 });
    expect(aggregateArm(arm([md('m', 4, 1)]), 5)).toMatchObject({ N: 4, F: 1 });
  });

  test('an all-failing machine fails or errors on every run, over all its days', () => {
    expect(aggregateArm(arm([md('m', 3, 2, 1)]), 5).allFailing).toBe(1);
    expect(aggregateArm(arm([md('m', 3, 2, 0)]), 5).allFailing).toBe(0);
    expect(aggregateArm(arm([md('m', 2, 2, 0, '2025-01-06'), md('m', 1, 0, 0, '2025-01-07')]), 5).allFailing).toBe(0);
    expect(aggregateArm(arm([md('m', 2, 2, 0, '2025-01-06'), md('m', 1, 1, 0, '2025-01-07')]), 5).allFailing).toBe(1);
  });

  test('bad counts (negative, NaN, infinite) are 0; a day without runs adds no machine but its counts', () => {
    const a = aggregateArm(arm([md('m', -3, 1), md('n', Number.NaN, 0), md('o', Number.POSITIVE_INFINITY, 2), md('p', 2, -1, Number.NaN)]), 5);
    expect(a).toEqual({ N: 2, F: 0, G: 1, sumFF: 0, sumFN: 0, sumNN: 4, runs: 2, failures: 3, errors: 0, allFailing: 0, windowMachines: 1, clusters: 1, sources: 1, failingSources: 0, allFailingSources: 0 });
    const zero = aggregateArm(arm([md('m', 0, 0)]), 5);
    expect([zero.G, zero.N, zero.windowMachines]).toEqual([0, 0, 0]);
  });

  test('any order gives the same numbers (sorted in one pass, otherwise by map)', () => {
    const days = [md('a', 3, 1, 0, '2025-01-06'), md('a', 9, 2, 1, '2025-01-07'), md('b', 4, 4), md('c', 2, 0, 0, '2025-01-08'), md('c', 1, 1)];
    const sorted = aggregateArm(arm(days), 5, '2025-01-06');
    // a: 3 + 5 = 8, F = 1 + 3·5/9 = 2.6667; b: 4, 4; c: 2 + 1 = 3, F = 1 → N 15, F 7.6667, 3 machines, a and c after the 6th
    expect(sorted).toMatchObject({ N: 15, G: 3, runs: 19, failures: 8, errors: 1, allFailing: 1, windowMachines: 2 });
    expect(sorted.F).toBeCloseTo(23 / 3, 12);
    for (const order of [[4, 3, 2, 1, 0], [1, 0, 2, 3, 4], [2, 0, 4, 1, 3], [0, 2, 1, 3, 4]]) {
      const other = aggregateArm(arm(order.map((i) => days[i]!)), 5, '2025-01-06');
      for (const k of Object.keys(sorted) as (keyof typeof sorted)[]) expect(other[k]).toBeCloseTo(sorted[k] ?? NaN, 12);
    }
  });

  test('the window counts machines with a run strictly after its day; null counts every machine', () => {
    const days = [md('a', 1, 0, 0, '2025-01-06'), md('b', 1, 0, 0, '2025-01-07'), md('c', 1, 0, 0, '2025-01-05'), md('c', 1, 0, 0, '2025-01-08')];
    expect(aggregateArm(arm(days), 5, '2025-01-06').windowMachines).toBe(2); // b and c
    expect(aggregateArm(arm(days), 5, '2025-01-07').windowMachines).toBe(1); // c
    expect(aggregateArm(arm(days), 5, null).windowMachines).toBe(3);
    expect(aggregateArm(arm([...days].reverse()), 5, '2025-01-06').windowMachines).toBe(2);
    // a machine with no runs on the window's days is not in it
    expect(aggregateArm(arm([md('d', 0, 0, 0, '2025-01-09'), md('d', 1, 0, 0, '2025-01-01')]), 5, '2025-01-06').windowMachines).toBe(0);
    expect(aggregateArm(arm([md('e', 1, 0, 0, '2025-01-09'), md('d', 0, 0, 0, '2025-01-09'), md('d', 1, 0, 0, '2025-01-01')]), 5, '2025-01-06').windowMachines).toBe(1);
  });
});

describe('armVariance and the floor rate', () => {
  test('no runs: null; one machine: the floor only; two: G/(G−1) · Σ residual² / N²', () => {
    expect(armVariance(aggregateArm(arm([]), 5), 0.1)).toBeNull();
    // one machine, p = 1: no cluster term, floor 0.1·0.9/5 = 0.018
    expect(armVariance(aggregateArm(arm([md('m', 5, 5)]), 5), 0.1)).toBeCloseTo(0.018, 15);
    // m: N 5, F 5; n: N 5, F 0 → p = 0.5, residuals ±2.5, cluster = 2 · 12.5 / 100 = 0.25
    expect(armVariance(aggregateArm(arm([md('m', 5, 5), md('n', 5, 0)]), 5), 0.1)).toBeCloseTo(0.25, 15);
    // three machines F = 5, 0, 0 of 5 each: p = 1/3, residuals 10/3, −5/3, −5/3 → Σ = 150/9; cluster = 1.5 · (150/9) / 225 = 1/9
    expect(armVariance(aggregateArm(arm([md('m', 5, 5), md('n', 5, 0), md('o', 5, 0)]), 5), 0.1)).toBeCloseTo(1 / 9, 15);
  });

  test('the floor wins when the machines agree', () => {
    // two identical machines: residuals 0, floor q(1−q)/N = 0.5·0.5/10
    expect(armVariance(aggregateArm(arm([md('m', 5, 1), md('n', 5, 1)]), 5), 0.5)).toBeCloseTo(0.025, 15);
  });

  test('q = (F + 1)/(N + 2)', () => {
    expect(floorRate(aggregateArm(arm([]), 5))).toBe(0.5);
    expect(floorRate(aggregateArm(arm([md('m', 5, 1), md('n', 3, 0)]), 5))).toBeCloseTo(2 / 10, 15);
  });
});

describe('sample-ratio test', () => {
  test('χ² of the candidate share; none at 0% or 100% or while an expected count is below 5', () => {
    // 10 of 50 at 10%: expected 5 and 45, dev 5 → χ² = 25/5 + 25/45 = 5.5556
    const r = srmTest(10, 40, 10)!;
    expect(r).toMatchObject({ candidateMachines: 10, controlMachines: 40, expectedShare: 0.1 });
    expect(r.chi2).toBeCloseTo(50 / 9, 12);
    expect(r.pValue).toBeCloseTo(0.018422, 5);
    expect(srmTest(3, 46, 10)).toBeNull(); // expected 4.9 candidates
    expect(srmTest(30, 20, 95)).toBeNull(); // expected 2.5 control
    expect(srmTest(30, 70, 95)).not.toBeNull(); // expected 95 and 5
    expect(srmTest(10, 10, 0)).toBeNull();
    expect(srmTest(10, 10, 100)).toBeNull();
  });

  test('the window: every day in the first stage, the days after the entry day later', () => {
    expect(srmWindowAfter(0, T0)).toBeNull();
    expect(srmWindowAfter(1, T0 + 86_399_999)).toBe(DAY);
    expect(srmWindowAfter(2, T0 + 86_400_000)).toBe('2025-01-07');
    // sampleRatio counts machines (cap 1), not runs
    const ev = evidence(fleet('t', 10, 7, 1), fleet('k', 40, 3, 0));
    expect(sampleRatio(ev, 10, 0, T0)!.chi2).toBeCloseTo(50 / 9, 12);
  });
});

describe('data-quality alarms', () => {
  const p = policy(); // minControlRuns 200, srmPValue 0.001, maxMismatchShare 0.05
  const ev = (mismatched: number, counted: number): RolloutEvidence => ({ ...evidence([], []), mismatched, counted });
  const srm = (pValue: number) => ({ candidateMachines: 30, controlMachines: 70, expectedShare: 0.1, chi2: 44.4444, pValue });

  test('control_runs_low below minControlRuns only; it alerts once the stage has soaked', () => {
    expect(dataQualityAlarms({ evidence: ev(0, 0), policy: p, controlCappedRuns: 200, srm: null, soaked: true })).toEqual({ alarms: [], alert: false });
    expect(dataQualityAlarms({ evidence: ev(0, 0), policy: p, controlCappedRuns: 199.5, srm: null, soaked: false })).toEqual({
      alarms: ['control_runs_low: the control arm has 199.5 capped runs (< 200)'], alert: false,
    });
    expect(dataQualityAlarms({ evidence: ev(0, 0), policy: p, controlCappedRuns: 12, srm: null, soaked: true })).toEqual({
      alarms: ['control_runs_low: the control arm has 12 capped runs (< 200)'], alert: true,
    });
  });

  test('sample_ratio_mismatch strictly below srmPValue, with its numbers', () => {
    expect(dataQualityAlarms({ evidence: ev(0, 0), policy: p, controlCappedRuns: 900, srm: srm(0.001), soaked: false }).alarms).toEqual([]);
    expect(dataQualityAlarms({ evidence: ev(0, 0), policy: p, controlCappedRuns: 900, srm: srm(0.00099), soaked: false })).toEqual({
      alarms: ['sample_ratio_mismatch: 30 of 100 machines in this stage are candidates (30.0%, expected 10.0%; χ² = 44.4, p = 9.9e-4)'],
      alert: true,
    });
  });

  test('mismatched_reports above maxMismatchShare of all reports, not at it', () => {
    // 5 of 100 = 5%: not above; 6 of 100 is
    expect(dataQualityAlarms({ evidence: ev(5, 95), policy: p, controlCappedRuns: 900, srm: null, soaked: false }).alarms).toEqual([]);
    expect(dataQualityAlarms({ evidence: ev(6, 94), policy: p, controlCappedRuns: 900, srm: null, soaked: false })).toEqual({
      alarms: ['mismatched_reports: 6 of 100 reports (6.0%) ran another version than their arm\'s (> 5.0%)'], alert: true,
    });
    expect(dataQualityAlarms({ evidence: ev(0, 0), policy: p, controlCappedRuns: 900, srm: null, soaked: false }).alarms).toEqual([]);
  });

  test('every alarm at once, in order', () => {
    const a = dataQualityAlarms({ evidence: ev(50, 50), policy: p, controlCappedRuns: 0, srm: srm(1e-9), soaked: false });
    expect(a.alarms.map((s) => s.split(':')[0])).toEqual(['control_runs_low', 'sample_ratio_mismatch', 'mismatched_reports']);
    expect(a.alert).toBe(true);
  });
});

describe('newInCandidate', () => {
  test('expected = control machines × G_T / G_K, rounded to 2 decimals; listed only when exceeded', () => {
    // scale 3/7: x expected 2·3/7 = 0.857 → 0.86; y: 7·3/7 = 3 equals its 3 candidate machines, not listed
    expect(newInCandidate([{ id: 'x', machines: 1 }, { id: 'y', machines: 3 }], [{ id: 'x', machines: 2 }, { id: 'y', machines: 7 }], 3, 7)).toEqual([
      { id: 'x', candidateMachines: 1, expectedMachines: 0.86 },
    ]);
  });

  test('no control machines: nothing is expected; duplicates and non-positive counts are skipped; the control keeps its largest count', () => {
    expect(newInCandidate([{ id: 'a', machines: 2 }, { id: 'a', machines: 9 }, { id: 'z', machines: 0 }, { id: 'n', machines: -1 }], [{ id: 'a', machines: 50 }], 4, 0)).toEqual([
      { id: 'a', candidateMachines: 2, expectedMachines: 0 },
    ]);
    // control lists a twice: 1 and 4 → 4 × 1 = 4 ≥ 3, not listed (with the first, 1, it would be)
    expect(newInCandidate([{ id: 'a', machines: 3 }], [{ id: 'a', machines: 1 }, { id: 'a', machines: 4 }], 10, 10)).toEqual([]);
    expect(newInCandidate([{ id: 'a', machines: 3 }], [{ id: 'a', machines: 4 }, { id: 'a', machines: 1 }], 10, 10)).toEqual([]);
  });

  test('order: excess, then candidate machines, then id; at most `limit`', () => {
    const cand = [{ id: 'b', machines: 2 }, { id: 'a', machines: 2 }, { id: 'c', machines: 5 }, { id: 'd', machines: 4 }];
    // excesses with scale 1: b 2, a 2, c 5 − 3 = 2, d 4 − 1 = 3 → d; then c (5 machines), a, b (ids)
    const ctrl = [{ id: 'c', machines: 3 }, { id: 'd', machines: 1 }];
    expect(newInCandidate(cand, ctrl, 5, 5).map((t) => t.id)).toEqual(['d', 'c', 'a', 'b']);
    expect(newInCandidate(cand, ctrl, 5, 5, 2).map((t) => t.id)).toEqual(['d', 'c']);
    expect(newInCandidate(Array.from({ length: 12 }, (_, i) => ({ id: `t${String(i).padStart(2, '0')}`, machines: 1 })), [], 1, 1)).toHaveLength(10);
  });
});

describe('the numeric helpers refuse what they cannot compute', () => {
  test('halfWidth: V positive and finite, τ positive, α in (0, 0.5)', () => {
    expect(() => halfWidth(Number.POSITIVE_INFINITY, 0.05, 0.05)).toThrow('variance must be positive and finite, got Infinity');
    expect(() => halfWidth(1e-4, 0, 0.05)).toThrow('tau must be positive, got 0');
    expect(() => halfWidth(1e-4, 0.05, 0)).toThrow('alpha must be in (0, 0.5), got 0');
    expect(() => halfWidth(1e-4, 0.05, 0.5)).toThrow('alpha must be in (0, 0.5), got 0.5');
    expect(halfWidth(1e-4, 1e-9, 0.4999)).toBeGreaterThan(0);
    expect(halfWidth(1e-4, 0.05, 1e-9)).toBeGreaterThan(halfWidth(1e-4, 0.05, 0.05));
  });

  test('erfc is odd around 1: erfc(−x) = 2 − erfc(x)', () => {
    expect(erfc(1)).toBeCloseTo(0.1572992, 6);
    expect(erfc(-1)).toBeCloseTo(1.8427008, 6);
    expect(erfc(-3)).toBeCloseTo(2 - 2.20905e-5, 7);
  });

  test('binomialUpperTail: integers and n ≥ 0, p in [0, 1]', () => {
    expect(() => binomialUpperTail(1, -1, 0.5)).toThrow('need integers n ≥ 0 and k, got n=-1 k=1');
    expect(() => binomialUpperTail(1, 2.5, 0.5)).toThrow(RangeError);
    expect(() => binomialUpperTail(1, 5, -0.1)).toThrow('p must be in [0, 1], got -0.1');
    expect(() => binomialUpperTail(1, 5, Number.NaN)).toThrow('p must be in [0, 1], got NaN');
    expect(binomialUpperTail(0, 0, 0.5)).toBe(1);
  });
});
