/**
 * decide() with segment evidence: where the segment rule sits among the others, the hold
 * while a segment is nearly proven worse, and the explanation. Hand-built evidence on the
 * reference fleet of decision-fixtures.ts (control180: p_K = 5%).
 */
import { decide } from '../../server/domain/decision';
import { emptySegmentEvidence, type SegmentEvidence, type SignatureStats } from '../../server/domain/segments';
import { HOUR_MS, T0, control180, evidence, fleet, policy, rollout } from './decision-fixtures';

const SOAKED = T0 + 48 * HOUR_MS;
/** The defaults' segment split on the reference levels: α 0.05 = run-level 0.0475 + 0.0005 + 0.0005 + 0.0015. */
const SEGMENTS_ON = { projectAlpha: 0.0005, pythonAlpha: 0.0005, signatureAlpha: 0.0015 };

function sig(candidate: number[], control: number[] = [], test = 'tests.t'): SignatureStats {
  return { project: 'blazar', test, candidate, control };
}

function withSegments(partial: Partial<SegmentEvidence>, candidate = fleet('t', 20, 20, 1)) {
  return { ...evidence(candidate, control180()), segments: { ...emptySegmentEvidence(), ...partial } };
}

describe('decision with segments', () => {
  const ro = rollout({ stages: [1, 10, 100], policy: policy(SEGMENTS_ON) });

  test('a fired signature rolls back by the segment rule and the reason names it', () => {
    // the reference advance case (D = 0) plus one signature on 4 candidate machines at 1%
    const d = decide({ now: SOAKED, rollout: ro, evidence: withSegments({ signatures: [sig([4])] }) });
    expect([d.verdict, d.rule]).toEqual(['rollback', 'segment']);
    expect(d.reason).toMatch(/^Segment regression: blazar: tests\.t fails on 4 candidate machines, 0 control machines \(e = 5\.9e\+7, needs 1\.3e\+6\); the whole arms: candidate 5\.0% of 100/);
    expect(d.segments!.alpha).toEqual({ run: expect.closeTo(0.0475, 12), project: 0.0005, python: 0.0005, signature: 0.0015 });
    expect(d.runAlpha).toBeCloseTo(0.0475, 12);
  });

  test('3 machines are not enough to roll back but hold the advance (segment_suspect)', () => {
    const d = decide({ now: SOAKED, rollout: ro, evidence: withSegments({ signatures: [sig([3])] }) });
    expect([d.verdict, d.rule, d.blockers]).toEqual(['hold', 'segment_suspect', ['segment_suspect']]);
    expect(d.reason).toMatch(/^Hold: a segment is nearly proven worse \(blazar: tests\.t fails on 3 candidate machines, 0 control machines; e = 6\.2e\+5, needs 1\.3e\+6\)/);
    // the same with one control machine failing the test is no longer suspect: the advance goes ahead
    expect(decide({ now: SOAKED, rollout: ro, evidence: withSegments({ signatures: [sig([3], [1])] }) }).verdict).toBe('advance');
  });

  test('a hard break is reported as such even when a segment fires too', () => {
    const cand = [...fleet('bad', 4, 2, 0, 2), ...fleet('ok', 2, 3)];
    const d = decide({ now: T0 + HOUR_MS, rollout: ro, evidence: withSegments({ signatures: [sig([9])] }, cand) });
    expect(d.rule).toBe('hard_break');
    expect(d.segments!.fired).not.toBeNull();
  });

  test('the segment rule comes before the run-level regression', () => {
    // candidate 20 × (20 runs, 4 failures): D = +15 pts, a regression at the reference level
    const bad = fleet('t', 20, 20, 4);
    expect(decide({ now: T0 + HOUR_MS, rollout: ro, evidence: withSegments({}, bad) }).rule).toBe('regression');
    expect(decide({ now: T0 + HOUR_MS, rollout: ro, evidence: withSegments({ signatures: [sig([4])] }, bad) }).rule).toBe('segment');
  });

  test('segments off: the same evidence advances, and the run-level bound keeps the whole alpha', () => {
    const off = rollout({ stages: [1, 10, 100], policy: policy() });
    const d = decide({ now: SOAKED, rollout: off, evidence: withSegments({ signatures: [sig([9])] }) });
    expect(d.verdict).toBe('advance');
    expect(d.runAlpha).toBe(0.05);
    expect(d.segments!.top).toEqual([]);
  });

  test('a terminal rollout reports its segment findings but decides nothing', () => {
    const d = decide({ now: SOAKED, rollout: { ...ro, state: 'rolled_back' }, evidence: withSegments({ signatures: [sig([9])] }) });
    expect([d.verdict, d.rule]).toEqual(['hold', 'not_active']);
    expect(d.segments!.fired).not.toBeNull();
  });

  test('without segment evidence there is no segment summary', () => {
    expect(decide({ now: SOAKED, rollout: ro, evidence: evidence(fleet('t', 20, 20, 1), control180()) }).segments).toBeNull();
  });
});
