/**
 * The arm aggregate kept run by run (ArmAccumulator, the steps store/rollout-fold.ts runs) against the
 * reference pass over machine-days (aggregateArm), with report sources as clusters; and the
 * reader of the stored aggregate (StoredArmAggregate).
 */
import fc from 'fast-check';
import { ArmAccumulator, aggregateArm, dayNumber, sampleRatio, StoredArmAggregate, STORED_SUMS, type ArmAggregate } from '../../server/domain/decision';
import type { MachineDay } from '../../server/domain/evidence';

const RUNS = process.env.DEPCANARY_MUTATION ? 40 : 300;
type Outcome = 'pass' | 'fail' | 'error';

const run = fc.record({
  m: fc.nat(11),
  day: fc.nat(4),
  outcome: fc.constantFrom<Outcome>('pass', 'pass', 'fail', 'error'),
});
/** Each machine's source, fixed: m0..m3 have none, the others share three sources. */
const sourceOf = (m: number) => (m < 4 ? '' : `net:${m % 3}`);
const dayOf = (d: number) => `2025-01-${String(6 + d).padStart(2, '0')}`;

/** The same runs both ways: run by run, and as the machine-days the store keeps. */
function both(runs: { m: number; day: number; outcome: Outcome }[], cap: number, window: string | null): { got: ArmAggregate; want: ArmAggregate } {
  const acc = new ArmAccumulator<string>(cap);
  const days = new Map<string, MachineDay>();
  for (const r of runs) {
    const machine = `m${r.m}`;
    const day = dayOf(r.day);
    acc.add(machine, dayNumber(day), r.outcome, sourceOf(r.m));
    let md = days.get(`${machine}|${day}`);
    if (!md) {
      days.set(`${machine}|${day}`, (md = { machine, day, runs: 0, failures: 0, errors: 0 }));
      if (sourceOf(r.m)) md.source = sourceOf(r.m);
    }
    md.runs++;
    if (r.outcome === 'fail') md.failures++;
    if (r.outcome === 'error') md.errors++;
  }
  return { got: acc.aggregate(window), want: aggregateArm({ machineDays: [...days.values()], failingTests: [] }, cap, window) };
}

