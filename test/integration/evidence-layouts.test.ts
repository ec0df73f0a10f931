/**
 * Evidence layout 3 (one record per machine, store/machine-record.ts) against layout 2 (a set
 * or hash per kind) on the suite's real Redis: the same generated reports, counted into one
 * rollout of each layout, read back the same through every reader (counters of each stage,
 * meta counts, failing tests, machine-days, the arm aggregates, segment evidence and its
 * tables, caps and refusals), whatever the mix of machines, days, stages, sources, caps,
 * segment limits, mismatches, replays and batch sizes. A record that cannot be read is
 * counted and its machine starts afresh, and a rollout keeps the layout its first fold chose.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { keys } from '../../server/store/keys';
import { TelemetryStore, type Assignment, type IngestItem } from '../../server/store/telemetry-store';
import { useTestRedis } from '../support/store';

type Arm = 'candidate' | 'control';
const DAYS = ['2025-01-06', '2025-01-07', '2025-01-08'];
const T0 = Date.UTC(2025, 0, 6);
const ARMS: Arm[] = ['candidate', 'control'];

const row = fc.record({
  m: fc.nat(29),
  /** 0: a mismatched report. */
  mismatch: fc.nat(19),
  day: fc.constantFrom(0, 1, 1, 2, 2),
  stage: fc.constantFrom(0, 0, 1, 2),
  outcome: fc.constantFrom('pass', 'pass', 'pass', 'fail', 'error'),
  tests: fc.subarray(['t.a', 't.b', 't.c', 't.d']),
  project: fc.constantFrom('nova', 'oslo.config', 'oslo_config', 'neutron', '', 'p5', 'p6'),
  python: fc.constantFrom('3.11.7', '3.12', '3.9.1', 'x'),
  replay: fc.nat(14),
  /** 0: the rollout's run cap per machine-day changes from here (the aggregates go partial). */
  capChange: fc.nat(59),
});

const scenario = fc.record({
  rows: fc.array(row, { minLength: 1, maxLength: 150 }),
  cap: fc.integer({ min: 1, max: 3 }),
  sourceCap: fc.constantFrom(0, 0, 2, 6),
  /** Machines m < alone report without a source. */
  alone: fc.nat(15),
  perSource: fc.integer({ min: 1, max: 8 }),
  batch: fc.integer({ min: 1, max: 30 }),
  segments: fc.option(fc.record({
    cap: fc.integer({ min: 1, max: 3 }),
    maxProjects: fc.integer({ min: 1, max: 4 }),
    maxPythons: fc.integer({ min: 1, max: 3 }),
    maxSignatures: fc.integer({ min: 1, max: 6 }),
    maxNewSegmentsPerMachineDay: fc.integer({ min: 1, max: 4 }),
    segmentSourceCap: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  }), { nil: undefined }),
});

