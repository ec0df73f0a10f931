/** Set-up shared by the store-level tests: the suite's real Redis and a stored rollout. */
import { resolvePolicy } from '../../server/domain/policy';
import { createRollout, type NewRollout, type Rollout } from '../../server/domain/rollout';
import { createRedis, type DcRedis } from '../../server/store/redis';
import type { RolloutStore } from '../../server/store/rollout-store';

/** A connection to the suite's redis-server (test/support/global-setup.ts), opened and closed around the file. */
export function useTestRedis(): () => DcRedis {
  let redis: DcRedis | undefined;
  beforeAll(() => {
    redis = createRedis({ socket: process.env.DEPCANARY_TEST_REDIS_SOCKET! });
  });
  afterAll(() => redis?.quit());
  return () => redis!;
}

/** Creates and stores a small rollout of six 1.0 → 1.1 (stages [1, 100] unless given). */
export async function storeRollout(store: RolloutStore, over: Partial<NewRollout> & { id: string }): Promise<Rollout> {
  const stages = over.stages ?? [1, 100];
  const r = createRollout({
    library: 'six', stable: '1.0', candidate: '1.1', stages, salt: 's', policy: resolvePolicy(stages.length), actor: 'x', now: 1, ...over,
  });
  await store.create(r, {
    type: 'created', rolloutId: r.id, actor: 'x', reason: '', automatic: false, at: 1,
    fromState: 'active', toState: 'active', fromStage: 0, toStage: 0, revision: 1,
  });
  return r;
}