describe('ArmAccumulator with report sources', () => {
  test('gives aggregateArm\'s numbers, sources as clusters, late runs of earlier days included', () => {
    fc.assert(
      fc.property(fc.array(run, { maxLength: 120 }), fc.integer({ min: 1, max: 4 }), fc.option(fc.nat(4)), (runs, cap, after) => {
        const { got, want } = both(runs, cap, after === null ? null : dayOf(after));
        for (const k of Object.keys(want) as (keyof ArmAggregate)[]) {
          expect(Math.abs((got[k] ?? 0) - (want[k] ?? 0))).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want[k] ?? 0)));
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('exactly equal while no machine-day passes the cap (every step on integers)', () => {
    fc.assert(
      fc.property(fc.array(run, { maxLength: 60 }), (runs) => {
        const { got, want } = both(runs, 1000, null);
        expect(got).toEqual(want);
      }),
      { numRuns: RUNS },
    );
  });

  test('by hand: one source of two machines is one cluster; a machine without a source is its own', () => {
    const acc = new ArmAccumulator<string>(2);
    const d = dayNumber('2025-01-06');
    acc.add('a', d, 'fail', 'net:x');
    acc.add('a', d, 'fail', 'net:x');
    acc.add('a', d, 'pass', 'net:x'); // 3 runs, 2 failed: w = 2, F_a = 2·2/3
    acc.add('b', d, 'pass', 'net:x');
    acc.add('c', d + 1, 'error');
    acc.add('a', d, 'pass', 'net:y'); // a stays in net:x
    const g = acc.aggregate('2025-01-06');
    const Fa = (2 * 2) / 4;
    expect(g).toMatchObject({ N: 4, G: 3, clusters: 2, sources: 2, failingSources: 2, allFailing: 1, allFailingSources: 1, windowMachines: 1, runs: 6, failures: 2, errors: 1 });
    expect(g.F).toBeCloseTo(Fa + 1, 15);
    // clusters: net:x (N 3, F Fa), c (N 1, F 1)
    expect(g.sumNN).toBe(9 + 1);
    expect(g.sumFF).toBeCloseTo(Fa * Fa + 1, 15);
    expect(g.sumFN).toBeCloseTo(Fa * 3 + 1, 15);
  });

  test('a source stops counting as all-failing once its only all-failing machine passes', () => {
    const acc = new ArmAccumulator<string>(5);
    acc.add('a', 1, 'fail', 's');
    acc.add('b', 1, 'pass', 's');
    expect(acc.aggregate(null)).toMatchObject({ allFailing: 1, allFailingSources: 1, failingSources: 1 });
    acc.add('a', 2, 'pass', 's');
    expect(acc.aggregate(null)).toMatchObject({ allFailing: 0, allFailingSources: 0, failingSources: 1 });
    acc.add('c', 2, 'error');
    acc.add('c', 2, 'pass');
    expect(acc.aggregate(null)).toMatchObject({ allFailing: 0, allFailingSources: 0, failingSources: 2, clusters: 2 });
  });
});

test('sampleRatio counts the machines of a kept aggregate as of its machine-days', () => {
  const acc = { candidate: new ArmAccumulator<string>(5), control: new ArmAccumulator<string>(5) };
  const days: Record<'candidate' | 'control', MachineDay[]> = { candidate: [], control: [] };
  for (let i = 0; i < 200; i++) {
    const arm = i % 4 === 0 ? 'candidate' : 'control';
    const day = dayOf(i % 3);
    acc[arm].add(`m${i}`, dayNumber(day), 'pass');
    days[arm].push({ machine: `m${i}`, day, runs: 1, failures: 0, errors: 0 });
  }
  const ev = (kept: boolean) => ({
    candidate: { machineDays: kept ? [] : days.candidate, failingTests: [], ...(kept ? { aggregate: acc.candidate } : {}) },
    control: { machineDays: kept ? [] : days.control, failingTests: [], ...(kept ? { aggregate: acc.control } : {}) },
    mismatched: 0, counted: 200, lastReportAt: null,
  });
  const T = Date.UTC(2025, 0, 6, 12);
  for (const [stage, at] of [[0, T], [1, T], [1, T + 86_400_000]] as const) {
    const want = sampleRatio(ev(false), 10, stage, at);
    expect(want).not.toBeNull();
    expect(sampleRatio(ev(true), 10, stage, at)).toEqual(want);
  }
});

describe('StoredArmAggregate (the aggregate as ingestion stores it)', () => {
  const stored = (a: ArmAggregate, cap: number): Record<string, string> => {
    const h: Record<string, string> = { cap: String(cap) };
    for (const f of STORED_SUMS) h[f] = a[f]!.toPrecision(17);
    return h;
  };

  test('reads back what it was written from, windowMachines counted from the machines\' last days', () => {
    const acc = new ArmAccumulator<string>(2);
    const days: Record<string, string> = {};
    const last = new Map<string, string>();
    for (const [m, day, o, s] of [['a', '2025-01-06', 'fail', 'x'], ['a', '2025-01-06', 'pass', 'x'], ['a', '2025-01-06', 'pass', 'x'], ['b', '2025-01-07', 'pass', ''], ['a', '2025-01-08', 'error', 'x'], ['c', '2025-01-07', 'fail', 'y']] as const) {
      acc.add(m, dayNumber(day), o, s);
      if (!last.has(m) || day > last.get(m)!) last.set(m, day);
    }
    for (const d of last.values()) days[d] = String(Number(days[d] ?? 0) + 1);
    const read = StoredArmAggregate.read(stored(acc.aggregate(null), 2), days)!;
    expect(read.cap).toBe(2);
    for (const w of [null, '2025-01-05', '2025-01-06', '2025-01-07', '2025-01-08']) expect(read.aggregate(w)).toEqual(acc.aggregate(w));
    expect(read.aggregate('2025-01-06').windowMachines).toBe(3);
    expect(read.aggregate('2025-01-07').windowMachines).toBe(1);
    expect(read.aggregate('2025-01-08').windowMachines).toBe(0);
  });

  test('an empty arm (no fields but the cap) is all zeros', () => {
    const a = StoredArmAggregate.read({ cap: '5' }, {})!.aggregate(null);
    expect(a).toEqual({ N: 0, F: 0, G: 0, sumFF: 0, sumFN: 0, sumNN: 0, runs: 0, failures: 0, errors: 0, allFailing: 0, windowMachines: 0, clusters: 0, sources: 0, failingSources: 0, allFailingSources: 0 });
  });

  test('null (read the machine-days instead) when absent, partial or not what ingestion writes', () => {
    const ok = { cap: '3', N: '4', F: '1.3333333333333333', G: '2', runs: '5' };
    expect(StoredArmAggregate.read(ok, { '2025-01-06': '2' })).not.toBeNull();
    expect(StoredArmAggregate.read({}, {})).toBeNull();
    expect(StoredArmAggregate.read({ ...ok, cap: undefined as unknown as string }, {})).toBeNull();
    expect(StoredArmAggregate.read({ ...ok, partial: 'older machine-days' }, {})).toBeNull();
    expect(StoredArmAggregate.read({ ...ok, partial: '' }, {})).toBeNull();
    for (const cap of ['0', '1.5', 'x', '-2']) expect(StoredArmAggregate.read({ ...ok, cap }, {})).toBeNull();
    for (const bad of [{ N: '-1' }, { G: '2.5' }, { runs: 'NaN' }, { F: 'Infinity' }, { sumFF: 'x' }, { clusters: '1e300' }] as Record<string, string>[]) {
      expect(StoredArmAggregate.read({ ...ok, ...bad }, {})).toBeNull();
    }
    expect(StoredArmAggregate.read(ok, { '2025-1-6': '1' })).toBeNull();
    expect(StoredArmAggregate.read(ok, { '2025-01-06': '-1' })).toBeNull();
    expect(StoredArmAggregate.read(ok, { '2025-01-06': '0.5' })).toBeNull();
    // a day emptied to 0 counts nothing; a fractional sum may be any finite double
    expect(StoredArmAggregate.read({ ...ok, sumFN: '-1e-18' }, { '2025-01-06': '0', '2025-01-07': '2' })!.aggregate(null).windowMachines).toBe(2);
  });
});
