/**
 * The simulation keeps its evidence with fast numeric structures (test/bench/sim2/segments.ts,
 * the arms with ArmAccumulator); these tests check they give exactly the evidence of the
 * domain's reference implementations (the ingestion plan's ledger, aggregateArm) on random
 * report streams.
 */
import fc from 'fast-check';
import { ArmAccumulator, aggregateArm, dayNumber, decide } from '../../server/domain/decision';
import type { MachineDay } from '../../server/domain/evidence';
import { SegmentLedger, segmentPlan, type SegmentEvidence } from '../../server/domain/segments';
import { SIM_NAMES } from '../bench/sim2/play';
import { SimSegments } from '../bench/sim2/segments';
import { T0, rollout } from './decision-fixtures';

// 40 samples in the mutation run (test/support/mutation-setup.ts), where these are the tests of
// ArmAccumulator: a mutant of it is killed on the first sample that differs.
const RUNS = process.env.DEPCANARY_MUTATION ? 40 : 300;
const POLICY = { cap: 2, maxProjects: 3, maxPythons: 2, maxSignatures: 6, maxNewSegmentsPerMachineDay: 4 };

const report = fc.record({
  dev: fc.boolean(),
  m: fc.nat(4),
  slot: fc.nat(1),
  pySlot: fc.nat(1),
  day: fc.nat(2),
  stage: fc.nat(1),
  candidate: fc.boolean(),
  result: fc.constantFrom(0, 1, 1, 2),
  ids: fc.array(fc.nat(5), { maxLength: 4 }),
});

/** Sorted by name, as the store's reader returns them. */
function canonical(ev: SegmentEvidence): SegmentEvidence {
  const trim = (xs: number[]) => {
    const out = [...xs];
    while (out.length && out[out.length - 1] === 0) out.pop();
    return out;
  };
  // the simulation keeps no sources (each machine is its own): they are checked apart, below
  const arm = ({ sourcesFailed: _f, sourcesErrored: _e, ...a }: SegmentEvidence['projects'][number]['candidate']) =>
    ({ ...a, firstRuns: trim(a.firstRuns), firstFailed: trim(a.firstFailed), firstErrored: trim(a.firstErrored) });
  const byName = <T extends { name?: string; project?: string; test?: string }>(xs: T[]) =>
    [...xs].sort((a, b) => ((a.name ?? `${a.project}\t${a.test}`) < (b.name ?? `${b.project}\t${b.test}`) ? -1 : 1));
  return {
    projects: byName(ev.projects).map((s) => ({ ...s, candidate: arm(s.candidate), control: arm(s.control) })),
    pythons: byName(ev.pythons).map((s) => ({ ...s, candidate: arm(s.candidate), control: arm(s.control) })),
    signatures: byName(ev.signatures).map(({ sources: _s, ...s }) => ({ ...s, candidate: trim(s.candidate), control: trim(s.control) })),
    refused: ev.refused,
  };
}

describe('simulation evidence = the domain reference', () => {
  test('SimSegments gives the ledger\'s evidence', () => {
    fc.assert(
      fc.property(fc.array(report, { maxLength: 60 }), (reports) => {
        const sim = new SimSegments(POLICY, 2, SIM_NAMES, 5);
        const ledger = new SegmentLedger();
        let serial = 0;
        const sorted = [...reports].sort((a, b) => a.day - b.day);
        for (const r of sorted) {
          // a developer machine m works on projects m and m+1 and Pythons m%4, (m+1)%4; single-run identities on any
          const m = r.dev ? r.m : -1 - serial++;
          const project = r.dev ? (r.m + r.slot) % 5 : r.m;
          const python = r.dev ? (r.m + r.pySlot) % 4 : r.m % 4;
          const ids = Int32Array.from(r.result === 0 ? [] : r.ids);
          sim.report({ m, projectSlot: r.slot, pythonSlot: r.pySlot }, r.day, r.stage, r.candidate, project, python, r.result, ids, ids.length);
          ledger.apply(segmentPlan({
            machine: `m${m}`, day: `2025-01-0${6 + r.day}`, stage: r.stage, arm: r.candidate ? 'candidate' : 'control',
            project: SIM_NAMES.project(project), python: `${SIM_NAMES.python(python)}.1`, outcome: (['pass', 'fail', 'error'] as const)[r.result]!,
            failedTests: [...ids].map((id) => SIM_NAMES.test(project, id)),
          }, POLICY));
        }
        const ev = ledger.evidence();
        expect(canonical(sim.evidence)).toEqual(canonical(ev));
        // without sources every machine is its own: an event's sources are its machines
        const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
        for (const seg of [...ev.projects, ...ev.pythons]) {
          for (const a of [seg.candidate, seg.control]) {
            expect(a.sourcesFailed ?? 0).toBe(sum(a.firstFailed));
            expect(a.sourcesErrored ?? 0).toBe(sum(a.firstErrored));
          }
        }
        for (const sig of ev.signatures) expect(sig.sources ?? { candidate: 0, control: 0 }).toEqual({ candidate: sum(sig.candidate), control: sum(sig.control) });
      }),
      { numRuns: RUNS },
    );
  });

  test('ArmAccumulator gives aggregateArm\'s numbers, run by run, in any day order', () => {
    const run = fc.record({ m: fc.nat(6), day: fc.nat(4), outcome: fc.constantFrom('pass', 'pass', 'fail', 'error') as fc.Arbitrary<'pass' | 'fail' | 'error'>, once: fc.boolean() });
    fc.assert(
      fc.property(fc.array(run, { maxLength: 80 }), fc.integer({ min: 1, max: 4 }), fc.option(fc.nat(4)), (runs, cap, after) => {
        const acc = new ArmAccumulator<string>(cap);
        const days = new Map<string, MachineDay>();
        let serial = 0;
        for (const r of runs) {
          const day = `2025-01-${String(6 + r.day).padStart(2, '0')}`;
          const machine = r.once ? `once${serial++}` : `m${r.m}`;
          if (r.once) acc.addOnce(dayNumber(day), r.outcome);
          else acc.add(machine, dayNumber(day), r.outcome);
          const md = days.get(`${machine}|${day}`) ?? { machine, day, runs: 0, failures: 0, errors: 0 };
          md.runs++;
          if (r.outcome === 'fail') md.failures++;
          if (r.outcome === 'error') md.errors++;
          days.set(`${machine}|${day}`, md);
        }
        const window = after === null ? null : `2025-01-${String(6 + after).padStart(2, '0')}`;
        const want = aggregateArm({ machineDays: [...days.values()], failingTests: [] }, cap, window);
        const got = acc.aggregate(window);
        for (const k of Object.keys(want) as (keyof typeof want)[]) expect(got[k] ?? 0).toBeCloseTo(want[k] ?? 0, 9);
      }),
      { numRuns: RUNS },
    );
  });

  test('ArmAccumulator refuses a cap that is not a positive integer, and decide() a cap it was not kept with', () => {
    expect(() => new ArmAccumulator(0)).toThrow(RangeError);
    expect(() => new ArmAccumulator(1.5)).toThrow(RangeError);
    const arm = { machineDays: [], failingTests: [], aggregate: new ArmAccumulator(3) };
    const ev = { candidate: arm, control: arm, mismatched: 0, counted: 0, lastReportAt: null };
    expect(() => decide({ now: T0, rollout: rollout(), evidence: ev })).toThrow(/kept with cap 3, the policy caps at 5/);
  });
});
