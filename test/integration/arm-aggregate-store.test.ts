/**
 * The arm aggregate kept by the real ingestion (ingest.lua, the fold) on the suite's real Redis against the
 * machine-day path it replaces: the same generated reports (many machines, several days,
 * sources, the machine and source caps hit, late runs of an earlier day, fail / error mixes,
 * mismatches, replays) give the rule the same aggregates, verdicts and figures either way,
 * up to floating-point rounding; without the source cap every stored number is exactly
 * ArmAccumulator's over the same runs. A rollout whose arm has machine-days from before
 * aggregates were kept, or another cap, is read from its machine-days.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { aggregateArm, ArmAccumulator, armAggregate, dayNumber, decide, type ArmAggregate, type Decision } from '../../server/domain/decision';
import type { RolloutEvidence } from '../../server/domain/evidence';
import { resolvePolicy } from '../../server/domain/policy';
import { keys } from '../../server/store/keys';
import { TelemetryStore, type IngestItem } from '../../server/store/telemetry-store';
import { createRedis } from '../../server/store/redis';
import { useTestRedis } from '../support/store';

type Arm = 'candidate' | 'control';
type Outcome = 'pass' | 'fail' | 'error';
const DAYS = ['2025-01-06', '2025-01-07', '2025-01-08', '2025-01-09'];
const T0 = Date.UTC(2025, 0, 6);
const HOUR = 3_600_000;

/** Equal up to rounding: 1e-9 relative (1e-12 absolute near 0). */
function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(1e-12, 1e-9 * Math.max(Math.abs(a), Math.abs(b)));
}

