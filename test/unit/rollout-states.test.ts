/**
 * The rollout state machine, action by action: every field an action changes (and those it
 * must not), the audit event it writes, and each refusal. Complements rollout.test.ts.
 */
import { resolvePolicy } from '../../server/domain/policy';
import { DEFAULT_STAGES, TERMINAL_STATES, applyAction, createRollout, currentPercent, validateStages, type NewRollout, type Rollout } from '../../server/domain/rollout';

function newRollout(over: Partial<NewRollout> = {}): NewRollout {
  return { id: 'r1', library: 'Oslo_Log', stable: '6.0.0', candidate: '6.1.0', stages: [1, 10, 100], salt: 's', policy: resolvePolicy(3), actor: 'rm', now: 1000, ...over };
}

const make = (over: Partial<NewRollout> = {}) => createRollout(newRollout(over));
const act = (r: Rollout, type: Parameters<typeof applyAction>[1]['type'], opts: { automatic?: boolean; at?: number; evidence?: unknown } = {}) =>
  applyAction(r, { type, actor: 'alice', reason: `why ${type}`, automatic: opts.automatic }, opts.at ?? 5000, opts.evidence);

describe('createRollout', () => {
  test('every field of a new rollout', () => {
    const stages = [1, 10, 100];
    const r = createRollout(newRollout({ stages, q0: 0.02 }));
    expect(r).toEqual({
      id: 'r1', library: 'Oslo_Log', key: 'oslo-log', stable: '6.0.0', candidate: '6.1.0', stages: [1, 10, 100], stageIndex: 0, state: 'active',
      frozen: false, salt: 's', revision: 1, policy: resolvePolicy(3), q0: 0.02, createdAt: 1000, createdBy: 'rm', updatedAt: 1000,
      stageEnteredAt: 1000, history: [{ stageIndex: 0, percent: 1, at: 1000 }], endedAt: null, endReason: null, lastDecision: null, proposal: null,
      branch: 'master', baseMode: 'stable', pythons: [], keptPythons: [], requiresPython: null, requiresPythonSource: 'none', stableRequiresPython: null,
      source: null, approvals: [],
    });
    stages.push(7);
    expect(r.stages).toEqual([1, 10, 100]); // a copy
    expect(DEFAULT_STAGES).toEqual([1, 10, 100]);
  });

  test('refusals name the field', () => {
    const field = (over: Partial<NewRollout>) => {
      try {
        createRollout(newRollout(over));
      } catch (e) {
        return [(e as { code: string }).code, (e as { details?: { field?: string } }).details?.field];
      }
      return null;
    };
    expect(field({ library: 'bad name!' })).toEqual(['invalid', 'library']);
    expect(field({ stable: 'x' })).toEqual(['invalid', 'stable']);
    expect(field({ candidate: '6.0.0' })).toEqual(['invalid', 'candidate']);
    expect(field({ stages: [1, 100], policy: resolvePolicy(3) })).toEqual(['invalid', 'policy']);
    expect(field({ q0: -0.1 })).toEqual(['invalid', 'q0']);
    expect(field({ q0: 0 })).toBeNull();
    expect(field({ q0: 1 })).toBeNull();
    expect(field({ stages: [5] })).toEqual(['invalid', 'stages']);
  });

  test('stages: boundaries', () => {
    expect(() => validateStages([100])).toThrow(/at least two entries/);
    expect(() => validateStages([...Array.from({ length: 19 }, (_, i) => i + 1), 100])).not.toThrow();
    expect(() => validateStages([...Array.from({ length: 20 }, (_, i) => i + 1), 100])).toThrow(/more than 20/);
    expect(() => validateStages([0, 100])).toThrow(/stages\[0\] = 0/);
    expect(() => validateStages([50, 101])).toThrow(/stages\[1\] = 101/);
    expect(() => validateStages([0.01, 100])).not.toThrow();
    expect(() => validateStages([1.234, 100])).toThrow(/two decimals/);
    expect(() => validateStages([10, 5, 100])).toThrow(/strictly increasing/);
    expect(() => validateStages([10, 50])).toThrow(/last stage must be 100/);
  });
});

