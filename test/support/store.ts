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

/**
 * Every key under `prefix` with its DUMP (type, encoding and value, byte for byte): two
 * snapshots are equal only when nothing stored changed. Rate-limit counters (`<prefix>:rl:`)
 * are left out: counting requests is their job.
 */
export async function dumpState(redis: DcRedis, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const k of found) {
      if (k.startsWith(`${prefix}:rl:`)) continue;
      const d = await redis.dumpBuffer(k);
      if (d) out.set(k, d.toString('hex'));
    }
  } while (cursor !== '0');
  return out;
}
