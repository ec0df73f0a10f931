/**
 * The decision's sentence at the edges of its formats: percentage points near zero, the
 * units of durations at exactly one hour and two days, fractional capped runs, and the
 * blockers whose text depends on the evidence (q0 waiting for the soak, a suspect segment).
 */
import { decide } from '../../server/domain/decision';
import { explain, pct, pts, type ExplainContext } from '../../server/domain/decision/explain';
import type { Decision } from '../../server/domain/decision/types';
import { HOUR_MS, T0, control180, evidence, fleet, rollout } from './decision-fixtures';

const CTX: ExplainContext = { soakSeconds: 172_800, minMachines: 10, minRuns: 50, maxStageAgeSeconds: 1_209_600, minControlRuns: 200, minSources: 3, state: 'active' };

function held(over: Partial<Decision>): Decision {
  const d = decide({ now: T0, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 1), control180()) });
  return { ...d, ...over };
}

describe('formats', () => {
  test('points: one decimal, two below 0.05 points so the sign stays visible, a true minus sign', () => {
    expect(pts(0.0123)).toBe('+1.2 pts');
    expect(pts(-0.0123)).toBe('−1.2 pts');
    expect(pts(0.0004)).toBe('+0.04 pts');
    expect(pts(-0.0004)).toBe('−0.04 pts');
    expect(pts(0.0005)).toBe('+0.1 pts'); // 0.05 points: one decimal again
    expect(pts(0)).toBe('+0.0 pts');
    expect(pts(null)).toBe('n/a');
    expect(pct(0.0512)).toBe('5.1%');
    expect(pct(null)).toBe('n/a');
  });

  test('durations: seconds below an hour, hours from exactly 1 h, days from exactly 48 h', () => {
    const soak = (stageAgeSeconds: number) => explain(held({ blockers: ['insufficient_soak'], stageAgeSeconds }), CTX).split(';')[0];
    expect(soak(3599.4)).toBe('Hold: soaking 3599 s of 2.0 d in the 10% stage');
    expect(soak(3600)).toBe('Hold: soaking 1.0 h of 2.0 d in the 10% stage');
    expect(soak(48 * 3600 - 1)).toBe('Hold: soaking 48.0 h of 2.0 d in the 10% stage');
    expect(soak(48 * 3600)).toBe('Hold: soaking 2.0 d of 2.0 d in the 10% stage');
  });

  test('fractional capped runs keep one decimal, whole ones none', () => {
    const runs = (N: number) => explain(held({ blockers: ['insufficient_runs'], candidate: { ...held({}).candidate, N } }), CTX).split(';')[0];
    expect(runs(12.25)).toBe('Hold: 12.3 of 50 capped candidate runs');
    expect(runs(12)).toBe('Hold: 12 of 50 capped candidate runs');
  });
});

describe('blockers whose text depends on the evidence', () => {
  test('no q0 with a control large enough: frozen once the first stage has soaked', () => {
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout({ q0: null }), evidence: evidence(fleet('t', 20, 20, 1), control180()) });
    expect(d.reason).toMatch(/^Hold: no baseline failure rate q0 yet: it is frozen from the control arm \(900 capped runs\) once the first stage has soaked; /);
    // exactly at minControlRuns
    expect(explain({ ...d, control: { ...d.control, N: 200 } }, CTX)).toMatch(/it is frozen from the control arm \(200 capped runs\)/);
    expect(explain({ ...d, control: { ...d.control, N: 199 } }, CTX)).toMatch(/the control arm has 199 of the 200 capped runs needed to freeze it/);
  });

  test('a suspect segment is named with its evidence; without one the blocker says only that', () => {
    const suspect = {
      family: 'project' as const, event: 'failure' as const, segment: 'blazar', test: null, label: 'blazar', candidateEvents: 3, controlEvents: 0,
      candidateMachines: 3, controlMachines: 50, candidateRuns: 3, controlRuns: 60, log10E: 5, log10Threshold: 5.60206, fired: false, suspect: true,
    };
    const d = held({ blockers: ['segment_suspect'] });
    const segments = { ...d.segments!, suspect } as Decision['segments'];
    expect(explain({ ...d, segments }, CTX)).toMatch(
      /^Hold: a segment is nearly proven worse \(blazar: the first run failed on 3 of 3 candidate machines, 0 of 50 control machines; e = 1\.0e\+5, needs 4\.0e\+5\); /,
    );
    expect(explain({ ...d, segments: null }, CTX)).toMatch(/^Hold: a segment is nearly proven worse; candidate /);
  });

  test('the regression sentence names the lower bound; one level shows ± h', () => {
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 4), control180()) });
    expect(d.rule).toBe('regression');
    expect(d.reason).toBe(
      'Regression: candidate 20.0% of 100 capped runs on 20 machines vs control 5.0% of 900 on 180 (D = +15.0 pts ± 6.4); the always-valid lower bound +8.6 pts is above zero.',
    );
  });

  test('without D the comparison has no interval; a hard break before any control run uses q0', () => {
    expect(explain(held({ D: null, blockers: ['insufficient_machines'] }), CTX)).toBe(
      'Hold: 20 of 10 distinct candidate machines; candidate 5.0% of 100 capped runs on 20 machines vs control 5.0% of 900 on 180.',
    );
    const hb = held({ rule: 'hard_break', control: { ...held({}).control, p: null }, q0: 0.031, hardBreakP: null });
    expect(explain(hb, CTX)).toMatch(/while the control fails 3\.1% \(that many by chance: p = 0\.0e\+0\)\.$/);
    expect(explain(held({ rule: 'segment', segments: null }), CTX)).toMatch(/^Segment regression: n\/a; the whole arms: candidate /);
  });
});
