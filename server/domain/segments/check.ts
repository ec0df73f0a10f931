import { percentToBasisPoints } from '../bucketing';
import { SEGMENT_MIXTURE, SIGNATURE_MIXTURE, log10EValue, total, type Mixture } from './etest';
import { segmentLabel, type Family } from './names';
import type { SegmentArm, SegmentEvidence, SegmentStats } from './types';

/**
 * The segment tests beside the run-level rule (docs/decision.md, "Segments"). The
 * false-rollback level `alpha` of the rollout is split: each family gets its own share
 * (policy.projectAlpha, pythonAlpha, signatureAlpha) and the run-level bound the rest. In
 * a family, every test gets the family's share divided by the number of tests the family
 * can ever have: tables are bounded (policy.maxProjects, maxPythons, maxSignatures) and
 * never shrink, and projects and Pythons have two tests each (first run failed, first run
 * errored). The union bound over the families and their tests keeps the whole rollout's
 * false-rollback probability ≤ alpha however many segments appear and however often the
 * controller looks (each test is an always-valid e-value, ./etest.ts).
 */
export interface SegmentAlphas {
  project: number;
  python: number;
  signature: number;
}

export interface SegmentCheckPolicy extends SegmentAlphas {
  maxProjects: number;
  maxPythons: number;
  maxSignatures: number;
  /** Candidate machines (events) a segment rollback needs at least. */
  segmentMinMachines: number;
}

export type SegmentEvent = 'test' | 'failure' | 'error';

export interface SegmentFinding {
  family: Family;
  /** test: machines' first failure of one test id; failure / error: machines' first run in the segment failed / errored. */
  event: SegmentEvent;
  /** The project (also for a signature) or the Python minor version. */
  segment: string;
  test: string | null;
  label: string;
  /** Events: distinct machines, per arm. */
  candidateEvents: number;
  controlEvents: number;
  /** Distinct machines that ran the segment (a signature: its project), per arm; null when that segment is not tracked. */
  candidateMachines: number | null;
  controlMachines: number | null;
  /** Capped runs of the segment (a signature: its project), per arm; null when not tracked. */
  candidateRuns: number | null;
  controlRuns: number | null;
  /** log10 of the e-value, and of the threshold 1/α_test it must reach. */
  log10E: number;
  log10Threshold: number;
  /** The e-value reached its threshold with at least segmentMinMachines candidate machines. */
  fired: boolean;
}

export interface SegmentSummary {
  /** The segment that decides a rollback (the strongest one that fired), or null. */
  fired: SegmentFinding | null;
  /** When a signature fired: every test id of its project that fired (for the explanation). */
  firedTests: string[];
  /** The strongest evidence against the candidate (e > 1), strongest first, at most 10. */
  top: SegmentFinding[];
  tracked: Record<Family, number>;
  limits: Record<Family, number>;
  /** Segments refused because a table was full or a machine used its daily budget. */
  refused: Record<Family, number>;
  /** The false-rollback level of each family and of the run-level bound (they sum to `alpha`). */
  alpha: SegmentAlphas & { run: number };
}

/** Tolerance of the threshold comparison in log10 (an e-value exactly at 1/α fires). */
export const THRESHOLD_EPS = 1e-9;
export const TOP_FINDINGS = 10;

/** The run-level bound's share of alpha: what the segment families leave. */
export function runAlpha(alpha: number, a: SegmentAlphas): number {
  return alpha - a.project - a.python - a.signature;
}

/** Candidate share of each stage: basis points / 10,000, as the bucketing uses them. */
export function stageShares(stages: readonly number[]): number[] {
  return stages.map((s) => percentToBasisPoints(s) / 10_000);
}

function log10Threshold(familyAlpha: number, tests: number): number {
  return familyAlpha > 0 && tests > 0 ? Math.log10(tests / familyAlpha) : Number.POSITIVE_INFINITY;
}

interface Candidate {
  finding: SegmentFinding;
  margin: number;
}

