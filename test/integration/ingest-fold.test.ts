import { randomBytes } from 'node:crypto';
import type { ArmAggregateSource } from '../../server/domain/decision/accumulator';
import type { SegmentEvidence } from '../../server/domain/segments';
import { keys } from '../../server/store/keys';
import { createRedis, runScript } from '../../server/store/redis';
import { REFUSED } from '../../server/store/refusals';
import { TelemetryStore, type Assignment, type IngestItem } from '../../server/store/telemetry-store';
import { DAY, ingestItem, SEG } from '../support/ingest-items';
import { useTestRedis } from '../support/store';

/**
 * A rollout's parts are logged by ingestion and counted into its evidence by a fold, fenced by
 * the log's position (fold.lua): whoever folds, and however processes die, each logged part
 * is counted exactly once (real Redis, the real scripts).
 */
const testRedis = useTestRedis();
const item = ingestItem;
const arm = (rolloutId: string, a: Assignment['arm'] = 'candidate'): Assignment => ({ rolloutId, arm: a, stage: 0, segments: SEG, caps: { machine: 2, source: 0 } });

/** A process that dies after logging a batch's rollout parts, before folding them. */
class DiesBeforeFold extends TelemetryStore {
  override async fold(): Promise<void> {}
}

function reports(r: string, n: number): IngestItem[] {
  return Array.from({ length: n }, (_, i) => item(`m${i % 7}`, [arm(r, i % 3 ? 'candidate' : 'control')], {
    outcome: i % 4 === 0 ? 'fail' : i % 5 === 0 ? 'error' : 'pass', source: i % 2 ? 'ci:x' : 'net:y',
    project: ['nova', 'neutron', 'cinder', 'glance'][i % 4]!, failedTests: i % 4 === 0 ? [`tests.t${i % 3}`] : [],
    day: i % 6 === 0 ? '2026-03-01' : DAY,
  }));
}

