/**
 * Reads the decision rule's explanation defensively for commit messages. The explanation
 * is produced elsewhere (server/domain/decision) and may be null (a manual rollback), an
 * older shape, or partial; every field is optional here and only well-typed values are used.
 */
export interface ArmSummary {
  runs?: number;
  failures?: number;
  errors?: number;
  machines?: number;
  /** Failure rate in [0, 1]. */
  rate?: number;
  /** The rate is the rule's `p` (capped per machine and day) rather than raw runs. */
  capped?: boolean;
}

export interface NewFailingTest {
  id: string;
  candidateMachines?: number;
  expectedMachines?: number;
}

export interface EvidenceSummary {
  verdict?: string;
  rule?: string;
  reason?: string;
  candidate?: ArmSummary;
  control?: ArmSummary;
  /** Difference of failure rates (candidate - control), its interval and the margin, in [−1, 1]. */
  difference?: number;
  lower?: number;
  upper?: number;
  margin?: number;
  stageIndex?: number;
  percent?: number;
  newInCandidate: NewFailingTest[];
  /** The segment that decided a segment rollback (a project, a Python version or failing tests). */
  segment?: SegmentLine;
}

import { evidenceFigure, findingSentence, type SegmentFinding } from './segments';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (o: Obj, ...keys: string[]): number | undefined => {
  for (const k of keys) {
    const v = o[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
};
const str = (o: Obj, key: string): string | undefined => {
  const v = o[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
};

function arm(v: unknown): ArmSummary | undefined {
  if (!isObj(v)) return undefined;
  const a: ArmSummary = {
    runs: num(v, 'runs'),
    failures: num(v, 'failures'),
    errors: num(v, 'errors'),
    machines: num(v, 'machines'),
    rate: num(v, 'p', 'rate'),
  };
  a.capped = a.rate !== undefined;
  if (a.rate === undefined && a.runs && a.failures !== undefined) a.rate = (a.failures + (a.errors ?? 0)) / a.runs;
  return [a.runs, a.failures, a.errors, a.machines, a.rate].some((x) => x !== undefined) ? a : undefined;
}

export const MAX_NEW_TESTS = 10;

export function readEvidence(decision: unknown): EvidenceSummary | null {
  if (!isObj(decision)) return null;
  // The rule's Decision has the arms at the top level; older sketches nested them in `arms`.
  const arms = isObj(decision.arms) ? decision.arms : {};
  const candidate = decision.candidate ?? arms.candidate;
  const control = decision.control ?? arms.control;
  const tests = Array.isArray(decision.newInCandidate) ? decision.newInCandidate : [];
  const newInCandidate: NewFailingTest[] = [];
  for (const t of tests) {
    if (!isObj(t) || typeof t.id !== 'string' || t.id === '') continue;
    newInCandidate.push({
      id: t.id.slice(0, 512),
      candidateMachines: num(t, 'candidateMachines', 'machines'),
      expectedMachines: num(t, 'expectedMachines', 'expected'),
    });
    if (newInCandidate.length >= MAX_NEW_TESTS) break;
  }
  return {
    segment: segmentLine(decision.segments),
    verdict: str(decision, 'verdict'),
    rule: str(decision, 'rule'),
    reason: str(decision, 'reason'),
    candidate: arm(candidate),
    control: arm(control),
    difference: num(decision, 'D', 'difference'),
    lower: num(decision, 'lower'),
    upper: num(decision, 'upper'),
    margin: num(decision, 'margin'),
    stageIndex: num(decision, 'stageIndex'),
    percent: num(decision, 'percent'),
    newInCandidate,
  };
}

// --- segments (decision v2) ------------------------------------------------------------------
export interface SegmentLine {
  /** "blazar: 2 tests fail on 4 of 4 candidate machines, 0 of 61 control machines" */
  sentence: string;
  /** "e = 5.9e+7, needs 1.3e+6" */
  figure: string;
  /** The failing test ids that fired (signatures), at most MAX_NEW_TESTS. */
  tests: string[];
}

const FAMILIES = new Set(['project', 'python', 'signature']);
const EVENTS = new Set(['test', 'failure', 'error']);

/** A stored finding, if well formed (the decision record is read back from the store: untrusted). */
function readFinding(f: unknown): SegmentFinding | null {
  if (!isObj(f)) return null;
  const n = (k: string) => (typeof f[k] === 'number' && Number.isFinite(f[k]) ? (f[k] as number) : null);
  if (!FAMILIES.has(f.family as string) || !EVENTS.has(f.event as string) || typeof f.segment !== 'string' || typeof f.label !== 'string') return null;
  if (n('candidateEvents') === null || n('controlEvents') === null || n('log10E') === null || n('log10Threshold') === null) return null;
  return {
    family: f.family as SegmentFinding['family'], event: f.event as SegmentFinding['event'], segment: f.segment.slice(0, 200),
    test: typeof f.test === 'string' ? f.test.slice(0, 512) : null, label: f.label.slice(0, 300),
    candidateEvents: n('candidateEvents')!, controlEvents: n('controlEvents')!, candidateSources: n('candidateSources') ?? n('candidateEvents')!,
    candidateMachines: n('candidateMachines'),
    controlMachines: n('controlMachines'), candidateRuns: n('candidateRuns'), controlRuns: n('controlRuns'),
    log10E: n('log10E')!, log10Threshold: n('log10Threshold')!, fired: f.fired === true, held: f.held === true, suspect: f.suspect === true,
  };
}

/** The decision's fired segment, if it is well formed (the sentence is the rule's own, domain/segments). */
function segmentLine(v: unknown): SegmentLine | undefined {
  if (!isObj(v)) return undefined;
  const finding = readFinding(v.fired);
  if (!finding) return undefined;
  const tests = Array.isArray(v.firedTests) ? v.firedTests.filter((t): t is string => typeof t === 'string' && t !== '').slice(0, MAX_NEW_TESTS) : [];
  return { sentence: findingSentence({ ...finding, fired: true, held: false, suspect: false }, tests), figure: evidenceFigure(finding), tests: tests.map((t) => t.slice(0, 512)) };
}

/**
 * The strongest segment evidence against the candidate (decision v2's `segments.top`: a
 * project, a Python version or a failing test), at most `max`, in the rule's own words; null
 * when the decision has no segment evidence (decision v1, or none recorded).
 */
export function strongestSegments(decision: unknown, max = 3): (SegmentLine & { suspect: boolean })[] | null {
  if (!isObj(decision) || !isObj(decision.segments)) return null;
  const top = Array.isArray(decision.segments.top) ? decision.segments.top : [];
  const out: (SegmentLine & { suspect: boolean })[] = [];
  for (const raw of top.slice(0, 50)) {
    const f = readFinding(raw);
    if (!f) continue;
    out.push({ sentence: findingSentence(f), figure: evidenceFigure(f), tests: f.test ? [f.test] : [], suspect: f.suspect && !f.fired });
    if (out.length >= max) break;
  }
  return out;
}
// --- end segments ------------------------------------------------------------------------------

/** 0.148 -> "14.8%". */
export function pct(rate: number): string {
  return `${(Math.round(rate * 1000) / 10).toFixed(1)}%`;
}

/** 0.121 -> "+12.1 points" (a difference of rates). */
export function points(d: number): string {
  const v = Math.round(d * 1000) / 10;
  return `${v > 0 ? '+' : ''}${v.toFixed(1)}`;
}

/** 1 -> "1%", 0.5 -> "0.5%". */
export function percentLabel(p: number): string {
  return `${Number.isInteger(p) ? p : Number(p.toFixed(2))}%`;
}

/** A fixed-width table of the two arms (commit messages are read in monospace). */
export function armTable(rows: { arm: string; version: string; a: ArmSummary | undefined }[]): string[] {
  const cell = (v: number | undefined) => (v === undefined ? '-' : String(v));
  const head = ['arm', 'version', 'runs', 'machines', 'failed', 'errored', 'failure rate'];
  const body = rows
    .filter((r) => r.a !== undefined)
    .map((r) => [r.arm, r.version, cell(r.a!.runs), cell(r.a!.machines), cell(r.a!.failures), cell(r.a!.errors), r.a!.rate === undefined ? '-' : pct(r.a!.rate)]);
  if (body.length === 0) return [];
  const all = [head, ...body];
  const widths = head.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  // Text columns align left, numbers right.
  return all.map((row) => `  ${row.map((v, c) => (c < 2 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ')}`.trimEnd());
}
