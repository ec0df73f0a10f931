/**
 * Property tests of the decision rule (fast-check). Where the spec's rule does NOT have a
 * property one might expect, the exact limit is shown by a worked counterexample test
 * ("limits of the rule") instead of a property that only passes by luck.
 */
import fc from 'fast-check';
import { aggregateArm, decide, halfWidth } from '../../server/domain/decision';
import type { MachineDay } from '../../server/domain/evidence';
import { HOUR_MS, T0, control180, evidence, fleet, md, policy, rollout } from './decision-fixtures';

const dayOf = (i: number) => `2025-01-${String(6 + i).padStart(2, '0')}`;

/** Machine-days of up to 40 machines over up to 6 days, any mix of runs, failures and errors. */
const machineDays = (prefix: string, maxLen = 120) =>
  fc
    .array(
      fc.record({ m: fc.nat(39), d: fc.nat(5), runs: fc.integer({ min: 1, max: 30 }), bad: fc.nat(30), err: fc.nat(30) }),
      { minLength: 1, maxLength: maxLen },
    )
    .map((rows) => {
      const seen = new Map<string, MachineDay>();
      for (const r of rows) {
        const key = `${r.m}/${r.d}`;
        if (seen.has(key)) continue;
        const errors = Math.min(r.err % 4 === 0 ? r.err : 0, r.runs);
        const failures = Math.min(r.bad, r.runs - errors);
        seen.set(key, md(`${prefix}${r.m}`, r.runs, failures, errors, dayOf(r.d)));
      }
      return [...seen.values()];
    });

const q0 = fc.oneof(fc.constant(null), fc.double({ min: 0, max: 0.6, noNaN: true }));
const stageIndex = fc.constantFrom(0, 1);
const now = fc.integer({ min: 0, max: 20 * 24 }).map((h) => T0 + h * HOUR_MS);

function allFailingShare(days: MachineDay[]): number {
  const a = aggregateArm({ machineDays: days, failingTests: [] }, 5);
  return a.G === 0 ? 0 : a.allFailing / a.G;
}

describe('decision properties', () => {
  test('identical arms never give a regression rollback', () => {
    fc.assert(
      fc.property(machineDays('m'), q0, stageIndex, now, (days, q, s, t) => {
        const d = decide({ now: t, rollout: rollout({ q0: q, stageIndex: s }), evidence: evidence(days, days) });
        // D = 0 exactly and h > 0, so D − h < 0
        expect(d.D).toBe(0);
        expect(d.rule).not.toBe('regression');
        if (allFailingShare(days) < 0.5) expect(d.verdict).not.toBe('rollback');
      }),
    );
  });

  test('failing more everywhere never turns a rollback into anything else', () => {
    // Mutation: every candidate machine-day moves half of its passing runs to failures
    // (f' = f + (n − f)/2). Then F_m' = F_m + (N_m − F_m)/2, p' = p + (1 − p)/2, every
    // residual F_m − p·N_m halves, so V_T (same N_T, same floor) cannot grow, h cannot grow,
    // D grows: D − h only increases. All-failing machines stay all-failing: a hard break stays.
    const evenDays = fc
      .array(fc.record({ m: fc.nat(29), d: fc.nat(3), f: fc.nat(12), k: fc.nat(6) }), { minLength: 3, maxLength: 80 })
      .map((rows) => {
        const seen = new Map<string, MachineDay>();
        for (const r of rows) if (r.f + 2 * r.k > 0) seen.set(`${r.m}/${r.d}`, md(`t${r.m}`, r.f + 2 * r.k, r.f, 0, dayOf(r.d)));
        return [...seen.values()];
      });
    fc.assert(
      fc.property(evenDays, q0, stageIndex, now, (cand, q, s, t) => {
        const r = rollout({ q0: q, stageIndex: s });
        const before = decide({ now: t, rollout: r, evidence: evidence(cand, control180()) });
        const worse = cand.map((x) => ({ ...x, failures: x.failures + (x.runs - x.failures) / 2 }));
        const after = decide({ now: t, rollout: r, evidence: evidence(worse, control180()) });
        expect(after.D! + 1e-12).toBeGreaterThanOrEqual(before.D!);
        if (before.verdict === 'rollback') expect(after.verdict).toBe('rollback');
        if (before.rule === 'hard_break') expect(after.rule).toBe('hard_break');
      }),
    );
  });

  test('h is strictly increasing in V, so it shrinks as data accrue', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-9, max: 1, noNaN: true }),
        fc.double({ min: 1.0001, max: 100, noNaN: true }),
        fc.double({ min: 0.01, max: 0.9, noNaN: true }),
        fc.double({ min: 0.001, max: 0.2, noNaN: true }),
        (V, k, tau, alpha) => {
          expect(halfWidth(V, tau, alpha)).toBeLessThan(halfWidth(V * k, tau, alpha));
        },
      ),
    );
  });

  test('twice the fleet (each machine gets a twin) gives a strictly smaller h', () => {
    const twin = (days: MachineDay[]) => [...days, ...days.map((x) => ({ ...x, machine: `${x.machine}'` }))];
    fc.assert(
      fc.property(machineDays('t'), machineDays('k'), q0, (cand, ctrl, q) => {
        const r = rollout({ q0: q });
        const one = decide({ now: T0, rollout: r, evidence: evidence(cand, ctrl) });
        const two = decide({ now: T0, rollout: r, evidence: evidence(twin(cand), twin(ctrl)) });
        expect(two.h!).toBeLessThan(one.h!);
      }),
    );
  });

  test("a spamming machine's weight is capped at `cap` runs a day", () => {
    fc.assert(
      fc.property(machineDays('t'), fc.integer({ min: 1, max: 5000 }), fc.nat(2), (cand, k, day) => {
        const base = decide({ now: T0, rollout: rollout(), evidence: evidence(cand, control180()) });
        // one machine sends k failing runs in one day (a broken checkout, a retry loop)
        const spam = [...cand, md('spammer', k, k, 0, dayOf(day))];
        const d = decide({ now: T0, rollout: rollout(), evidence: evidence(spam, control180()) });
        expect(d.candidate.N - base.candidate.N).toBeCloseTo(Math.min(k, 5), 9);
        expect(d.candidate.F - base.candidate.F).toBeCloseTo(Math.min(k, 5), 9);
        expect(d.candidate.runs - base.candidate.runs).toBe(k);
        // and k runs weigh exactly what min(k, 5) runs with the same failure share weigh
        const w = Math.min(k, 5);
        const five = decide({ now: T0, rollout: rollout(), evidence: evidence([...cand, md('spammer', w, w, 0, dayOf(day))], control180()) });
        expect(d.D).toBeCloseTo(five.D!, 12);
        expect(d.h).toBeCloseTo(five.h!, 12);
        expect(d.verdict).toBe(five.verdict);
      }),
    );
  });
});

