import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromLayout1, keys, KEY_LAYOUT } from '../../server/store/keys';
import { migrateKeys } from '../../server/store/key-migration';
import type { DcRedis } from '../../server/store/redis';
import { FIXTURES, startTestServer } from '../support/server';
import { useTestRedis } from '../support/store';

/**
 * A store written by the server before the slot layout (key layout 1), made by driving that
 * server (git 071e82a) for real: its controller, a live rollout at 50 %, one rolled back by
 * hand, 121 reports through a reporter token and an enrolled machine, a token, both bases;
 * then exported key by key (type, value, remaining TTL) with the API's views of it.
 */
interface Layout1 {
  prefix: string;
  live: string;
  ended: string;
  reportIds: string[];
  views: Record<string, { rollout: Record<string, unknown>; events: unknown; series: unknown; segments: unknown }>;
  constraintsSha256: Record<string, string>;
  keys: { name: string; type: string; ttlMs: number; value: unknown }[];
}
const FIXTURE = JSON.parse(readFileSync(join(FIXTURES, 'layout1-store.json'), 'utf8')) as Layout1;

/** Writes the layout-1 store under `prefix` (TTLs as they were left, counted from now). */
async function loadLayout1(redis: DcRedis, prefix: string): Promise<void> {
  for (const key of FIXTURE.keys) {
    const name = `${prefix}:${key.name}`;
    const v = key.value as never;
    if (key.type === 'string') await redis.set(name, v);
    else if (key.type === 'hash') await redis.hset(name, v);
    else if (key.type === 'list') await redis.rpush(name, ...(v as string[]));
    else if (key.type === 'set') await redis.sadd(name, ...(v as string[]));
    else if (key.type === 'zset') {
      const flat = v as string[];
      for (let i = 0; i < flat.length; i += 2) await redis.zadd(name, flat[i + 1]!, flat[i]!);
    } else if (key.type === 'stream') {
      for (const [id, fields] of v as [string, string[]][]) await redis.xadd(name, id, ...fields);
    } else throw new Error(`fixture key ${key.name}: type ${key.type}`);
    if (key.ttlMs > 0) await redis.pexpire(name, key.ttlMs);
  }
}

async function names(redis: DcRedis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    out.push(...found);
  } while (cursor !== '0');
  return out.sort();
}

const testRedis = useTestRedis();

describe('key migration: a store of key layout 1 opens under the current layout', () => {
  test('every key moves to its current name (or keeps one it still has); a second run does nothing', async () => {
    const redis = testRedis();
    const p = `t${randomBytes(5).toString('hex')}`;
    await loadLayout1(redis, p);
    const before = await names(redis, p);
    const res = await migrateKeys(redis, p);
    expect(res).toMatchObject({ legacyReports: FIXTURE.reportIds.length, ended: 1 });
    // every layout-1 report id is looked up until the last of them expires (35 days after it was counted)
    expect(res!.legacyReportsUntil).toBeGreaterThan(Date.now());
    const after = await names(redis, p);
    const kept = before.filter((n) => fromLayout1(p, n) === null);
    const movedTo = before.map((n) => fromLayout1(p, n)).filter((n): n is string => n !== null && n !== 'drop');
    expect(res!.moved).toBe(before.length - kept.length);
    expect(after).toEqual([...kept, ...movedTo, keys(p).schema, keys(p).ending].sort());
    // what keeps its name: tokens, the salt, machines' recent reports and layout-1 report ids
    expect([...new Set(kept.map((n) => n.slice(p.length + 1).split(':')[0]))].sort()).toEqual(['enrol', 'machine-reports', 'report', 'tokens']);
    expect(await redis.hget(keys(p).schema, 'layout')).toBe(String(KEY_LAYOUT));
    expect(await migrateKeys(redis, p)).toBeNull();
    expect(await names(redis, p)).toEqual(after);
  });

  test('a server started on it shows the same rollouts, evidence, audit trail, series, segments and pins', async () => {
    const redis = testRedis();
    const p = `t${randomBytes(5).toString('hex')}`;
    await loadLayout1(redis, p);
    const s = await startTestServer({ keyPrefix: p });
    try {
      for (const id of [FIXTURE.live, FIXTURE.ended]) {
        const was = FIXTURE.views[id]!;
        const now = (await s.req('GET', `/v1/rollouts/${id}`)).json;
        for (const f of ['state', 'stageIndex', 'percent', 'revision', 'history', 'evidence', 'decision', 'q0', 'lines', 'endReason']) {
          expect([f, now[f]]).toEqual([f, was.rollout[f]]);
        }
        expect((await s.req('GET', `/v1/rollouts/${id}/events`)).json).toEqual(was.events);
        expect((await s.req('GET', `/v1/rollouts/${id}/series`)).json).toEqual(was.series);
        expect((await s.req('GET', `/v1/rollouts/${id}/segments`)).json).toEqual(was.segments);
      }
      for (const [machine, sha] of Object.entries(FIXTURE.constraintsSha256)) {
        const text = (await s.req('GET', `/v1/constraints.txt?machine=${machine}`, undefined, null)).text;
        expect([machine, createHash('sha256').update(text).digest('hex')]).toEqual([machine, sha]);
      }
    } finally {
      await s.close();
    }
  });

  test('replicas starting at once: one migrates, the others wait for it', async () => {
    const redis = testRedis();
    const p = `t${randomBytes(5).toString('hex')}`;
    await loadLayout1(redis, p);
    const runs = await Promise.all([migrateKeys(redis, p), migrateKeys(redis, p), migrateKeys(redis, p)]);
    expect(runs.filter((r) => r !== null)).toHaveLength(1);
    expect(await redis.exists(keys(p).rollout(FIXTURE.live), keys(p).events(FIXTURE.live), keys(p).migrating)).toBe(2);
  });

  test('a new store is only stamped with the layout', async () => {
    const redis = testRedis();
    const p = `t${randomBytes(5).toString('hex')}`;
    expect(await migrateKeys(redis, p)).toEqual({ moved: 0, legacyReports: 0, legacyReportsUntil: 0, ended: 0 });
    expect(await names(redis, p)).toEqual([keys(p).schema]);
  });
});
