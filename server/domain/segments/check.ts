import { percentToBasisPoints } from '../bucketing';
import { SEGMENT_MIXTURE, SIGNATURE_MIXTURE, eValuer, total, type Mixture } from './etest';
import { segmentLabel, type Family } from './names';
import type { SegmentEvidence, SegmentStats, SignatureStats } from './types';

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
  /** Distinct report sources among those candidate events a segment rollback needs (docs/trust.md); default 1. */
  segmentMinSources?: number;
  /** A segment within this factor of its level (with segmentMinMachines candidate machines) is `suspect`. */
  segmentHoldFactor: number;
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
  /** Distinct report sources among the candidate events (evidence from before sources: the events). */
  candidateSources: number;
  /** Distinct machines that ran the segment (a signature: its project), per arm; null when that segment is not tracked. */
  candidateMachines: number | null;
  controlMachines: number | null;
  /** Capped runs of the segment (a signature: its project), per arm; null when not tracked. */
  candidateRuns: number | null;
  controlRuns: number | null;
  /** log10 of the e-value, and of the threshold 1/α_test it must reach. */
  log10E: number;
  log10Threshold: number;
  /** The e-value reached its threshold with at least segmentMinMachines candidate machines from segmentMinSources sources. */
  fired: boolean;
  /** The e-value reached its threshold with enough machines but from fewer than segmentMinSources sources. */
  held: boolean;
  /** Not fired, but with segmentMinMachines candidate machines and within segmentHoldFactor of the threshold. */
  suspect: boolean;
}