describe('evidence layout 3 (a record per machine) reads back as layout 2', () => {
  const redis = useTestRedis();
  let store: TelemetryStore;
  let prefix: string;
  beforeAll(() => {
    prefix = `t${randomBytes(5).toString('hex')}`;
    store = new TelemetryStore(redis(), prefix);
  });

  /** Everything the readers give of a rollout, and its rollout-wide keys as stored. */
  async function readBack(id: string, cap: number) {
    const k = keys(prefix);
    const r = redis();
    const out: Record<string, unknown> = {};
    for (const stage of [0, 1, 2, 'all'] as const) out[`counters ${stage}`] = await store.counters(id, stage);
    out.meta = await store.meta(id);
    for (const arm of ARMS) {
      out[`failing ${arm}`] = await store.failingTests(id, arm, 100);
      const mds = await store.machineDays(id, arm);
      out[`machine-days ${arm}`] = mds.map((m) => JSON.stringify(m)).sort();
      out[`aggregate ${arm}`] = await r.hgetall(k.armAggregate(id, arm));
      out[`aggregate sources ${arm}`] = await r.hgetall(k.armAggregateSources(id, arm));
      out[`aggregate days ${arm}`] = await r.hgetall(k.armAggregateDays(id, arm));
      out[`segment aggregates ${arm}`] = await r.hgetall(k.segmentAggregates(id, arm));
    }
    out.segments = await store.segments(id);
    out.refused = await r.hgetall(k.segmentRefused(id));
    out.sourceCaps = await r.hgetall(k.sourceCaps(id));
    for (const family of ['p', 'y', 's']) out[`table ${family}`] = (await r.smembers(k.segmentTable(id, family))).sort();
    // the segment caps and firsts that are not a machine's own (a source's events)
    out.eventCaps = Object.entries(await r.hgetall(k.segmentCaps(id))).filter(([f]) => f.startsWith('ev\t')).sort();
    out.sourceFirsts = (await r.smembers(k.segmentFirst(id))).filter((m) => /^(SF|SE|u)\t/.test(m)).sort();
    const ev = await store.evidence(id, cap);
    const evMds = await store.evidence(id, cap, 'machine-days');
    for (const arm of ARMS) {
      out[`evidence ${arm}`] = { ...ev[arm], machineDays: ev[arm].machineDays.map((m) => JSON.stringify(m)).sort() };
      out[`evidence md ${arm}`] = evMds[arm].machineDays.map((m) => JSON.stringify(m)).sort();
    }
    out.evidenceMeta = { counted: ev.counted, mismatched: ev.mismatched, sourceCapped: ev.sourceCapped, segments: ev.segments };
    return out;
  }

  test('random report streams read back the same from both layouts', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const k = keys(prefix);
        const [old, packed] = [`r${randomBytes(4).toString('hex')}`, `r${randomBytes(4).toString('hex')}`];
        await redis().hset(k.rolloutMeta(old), 'layout', '2');
        const items: IngestItem[] = [];
        let cap = s.cap;
        for (const r of s.rows) {
          if (r.replay === 0 && items.length > 0) {
            items.push(items[items.length - 1]!);
            continue;
          }
          if (r.capChange === 0) cap += 1;
          const arm: Arm | 'mismatch' = r.mismatch === 0 ? 'mismatch' : (r.m * 37 + r.stage * 11) % 100 < 30 ? 'candidate' : 'control';
          const a = (rolloutId: string): Assignment => ({
            rolloutId, arm, stage: r.stage, caps: { machine: cap, source: s.sourceCap }, ...(s.segments ? { segments: s.segments } : {}),
          });
          items.push({
            id: randomUUID(), machine: `m${r.m}`, outcome: r.outcome, day: DAYS[r.day]!, failedTests: r.outcome === 'pass' ? [] : r.tests, json: '{}',
            source: r.m < s.alone ? '' : `net:${Math.floor((r.m - s.alone) / s.perSource)}`, project: r.project, python: r.python,
            assignments: [a(old), a(packed)],
          });
        }
        for (let i = 0; i < items.length; i += s.batch) await store.ingest(items.slice(i, i + s.batch), T0);
        expect(await redis().hget(k.rolloutMeta(packed), 'layout')).toBe('3');
        expect(await redis().hget(k.rolloutMeta(old), 'layout')).toBe('2');
        expect(await redis().exists(k.machineRecords(old), k.machineDays(packed, 'candidate'), k.machineDays(packed, 'control'))).toBe(0);
        const [a, b] = [await readBack(old, cap), await readBack(packed, cap)];
        expect(b).toEqual(a);
      }),
      { numRuns: process.env.CI ? 40 : 25 },
    );
  }, 120_000);

  test('a fold foresees what its parts read: one run of the counting, on a new rollout and on one with evidence', async () => {
    const id = `r${randomBytes(4).toString('hex')}`;
    const runs: number[] = [];
    const watched = new TelemetryStore(redis(), prefix);
    watched.onFold = (e) => void (e.result === 'folded' && runs.push(e.runs));
    const segments = { cap: 2, maxProjects: 3, maxPythons: 3, maxSignatures: 4, maxNewSegmentsPerMachineDay: 3, segmentSourceCap: 2 };
    const batch = (n: number) => Array.from({ length: n }, (_, i): IngestItem => ({
      id: randomUUID(), machine: `m${i % 13}`, outcome: i % 4 === 0 ? 'fail' : i % 7 === 0 ? 'error' : 'pass', day: DAYS[1]!,
      failedTests: i % 4 === 0 ? ['t.a', `t.${i % 3}`] : [], json: '{}', source: i % 3 ? `net:${i % 5}` : '',
      project: ['nova', 'neutron', 'p3', 'p4'][i % 4]!, python: ['3.11.7', '3.12.1'][i % 2]!,
      assignments: [{ rolloutId: id, arm: i % 3 === 0 ? 'candidate' : 'control', stage: 0, segments, caps: { machine: 2, source: 4 } }],
    }));
    await watched.ingest(batch(40), T0);
    await watched.ingest(batch(40), T0);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.every((r) => r === 1)).toBe(true);
  });

  test('a machine record that cannot be read is counted, and the machine starts afresh', async () => {
    const k = keys(prefix);
    const id = `r${randomBytes(4).toString('hex')}`;
    const item = (machine: string): IngestItem => ({
      id: randomUUID(), machine, outcome: 'fail', day: DAYS[0]!, failedTests: ['t.a'], json: '{}',
      assignments: [{ rolloutId: id, arm: 'candidate', stage: 0, caps: { machine: 3, source: 0 } }],
    });
    await store.ingest([item('m1'), item('m2')], T0);
    for (const bad of ['{not json', '[]', '{"c":{"s":["x"]}}', '{"sc":{"a":-1}}', JSON.stringify({ c: { d: { '2025-01-06': 3 } } })]) {
      await redis().hset(k.machineRecords(id), 'm1', bad);
      await store.ingest([item('m1')], T0);
    }
    expect(await redis().hget(k.rolloutMeta(id), 'unreadableRecords')).toBe('5');
    // each time afresh: the machine is new to the stage again, its machine-day one run
    expect((await store.counters(id, 0)).candidate).toMatchObject({ runs: 7, failures: 7, machines: 7, failingMachines: 7 });
    expect((await store.machineDays(id, 'candidate')).map((m) => `${m.machine} ${m.runs}`).sort()).toEqual(['m1 1', 'm2 1']);
    // a record of parts the fold may leave out (and a field of another version) reads
    await redis().hset(k.machineRecords(id), 'm3', '{"k":{},"x":[1]}');
    await store.ingest([item('m3')], T0);
    expect(await redis().hget(k.rolloutMeta(id), 'unreadableRecords')).toBe('5');
  });

  test('a rollout with machine-days (a server before layout 3) keeps layout 2; one without chooses 3 and keeps it', async () => {
    const k = keys(prefix);
    const [old, fresh] = [`r${randomBytes(4).toString('hex')}`, `r${randomBytes(4).toString('hex')}`];
    await redis().hset(k.machineDays(old, 'control'), 'm0|2025-01-06', '1,0,0');
    const item = (rolloutId: string, machine: string): IngestItem => ({
      id: randomUUID(), machine, outcome: 'pass', day: DAYS[0]!, failedTests: [], json: '{}',
      assignments: [{ rolloutId, arm: 'control', stage: 0, caps: { machine: 1, source: 0 } }],
    });
    await store.ingest([item(old, 'm1'), item(fresh, 'm1')], T0);
    expect(await redis().hget(k.rolloutMeta(old), 'layout')).toBe('2');
    expect(await redis().hget(k.rolloutMeta(fresh), 'layout')).toBe('3');
    expect(await redis().hlen(k.machineDays(old, 'control'))).toBe(2);
    // machine-days appearing later (another server's) do not move a rollout off the layout it chose
    await redis().hset(k.machineDays(fresh, 'control'), 'm9|2025-01-06', '1,0,0');
    await store.ingest([item(fresh, 'm2')], T0);
    expect(await redis().hget(k.rolloutMeta(fresh), 'layout')).toBe('3');
    expect(await redis().hlen(k.machineRecords(fresh))).toBe(2);
  });
});
