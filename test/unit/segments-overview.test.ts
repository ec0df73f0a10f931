/**
 * The per-segment overview people read (GET /v1/rollouts/:id/segments, segmentOverview):
 * every tracked segment with its counts and the e-value of each of its tests, signatures
 * strongest first. Thresholds are hand-computed from the default split (docs/decision.md):
 * project log10(2·100 / 0.0005) = 5.60206, Python log10(2·8 / 0.0005) = 4.50515,
 * signature log10(2000 / 0.0015) = 6.12494.
 */
import {
  SEGMENT_MIXTURE, SIGNATURE_MIXTURE, emptySegmentEvidence, log10EValue, segmentOverview, stageShares,
  type SegmentCheckPolicy, type SegmentEvidence, type SegmentStats,
} from '../../server/domain/segments';

const STAGES = [1, 10, 100];
const CHECK: SegmentCheckPolicy = {
  project: 0.0005, python: 0.0005, signature: 0.0015, maxProjects: 100, maxPythons: 8, maxSignatures: 2000, segmentMinMachines: 3, segmentHoldFactor: 10,
};
const shares = stageShares(STAGES);

function seg(kind: SegmentStats['kind'], name: string, cand: Partial<SegmentStats['candidate']>, ctrl: Partial<SegmentStats['control']> = {}): SegmentStats {
  const arm = (a: Partial<SegmentStats['candidate']>) => ({ N: 0, F: 0, E: 0, firstRuns: [], firstFailed: [], firstErrored: [], ...a });
  return { kind, name, candidate: arm(cand), control: arm(ctrl) };
}

describe('segmentOverview', () => {
  const ev: SegmentEvidence = {
    projects: [seg('project', 'nova', { N: 9, F: 4, E: 1, firstRuns: [2, 3], firstFailed: [1, 2], firstErrored: [0, 1] }, { N: 40, F: 2, E: 0, firstRuns: [30], firstFailed: [2] })],
    pythons: [seg('python', '3.11', { N: 3, firstRuns: [3] }, { N: 50, firstRuns: [40], firstErrored: [1] })],
    signatures: [
      { project: 'nova', test: 'b', candidate: [2], control: [] },
      { project: 'nova', test: 'a', candidate: [2], control: [] },
      { project: 'nova', test: 'c', candidate: [4], control: [1] },
      { project: 'nova', test: 'flaky', candidate: [0, 1], control: [0, 9] },
    ],
    refused: { project: 1, python: 2, signature: 3 },
  };

  test('segment rows: machines from first runs, runs and outcomes, and both tests with their thresholds', () => {
    const o = segmentOverview(ev, STAGES, 0.01, CHECK);
    const [nova] = o.projects;
    expect(nova).toMatchObject({
      family: 'project', name: 'nova', label: 'nova',
      candidate: { machines: 5, runs: 9, failed: 4, errored: 1, firstFailed: 3, firstErrored: 1 },
      control: { machines: 30, runs: 40, failed: 2, errored: 0, firstFailed: 2, firstErrored: 0 },
    });
    expect(nova!.failure.log10E).toBeCloseTo(log10EValue({ candidate: [1, 2], control: [2] }, shares, SEGMENT_MIXTURE), 12);
    expect(nova!.error.log10E).toBeCloseTo(log10EValue({ candidate: [0, 1], control: [] }, shares, SEGMENT_MIXTURE), 12);
    expect(nova!.failure.log10E).toBeGreaterThan(nova!.error.log10E);
    expect(nova!.failure.log10Threshold).toBeCloseTo(5.60206, 5);
    const [py] = o.pythons;
    expect(py).toMatchObject({ family: 'python', name: '3.11', label: 'Python 3.11', candidate: { machines: 3, runs: 3 }, control: { machines: 40, firstErrored: 1 } });
    expect(py!.error.log10Threshold).toBeCloseTo(4.50515, 5);
    // one control error and no candidate one: evidence for the candidate, below 0
    expect(py!.error.log10E).toBeLessThan(0);
    expect(py!.failure.log10E).toBeCloseTo(0, 12); // no events: e = 1
  });

  test('signatures strongest first, ties by label; counted and limited', () => {
    const o = segmentOverview(ev, STAGES, 0.01, CHECK);
    expect(o.signatures.map((s) => s.test)).toEqual(['c', 'a', 'b', 'flaky']);
    expect(o.signatures[0]).toMatchObject({ project: 'nova', test: 'c', label: 'nova: c', candidateMachines: 4, controlMachines: 1 });
    expect(o.signatures[0]!.log10E).toBeCloseTo(log10EValue({ candidate: [4], control: [1] }, shares, SIGNATURE_MIXTURE), 12);
    expect(o.signatures[0]!.log10Threshold).toBeCloseTo(6.124939, 5);
    expect(o.signatures[3]!.log10E).toBeLessThan(0);
    expect(o.signatureCount).toBe(4);
    const two = segmentOverview(ev, STAGES, 0.01, CHECK, 2);
    expect(two.signatures.map((s) => s.test)).toEqual(['c', 'a']);
    expect(two.signatureCount).toBe(4);
    expect(segmentOverview(ev, STAGES, 0.01, CHECK, -1).signatures).toEqual([]);
  });

  test('tables, limits, refusals and the split of alpha', () => {
    const o = segmentOverview(ev, STAGES, 0.01, CHECK);
    expect(o.tracked).toEqual({ project: 1, python: 1, signature: 4 });
    expect(o.limits).toEqual({ project: 100, python: 8, signature: 2000 });
    expect(o.refused).toEqual({ project: 1, python: 2, signature: 3 });
    expect(o.refused).not.toBe(ev.refused);
    expect(o.alpha.run).toBeCloseTo(0.0075, 15);
    expect(o.alpha).toMatchObject({ project: 0.0005, python: 0.0005, signature: 0.0015 });
  });

  test('a family that is off has threshold 0 (JSON has no infinity), and e-values stay finite', () => {
    const off = { ...CHECK, project: 0, python: 0, signature: 0 };
    const o = segmentOverview(ev, STAGES, 0.01, off);
    expect(o.projects[0]!.failure.log10Threshold).toBe(0);
    expect(o.pythons[0]!.error.log10Threshold).toBe(0);
    expect(o.signatures[0]!.log10Threshold).toBe(0);
    // no table: no tests either
    expect(segmentOverview(ev, STAGES, 0.01, { ...CHECK, maxProjects: 0 }).projects[0]!.failure.log10Threshold).toBe(0);
    // a stage list with no share strictly between 0 and 1 gives e = 1 everywhere
    const flat = segmentOverview(ev, [100], 0.01, CHECK);
    expect(flat.projects[0]!.failure.log10E).toBeCloseTo(0, 12);
    expect(flat.signatures.every((s) => Math.abs(s.log10E) < 1e-12)).toBe(true);
    expect(flat.signatures.map((s) => s.test)).toEqual(['a', 'b', 'c', 'flaky']);
  });

  test('empty evidence', () => {
    expect(segmentOverview(emptySegmentEvidence(), STAGES, 0.01, CHECK)).toMatchObject({
      projects: [], pythons: [], signatures: [], signatureCount: 0, tracked: { project: 0, python: 0, signature: 0 },
    });
  });
});
