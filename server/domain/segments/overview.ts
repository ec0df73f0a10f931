import { SEGMENT_MIXTURE, SIGNATURE_MIXTURE, eValuer, total } from './etest';
import { runAlpha, stageShares, type SegmentCheckPolicy } from './check';
import { segmentLabel } from './names';
import type { SegmentArm, SegmentEvidence, SegmentKind, SegmentStats } from './types';

/**
 * Every tracked segment with its counts and the e-value of each of its tests, for people
 * (GET /v1/rollouts/:id/segments). The decision itself only needs the strongest few
 * (./check.ts); this lists them all, signatures strongest first.
 */
export interface ArmRow {
  /** Distinct machines that ran the segment (first runs). */
  machines: number;
  /** Capped runs, and of those failed (incl. errored) and errored. */
  runs: number;
  failed: number;
  errored: number;
  /** Machines whose first run in the segment failed / errored. */
  firstFailed: number;
  firstErrored: number;
}

export interface EValue {
  log10E: number;
  log10Threshold: number;
}

export interface SegmentRow {
  family: SegmentKind;
  name: string;
  label: string;
  candidate: ArmRow;
  control: ArmRow;
  /** The test on first runs that failed, and on first runs that errored. */
  failure: EValue;
  error: EValue;
}

export interface SignatureRow extends EValue {
  project: string;
  test: string;
  label: string;
  /** Distinct machines whose first failure of the test was in each arm. */
  candidateMachines: number;
  controlMachines: number;
}

export interface SegmentOverview {
  projects: SegmentRow[];
  pythons: SegmentRow[];
  /** Strongest first, at most the requested number. */
  signatures: SignatureRow[];
  signatureCount: number;
  tracked: { project: number; python: number; signature: number };
  limits: { project: number; python: number; signature: number };
  refused: SegmentEvidence['refused'];
  alpha: { run: number; project: number; python: number; signature: number };
}

function armRow(a: SegmentArm): ArmRow {
  return { machines: total(a.firstRuns), runs: a.N, failed: a.F, errored: a.E, firstFailed: total(a.firstFailed), firstErrored: total(a.firstErrored) };
}

/** log10(tests / familyAlpha), or null when the family is off (JSON has no infinity). */
function threshold(familyAlpha: number, tests: number): number | null {
  return familyAlpha > 0 && tests > 0 ? Math.log10(tests / familyAlpha) : null;
}

function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

export function segmentOverview(
  evidence: SegmentEvidence,
  stages: readonly number[],
  alpha: number,
  policy: SegmentCheckPolicy,
  signatureLimit = 50,
): SegmentOverview {
  const shares = stageShares(stages);
  const segE = eValuer(shares, SEGMENT_MIXTURE);
  const sigE = eValuer(shares, SIGNATURE_MIXTURE);
  const th = {
    project: threshold(policy.project, 2 * policy.maxProjects),
    python: threshold(policy.python, 2 * policy.maxPythons),
    signature: threshold(policy.signature, policy.maxSignatures),
  };
  const row = (s: SegmentStats): SegmentRow => {
    const t = th[s.kind] ?? 0;
    const ev = (pick: (a: SegmentArm) => number[]) => ({
      log10E: finite(segE({ candidate: pick(s.candidate), control: pick(s.control) })),
      log10Threshold: t,
    });
    return {
      family: s.kind, name: s.name, label: segmentLabel(s.kind, s.name),
      candidate: armRow(s.candidate), control: armRow(s.control),
      failure: ev((a) => a.firstFailed), error: ev((a) => a.firstErrored),
    };
  };
  const signatures = evidence.signatures
    .map((s): SignatureRow => ({
      project: s.project, test: s.test, label: segmentLabel('signature', s.project, s.test),
      candidateMachines: total(s.candidate), controlMachines: total(s.control),
      log10E: finite(sigE(s)), log10Threshold: th.signature ?? 0,
    }))
    .sort((a, b) => b.log10E - a.log10E || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  return {
    projects: evidence.projects.map(row),
    pythons: evidence.pythons.map(row),
    signatures: signatures.slice(0, Math.max(0, signatureLimit)),
    signatureCount: signatures.length,
    tracked: { project: evidence.projects.length, python: evidence.pythons.length, signature: evidence.signatures.length },
    limits: { project: policy.maxProjects, python: policy.maxPythons, signature: policy.maxSignatures },
    refused: { ...evidence.refused },
    alpha: { run: runAlpha(alpha, policy), project: policy.project, python: policy.python, signature: policy.signature },
  };
}
