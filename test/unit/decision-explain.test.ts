/**
 * The decision's sentence, word for word, for each rule and each blocker (the reference
 * fleet of decision-fixtures.ts; the numbers are those of decision.test.ts).
 */
import { decide } from '../../server/domain/decision';
import { HOUR_MS, T0, control180, evidence, fleet, policy, rollout } from './decision-fixtures';

const SOAKED = T0 + 48 * HOUR_MS;
const COMPARE = 'candidate 5.0% of 100 capped runs on 20 machines vs control 5.0% of 900 on 180 (D = +0.0 pts ± 6.4)';

describe('decision sentences', () => {
  test('a hold with every blocker, before any evidence', () => {
    expect(decide({ now: T0, rollout: rollout({ q0: null }), evidence: evidence([], []) }).reason).toBe(
      'Hold: no baseline failure rate q0 yet: the control arm has 0 of the 200 capped runs needed to freeze it; data-quality alarm (control_runs_low); ' +
        'soaking 0 s of 2.0 d in the 10% stage; 0 of 10 distinct candidate machines; 0 of 50 capped candidate runs; no comparison possible yet; ' +
        'no candidate runs yet, no control runs yet.',
    );
  });

  test('advance', () => {
    expect(decide({ now: SOAKED, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 1), control180()) }).reason).toBe(
      `Advance from 10%: after 2.0 d, ${COMPARE}; the upper bound +6.4 pts is below the 10.0-point margin.`,
    );
  });

  test('not proven non-inferior', () => {
    expect(decide({ now: SOAKED, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 2), control180()) }).reason).toBe(
      'Hold: upper bound +11.4 pts not below the 10.0-point margin; candidate 10.0% of 100 capped runs on 20 machines vs control 5.0% of 900 on 180 (D = +5.0 pts ± 6.4).',
    );
  });

  test('one arm without runs; seconds of soak', () => {
    expect(decide({ now: T0 + 30 * 60_000, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 1), []) }).reason).toBe(
      'Hold: data-quality alarm (control_runs_low); soaking 1800 s of 2.0 d in the 10% stage; no comparison possible yet; candidate 5.0% of 100 capped runs on 20 machines, no control runs yet.',
    );
    expect(decide({ now: T0 + 20, rollout: rollout(), evidence: evidence([], fleet('k', 3, 2)) }).reason).toMatch(/no candidate runs yet, control 0\.0% of 6 capped runs on 3 machines\.$/);
  });

  test('two levels: the interval runs from the rollback bound to the advance bound; hours of soak', () => {
    expect(decide({ now: T0 + HOUR_MS, rollout: rollout({ policy: policy({ advanceAlpha: 0.2 }) }), evidence: evidence(fleet('t', 20, 20, 2), control180()) }).reason).toBe(
      'Hold: soaking 1.0 h of 2.0 d in the 10% stage; candidate 10.0% of 100 capped runs on 20 machines vs control 5.0% of 900 on 180 (D = +5.0 pts, always-valid interval −1.4 pts to +9.8 pts).',
    );
  });

  test('nothing to decide', () => {
    expect(decide({ now: T0, rollout: rollout({ state: 'rolled_back' }), evidence: evidence([], []) }).reason).toBe('Nothing to decide: the rollout is rolled_back at stage 0 (10%).');
    expect(decide({ now: T0, rollout: rollout({ stageIndex: 2 }), evidence: evidence([], []) }).reason).toBe('Nothing to decide: the rollout is active at stage 2 (100%).');
  });

  test('hard break', () => {
    const cand = [...fleet('bad', 4, 2, 0, 2), ...fleet('ok', 2, 3)];
    expect(decide({ now: T0 + HOUR_MS, rollout: rollout(), evidence: evidence(cand, control180()) }).reason).toBe(
      'Hard break: 4 of 6 candidate machines failed or errored on every run (14 runs, 0 failures, 8 errors) while the control fails 5.0% (that many by chance: p = 8.6e-5).',
    );
  });

  test('max stage age names every blocker', () => {
    const d = decide({ now: T0 + 15 * 24 * HOUR_MS, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 2), control180()) });
    expect(d.reason).toBe(
      'Holding for 15.0 d in the 10% stage (max 14.0 d), a human should look: upper bound +11.4 pts not below the 10.0-point margin; ' +
        'candidate 10.0% of 100 capped runs on 20 machines vs control 5.0% of 900 on 180 (D = +5.0 pts ± 6.4).',
    );
  });

  test('data quality names each alarm', () => {
    const d = decide({ now: SOAKED, rollout: rollout(), evidence: { ...evidence(fleet('t', 20, 20, 1), fleet('k', 10, 2)), mismatched: 50 } });
    expect(d.reason).toMatch(/^Hold: data-quality alarm \(control_runs_low, mismatched_reports\); /);
  });
});