describe('applyAction: what each action changes', () => {
  const r0 = make();

  test('promote within the stages: advanced, a new stage entered', () => {
    const { next, event } = act(r0, 'promote', { at: 7000, evidence: { why: 1 } });
    expect(next).toEqual({ ...r0, stageIndex: 1, stageEnteredAt: 7000, updatedAt: 7000, revision: 2, history: [...r0.history, { stageIndex: 1, percent: 10, at: 7000 }] });
    expect(event).toEqual({
      type: 'advanced', rolloutId: 'r1', actor: 'alice', reason: 'why promote', automatic: false, at: 7000,
      fromState: 'active', toState: 'active', fromStage: 0, toStage: 1, revision: 2, evidence: { why: 1 },
    });
    expect(r0.history).toHaveLength(1); // not mutated
    expect(r0.stageIndex).toBe(0);
  });

  test('promote to the last stage: promoted and ended', () => {
    const at10 = act(r0, 'promote').next;
    const { next, event } = act(at10, 'promote', { at: 9000 });
    expect([next.state, next.stageIndex, next.endedAt, next.endReason, next.stageEnteredAt]).toEqual(['promoted', 2, 9000, 'why promote', 9000]);
    expect([event.type, event.fromStage, event.toStage, event.toState]).toEqual(['promoted', 1, 2, 'promoted']);
    expect(TERMINAL_STATES.has(next.state)).toBe(true);
    expect(currentPercent(next)).toBe(100);
  });

  test('pause and resume flip the state only', () => {
    const paused = act(r0, 'pause');
    expect(paused.next).toEqual({ ...r0, state: 'paused', revision: 2, updatedAt: 5000 });
    expect([paused.event.type, paused.event.fromState, paused.event.toState]).toEqual(['pause', 'active', 'paused']);
    expect(currentPercent(paused.next)).toBe(1);
    const resumed = act(paused.next, 'resume');
    expect(resumed.next).toEqual({ ...r0, state: 'active', revision: 3, updatedAt: 5000 });
    expect(resumed.event.type).toBe('resume');
    expect(() => act(paused.next, 'pause')).toThrow(/is paused, not active/);
    expect(() => act(r0, 'resume')).toThrow(/is active, not paused/);
    // a paused rollout can still be promoted by a person
    expect(act(paused.next, 'promote').next).toMatchObject({ state: 'paused', stageIndex: 1 });
  });

  test('rollback and supersede end the rollout at its stage', () => {
    for (const [type, state] of [['rollback', 'rolled_back'], ['supersede', 'superseded']] as const) {
      const { next, event } = act(r0, type, { at: 8000 });
      expect(next).toEqual({ ...r0, state, endedAt: 8000, endReason: `why ${type}`, revision: 2, updatedAt: 8000 });
      expect([event.type, event.toState, event.fromStage, event.toStage]).toEqual([state, state, 0, 0]);
      expect(currentPercent(next)).toBe(0);
      expect(() => act(next, 'promote')).toThrow(`rollout r1 is already ${state}`);
    }
  });

  test('freeze and unfreeze', () => {
    const frozen = act(r0, 'freeze');
    expect(frozen.next).toEqual({ ...r0, frozen: true, revision: 2, updatedAt: 5000 });
    expect(frozen.event.type).toBe('frozen');
    expect(() => act(frozen.next, 'freeze')).toThrow(/already frozen/);
    const thawed = act(frozen.next, 'unfreeze');
    expect(thawed.next).toEqual({ ...r0, frozen: false, revision: 3, updatedAt: 5000 });
    expect(thawed.event.type).toBe('unfrozen');
    expect(() => act(r0, 'unfreeze')).toThrow(/not frozen/);
    // a person may still act on a frozen rollout; the controller may not
    expect(act(frozen.next, 'promote').next.stageIndex).toBe(1);
    expect(() => act(frozen.next, 'promote', { automatic: true })).toThrow('rollout r1 is frozen; automatic promote not applied');
  });

  test('automatic actions are marked so in the event; no evidence key without evidence', () => {
    const { event } = act(r0, 'rollback', { automatic: true });
    expect(event.automatic).toBe(true);
    expect('evidence' in event).toBe(false);
    expect(act(r0, 'pause').event.automatic).toBe(false);
  });

  test('current percent by state', () => {
    expect(currentPercent(r0)).toBe(1);
    expect(currentPercent({ ...r0, stageIndex: 1 })).toBe(10);
    expect(currentPercent({ ...r0, state: 'paused', stageIndex: 1 })).toBe(10);
    expect(currentPercent({ ...r0, state: 'promoted' })).toBe(100);
    expect(currentPercent({ ...r0, state: 'rolled_back', stageIndex: 1 })).toBe(0);
    expect(currentPercent({ ...r0, state: 'superseded' })).toBe(0);
  });
});
