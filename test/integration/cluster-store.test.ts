import { randomUUID } from 'node:crypto';
import { keys } from '../../server/store/keys';
import { createRedis, type DcRedis } from '../../server/store/redis';
import { TelemetryStore, type IngestItem } from '../../server/store/telemetry-store';
import { startRedisCluster, type TestCluster } from '../support/redis-cluster';

/**
 * The stores on a real 3-master Redis Cluster, called the way a busy server calls them: many
 * reports at once, each counted in parts spread over the masters (auto-pipelined per node),
 * rollouts retired meanwhile (a script whose number of keys varies).
 */
describe('telemetry on a Redis Cluster', () => {
  let cluster: TestCluster;
  let redis: DcRedis;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    redis = createRedis({ cluster: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })) });
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });

  test('concurrent batches over 12 rollouts: every part counted once, on whichever master; retirement on the way', async () => {
    const store = new TelemetryStore(redis, 'dc');
    const rollouts = Array.from({ length: 12 }, (_, i) => `lib${i}-1.0-${i}`);
    const seg = { cap: 5, maxProjects: 5, maxPythons: 3, maxSignatures: 20, maxNewSegmentsPerMachineDay: 5, segmentSourceCap: 3 };
    const item = (i: number): IngestItem => ({
      id: randomUUID(), machine: `m${i % 40}`, outcome: i % 5 ? 'pass' : 'fail', day: '2026-03-02', failedTests: i % 5 ? [] : ['t.a'],
      json: '{}', project: ['nova', 'neutron'][i % 2]!, python: '3.11.2', source: `ci:${i % 4}`,
      assignments: rollouts.map((r, j) => ({ rolloutId: r, arm: (i + j) % 3 === 0 ? 'mismatch' : (i + j) % 2 ? 'candidate' : 'control', stage: 0, segments: seg, caps: { machine: 5, source: 0 } })),
    });
    const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 25 }, (_, i) => item(b * 25 + i)));
    const results = await Promise.all([
      ...batches.map((items) => store.ingest(items, 1)),
      store.retire('lib-none', 2, 3600, 1),
    ]);
    expect(results.slice(0, -1).flat().every((x) => x === true)).toBe(true);
    // a replay of every batch, concurrently: nothing counted again
    expect((await Promise.all(batches.map((items) => store.ingest(items, 2)))).flat().every((x) => x === false)).toBe(true);
    for (const r of rollouts) {
      const m = await store.meta(r);
      expect(m.counted + m.mismatched).toBe(200);
      expect(await redis.scard(keys('dc').rolloutSeen(r, '2026-03-02'))).toBe(200);
    }
    // retired while reports come: refused from then on, its keys expiring
    expect(await store.retire(rollouts[0]!, 1, 3600, 3)).toBeGreaterThan(5);
    expect(await store.ingest([item(999)], 4)).toEqual([true]);
    expect((await store.meta(rollouts[0]!)).counted + (await store.meta(rollouts[0]!)).mismatched).toBe(200);
    expect((await store.meta(rollouts[1]!)).counted + (await store.meta(rollouts[1]!)).mismatched).toBe(201);
    expect((await store.fleetHistory(['2026-03-02'])).machineDays.reduce((n, d) => n + d.runs, 0)).toBe(201);
  }, 60_000);
});
