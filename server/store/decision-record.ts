import { z } from 'zod';
import type { Decision, DecisionRule } from '../domain/decision';
import type { SegmentFinding, SegmentSummary } from '../domain/segments';

/**
 * The controller's latest decision as stored on the rollout (hash field `decision`): typed
 * and versioned at the store boundary. Written as `{ v: 2, ...decision }`; read back through
 * the schema, upgrading a version-1 record (written before the segment tests: no `v`, no
 * `runAlpha`, no `segments`). A record that does not parse (corrupt, or from a later
 * version this server does not know) reads as null, as if no evaluation had happened yet:
 * the controller writes a new one at its next evaluation.
 */
export const DECISION_RECORD_VERSION = 2;

const num = z.number();
const nnum = z.number().nullable();

const RULES = [
  'hard_break', 'regression', 'segment', 'advance', 'no_q0', 'data_quality', 'segment_suspect', 'insufficient_soak',
  'insufficient_machines', 'insufficient_runs', 'not_proven_non_inferior', 'max_stage_age', 'not_active',
  'insufficient_sources', 'rollback_needs_sources',
] as const satisfies readonly DecisionRule[];

const rule = z.enum(RULES);

// Fields added since a record version carry defaults: a record written before sources reads
// with each machine as its source (as the rule counted then) and nothing held or capped.
const arm = z.object({
  N: num, F: num, G: num, p: nnum, V: nnum, runs: num, failures: num, errors: num, machines: num, allFailingMachines: num,
  sources: num.optional(), failingSources: num.default(0),
}).transform((a) => ({ ...a, sources: a.sources ?? a.machines }));

const family = z.enum(['project', 'python', 'signature']);

const finding: z.ZodType<SegmentFinding> = z.object({
  family,
  event: z.enum(['test', 'failure', 'error']),
  segment: z.string(),
  test: z.string().nullable(),
  label: z.string(),
  candidateEvents: num,
  controlEvents: num,
  candidateSources: num.optional(),
  candidateMachines: nnum,
  controlMachines: nnum,
  candidateRuns: nnum,
  controlRuns: nnum,
  log10E: num,
  log10Threshold: num,
  fired: z.boolean(),
  held: z.boolean().default(false),
  suspect: z.boolean(),
}).transform((f) => ({ ...f, candidateSources: f.candidateSources ?? f.candidateEvents }));

const perFamily = z.object({ project: num, python: num, signature: num });

const segments: z.ZodType<SegmentSummary> = z.object({
  fired: finding.nullable(),
  firedTests: z.array(z.string()),
  suspect: finding.nullable(),
  held: finding.nullable().default(null),
  top: z.array(finding),
  tracked: perFamily,
  limits: perFamily,
  refused: perFamily,
  alpha: z.object({ run: num, project: num, python: num, signature: num }),
});

export const decisionSchema: z.ZodType<Decision> = z.object({
  verdict: z.enum(['advance', 'hold', 'rollback']),
  rule,
  reason: z.string(),
  at: num,
  stageIndex: num,
  percent: num,
  stageAgeSeconds: num,
  candidate: arm,
  control: arm,
  D: nnum,
  h: nnum,
  hAdvance: nnum,
  lower: nnum,
  upper: nnum,
  margin: nnum,
  tau: num,
  q0: nnum,
  alpha: num,
  runAlpha: num,
  advanceAlpha: num,
  hardBreakP: nnum,
  blockers: z.array(rule),
  alarms: z.array(z.string()),
  alert: z.boolean(),
  newInCandidate: z.array(z.object({ id: z.string(), candidateMachines: num, expectedMachines: num })),
  segments: segments.nullable(),
  q0ToFreeze: nnum,
  // The gate beside the rule that held an advance (domain/gates.ts): kept so the controller sees
  // a gate that keeps holding as no new turn, and people see why.
  gate: z.object({ gate: z.enum(['awaiting_merge', 'freeze', 'signoff']), reason: z.string(), until: nnum }).nullable().optional(),
  held: z.object({ rule: z.enum(['hard_break', 'regression', 'segment']), sources: num, needed: num }).nullable().default(null),
  sourceCapped: num.default(0),
});

/** The stored form: the decision with its record version. */
export function serializeDecision(d: Decision): string {
  return JSON.stringify({ v: DECISION_RECORD_VERSION, ...d });
}

/** A stored decision, upgraded and checked; null when absent or unreadable. */
export function parseDecision(text: string | undefined | null): Decision | null {
  if (!text) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const o = raw as Record<string, unknown>;
  const v = o.v ?? 1;
  let candidate: Record<string, unknown>;
  if (v === 1) {
    // version 1: one run-level level (alpha itself) and no segment tests
    candidate = { runAlpha: o.alpha, advanceAlpha: o.alpha, segments: null, ...o };
  } else if (v === DECISION_RECORD_VERSION) {
    candidate = o;
  } else {
    return null;
  }
  const { v: _v, ...rest } = candidate;
  const parsed = decisionSchema.safeParse(rest);
  return parsed.success ? parsed.data : null;
}
