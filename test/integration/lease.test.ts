import { decide } from '../../server/domain/decision';
import { randomBytes } from 'node:crypto';
import { Lease } from '../../server/store/lease';
import { RolloutStore } from '../../server/store/rollout-store';
import { applyAction } from '../../server/domain/rollout';
import { storeRollout, useTestRedis } from '../support/store';

const testRedis = useTestRedis();

describe('controller lease with a fencing token (real Redis)', () => {
  const prefix = `t${randomBytes(5).toString('hex')}`;

  test('one holder at a time; a new holder gets a larger fence; a stale fence cannot write', async () => {
    const redis = testRedis();
    const a = new Lease(redis, prefix, 'controller', 300);
    const b = new Lease(redis, prefix, 'controller', 300);
    const fa = await a.tick();
    expect(fa).toBeGreaterThan(0);
    expect(await b.tick()).toBe(0);
    expect(await a.tick()).toBe(fa);

    const store = new RolloutStore(redis, prefix);
    const r = await storeRollout(store, { id: 'lease-r' });

    await new Promise((res) => setTimeout(res, 400)); // a's lease lapses (a paused process)
    const fb = await b.tick();
    expect(fb).toBeGreaterThan(fa);
    const { next, event } = applyAction(r, { type: 'rollback', actor: 'ctl', reason: 'x', automatic: true }, 2);
    await expect(store.transition(r, next, event, { fence: a.held! })).rejects.toThrow(/lease was lost/);
    await store.transition(r, next, event, { fence: b.held! });
    expect((await store.get(r.id))!.rollout.state).toBe('rolled_back');
    await b.release();
    expect(await a.tick()).toBeGreaterThan(fb);
  });
});

describe('the controller records an evaluation only under its current fence', () => {
  const prefix = `t${randomBytes(5).toString('hex')}`;

  test('a stale fence cannot overwrite the decision or freeze q0', async () => {
    const redis = testRedis();
    const store = new RolloutStore(redis, prefix);
    const r = await storeRollout(store, { id: 'rec-r' });
    const a = new Lease(redis, prefix, 'controller', 200);
    await a.tick();
    const hold = decide({ now: 2, rollout: r, evidence: { candidate: { machineDays: [], failingTests: [] }, control: { machineDays: [], failingTests: [] }, mismatched: 0, counted: 0, lastReportAt: null } });
    await store.recordEvaluation(r.id, a.held!, { decision: hold, q0: 0.05, point: { at: 1 }, event: { type: 'decision' } });
    await new Promise((res) => setTimeout(res, 300));
    const b = new Lease(redis, prefix, 'controller', 5000);
    await b.tick();
    await expect(store.recordEvaluation(r.id, a.held!, { decision: { ...hold, verdict: 'rollback' }, q0: 0.5 })).rejects.toThrow(/lease was lost/);
    const rec = (await store.get(r.id))!;
    expect(rec.decision).toEqual(hold);
    expect(rec.q0).toBe(0.05);
    expect(await store.series(r.id)).toEqual([{ at: 1 }]);
    expect((await store.events(r.id)).map((e) => e.type)).toEqual(['created', 'decision']);
  });
});