describe('limits of the rule as specified (documented, see docs/decision.md)', () => {
  test('the hard break can still fire on identical arms, but only when that many all-failing machines are improbable', () => {
    // 3 machines with one failing run, 3 machines with 10 passing runs (weight 5), in both arms:
    // p_K = 3/18 = 16.7% < 50%, and 3 ≥ 3, 3 ≥ 6/2 — the spec's clause alone fires (it compares
    // the candidate's all-failing machines with the control's failure RATE). The significance
    // condition stops it: the control is thin (18 < 200 capped runs), so the per-machine rate
    // is max(p_K, q0 = 0.05, q = (3 + 1)/(18 + 2) = 0.2) = 0.2 and P(Binomial(6, 0.2) ≥ 3) = 0.09888.
    const days = [...fleet('f', 3, 1, 1), ...fleet('p', 3, 10, 0)];
    const d = decide({ now: T0, rollout: rollout(), evidence: evidence(days, days) });
    expect(d.hardBreakP).toBeCloseTo(0.09888, 5);
    expect(d.verdict).toBe('hold');
    // 10 single-run failing machines + 10 with 5 passing runs: q = 11/62 and
    // P(Binomial(20, 11/62) ≥ 10) = 9.98e-4 < 0.001. Failures concentrated on machines that ran
    // once while the rest pass is what a break looks like, in either arm.
    const many = [...fleet('f', 10, 1, 1), ...fleet('p', 10, 5, 0)];
    const e = decide({ now: T0, rollout: rollout(), evidence: evidence(many, many) });
    expect(e.hardBreakP).toBeCloseTo(9.981e-4, 6);
    expect([e.verdict, e.rule, e.D]).toEqual(['rollback', 'hard_break', 0]);
  });

  test('one more failure can turn a knife-edge regression rollback into an advance', () => {
    // Candidate: 20 machines × (5 runs, 1 failure) + one machine over 4 days of 5 runs with
    // 5, 3, 0, 0 failures. Control: 2000 machines × 5 runs, 1424 with one failure.
    //   N_T = 120, F_T = 28, p_T = 0.23333;  N_K = 10000, p_K = 0.1424;  D = 0.090933
    //   residuals: −0.16667 (×20), heavy 8 − 4.6667 = 3.3333; Σr² = 11.667
    //   cluster = 21/20 · 11.667/120² = 8.507e-4 < floor q(1−q)/120 = 1.018e-3 (q = 1425/10002)
    //   h = 0.090915 < D → rollback (by 2e-5).
    // One more failure on the heavy machine (5, 4, 0, 0): p_T = 0.24167, D = 0.099267, but
    //   residuals −0.20833 (×20) and 4.1667: Σr² = 18.229, cluster = 1.329e-3 > floor,
    //   h = 0.10277 ≥ D → no rollback, and D + h = 0.2020 < margin 2·q0 = 0.2848 → advance.
    // The added failure raised the between-machine spread more than the mean.
    const days = (i: number) => dayOf(i);
    const cand = [...fleet('l', 20, 5, 1), ...[5, 3, 0, 0].map((f, i) => md('heavy', 5, f, 0, days(i)))];
    const ctrl = Array.from({ length: 2000 }, (_, i) => md(`k${i}`, 5, i < 1424 ? 1 : 0));
    const r = rollout({ q0: null, stages: [1.04, 50, 100], policy: policy({ stage: { minMachines: 3, minRuns: 5 } }) });
    const at = T0 + 49 * HOUR_MS;
    const before = decide({ now: at, rollout: r, evidence: evidence(cand, ctrl) });
    expect(before.rule).toBe('regression');
    expect(before.D).toBeCloseTo(0.090933, 5);
    expect(before.h).toBeCloseTo(0.090915, 5);
    const more = cand.map((x) => (x.machine === 'heavy' && x.day === days(1) ? { ...x, failures: 4 } : x));
    const after = decide({ now: at, rollout: r, evidence: evidence(more, ctrl) });
    expect(after.rule).toBe('advance');
    expect(after.h).toBeCloseTo(0.10277, 4);
  });
});
