/**
 * Segment evidence (docs/decision.md, "Segments"): besides the two arms as wholes, ingestion
 * keeps, per rollout and arm, aggregates per consumer project, per Python minor version and
 * per failure signature (project + test id). Every count is capped per counting unit (a
 * machine today; the trust work adds the report source) so one unit never weighs more than
 * the cap, and every event count is "first occurrence per machine", so a machine is one
 * event per test however often it reports. Aggregates only: the rule reads O(segments).
 */

/** The two segment families with runs of their own (signatures are the third family). */
export type SegmentKind = 'project' | 'python';

/** Counts of one arm in one project or Python segment. */
export interface SegmentArm {
  /** Capped runs: the first `cap` runs of each machine and UTC day in this segment. */
  N: number;
  /** Of those, runs that failed or errored. */
  F: number;
  /** Of those, runs that errored (install or set-up failure). */
  E: number;
  /**
   * First runs, per stage index: machines whose first run in this segment (in either arm,
   * over the whole rollout) fell in that stage and in this arm. Σ = distinct machines.
   */
  firstRuns: number[];
  /** Of those first runs, the ones that failed or errored, per stage. */
  firstFailed: number[];
  /** Of those first runs, the ones that errored, per stage. */
  firstErrored: number[];
  /**
   * Distinct report sources with a machine whose first run failed / errored (docs/trust.md);
   * absent in evidence kept before sources (each event's machine then stands for its source).
   */
  sourcesFailed?: number;
  sourcesErrored?: number;
}

export interface SegmentStats {
  kind: SegmentKind;
  /** Project name (PEP 503 normalised) or Python minor version ("3.11"). */
  name: string;
  candidate: SegmentArm;
  control: SegmentArm;
}

/** One failure signature: machines whose first failure of this test fell in each stage, per arm. */
export interface SignatureStats {
  project: string;
  test: string;
  /** Per stage index: machines whose first failure of this test was in that stage, in the candidate arm. */
  candidate: number[];
  control: number[];
  /** Distinct report sources with a machine's first failure of this test, per arm (absent: as for SegmentArm). */
  sources?: { candidate: number; control: number };
}

export interface SegmentEvidence {
  projects: SegmentStats[];
  pythons: SegmentStats[];
  signatures: SignatureStats[];
  /** Admissions refused because a table was full or a machine had used its daily budget, per family. */
  refused: { project: number; python: number; signature: number };
}

export function emptySegmentEvidence(): SegmentEvidence {
  return { projects: [], pythons: [], signatures: [], refused: { project: 0, python: 0, signature: 0 } };
}