/** Deep comparison with numbers up to rounding; strings compared with their numbers masked (they are compared as fields). */
function same(a: unknown, b: unknown, path = '$'): string | null {
  if (typeof a === 'number' && typeof b === 'number') return close(a, b) || (Number.isNaN(a) && Number.isNaN(b)) ? null : `${path}: ${a} ≠ ${b}`;
  if (typeof a === 'string' && typeof b === 'string') {
    const mask = (s: string) => s.replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/g, '#');
    return mask(a) === mask(b) ? null : `${path}: "${a}" ≠ "${b}"`;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined).sort();
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined).sort();
    if (ka.join() !== kb.join()) return `${path}: keys ${ka.join()} ≠ ${kb.join()}`;
    for (const k of ka) {
      const d = same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path}: ${String(a)} ≠ ${String(b)}`;
}

const row = fc.record({
  m: fc.nat(79),
  /** 0: a mismatched report (its machine ran another version than its arm's). */
  mismatch: fc.nat(39),
  // mostly the newest days, with late runs of earlier ones
  day: fc.constantFrom(0, 1, 2, 2, 3, 3, 3),
  outcome: fc.nat(99),
  burst: fc.constantFrom(1, 1, 1, 2, 4),
  replay: fc.nat(19),
});

const scenario = fc.record({
  rows: fc.array(row, { minLength: 1, maxLength: 400, size: 'max' }),
  cap: fc.integer({ min: 1, max: 4 }),
  sourceCap: fc.constantFrom(0, 0, 3, 8),
  /** Failure shares in percent: the candidate's, the control's, and the errors' share of them. */
  candFail: fc.constantFrom(2, 10, 40, 95),
  ctrlFail: fc.constantFrom(2, 10, 30),
  errors: fc.constantFrom(0, 30),
  /** Machines per source: m < alone have none; the others are in sources of `perSource`. */
  alone: fc.nat(20),
  perSource: fc.integer({ min: 1, max: 12 }),
  batch: fc.integer({ min: 1, max: 40 }),
  stageIndex: fc.nat(1),
  entered: fc.nat(3),
  q0: fc.constantFrom<number | null>(null, 0.02, 0.1),
});

describe('the arm aggregate kept at ingestion (issue 15: evaluation reads O(days), results unchanged)', () => {
  const redis = useTestRedis();
  let store: TelemetryStore;
  let prefix: string;
  beforeAll(() => {
    prefix = `t${randomBytes(5).toString('hex')}`;
    store = new TelemetryStore(redis(), prefix);
  });

  function rolloutOf(cap: number, sourceCap: number, stageIndex: number, entered: number, q0: number | null) {
    const policy = resolvePolicy(3, undefined, {
      cap, sourceCap, minControlRuns: 10, maxMismatchShare: 0.2, minSources: 2, rollbackMinSources: 2, hardBreakMinMachines: 3,
      stage: { soakSeconds: 0, minMachines: 3, minRuns: 10, marginFloor: 0.25 },
    });
    return { stages: [10, 50, 100], stageIndex, stageEnteredAt: T0 + entered * 24 * HOUR + 5 * HOUR, q0, policy, state: 'active' as const, frozen: false };
  }

  /** Both paths' aggregates for every window the rule can use. */
  function compareArms(agg: RolloutEvidence, mds: RolloutEvidence, cap: number): void {
    for (const arm of ['candidate', 'control'] as const) {
      for (const w of [null, ...DAYS]) {
        const a = armAggregate(agg[arm], cap, w);
        const b = aggregateArm(mds[arm], cap, w);
        const d = same(a, { ...b });
        if (d) throw new Error(`${arm}, window ${w}: ${d}`);
      }
    }
  }

  test('random report streams: the same aggregates, verdicts and figures from the aggregate and from the machine-days', async () => {
    const verdicts = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const id = `r${randomBytes(4).toString('hex')}`;
        const sourceOf = (m: number) => (m < s.alone ? '' : `net:${Math.floor((m - s.alone) / s.perSource)}`);
        const items: IngestItem[] = [];
        const fresh = { candidate: new ArmAccumulator<string>(s.cap), control: new ArmAccumulator<string>(s.cap) };
        for (const r of s.rows) {
          // arms follow the machine's bucket: the stage's percent of the machines are candidates
          const arm: Arm | 'mismatch' = r.mismatch === 0 ? 'mismatch' : (r.m * 37) % 100 < [10, 50][s.stageIndex]! ? 'candidate' : 'control';
          for (let b = 0; b < r.burst; b++) {
            if (r.replay === 0 && items.length > 0) {
              items.push(items[items.length - 1]!); // a replayed report id: counted once
              continue;
            }
            const fail = r.outcome < (arm === 'candidate' ? s.candFail : s.ctrlFail);
            const outcome: Outcome = !fail ? 'pass' : (r.outcome * 7) % 100 < s.errors ? 'error' : 'fail';
            const machine = `m${r.m}`;
            const it: IngestItem = {
              id: randomUUID(), machine, outcome, day: DAYS[r.day]!, failedTests: [], json: '{}', source: sourceOf(r.m),
              assignments: [{ rolloutId: id, arm, stage: 0, caps: { machine: s.cap, source: s.sourceCap } }],
            };
            items.push(it);
            if (arm !== 'mismatch') fresh[arm].add(machine, dayNumber(it.day), outcome, it.source);
          }
        }
        for (let i = 0; i < items.length; i += s.batch) await store.ingest(items.slice(i, i + s.batch), T0);

        const agg = await store.evidence(id, s.cap);
        const mds = await store.evidence(id, s.cap, 'machine-days');
        for (const arm of ['candidate', 'control'] as const) {
          expect(agg[arm].machineDays).toEqual([]);
          const has = mds[arm].machineDays.length > 0;
          expect(agg[arm].aggregate !== undefined).toBe(has);
          // without the source cap every run is counted in order: the stored numbers are ArmAccumulator's, bit for bit
          if (s.sourceCap === 0 && has) for (const w of [null, ...DAYS]) expect(agg[arm].aggregate!.aggregate(w)).toEqual(fresh[arm].aggregate(w));
        }
        compareArms(agg, mds, s.cap);

        const rollout = rolloutOf(s.cap, s.sourceCap, s.stageIndex, s.entered, s.q0);
        const now = T0 + 4 * 24 * HOUR;
        const a: Decision = decide({ now, rollout, evidence: agg });
        const b: Decision = decide({ now, rollout, evidence: mds });
        expect(a.verdict).toBe(b.verdict);
        expect(a.rule).toBe(b.rule);
        const d = same(a, b);
        if (d) throw new Error(d);
        const key = `${a.verdict}/${a.rule}`;
        verdicts.set(key, (verdicts.get(key) ?? 0) + 1);
      }),
      { numRuns: 40 },
    );
    // the streams reach each of the rule's verdicts, not only holds
    const seen = new Set([...verdicts.keys()].map((k) => k.split('/')[0]));
    expect([...seen].sort()).toEqual(['advance', 'hold', 'rollback']);
  });

  test('caps hit: a machine-day past the rollout\'s cap and a source past its allowance, by hand', async () => {
    const id = `r${randomBytes(4).toString('hex')}`;
    const caps = { machine: 2, source: 3 };
    const item = (machine: string, outcome: Outcome, day: string, source: string, arm: Arm = 'candidate'): IngestItem => ({
      id: randomUUID(), machine, outcome, day, failedTests: [], json: '{}', source, assignments: [{ rolloutId: id, arm, stage: 0, caps }],
    });
    await store.ingest([
      item('a', 'fail', DAYS[1]!, 'x'), item('a', 'pass', DAYS[1]!, 'x'), item('a', 'pass', DAYS[1]!, 'x'), // w 2, F_a = 1·2/3
      item('b', 'error', DAYS[1]!, 'x'), // x's 3rd weighted run
      item('c', 'fail', DAYS[1]!, 'x'), // past x's allowance: not counted
      item('a', 'fail', DAYS[0]!, 'x'), // a late run of an earlier day
      item('d', 'pass', DAYS[1]!, ''),
    ], T0);
    const ev = await store.evidence(id, 2);
    const g = ev.candidate.aggregate!.aggregate(DAYS[0]!);
    expect(g).toMatchObject({ N: 5, G: 3, runs: 6, failures: 2, errors: 1, clusters: 2, failingSources: 1, allFailing: 1, allFailingSources: 1, windowMachines: 3 });
    const Fx = 2 / 3 + 1 + 1;
    expect(g.F).toBeCloseTo(Fx, 15);
    expect(g.sumNN).toBe(4 * 4 + 1);
    expect(g.sumFF).toBeCloseTo(Fx * Fx, 14);
    expect(g.sumFN).toBeCloseTo(Fx * 4, 14);
    expect(ev.sourceCapped).toBe(1);
  });

  test('an arm with machine-days from before aggregates were kept, or kept with another cap, is read from its machine-days', async () => {
    const id = `r${randomBytes(4).toString('hex')}`;
    const k = keys(prefix);
    const item = (machine: string, outcome: Outcome, arm: Arm, cap = 3): IngestItem => ({
      id: randomUUID(), machine, outcome, day: DAYS[2]!, failedTests: [], json: '{}', source: `net:${machine}`,
      assignments: [{ rolloutId: id, arm, stage: 0, caps: { machine: cap, source: 0 } }],
    });
    const batch = (n: number, cap = 3) => Array.from({ length: n }, (_, i) => [
      item(`c${i % 9}`, i % 3 === 0 ? 'fail' : 'pass', 'candidate', cap), item(`k${i % 40}`, i % 20 === 0 ? 'error' : 'pass', 'control', cap),
    ]).flat();
    // a rollout of a server before evidence layout 3 (one with machine-days keeps layout 2)
    await redis().hset(k.rolloutMeta(id), 'layout', '2');
    await store.ingest(batch(60), T0);
    // as before this change: the candidate's machine-days without an aggregate
    await redis().del(k.armAggregate(id, 'candidate'), k.armAggregateMachines(id, 'candidate'), k.armAggregateSources(id, 'candidate'), k.armAggregateDays(id, 'candidate'));
    await store.ingest(batch(30), T0);
    expect(await redis().hget(k.armAggregate(id, 'candidate'), 'partial')).toBe('older machine-days');
    const rollout = rolloutOf(3, 0, 0, 0, 0.05);
    const ev = await store.evidence(id, 3);
    expect(ev.candidate.aggregate).toBeUndefined();
    expect(ev.candidate.machineDays).toHaveLength(9);
    expect(ev.control.aggregate).toBeDefined();
    const mds = await store.evidence(id, 3, 'machine-days');
    compareArms(ev, mds, 3);
    expect(same(decide({ now: T0 + 4 * 24 * HOUR, rollout, evidence: ev }), decide({ now: T0 + 4 * 24 * HOUR, rollout, evidence: mds }))).toBeNull();

    // a policy with another cap reads machine-days; runs kept with another cap end the aggregate
    const other = await store.evidence(id, 4);
    expect(other.control.aggregate).toBeUndefined();
    expect(other.control.machineDays).toHaveLength(40);
    await store.ingest(batch(1, 4), T0);
    expect(await redis().hget(k.armAggregate(id, 'control'), 'partial')).toBe('cap 4');
    expect(await redis().exists(k.armAggregateMachines(id, 'control'), k.armAggregateSources(id, 'control'), k.armAggregateDays(id, 'control'))).toBe(0);
    expect((await store.evidence(id, 3)).control.aggregate).toBeUndefined();
  });

  test.each([2, 3])('the aggregate path does not read the machine-days: the same decision with them moved away (evidence layout %d)', async (layout) => {
    const id = `r${randomBytes(4).toString('hex')}`;
    const k = keys(prefix);
    await redis().hset(k.rolloutMeta(id), 'layout', String(layout));
    const items: IngestItem[] = [];
    for (let i = 0; i < 400; i++) {
      const arm: Arm = i % 10 === 0 ? 'candidate' : 'control';
      items.push({
        id: randomUUID(), machine: `m${i % 200}`, outcome: i % 13 === 0 ? 'fail' : 'pass', day: DAYS[i % 4]!, failedTests: [], json: '{}', source: `net:${i % 7}`,
        assignments: [{ rolloutId: id, arm, stage: 0, caps: { machine: 2, source: 0 } }],
      });
    }
    await store.ingest(items, T0);
    const rollout = rolloutOf(2, 0, 1, 1, 0.05);
    const want = decide({ now: T0 + 4 * 24 * HOUR, rollout, evidence: await store.evidence(id, 2, 'machine-days') });
    const moved = layout === 2 ? [k.machineDays(id, 'candidate'), k.machineDays(id, 'control')] : [k.machineRecords(id)];
    for (const key of moved) await redis().rename(key, `${key}:away`);
    const ev = await store.evidence(id, 2);
    expect(same(decide({ now: T0 + 4 * 24 * HOUR, rollout, evidence: ev }), want)).toBeNull();
    expect((await store.evidence(id, 2, 'machine-days')).candidate.machineDays).toEqual([]);
  });

  test('one snapshot: evidence read while another connection ingests holds the same runs in the arms, the meta counts and the segments', async () => {
    const id = `r${randomBytes(4).toString('hex')}`;
    const writer = createRedis({ socket: process.env.DEPCANARY_TEST_REDIS_SOCKET! });
    const ingesting = new TelemetryStore(writer, prefix);
    const segments = { cap: 1, maxProjects: 4, maxPythons: 4, maxSignatures: 10, maxNewSegmentsPerMachineDay: 4, segmentSourceCap: 1000 };
    // every machine reports once, from project nova on 3.11: each run is one capped run everywhere
    const items = Array.from({ length: 3000 }, (_, i): IngestItem => ({
      id: randomUUID(), machine: `m${i}`, outcome: i % 5 === 0 ? 'error' : 'pass', day: DAYS[0]!, failedTests: [], json: '{}',
      source: `net:${i % 6}`, project: 'nova', python: '3.11',
      assignments: [{ rolloutId: id, arm: i % 3 === 0 ? 'candidate' : 'control', stage: 0, segments, caps: { machine: 1, source: 0 } }],
    }));
    try {
      let done = false;
      const feed = (async () => {
        for (let i = 0; i < items.length; i += 25) await ingesting.ingest(items.slice(i, i + 25), T0);
        done = true;
      })();
      let reads = 0;
      let partial = 0;
      while (!done) {
        const ev = await store.evidence(id, 1);
        reads++;
        const runs = (arm: Arm) => armAggregate(ev[arm], 1, null).runs;
        const nova = ev.segments!.projects.find((x) => x.name === 'nova');
        const py = ev.segments!.pythons.find((x) => x.name === '3.11');
        expect([runs('candidate') + runs('control'), nova?.candidate.N ?? 0, nova?.control.N ?? 0, py?.candidate.N ?? 0])
          .toEqual([ev.counted, runs('candidate'), runs('control'), runs('candidate')]);
        if (ev.counted > 0 && ev.counted < items.length) partial++;
      }
      await feed;
      // the reads did interleave with the writes
      expect(reads).toBeGreaterThan(3);
      expect(partial).toBeGreaterThan(0);
      expect((await store.evidence(id, 1)).counted).toBe(items.length);
    } finally {
      await writer.quit();
    }
  });
});
