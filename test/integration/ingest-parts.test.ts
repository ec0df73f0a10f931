import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import type { RolloutEvidence } from '../../server/domain/evidence';
import { keys } from '../../server/store/keys';
import { SEEN_TTL_S, TelemetryStore, type Assignment, type IngestItem } from '../../server/store/telemetry-store';
import { DAY, ingestItem, SEG } from '../support/ingest-items';
import { useTestRedis } from '../support/store';

/**
 * A report is counted in parts, one per slot (its day's fleet history, each rollout it
 * concerns, its machine's latest reports), each idempotent by the report id on its own
 * (real Redis, the real scripts).
 */
const testRedis = useTestRedis();
const item = ingestItem;
const arm = (rolloutId: string, a: Assignment['arm'] = 'candidate'): Assignment => ({ rolloutId, arm: a, stage: 0, segments: SEG, caps: { machine: 5, source: 0 } });

async function keysOf(redis: ReturnType<typeof testRedis>, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...found);
  } while (cursor !== '0');
  return out.sort();
}

describe('ingestion in parts (one per slot), each counted once', () => {
  let p: string;
  let store: TelemetryStore;
  beforeEach(() => {
    p = `t${randomBytes(5).toString('hex')}`;
    store = new TelemetryStore(testRedis(), p);
  });
  const fleetRuns = async (machine: string) => (await store.fleetHistory([DAY])).machineDays.find((m) => m.machine === machine)?.runs ?? 0;

  test('a crash after some parts, then the resend of the same report: every part counted exactly once', async () => {
    const [a, b] = ['ra-1', 'rb-1'];
    const full = item('m1', [arm(a), arm(b, 'control')]);
    // the process died after the fleet part and rollout a's part: b's part never ran
    expect(await store.ingest([{ ...full, assignments: [arm(a)] }], 1)).toEqual([true]);
    expect([(await store.meta(a)).counted, (await store.meta(b)).counted, await fleetRuns('m1')]).toEqual([1, 0, 1]);
    // the client resends the same report id: only b's part is new
    expect(await store.ingest([full], 2)).toEqual([true]);
    expect([(await store.meta(a)).counted, (await store.meta(b)).counted, await fleetRuns('m1')]).toEqual([1, 1, 1]);
    // and again: nothing new anywhere
    expect(await store.ingest([full], 3)).toEqual([false]);
    const ev = await store.evidence(b, 5, 'machine-days');
    // the arm aggregate too: the resent part counted once
    expect((await store.evidence(b, 5)).control.aggregate!.aggregate(null)).toMatchObject({ runs: 1, N: 1, F: 1, G: 1, clusters: 1 });
    expect((await store.evidence(a, 5)).candidate.aggregate!.aggregate(null)).toMatchObject({ runs: 1, N: 1, G: 1 });
    expect(ev.control.machineDays).toEqual([{ machine: 'm1', day: DAY, runs: 1, failures: 1, errors: 0, source: 'ci:x' }]);
    expect(ev.control.failingTests).toEqual([{ id: 'tests.test_a', machines: 1 }]);
    expect(await store.machineReports('m1', 50)).toEqual([{ id: full.id, machine: 'm1' }]);
  });

  test('a crash before the fleet part: the resend adds it once; a mismatch counts once too', async () => {
    const r = 'rc-1';
    const first = item('m2', [arm(r, 'mismatch')]);
    expect(await store.ingest([{ ...first, assignments: [] }], 1)).toEqual([true]); // fleet (and machine) part only
    expect(await store.ingest([first], 2)).toEqual([true]);
    expect(await store.ingest([first], 3)).toEqual([false]);
    expect(await store.meta(r)).toMatchObject({ counted: 0, mismatched: 1, sourceCapped: 0 });
    expect(await fleetRuns('m2')).toBe(1);
  });

  test('every key one rollout\'s parts write is in that rollout\'s slot; the fleet part\'s in its day\'s', async () => {
    const redis = testRedis();
    const r = `rs-${randomBytes(3).toString('hex')}`;
    const items = Array.from({ length: 12 }, (_, i) => item(`m${i % 4}`, [arm(r, i % 3 === 0 ? 'control' : 'candidate'), arm(`${r}-b`, 'mismatch')], {
      outcome: i % 2 ? 'pass' : 'error', source: i % 2 ? 'ci:x' : 'net:y', project: ['nova', 'neutron', 'cinder'][i % 3]!,
    }));
    await store.ingest(items, 1);
    const k = keys(p);
    const slot = calculateSlot(k.rolloutMeta(r));
    const written = await keysOf(redis, k.rolloutData(r, '*'));
    expect(written.length).toBeGreaterThan(15);
    expect(written.filter((n) => calculateSlot(n) !== slot)).toEqual([]);
    const fleet = [k.fleetSeen(DAY), k.fleetMachineDays(DAY), k.fleetSourceDays(DAY)];
    expect(new Set(fleet.map((n) => calculateSlot(n))).size).toBe(1);
    // nothing else was written but the machines' latest reports
    const all = await keysOf(redis, `${p}:*`);
    const other = all.filter((n) => !written.includes(n) && !fleet.includes(n) && !n.startsWith(k.rolloutData(`${r}-b`, '')) && !n.startsWith(k.machineReports('')));
    expect(other).toEqual([]);
  });

  test('a rollout whose evidence is retired counts nothing more and makes no key', async () => {
    const redis = testRedis();
    const r = 'rr-1';
    await store.ingest([item('m1', [arm(r)])], 1);
    expect(await store.retire(r, 1, 3600, 2)).toBeGreaterThan(5);
    const before = await keysOf(redis, keys(p).rolloutData(r, '*'));
    const late = item('m9', [arm(r)], { failedTests: ['tests.test_new'], project: 'glance' });
    // counted in the fleet history, refused by the ended rollout
    expect(await store.ingest([late], 3)).toEqual([true]);
    expect((await store.meta(r)).counted).toBe(1);
    expect(await keysOf(redis, keys(p).rolloutData(r, '*'))).toEqual(before);
    expect(await redis.ttl(keys(p).rolloutMeta(r))).toBeGreaterThan(0);
  });

  test('report ids of store layout 1 are duplicates while their keys live', async () => {
    const redis = testRedis();
    const old = item('m1', [arm('rl-1')]);
    await redis.set(keys(p).legacyReportSeen(old.id), '1', 'EX', 60);
    store.legacyReportsUntil = Date.now() + 60_000;
    expect(await store.ingest([old, item('m1', [arm('rl-1')])], Date.now())).toEqual([false, true]);
    expect((await store.meta('rl-1')).counted).toBe(1);
    store.legacyReportsUntil = 0; // past that time they are no longer looked up
    expect(await store.ingest([old], Date.now())).toEqual([true]);
  });
  test('one batch, one call per slot: a report twice in it counts once; what it adds to one rollout is each report\'s', async () => {
    const r = `rb-${randomBytes(3).toString('hex')}`;
    const twice = item('m1', [arm(r)]);
    const others = Array.from({ length: 6 }, (_, i) => item(`m${i % 3}`, [arm(r), arm(`${r}-x`, 'control')], { outcome: i % 2 ? 'pass' : 'fail' }));
    expect(await store.ingest([twice, ...others, twice], 1)).toEqual([true, true, true, true, true, true, true, false]);
    expect((await store.meta(r)).counted).toBe(7);
    expect((await store.meta(`${r}-x`)).counted).toBe(6);
    const c = (await store.counters(r, 0)).candidate;
    expect(c).toEqual({ runs: 7, failures: 4, errors: 0, machines: 3, failingMachines: 3 });
    // the same reports one by one give the same evidence
    const q = new TelemetryStore(testRedis(), `${p}b`);
    for (const it of [twice, ...others, twice]) await q.ingest([it], 1);
    expect(await q.counters(r, 0)).toEqual(await store.counters(r, 0));
    expect(await q.evidence(r, 5)).toEqual(await store.evidence(r, 5));
    expect(await q.evidence(`${r}-x`, 5)).toEqual(await store.evidence(`${r}-x`, 5));
    expect(await q.machineReports('m1', 50)).toEqual(await store.machineReports('m1', 50));
  });

  test('a batch of many parts, spread over several calls, counts as its reports one by one', async () => {
    const rs = Array.from({ length: 5 }, (_, j) => `rm-${j}-${randomBytes(2).toString('hex')}`);
    const items = Array.from({ length: 120 }, (_, i) => item(`m${i % 17}`, rs.filter((_, j) => (i + j) % 3 !== 0).map((r, j) => arm(r, j % 2 ? 'candidate' : 'control')), {
      outcome: i % 5 === 0 ? 'fail' : i % 7 === 0 ? 'error' : 'pass', source: i % 2 ? 'ci:x' : 'net:y', day: i % 4 === 0 ? '2026-03-01' : DAY,
    }));
    items.push(items[3]!, items[50]!); // replays inside the batch
    const fresh = await store.ingest(items, 1);
    expect(fresh.filter(Boolean)).toHaveLength(120);
    const q = new TelemetryStore(testRedis(), `${p}c`);
    for (const it of items) await q.ingest([it], 1);
    for (const r of rs) {
      expect(await store.evidence(r, 5)).toEqual(await q.evidence(r, 5));
      // machine-days in no particular order (a hash's)
      const inOrder = (e: RolloutEvidence) => {
        for (const arm of ['candidate', 'control'] as const) e[arm].machineDays.sort((x, y) => `${x.machine}|${x.day}`.localeCompare(`${y.machine}|${y.day}`));
        return e;
      };
      expect(inOrder(await store.evidence(r, 5, 'machine-days'))).toEqual(inOrder(await q.evidence(r, 5, 'machine-days')));
      expect(await store.summary(r, 0)).toEqual(await q.summary(r, 0));
    }
    expect(await store.fleetHistory([DAY, '2026-03-01'])).toEqual(await q.fleetHistory([DAY, '2026-03-01']));
  });

  test('hostile strings in a report (quotes, backslashes, newlines, non-ASCII, a lone surrogate) are counted as sent', async () => {
    const r = 'rn-1';
    const tests = ['tests.a"b\\c', 'tests.\u00e9t\u00e9 \u2603', 'tests.nl\nx', 'tests.\ud800half', 'tests.[1, 2]', '{"k": 1}'];
    const json = JSON.stringify({ id: 'x', note: 'a\nb"\\\u2603\u0000' });
    const it = item('m1', [arm(r)], { failedTests: tests, project: 'n"o\\va', json });
    expect(await store.ingest([it], 1)).toEqual([true]);
    const got = (await store.failingTests(r, 'candidate')).map((t) => t.id).sort();
    // a lone surrogate is stored as U+FFFD, as Redis stores any string that is not well-formed
    expect(got).toEqual(tests.map((t) => t.toWellFormed()).sort());
    expect(await store.machineReports('m1', 50)).toEqual([JSON.parse(json)]);
    expect(await store.ingest([it], 2)).toEqual([false]);
  });

  test("one report's parts in rollouts of equal arm, stage and caps count alike; a rollout's own caps still count as its own", async () => {
    const [a, b, c, e, d] = ['rs-a', 'rs-b', 'rs-c', 'rs-e', 'rs-d'];
    const caps = { machine: 5, source: 0 };
    const assignments: Assignment[] = [
      { rolloutId: a, arm: 'control', stage: 0, segments: SEG, caps },
      // equal caps in other objects (as every live rollout has its own)
      { rolloutId: b, arm: 'control', stage: 0, segments: { ...SEG }, caps: { ...caps } },
      // its own run cap
      { rolloutId: c, arm: 'control', stage: 0, segments: SEG, caps: { machine: 1, source: 0 } },
      // no room for a project segment
      { rolloutId: e, arm: 'control', stage: 0, segments: { ...SEG, maxProjects: 0 }, caps },
      { rolloutId: d, arm: 'candidate', stage: 1, segments: SEG, caps },
    ];
    for (let i = 0; i < 3; i++) await store.ingest([item('m9', assignments)], 10 + i);
    const [ea, eb, ec, ee, ed] = await Promise.all([store.evidence(a, 5), store.evidence(b, 5), store.evidence(c, 1), store.evidence(e, 5), store.evidence(d, 5)]);
    expect(eb).toEqual(ea);
    expect(ea.control.aggregate!.aggregate(null)).toMatchObject({ runs: 3, N: 3, G: 1 });
    // its machine cap of 1: three runs weigh one
    expect(ec.control.aggregate!.aggregate(null)).toMatchObject({ runs: 3, N: 1, G: 1 });
    expect(ee.control.aggregate!.aggregate(null)).toMatchObject({ runs: 3, N: 3, G: 1 });
    expect(ee.segments!.refused.project).toBeGreaterThan(0);
    expect(ea.segments!.refused.project).toBe(0);
    expect(ed.candidate.aggregate!.aggregate(null)).toMatchObject({ runs: 3, N: 3, G: 1 });
    expect(ed.control.aggregate).toBeUndefined();
    expect((await store.counters(d, 1)).candidate.runs).toBe(3);
  });

  test("a counted report id is remembered SEEN_TTL_S, in its day's fleet history and in each rollout", async () => {
    await store.ingest([item('m10', [arm('rt-a'), arm('rt-b', 'control')])], 1);
    const k = keys(p);
    for (const key of [k.fleetSeen(DAY), k.rolloutSeen('rt-a', DAY), k.rolloutSeen('rt-b', DAY)]) {
      const ttl = await testRedis().ttl(key);
      expect([key, ttl > SEEN_TTL_S - 60 && ttl <= SEEN_TTL_S]).toEqual([key, true]);
    }
  });
});
