import { randomBytes } from 'node:crypto';
import { decide } from '../../server/domain/decision';
import { resolvePolicy, upgradePolicy, type Policy } from '../../server/domain/policy';
import { RolloutStore } from '../../server/store/rollout-store';
import { storeRollout, useTestRedis } from '../support/store';

const testRedis = useTestRedis();

/** A policy as an earlier server stored it: one level α = 0.05, no hard-break significance, no segment tests. */
function legacyPolicy(): Policy {
  const {
    advanceAlpha: _a, hardBreakPValue: _h, projectAlpha: _p, pythonAlpha: _y, signatureAlpha: _s, maxProjects: _mp, maxPythons: _my,
    maxSignatures: _ms, maxNewSegmentsPerMachineDay: _b, segmentMinMachines: _g, segmentHoldFactor: _f, ...rest
  } = resolvePolicy(3, { alpha: 0.05 });
  return rest as Policy;
}

describe('policies stored by an earlier server version (real Redis)', () => {
  test('a rollout read back gets the missing settings: its own alpha for the advance, defaults otherwise', async () => {
    const store = new RolloutStore(testRedis(), `t${randomBytes(5).toString('hex')}`);
    const r = await storeRollout(store, { id: 'old-r', stages: [1, 10, 100], policy: legacyPolicy() });
    const { rollout } = (await store.get(r.id))!;
    expect(rollout.policy).toMatchObject({ alpha: 0.05, advanceAlpha: 0.05, hardBreakPValue: 0.001, cap: 5 });
    // no segment tests for it: its whole alpha stays with the run-level bound; its evidence caps take the defaults
    expect(rollout.policy).toMatchObject({ projectAlpha: 0, pythonAlpha: 0, signatureAlpha: 0, maxSignatures: 2000, segmentMinMachines: 3 });
    expect(rollout.policy.stages).toEqual(legacyPolicy().stages);
    // the rule runs on it (a missing level would throw in the bound)
    const d = decide({ now: 2, rollout, evidence: { candidate: { machineDays: [{ machine: 'a', day: '1970-01-01', runs: 3, failures: 0, errors: 0 }], failingTests: [] }, control: { machineDays: [{ machine: 'b', day: '1970-01-01', runs: 3, failures: 1, errors: 0 }], failingTests: [] }, mismatched: 0, counted: 6, lastReportAt: 2 } });
    expect(d.hAdvance).toBe(d.h);
  });

  test('a current policy is left as it is', () => {
    const p = resolvePolicy(3, { alpha: 0.02, advanceAlpha: 0.1, hardBreakPValue: 0.01 });
    expect(upgradePolicy(p)).toEqual(p);
  });
});
