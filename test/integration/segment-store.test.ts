/**
 * Segment evidence through the real ingestion (ingest.lua, the fold) on the suite's real Redis: the same report
 * stream gives exactly the evidence of the domain's in-memory ledger (the plan's reference
 * semantics), replays count nothing, and evaluation reads only the aggregates.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { SegmentLedger, segmentPlan, type SegmentPolicy } from '../../server/domain/segments';
import { TelemetryStore, type IngestItem } from '../../server/store/telemetry-store';
import { useTestRedis } from '../support/store';

const POLICY: SegmentPolicy = { cap: 2, maxProjects: 3, maxPythons: 2, maxSignatures: 5, maxNewSegmentsPerMachineDay: 4, segmentSourceCap: 2 };

function item(over: Partial<IngestItem> & { machine: string }, arm: 'candidate' | 'control' | 'mismatch', stage: number, rollout: string, policy: SegmentPolicy | null = POLICY): IngestItem {
  return {
    id: randomUUID(), outcome: 'pass', day: '2025-01-06', failedTests: [], json: '{}', project: 'nova', python: '3.11.2',
    assignments: [{ rolloutId: rollout, arm, stage, ...(policy ? { segments: policy } : {}) }], ...over,
  };
}

describe('segment evidence in Redis (the fold executes the domain plans)', () => {
  const redis = useTestRedis();
  let store: TelemetryStore;
  beforeAll(() => {
    store = new TelemetryStore(redis(), `t${randomBytes(5).toString('hex')}`);
  });

  test('random streams: the store and the in-memory ledger agree', async () => {
    const row = fc.record({
      m: fc.nat(3), day: fc.nat(1), stage: fc.nat(1), arm: fc.constantFrom('candidate', 'control', 'mismatch') as fc.Arbitrary<'candidate' | 'control' | 'mismatch'>,
      outcome: fc.constantFrom('pass', 'fail', 'fail', 'error') as fc.Arbitrary<'pass' | 'fail' | 'error'>,
      project: fc.constantFrom('nova', 'Oslo.Config', 'cinder', 'glance', ''), python: fc.constantFrom('3.10.1', '3.11.2', '3.12.0', 'x'),
      tests: fc.array(fc.constantFrom('a', 'b::c[x|y]', 'd e', 'f'), { maxLength: 3 }),
      source: fc.constantFrom('', 'net:a', 'net:b', 'ci:x'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 40 }), async (rows) => {
        const rollout = `r${randomBytes(4).toString('hex')}`;
        const ledger = new SegmentLedger();
        const items = rows.map((r) => item({
          machine: `m${r.m}`, day: `2025-01-0${6 + r.day}`, outcome: r.outcome, project: r.project, python: r.python, failedTests: [...new Set(r.tests)], source: r.source,
        }, r.arm, r.stage, rollout));
        for (const it of items) {
          const a = it.assignments[0]!;
          if (a.arm !== 'mismatch') {
            ledger.apply(segmentPlan({ machine: it.machine, source: it.source, day: it.day, stage: a.stage, arm: a.arm, project: it.project!, python: it.python!, outcome: it.outcome, failedTests: it.failedTests }, POLICY));
          }
        }
        // in batches, as the API sends them
        for (let i = 0; i < items.length; i += 7) await store.ingest(items.slice(i, i + 7), 1);
        expect(await store.segments(rollout)).toEqual(ledger.evidence());
      }),
      { numRuns: 40 },
    );
  });

  test('a replayed report counts nothing; a rollout without segment caps keeps no segment evidence', async () => {
    const rollout = `r${randomBytes(4).toString('hex')}`;
    const it = item({ machine: 'm1', outcome: 'fail', failedTests: ['t'] }, 'candidate', 0, rollout);
    expect(await store.ingest([it], 1)).toEqual([true]);
    expect(await store.ingest([it], 2)).toEqual([false]);
    const ev = await store.segments(rollout);
    expect(ev.projects[0]!.candidate).toEqual({ N: 1, F: 1, E: 0, firstRuns: [1], firstFailed: [1], firstErrored: [], sourcesFailed: 1 });
    expect(ev.signatures).toEqual([{ project: 'nova', test: 't', candidate: [1], control: [], sources: { candidate: 1, control: 0 } }]);
    const bare = `r${randomBytes(4).toString('hex')}`;
    await store.ingest([item({ machine: 'm1', outcome: 'fail', failedTests: ['t'] }, 'candidate', 0, bare, null)], 1);
    expect(await store.segments(bare)).toEqual({ projects: [], pythons: [], signatures: [], refused: { project: 0, python: 0, signature: 0 } });
    expect((await store.evidence(bare, 1)).counted).toBe(1);
  });

  test('evidence() carries the segments; the run-level evidence is unchanged', async () => {
    const rollout = `r${randomBytes(4).toString('hex')}`;
    await store.ingest([
      item({ machine: 'm1', outcome: 'error', python: '3.9.18' }, 'candidate', 0, rollout),
      item({ machine: 'm2' }, 'control', 0, rollout),
    ], 5);
    const ev = await store.evidence(rollout, 1);
    expect(await store.machineDays(rollout, 'candidate')).toEqual([{ machine: 'm1', day: '2025-01-06', runs: 1, failures: 0, errors: 1 }]);
    expect(ev.candidate.aggregate!.aggregate(null)).toMatchObject({ N: 1, F: 1, G: 1, runs: 1, errors: 1, allFailing: 1, windowMachines: 1 });
    expect(ev.segments!.pythons.map((p) => [p.name, p.candidate.firstErrored, p.control.firstRuns])).toEqual([['3.11', [], [1]], ['3.9', [1], []]]);
  });

  test('the source cap: per source, arm and day at most sourceCap weighted runs count; runs past a machine\'s cap take nothing from it', async () => {
    const rollout = `r${randomBytes(4).toString('hex')}`;
    const caps = { machine: 2, source: 3 };
    const run = (machine: string, source: string, arm: 'candidate' | 'control' = 'candidate', day = '2025-01-06') =>
      ({ ...item({ machine, source, day, outcome: 'fail' }, arm, 0, rollout, null), assignments: [{ rolloutId: rollout, arm, stage: 0, caps }] });
    // m1 runs 4 times (2 weighted, 2 past its cap), m2 and m3 once each: the 3rd weighted run of net:a (m3's) is over
    await store.ingest([run('m1', 'net:a'), run('m1', 'net:a'), run('m1', 'net:a'), run('m1', 'net:a'), run('m2', 'net:a'), run('m3', 'net:a')], 1);
    // another source, the other arm and the next day have their own allowances
    await store.ingest([run('m4', 'net:b'), run('m5', 'net:a', 'control'), run('m3', 'net:a', 'candidate', '2025-01-07')], 1);
    const ev = await store.evidence(rollout, caps.machine, 'machine-days');
    const days = (a: typeof ev.candidate) => a.machineDays.map((d) => `${d.machine}|${d.day}|${d.runs}|${d.source}`).sort();
    expect(days(ev.candidate)).toEqual(['m1|2025-01-06|4|net:a', 'm2|2025-01-06|1|net:a', 'm3|2025-01-07|1|net:a', 'm4|2025-01-06|1|net:b']);
    expect(days(ev.control)).toEqual(['m5|2025-01-06|1|net:a']);
    expect(ev).toMatchObject({ counted: 8, sourceCapped: 1 });
    // the fleet history has a cap of its own
    const fleetRollout = `r${randomBytes(4).toString('hex')}`;
    const prefix = `t${randomBytes(5).toString('hex')}`;
    const fleetStore = new TelemetryStore(redis(), prefix);
    await fleetStore.ingest(['f1', 'f2', 'f3'].map((m) => item({ machine: m, source: 'net:z', day: '2025-01-08' }, 'control', 0, fleetRollout, null)), 1, { machine: 5, source: 2 });
    expect((await fleetStore.fleetHistory(['2025-01-08'])).machineDays.map((d) => d.machine).sort()).toEqual(['f1', 'f2']);
  });
});