describe('folding a rollout\'s logged parts into its evidence', () => {
  let p: string;
  beforeEach(() => {
    p = `t${randomBytes(5).toString('hex')}`;
  });

  test('a process dies after logging: the next read folds what it logged, once; a resend is a duplicate', async () => {
    const r = 'rf-1';
    const items = reports(r, 30);
    const dying = new DiesBeforeFold(testRedis(), p);
    expect((await dying.ingest(items, 1)).every(Boolean)).toBe(true);
    const m = keys(p).rolloutMeta(r);
    // logged, not counted yet
    expect(await testRedis().hmget(m, 'logged', 'folded', 'counted')).toEqual(['30', null, null]);
    const next = new TelemetryStore(testRedis(), p);
    const ev = await next.evidence(r, 2);
    expect(await testRedis().hmget(m, 'logged', 'folded')).toEqual(['30', '30']);
    expect(await testRedis().llen(keys(p).rolloutLog(r))).toBe(0);
    // the same reports counted by one process that did not die
    const q = new TelemetryStore(testRedis(), `${p}q`);
    await q.ingest(items, 1);
    expect(ev).toEqual(await q.evidence(r, 2));
    expect(await next.summary(r, 0)).toEqual(await q.summary(r, 0));
    expect(await next.evidence(r, 2, 'machine-days')).toEqual(await q.evidence(r, 2, 'machine-days'));
    // the client resends them: nothing more is counted
    expect((await next.ingest(items, 2)).some(Boolean)).toBe(false);
    expect((await next.meta(r)).counted).toBe((await q.meta(r)).counted);
  });

  test('two processes ingesting the same rollouts at once count every report exactly once', async () => {
    const rs = ['rf-a', 'rf-b', 'rf-c'];
    // caps and limits no report reaches, one source and one arm per machine: what is counted does not depend on the order
    const wide = { cap: 100, maxProjects: 3, maxPythons: 2, maxSignatures: 10, maxNewSegmentsPerMachineDay: 20, segmentSourceCap: 100 };
    const items = Array.from({ length: 240 }, (_, i) => item(`m${i % 23}`, rs.filter((_, j) => (i + j) % 4 !== 0).map((r) => ({ ...arm(r, (i % 23 + rs.indexOf(r)) % 2 ? 'control' : 'candidate'), segments: wide })), {
      outcome: i % 4 === 0 ? 'fail' : 'pass', failedTests: i % 4 === 0 ? [`tests.t${i % 5}`] : [], project: ['nova', 'cinder'][i % 2]!, source: `ci:${(i % 23) % 3}`,
    }));
    const second = createRedis({ socket: process.env.DEPCANARY_TEST_REDIS_SOCKET! });
    const sorted = <T extends { machineDays: { machine: string; day: string }[] }>(a: T): T =>
      ({ ...a, machineDays: [...a.machineDays].sort((x, y) => (x.machine + x.day).localeCompare(y.machine + y.day)) });
    try {
      const a = new TelemetryStore(testRedis(), p);
      const b = new TelemetryStore(second, p);
      // batches of 8 sent to either process, all in flight at once
      const batches = Array.from({ length: 30 }, (_, i) => items.slice(i * 8, i * 8 + 8));
      const fresh = await Promise.all(batches.map((batch, i) => (i % 2 ? a : b).ingest(batch, 1)));
      expect(fresh.flat().every(Boolean)).toBe(true);
      const q = new TelemetryStore(testRedis(), `${p}q`);
      for (const batch of batches) await q.ingest(batch, 1);
      for (const r of rs) {
        const [got, want] = [await a.evidence(r, 2), await q.evidence(r, 2)];
        // sums of fractions in another order: equal to rounding
        const rounded = (x: ArmAggregateSource | undefined) =>
          x && Object.fromEntries(Object.entries(x.aggregate(null)).map(([f, v]) => [f, Number((v as number).toPrecision(12))]));
        expect(rounded(got.candidate.aggregate)).toEqual(rounded(want.candidate.aggregate));
        expect(rounded(got.control.aggregate)).toEqual(rounded(want.control.aggregate));
        expect(got.candidate.aggregate ?? got.control.aggregate).toBeDefined();
        // a segment's runs and machines (whether a machine's first run there failed depends on the order)
        const runs = (e: SegmentEvidence | undefined) => [...e!.projects, ...e!.pythons].map((x) => [x.kind, x.name, ...(['candidate', 'control'] as const).flatMap((a) => [x[a].N, x[a].F, x[a].E, x[a].firstRuns])]);
        expect(runs(got.segments)).toEqual(runs(want.segments));
        expect(got.segments!.signatures).toEqual(want.segments!.signatures);
        expect(got.segments!.refused).toEqual(want.segments!.refused);
        const [byDays, wantDays] = [await b.evidence(r, 2, 'machine-days'), await q.evidence(r, 2, 'machine-days')];
        expect(sorted(byDays.candidate)).toEqual(sorted(wantDays.candidate));
        expect(sorted(byDays.control)).toEqual(sorted(wantDays.control));
        const [s, t] = [await b.summary(r, 0), await q.summary(r, 0)];
        expect({ ...s, lastReportAt: 0 }).toEqual({ ...t, lastReportAt: 0 });
        expect(await testRedis().llen(keys(p).rolloutLog(r))).toBe(0);
      }
    } finally {
      await second.quit();
    }
  });

  test('a fold that read a position another fold has moved writes nothing', async () => {
    const r = 'rf-2';
    const k = keys(p);
    await new DiesBeforeFold(testRedis(), p).ingest(reports(r, 4), 1);
    const before = await testRedis().lrange(k.rolloutLog(r), 0, -1);
    await testRedis().hset(k.rolloutMeta(r), 'folded', '2'); // another fold counted two meanwhile
    const ops = JSON.stringify([['H', 3, 'counted', '99'], ['S', 4, 'x']]);
    const res = await runScript(testRedis(), 'fold', [k.rolloutMeta(r), k.rolloutLog(r), k.counters(r, 0, 'candidate'), k.counterMachines(r, 0, 'candidate')], [0, 4, ops]);
    expect(res).toBe(REFUSED.CONFLICT);
    expect(await testRedis().exists(k.counters(r, 0, 'candidate'), k.counterMachines(r, 0, 'candidate'))).toBe(0);
    expect(await testRedis().lrange(k.rolloutLog(r), 0, -1)).toEqual(before);
    expect(await testRedis().hget(k.rolloutMeta(r), 'folded')).toBe('2');
  });

  test('a rollout retired with parts still in its log: the fold counts none, and ingestion does not wait for ever', async () => {
    const r = 'rf-3';
    const k = keys(p);
    await new DiesBeforeFold(testRedis(), p).ingest(reports(r, 5), 1);
    const store = new TelemetryStore(testRedis(), p);
    expect(await store.retire(r, 1, 3600, 2)).toBeGreaterThan(0);
    await store.fold(r);
    expect(await store.meta(r)).toMatchObject({ counted: 0 });
    expect(await testRedis().hmget(k.rolloutMeta(r), 'afterEnd', 'folded', 'logged')).toEqual(['5', '5', '5']);
    expect(await testRedis().exists(k.rolloutLog(r))).toBe(0); // passed over: nothing left without its expiry
    // a report logged before the retirement was seen by this process, then folded after it
    const late = new DiesBeforeFold(testRedis(), `${p}b`);
    await late.ingest(reports('rf-4', 3), 1);
    await store.retire('rf-4', 1, 3600, 2);
    await expect(new TelemetryStore(testRedis(), `${p}b`).fold('rf-4', 3)).resolves.toBeUndefined();
  });

  test('an entry in the log that is not a part is passed over and counted as unreadable; the parts around it count', async () => {
    const r = 'rf-5';
    const k = keys(p);
    const dying = new DiesBeforeFold(testRedis(), p);
    await dying.ingest(reports(r, 3), 1);
    await testRedis().rpush(k.rolloutLog(r), 'not json', JSON.stringify({ id: 'x', arm: 'candidate' }), '[]');
    await testRedis().hincrby(k.rolloutMeta(r), 'logged', 3);
    await dying.ingest(reports(r, 2), 1);
    const store = new TelemetryStore(testRedis(), p);
    const s = await store.summary(r, 0);
    expect(s.counted + s.mismatched + s.sourceCapped).toBe(5);
    expect(await testRedis().hmget(k.rolloutMeta(r), 'unreadable', 'folded', 'logged')).toEqual(['3', '8', '8']);
  });

  test('a long log is folded in several folds, in order', async () => {
    const r = 'rf-6';
    const items = Array.from({ length: 2600 }, (_, i) => item(`m${i % 50}`, [arm(r, i % 2 ? 'candidate' : 'control')], { outcome: i % 9 === 0 ? 'fail' : 'pass', failedTests: [] }));
    const dying = new DiesBeforeFold(testRedis(), p);
    for (let i = 0; i < items.length; i += 500) await dying.ingest(items.slice(i, i + 500), 1);
    const store = new TelemetryStore(testRedis(), p);
    const s = await store.summary(r, 0);
    expect(s.counted).toBe(2600);
    expect(s.total.candidate.runs + s.total.control.runs).toBe(2600);
    expect(await testRedis().hmget(keys(p).rolloutMeta(r), 'folded', 'logged')).toEqual(['2600', '2600']);
  });
});
