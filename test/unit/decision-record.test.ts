/** The stored decision: typed with zod, versioned, upgraded from version 1 (server/store/decision-record.ts). */
import { decide } from '../../server/domain/decision';
import { emptySegmentEvidence } from '../../server/domain/segments';
import { DECISION_RECORD_VERSION, parseDecision, serializeDecision } from '../../server/store/decision-record';
import { HOUR_MS, T0, control180, evidence, fleet, rollout } from './decision-fixtures';

const withSegs = {
  ...evidence(fleet('t', 20, 20, 1), control180()),
  segments: { ...emptySegmentEvidence(), signatures: [{ project: 'nova', test: 'a', candidate: [4], control: [] }] },
};

describe('decision record', () => {
  test('round trip of a real decision, with its version', () => {
    const d = decide({ now: T0 + 48 * HOUR_MS, rollout: rollout({ stages: [1, 10, 100] }), evidence: withSegs });
    const text = serializeDecision(d);
    expect(JSON.parse(text).v).toBe(DECISION_RECORD_VERSION);
    expect(parseDecision(text)).toEqual(d);
  });

  test('the gate that held an advance (freeze, signoff, awaiting merge) is kept with the decision', () => {
    const d = decide({ now: T0 + 48 * HOUR_MS, rollout: rollout({ stages: [1, 10, 100] }), evidence: withSegs });
    const gated = { ...d, verdict: 'hold' as const, gate: { gate: 'freeze' as const, reason: 'freeze window until 2026-09-04T00:00:00.000Z: rf', until: 1788480000000 } };
    expect(parseDecision(serializeDecision(gated))).toEqual(gated);
    expect(parseDecision(serializeDecision({ ...gated, gate: { ...gated.gate, gate: 'vacation' } } as never))).toBeNull();
  });

  test('a version-1 record (before the segment tests) reads with its one level and no segments', () => {
    const d = decide({ now: T0, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 1), control180()) });
    const { runAlpha: _r, segments: _s, ...v1 } = d;
    const read = parseDecision(JSON.stringify(v1))!;
    expect(read).toEqual({ ...d, runAlpha: d.alpha, segments: null });
    // a v1 record without advanceAlpha (the single level) gets alpha for it too
    const { advanceAlpha: _a, ...older } = v1;
    expect(parseDecision(JSON.stringify(older))!.advanceAlpha).toBe(d.alpha);
  });

  test('absent, corrupt, unknown-version or ill-typed records read as null', () => {
    const d = decide({ now: T0, rollout: rollout(), evidence: evidence([], []) });
    for (const text of [undefined, null, '', '{', '[]', '42', 'null', JSON.stringify({ ...d, v: 3 }), JSON.stringify({ ...d, v: 2, verdict: 'maybe' }),
      JSON.stringify({ ...d, v: 2, rule: 'new_rule' }), JSON.stringify({ ...d, v: 2, D: 'x' }), JSON.stringify({ ...d, v: 2, segments: { fired: 1 } })]) {
      expect(parseDecision(text)).toBeNull();
    }
  });

  test('unknown extra fields are dropped, not kept', () => {
    const d = decide({ now: T0, rollout: rollout(), evidence: evidence([], []) });
    expect(parseDecision(JSON.stringify({ ...d, v: 2, extra: 1 }))).toEqual(d);
  });
});
