/** Policy: defaults, layering of overrides, the alpha split's check, stored policies upgraded. */
import { FIRST_STAGE_DEFAULT, LATER_STAGE_DEFAULT, POLICY_DEFAULTS, marginFor, resolvePolicy, runLevelAlpha, upgradePolicy, type Policy } from '../../server/domain/policy';

describe('policy', () => {
  test('defaults: the first stage lenient, later ones strict; one entry per stage before the last', () => {
    const p = resolvePolicy(4);
    expect(p.stages).toEqual([FIRST_STAGE_DEFAULT, LATER_STAGE_DEFAULT, LATER_STAGE_DEFAULT]);
    expect(p.stages[0]).not.toBe(FIRST_STAGE_DEFAULT); // copies
    expect(resolvePolicy(1).stages).toEqual([]);
    expect(resolvePolicy(0).stages).toEqual([]);
    const { stages: _s, ...top } = p;
    expect(top).toEqual(POLICY_DEFAULTS);
    expect(POLICY_DEFAULTS).toMatchObject({ alpha: 0.01, advanceAlpha: 0.05, projectAlpha: 0.0005, pythonAlpha: 0.0005, signatureAlpha: 0.0015, maxSignatures: 2000, segmentHoldFactor: 10 });
  });

  test('layers: later wins; `stage` applies to every stage, `stages[i]` to one; undefined is no override', () => {
    const p = resolvePolicy(3, { alpha: 0.02, cap: 3, stage: { soakSeconds: 60 } }, undefined, { cap: undefined, stages: [{ minMachines: 2 }, { marginFloor: 0.5 }] }, { alpha: 0.03 });
    expect([p.alpha, p.cap]).toEqual([0.03, 3]);
    expect(p.stages[0]).toEqual({ ...FIRST_STAGE_DEFAULT, soakSeconds: 60, minMachines: 2 });
    expect(p.stages[1]).toEqual({ ...LATER_STAGE_DEFAULT, soakSeconds: 60, marginFloor: 0.5 });
    // a later layer's `stage` overrides an earlier `stages[i]`
    expect(resolvePolicy(2, { stages: [{ minRuns: 1 }] }, { stage: { minRuns: 9 } }).stages[0]!.minRuns).toBe(9);
  });

  test('the segment families must leave the run-level bound a positive share of alpha', () => {
    expect(runLevelAlpha(POLICY_DEFAULTS)).toBeCloseTo(0.0075, 15);
    expect(() => resolvePolicy(3, { alpha: 0.0025 })).toThrow(
      'policy: projectAlpha + pythonAlpha + signatureAlpha (0.0025) must stay below alpha (0.0025): alpha is split between them and the run-level bound',
    );
    try {
      resolvePolicy(3, { signatureAlpha: 0.02 });
    } catch (e) {
      expect((e as { code: string; details: unknown }).code).toBe('invalid');
      expect((e as { details: unknown }).details).toEqual({ field: 'policy' });
    }
    expect(() => resolvePolicy(3, { signatureAlpha: 0.02 })).toThrow(/below alpha/);
    expect(resolvePolicy(3, { alpha: 0.0026 }).alpha).toBe(0.0026);
    expect(runLevelAlpha(resolvePolicy(3, { projectAlpha: 0, pythonAlpha: 0, signatureAlpha: 0 }))).toBe(0.01);
  });

  test('a stored policy missing settings is completed: advanceAlpha from its alpha, no segment tests, defaults otherwise', () => {
    const { advanceAlpha: _a, projectAlpha: _p, pythonAlpha: _y, signatureAlpha: _s, maxSignatures: _m, hardBreakPValue: _h, ...old } = resolvePolicy(3, { alpha: 0.04, cap: 7 });
    const up = upgradePolicy(old as Policy);
    expect(up).toMatchObject({ alpha: 0.04, advanceAlpha: 0.04, cap: 7, projectAlpha: 0, pythonAlpha: 0, signatureAlpha: 0, maxSignatures: 2000, hardBreakPValue: 0.001 });
    expect(up.stages).toEqual(old.stages);
    const { alpha: _x, ...noAlpha } = old;
    expect(upgradePolicy(noAlpha as Policy)).toMatchObject({ alpha: 0.01, advanceAlpha: 0.01 });
    // a stored value of undefined counts as missing
    expect(upgradePolicy({ ...old, cap: undefined } as unknown as Policy).cap).toBe(5);
    const current = resolvePolicy(3);
    expect(upgradePolicy(current)).toEqual(current);
  });

  test('margin = max(factor · q0, floor)', () => {
    expect(marginFor(FIRST_STAGE_DEFAULT, 0.01)).toBe(0.05);
    expect(marginFor(FIRST_STAGE_DEFAULT, 0.04)).toBe(0.08);
    expect(marginFor(LATER_STAGE_DEFAULT, 0.01)).toBe(0.01);
    expect(marginFor(LATER_STAGE_DEFAULT, 0.1)).toBe(0.05);
  });
});