export function segmentCheck(
  evidence: SegmentEvidence,
  stages: readonly number[],
  alpha: number,
  policy: SegmentCheckPolicy,
  mixtures: { signature: Mixture; segment: Mixture } = { signature: SIGNATURE_MIXTURE, segment: SEGMENT_MIXTURE },
): SegmentSummary {
  const shares = stageShares(stages);
  const found: Candidate[] = [];
  const projects = new Map(evidence.projects.map((s) => [s.name, s]));
  const consider = (f: Omit<SegmentFinding, 'fired' | 'label'>) => {
    const margin = f.log10E - f.log10Threshold;
    const fired = margin >= -THRESHOLD_EPS && f.candidateEvents >= policy.segmentMinMachines;
    const finding: SegmentFinding = { ...f, label: segmentLabel(f.family, f.segment, f.test ?? undefined), fired };
    if (f.log10E > 0 || fired) found.push({ finding, margin });
  };

  const segThresholds = {
    project: log10Threshold(policy.project, 2 * policy.maxProjects),
    python: log10Threshold(policy.python, 2 * policy.maxPythons),
  };
  const withRuns = (s: SegmentStats) => {
    const threshold = segThresholds[s.kind];
    if (!Number.isFinite(threshold)) return;
    const ctx = context(s);
    for (const event of ['failure', 'error'] as const) {
      const pick = (a: SegmentArm) => (event === 'failure' ? a.firstFailed : a.firstErrored);
      const ev = { candidate: pick(s.candidate), control: pick(s.control) };
      const candidateEvents = total(ev.candidate);
      if (candidateEvents === 0) continue;
      consider({
        family: s.kind, event, segment: s.name, test: null,
        candidateEvents, controlEvents: total(ev.control), ...ctx,
        log10E: log10EValue(ev, shares, mixtures.segment), log10Threshold: threshold,
      });
    }
  };
  evidence.projects.forEach(withRuns);
  evidence.pythons.forEach(withRuns);

  const sigThreshold = log10Threshold(policy.signature, policy.maxSignatures);
  if (Number.isFinite(sigThreshold)) {
    for (const s of evidence.signatures) {
      const candidateEvents = total(s.candidate);
      if (candidateEvents === 0) continue;
      const p = projects.get(s.project);
      consider({
        family: 'signature', event: 'test', segment: s.project, test: s.test,
        candidateEvents, controlEvents: total(s.control),
        ...(p ? context(p) : { candidateMachines: null, controlMachines: null, candidateRuns: null, controlRuns: null }),
        log10E: log10EValue(s, shares, mixtures.signature), log10Threshold: sigThreshold,
      });
    }
  }

  found.sort((a, b) => b.margin - a.margin || b.finding.candidateEvents - a.finding.candidateEvents || order(a.finding, b.finding));
  const fired = found.find((c) => c.finding.fired)?.finding ?? null;
  const firedTests =
    fired?.family === 'signature'
      ? found.filter((c) => c.finding.fired && c.finding.family === 'signature' && c.finding.segment === fired.segment).map((c) => c.finding.test!)
      : [];
  return {
    fired,
    firedTests,
    top: found.slice(0, TOP_FINDINGS).map((c) => c.finding),
    tracked: { project: evidence.projects.length, python: evidence.pythons.length, signature: evidence.signatures.length },
    limits: { project: policy.maxProjects, python: policy.maxPythons, signature: policy.maxSignatures },
    refused: { ...evidence.refused },
    alpha: { run: runAlpha(alpha, policy), project: policy.project, python: policy.python, signature: policy.signature },
  };
}

function context(s: SegmentStats) {
  return {
    candidateMachines: total(s.candidate.firstRuns),
    controlMachines: total(s.control.firstRuns),
    candidateRuns: s.candidate.N,
    controlRuns: s.control.N,
  };
}

function order(a: SegmentFinding, b: SegmentFinding): number {
  const ka = `${a.family}\t${a.segment}\t${a.event}\t${a.test ?? ''}`;
  const kb = `${b.family}\t${b.segment}\t${b.event}\t${b.test ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
