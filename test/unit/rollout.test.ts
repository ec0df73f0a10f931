import fc from 'fast-check';
import { resolvePolicy } from '../../server/domain/policy';
import { applyAction, createRollout, currentPercent, validateStages, type ActionType, type Rollout } from '../../server/domain/rollout';
import { updateType } from '../../server/domain/versions';

const make = (stages = [1, 10, 100]): Rollout =>
  createRollout({ id: 'r1', library: 'oslo.log', stable: '6.0.0', candidate: '6.1.0', stages, salt: 's', policy: resolvePolicy(stages.length), actor: 'rm', now: 1000 });

describe('rollout state machine', () => {
  test('promote walks the stages; the last stage is promotion', () => {
    let r = make();
    expect(currentPercent(r)).toBe(1);
    r = applyAction(r, { type: 'promote', actor: 'a', reason: 'x' }, 2000).next;
    expect([r.state, r.stageIndex, currentPercent(r), r.revision]).toEqual(['active', 1, 10, 2]);
    const last = applyAction(r, { type: 'promote', actor: 'a', reason: 'done' }, 3000);
    expect(last.event.type).toBe('promoted');
    expect([last.next.state, currentPercent(last.next), last.next.endedAt]).toEqual(['promoted', 100, 3000]);
  });

  test('terminal states refuse every action', () => {
    const rolled = applyAction(make(), { type: 'rollback', actor: 'a', reason: 'bad' }, 2).next;
    expect(currentPercent(rolled)).toBe(0);
    for (const t of ['promote', 'pause', 'resume', 'rollback', 'freeze'] as ActionType[]) {
      expect(() => applyAction(rolled, { type: t, actor: 'a', reason: 'x' }, 3)).toThrow(/already rolled_back/);
    }
  });

  test('automatic actions: refused when frozen; automatic advance refused when paused, rollback allowed', () => {
    const paused = applyAction(make(), { type: 'pause', actor: 'rm', reason: 'x' }, 2).next;
    expect(() => applyAction(paused, { type: 'promote', actor: 'ctl', reason: 'x', automatic: true }, 3)).toThrow(/paused/);
    expect(applyAction(paused, { type: 'rollback', actor: 'ctl', reason: 'x', automatic: true }, 3).next.state).toBe('rolled_back');
    const frozen = applyAction(paused, { type: 'freeze', actor: 'admin', reason: 'x' }, 3).next;
    expect(() => applyAction(frozen, { type: 'rollback', actor: 'ctl', reason: 'x', automatic: true }, 4)).toThrow(/frozen/);
    expect(applyAction(frozen, { type: 'rollback', actor: 'rm', reason: 'manual' }, 4).next.state).toBe('rolled_back');
  });

  test('property: any action sequence keeps the invariants', () => {
    const action = fc.constantFrom<ActionType>('promote', 'pause', 'resume', 'rollback', 'freeze', 'unfreeze', 'supersede');
    fc.assert(fc.property(fc.array(fc.tuple(action, fc.boolean()), { maxLength: 15 }), (seq) => {
      let r = make([1, 5, 25, 50, 100]);
      let rev = r.revision;
      for (const [type, automatic] of seq) {
        try {
          const { next, event } = applyAction(r, { type, actor: 'x', reason: 'y', automatic }, rev);
          expect(next.revision).toBe(r.revision + 1);
          expect(event.revision).toBe(next.revision);
          expect(next.stageIndex).toBeGreaterThanOrEqual(r.stageIndex);
          r = next;
          rev++;
        } catch (e) {
          expect((e as { code?: string }).code).toBe('conflict');
        }
        if (r.state === 'active' || r.state === 'paused') expect(r.stageIndex).toBeLessThan(r.stages.length - 1);
      }
    }));
  });

  test('validation', () => {
    expect(() => validateStages([1, 10])).toThrow(/last stage must be 100/);
    expect(() => validateStages([10, 10, 100])).toThrow(/increasing/);
    expect(() => validateStages([0.005, 100])).toThrow(/two decimals/);
    expect(() => validateStages([0.5, 100])).not.toThrow();
    expect(() => createRollout({ ...base(), candidate: '6.0' })).toThrow(/same version/);
    expect(() => createRollout({ ...base(), candidate: 'latest' })).toThrow(/PEP 440/);
  });

  test('q0: null unless known at creation, and then a rate', () => {
    expect(createRollout(base()).q0).toBeNull();
    expect(createRollout({ ...base(), q0: null }).q0).toBeNull();
    expect(createRollout({ ...base(), q0: 0.035 }).q0).toBe(0.035);
    expect(() => createRollout({ ...base(), q0: 1.5 })).toThrow(/not a rate/);
    expect(() => createRollout({ ...base(), q0: Number.NaN })).toThrow(/not a rate/);
  });

  test('update type, semver where it applies and PEP 440 otherwise', () => {
    expect(updateType('6.0.0', '7.0.0')).toBe('major');
    expect(updateType('6.0.0', '6.1.0')).toBe('minor');
    expect(updateType('2026.3', '2026.4')).toBe('minor');
    expect(updateType('1.0.0.post1', '1.0.1')).toBe('patch');
  });
});

function base() {
  return { id: 'r', library: 'oslo.log', stable: '6.0.0', candidate: '6.1.0', stages: [1, 10, 100], salt: 's', policy: resolvePolicy(3), actor: 'a', now: 1 };
}
