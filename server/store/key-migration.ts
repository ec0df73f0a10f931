import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { TERMINAL_STATES } from '../domain/rollout';
import { fromLayout1, KEY_LAYOUT, keys, layout1Markers } from './keys';
import { isCluster, masters, type DcRedis } from './redis';

export interface KeyMigration {
  /** Keys given their current name (or dropped). */
  moved: number;
  /** Report ids counted under layout 1, whose dedupe keys are still read until they expire. */
  legacyReports: number;
  /** Until when (ms) layout-1 report ids must still be looked up (0: none left). */
  legacyReportsUntil: number;
  /** Rollouts that had ended: their evidence is retired (services/retention.ts). */
  ended: number;
}

const LOCK_MS = 120_000;

/**
 * Brings data stored under key layout 1 (a data dir of an earlier server: names without hash
 * tags) to the current layout (store/keys.ts), once, before anything else reads the store:
 * every key is renamed (DUMP/RESTORE on a cluster, where the new name may live on another
 * node), nothing is rewritten. Idempotent and safe to start on several replicas at once (one
 * migrates under a lock, the others wait for it). A store without layout-1 keys (a new one)
 * is only stamped. Returns what was done (null when the store was current already).
 */
export async function migrateKeys(redis: DcRedis, prefix: string, logger?: Logger, now = Date.now()): Promise<KeyMigration | null> {
  const k = keys(prefix);
  if (Number(await redis.hget(k.schema, 'layout')) >= KEY_LAYOUT) return null;
  const owner = randomBytes(8).toString('hex');
  if ((await redis.set(k.migrating, owner, 'PX', LOCK_MS, 'NX')) !== 'OK') {
    const deadline = Date.now() + LOCK_MS;
    while (Number(await redis.hget(k.schema, 'layout')) < KEY_LAYOUT) {
      if (Date.now() > deadline) throw new Error(`another server has been migrating the Redis keys of prefix ${prefix} for over ${LOCK_MS / 1000} s`);
      await sleep(200);
    }
    return null;
  }
  try {
    const result: KeyMigration = { moved: 0, legacyReports: 0, legacyReportsUntil: 0, ended: 0 };
    // Layout 1 always has its version key (the base imported at the first start bumps it).
    // one key per EXISTS: on a cluster the names of layout 1 lie in different slots
    const old = (await Promise.all(layout1Markers(prefix).map((n) => redis.exists(n)))).reduce((a, b) => a + b, 0);
    if (old > 0) {
      logger?.info({ prefix }, 'moving the Redis keys of an earlier layout to the current one (once)');
      const legacyReport = k.legacyReportSeen('');
      for (const node of masters(redis)) {
        let cursor = '0';
        do {
          const [next, found] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          cursor = next;
          for (const name of found) {
            if (name.startsWith(legacyReport)) {
              result.legacyReports++;
              const ttl = await redis.pttl(name);
              if (ttl > 0) result.legacyReportsUntil = Math.max(result.legacyReportsUntil, now + ttl);
              continue;
            }
            const target = fromLayout1(prefix, name);
            if (target === null) continue;
            if (target === 'drop') await redis.del(name);
            else await move(redis, name, target);
            result.moved++;
          }
        } while (cursor !== '0');
      }
      // rollouts that ended before: their evidence is retired like that of one ending now
      for (const id of await redis.zrange(k.rolloutIndex, '0', '-1')) {
        const json = await redis.hget(k.rollout(id), 'json');
        const state = json ? (JSON.parse(json) as { state?: string }).state : undefined;
        if (!state || !TERMINAL_STATES.has(state as never)) continue;
        result.ended++;
        await redis.sadd(k.ending, id);
      }
    }
    await redis.hset(k.schema, 'layout', String(KEY_LAYOUT), 'migratedAt', String(now), 'moved', String(result.moved),
      'legacyReportsUntil', String(result.legacyReportsUntil));
    if (old > 0) logger?.info({ prefix, ...result }, 'Redis keys moved to the current layout');
    return result;
  } finally {
    await redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, k.migrating, owner);
  }
}

/** Until when (ms) report ids of layout 1 are still looked up, as the migration recorded it. */
export async function legacyReportsUntil(redis: DcRedis, prefix: string): Promise<number> {
  return Number(await redis.hget(keys(prefix).schema, 'legacyReportsUntil')) || 0;
}

async function move(redis: DcRedis, from: string, to: string): Promise<void> {
  if (!isCluster(redis)) {
    await redis.rename(from, to);
    return;
  }
  const [dump, ttl] = await Promise.all([redis.dumpBuffer(from), redis.pttl(from)]);
  if (!dump) return;
  await redis.restore(to, ttl > 0 ? ttl : 0, dump, 'REPLACE');
  await redis.del(from);
}