export interface SegmentSummary {
  /** The segment that decides a rollback (the strongest fired signature, else the strongest fired segment), or null. */
  fired: SegmentFinding | null;
  /** When a signature fired: every test id of its project that fired (for the explanation). */
  firedTests: string[];
  /** The strongest suspect segment (nearly fired: it holds the advance), or null. */
  suspect: SegmentFinding | null;
  /** The strongest segment that reached its threshold from too few sources (it holds, with an alert), or null. */
  held: SegmentFinding | null;
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

/** One test's result before it becomes a finding (findings are built only for the few shown). */
interface Scored {
  family: Family;
  event: SegmentEvent;
  stats: SegmentStats | undefined;
  sig: SignatureStats | null;
  candidateEvents: number;
  controlEvents: number;
  candidateSources: number;
  log10E: number;
  log10Threshold: number;
  margin: number;
  fired: boolean;
  held: boolean;
  suspect: boolean;
  /** Tie-break key, made when first needed. */
  key?: string;
}

export function segmentCheck(
  evidence: SegmentEvidence,
  stages: readonly number[],
  alpha: number,
  policy: SegmentCheckPolicy,
  mixtures: { signature: Mixture; segment: Mixture } = { signature: SIGNATURE_MIXTURE, segment: SEGMENT_MIXTURE },
): SegmentSummary {
  const shares = stageShares(stages);
  const sigE = eValuer(shares, mixtures.signature);
  const segE = eValuer(shares, mixtures.segment);
  const holdMargin = -Math.log10(Math.max(1, policy.segmentHoldFactor)) - THRESHOLD_EPS;
  // Only the strongest few are kept (and the strongest fired and suspect ones): a record is
  // made only for a test that can enter them, so hundreds of weak signatures cost a compare.
  const top: Scored[] = [];
  const firedSigs: Scored[] = [];
  let firedScore: Scored | undefined;
  let suspectScore: Scored | undefined;
  let heldScore: Scored | undefined;
  const minSources = policy.segmentMinSources ?? 1;
  const offer = (
    family: Family, event: SegmentEvent, stats: SegmentStats | undefined, sig: SignatureStats | null,
    candidateEvents: number, controlEvents: number, candidateSources: number, log10E: number, log10Threshold: number,
  ) => {
    const margin = log10E - log10Threshold;
    const enough = candidateEvents >= policy.segmentMinMachines;
    const sources = candidateSources >= minSources;
    const reached = margin >= -THRESHOLD_EPS && enough;
    const fired = reached && sources;
    const held = reached && !sources;
    const suspect = !reached && enough && sources && margin >= holdMargin;
    if (!(log10E > 0 || fired)) return;
    const last = top.length === TOP_FINDINGS ? top[TOP_FINDINGS - 1]! : null;
    if (!fired && !held && !suspect && last && (margin < last.margin || (margin === last.margin && candidateEvents < last.candidateEvents))) return;
    const x: Scored = { family, event, stats, sig, candidateEvents, controlEvents, candidateSources, log10E, log10Threshold, margin, fired, held, suspect };
    // a fired signature names the failing tests: it explains a break better than its project's
    // first-run test, so it is preferred; otherwise the strongest fired finding decides
    if (fired && (!firedScore || preferred(x, firedScore))) firedScore = x;
    if (fired && sig) firedSigs.push(x);
    if (suspect && (!suspectScore || before(x, suspectScore))) suspectScore = x;
    if (held && (!heldScore || before(x, heldScore))) heldScore = x;
    if (last && !before(x, last)) return;
    let i = Math.min(top.length, TOP_FINDINGS - 1);
    if (top.length < TOP_FINDINGS) top.push(x);
    while (i > 0 && before(x, top[i - 1]!)) {
      top[i] = top[i - 1]!;
      i--;
    }
    top[i] = x;
  };

  const segThresholds = {
    project: log10Threshold(policy.project, 2 * policy.maxProjects),
    python: log10Threshold(policy.python, 2 * policy.maxPythons),
  };
  const withRuns = (s: SegmentStats) => {
    const threshold = segThresholds[s.kind];
    if (!Number.isFinite(threshold)) return;
    for (const event of ['failure', 'error'] as const) {
      const ev = event === 'failure'
        ? { candidate: s.candidate.firstFailed, control: s.control.firstFailed }
        : { candidate: s.candidate.firstErrored, control: s.control.firstErrored };
      const candidateEvents = total(ev.candidate);
      if (candidateEvents === 0) continue;
      const sources = (event === 'failure' ? s.candidate.sourcesFailed : s.candidate.sourcesErrored) ?? candidateEvents;
      offer(s.kind, event, s, null, candidateEvents, total(ev.control), sources, segE(ev), threshold);
    }
  };
  evidence.projects.forEach(withRuns);
  evidence.pythons.forEach(withRuns);

  const sigThreshold = log10Threshold(policy.signature, policy.maxSignatures);
  if (Number.isFinite(sigThreshold)) {
    let projects: Map<string, SegmentStats> | null = null;
    for (const s of evidence.signatures) {
      const candidateEvents = total(s.candidate);
      if (candidateEvents === 0) continue;
      const log10E = sigE(s);
      if (!(log10E > 0)) continue;
      projects ??= new Map(evidence.projects.map((p) => [p.name, p]));
      offer('signature', 'test', projects.get(s.project), s, candidateEvents, total(s.control), s.sources?.candidate ?? candidateEvents, log10E, sigThreshold);
    }
  }

  const fired = firedScore ? finding(firedScore) : null;
  const suspect = suspectScore ? finding(suspectScore) : null;
  const held = heldScore ? finding(heldScore) : null;
  const firedTests =
    fired?.family === 'signature'
      ? firedSigs.filter((x) => x.sig!.project === fired.segment).sort((a, b) => (before(a, b) ? -1 : 1)).map((x) => x.sig!.test)
      : [];
  return {
    fired,
    firedTests,
    suspect,
    held,
    top: top.map((x) => (x === firedScore ? fired! : x === suspectScore ? suspect! : x === heldScore ? held! : finding(x))),
    tracked: { project: evidence.projects.length, python: evidence.pythons.length, signature: evidence.signatures.length },
    limits: { project: policy.maxProjects, python: policy.maxPythons, signature: policy.maxSignatures },
    refused: { ...evidence.refused },
    alpha: { run: runAlpha(alpha, policy), project: policy.project, python: policy.python, signature: policy.signature },
  };
}

function finding(x: Scored): SegmentFinding {
  const segment = x.sig ? x.sig.project : x.stats!.name;
  const test = x.sig ? x.sig.test : null;
  return {
    family: x.family, event: x.event, segment, test, label: segmentLabel(x.family, segment, test ?? undefined),
    candidateEvents: x.candidateEvents, controlEvents: x.controlEvents, candidateSources: x.candidateSources,
    ...(x.stats ? context(x.stats) : { candidateMachines: null, controlMachines: null, candidateRuns: null, controlRuns: null }),
    log10E: x.log10E, log10Threshold: x.log10Threshold, fired: x.fired, held: x.held, suspect: x.suspect,
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

function preferred(a: Scored, b: Scored): boolean {
  const sa = a.family === 'signature';
  const sb = b.family === 'signature';
  return sa !== sb ? sa : before(a, b);
}

/** Stronger first: by margin, then candidate events, then family, segment, event and test id (never by input order). */
function before(a: Scored, b: Scored): boolean {
  if (a.margin !== b.margin) return a.margin > b.margin;
  if (a.candidateEvents !== b.candidateEvents) return a.candidateEvents > b.candidateEvents;
  return tieKey(a) < tieKey(b);
}

function tieKey(x: Scored): string {
  return (x.key ??= `${x.family}\t${x.sig?.project ?? x.stats!.name}\t${x.event}\t${x.sig?.test ?? ''}`);
}
