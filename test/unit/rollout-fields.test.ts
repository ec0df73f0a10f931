/**
 * The rollout record beyond the state machine: the branch and Python fields a new rollout
 * takes over (as copies), their refusals, and upgradeRollout for records stored before
 * branches and Python support. Complements rollout-states.test.ts.
 */
import { resolvePolicy } from '../../server/domain/policy';
import { createRollout, upgradeRollout, validateStages, type NewRollout, type Rollout } from '../../server/domain/rollout';

function newRollout(over: Partial<NewRollout> = {}): NewRollout {
  return { id: 'r1', library: 'oslo.log', stable: '6.0.0', candidate: '6.1.0', stages: [1, 10, 100], salt: 's', policy: resolvePolicy(3), actor: 'rm', now: 1000, ...over };
}

describe('createRollout: branch and Python fields', () => {
  test('every given field is kept; lists are copies', () => {
    const pythons = ['3.10', '3.11', '3.12'];
    const kept = ['3.10'];
    const r = createRollout(newRollout({
      branch: 'stable/2025.2', requiresPython: '>=3.11', stableRequiresPython: '>=3.9', requiresPythonSource: 'index',
      pythons, keptPythons: kept, baseMode: 'candidate', q0: 0,
    }));
    expect(r).toMatchObject({
      branch: 'stable/2025.2', requiresPython: '>=3.11', stableRequiresPython: '>=3.9', requiresPythonSource: 'index',
      pythons: ['3.10', '3.11', '3.12'], keptPythons: ['3.10'], baseMode: 'candidate', q0: 0, key: 'oslo-log',
    });
    pythons.push('3.13');
    kept.length = 0;
    expect(r.pythons).toEqual(['3.10', '3.11', '3.12']);
    expect(r.keptPythons).toEqual(['3.10']);
  });

  test('refusals: a bad branch, a q0 outside [0, 1], versions equal under PEP 440, a policy of the wrong length', () => {
    expect(() => createRollout(newRollout({ branch: 'feature/x' }))).toThrow('branch "feature/x" is not master, stable/<series> or unmaintained/<series>');
    expect(() => createRollout(newRollout({ q0: 1.0001 }))).toThrow('q0 1.0001 is not a rate in [0, 1]');
    expect(() => createRollout(newRollout({ q0: -0 }))).not.toThrow();
    expect(() => createRollout(newRollout({ candidate: '6.0' }))).toThrow('candidate 6.0 is the same version as stable 6.0.0');
    expect(() => createRollout(newRollout({ library: '-oslo' }))).toThrow('"-oslo" is not a valid distribution name');
    expect(() => createRollout(newRollout({ stable: '6.0.0 beta' }))).toThrow('stable "6.0.0 beta" is not a PEP 440 version');
    expect(() => createRollout(newRollout({ policy: resolvePolicy(4) }))).toThrow('policy.stages must have one entry per stage before the last');
  });

  test('stages: the 100% stage may come first only alone; hundredths are allowed, 100.01 is not', () => {
    expect(() => validateStages([100, 100])).toThrow('stages must be strictly increasing');
    expect(() => validateStages([99.99, 100])).not.toThrow();
    expect(() => validateStages([1, 100.01])).toThrow('stages[1] = 100.01: each stage is a percent in (0, 100] with at most two decimals');
    expect(() => validateStages([-1, 100])).toThrow('stages[0] = -1');
    expect(() => validateStages([Number.NaN, 100])).toThrow('stages[0] = NaN');
    expect(() => validateStages([1, 2, 99])).toThrow('the last stage must be 100');
  });
});

describe('upgradeRollout', () => {
  const current = createRollout(newRollout({ branch: 'stable/2025.2', pythons: ['3.12'], keptPythons: ['3.9'], requiresPython: '>=3.10', baseMode: 'candidate' }));

  test('a record from before branches and Pythons reads as master, no Requires-Python, the stable base', () => {
    const old = { ...current } as Partial<Rollout>;
    for (const k of ['branch', 'requiresPython', 'stableRequiresPython', 'requiresPythonSource', 'pythons', 'keptPythons', 'baseMode'] as const) delete old[k];
    expect(upgradeRollout(old as Rollout)).toEqual({
      ...current, branch: 'master', requiresPython: null, stableRequiresPython: null, requiresPythonSource: 'none', pythons: [], keptPythons: [], baseMode: 'stable',
    });
  });

  test('a current record is unchanged', () => {
    expect(upgradeRollout(current)).toEqual(current);
    expect(upgradeRollout({ ...current, requiresPythonSource: 'request', stableRequiresPython: '>=3.8' })).toMatchObject({ requiresPythonSource: 'request', stableRequiresPython: '>=3.8' });
  });
});
