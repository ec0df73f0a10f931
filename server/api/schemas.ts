import { z } from 'zod';
import { isValidName } from '../domain/names';
import { isPep440 } from '../domain/versions';
import { ROLES } from '../store/token-store';

/** Every request body and query is parsed here, at the edge, before any domain call. */
export const MAX_FAILED_TESTS = 100;
export const MAX_TEST_ID_LENGTH = 512;
export const MAX_INSTALLED = 2000;
export const MAX_BATCH = 100;

const label = (max: number) => z.string().min(1).max(max).regex(/^[\w.+\-/:@ ]+$/, 'only letters, digits and . _ + - / : @ space');
const pep440 = z.string().max(64).refine(isPep440, 'not a PEP 440 version');
const distName = z.string().max(200).refine(isValidName, 'not a valid distribution name');

/**
 * Ids are 8-4-4-4-12 hex (any version), compared in lower case everywhere: the pins fast
 * path, /v1/pins and reports must bucket and count a machine the same way.
 */
const hexId = z.guid().transform((s) => s.toLowerCase());
export const machineId = hexId;

export const reportSchema = z.strictObject({
  id: hexId,
  machine: hexId,
  outcome: z.enum(['pass', 'fail', 'error']),
  /** Why a run did not pass, a short code from the client (docs/api.md lists those it sends). */
  reason: z.string().min(1).max(32).regex(/^[a-z][a-z0-9-]*$/, 'a short code like install').optional(),
  installed: z.record(distName, pep440).refine((o) => Object.keys(o).length <= MAX_INSTALLED, `at most ${MAX_INSTALLED} entries`),
  /** Versions the client pinned from depcanary's overrides (tells an install failure's arm). */
  pinned: z.record(distName, pep440).refine((o) => Object.keys(o).length <= MAX_INSTALLED, `at most ${MAX_INSTALLED} entries`).optional(),
  project: label(100),
  env: label(100),
  python: z.string().max(32).regex(/^\d+\.\d+(\.\d+)?[\w.+-]*$/, 'like 3.11.7'),
  platform: label(64),
  durationMs: z.number().int().min(0).max(7 * 24 * 3600 * 1000),
  failedTests: z.array(z.string().min(1).max(MAX_TEST_ID_LENGTH).regex(/^[^\t\r\n]+$/, 'no tabs or newlines')).max(MAX_FAILED_TESTS).default([]),
  startedAt: z.iso.datetime({ offset: true }).optional(),
  finishedAt: z.iso.datetime({ offset: true }),
  client: z.string().max(100).optional(),
  /** The constraints branch the run's pins came from (`?branch=` of the constraints request); optional. */
  branch: z.string().min(1).max(60).regex(/^[a-z0-9][a-z0-9._/-]*$/, 'a branch like master or stable/2025.2').optional(),
});
export type Report = z.infer<typeof reportSchema>;

export const reportBatch = z.strictObject({ reports: z.array(reportSchema).min(1).max(MAX_BATCH) });

/** A batch when the body has `reports`, else one report; so errors name the exact field. */
export function parseReportsBody(body: unknown) {
  if (body && typeof body === 'object' && 'reports' in body) {
    const r = reportBatch.safeParse(body);
    return r.success ? { success: true as const, data: r.data.reports } : r;
  }
  const r = reportSchema.safeParse(body);
  return r.success ? { success: true as const, data: [r.data] } : r;
}

const stagePolicy = z.strictObject({
  soakSeconds: z.number().min(0).max(365 * 86400).optional(),
  minMachines: z.number().int().min(0).max(1e7).optional(),
  minRuns: z.number().int().min(0).max(1e9).optional(),
  marginFactor: z.number().min(0).max(100).optional(),
  marginFloor: z.number().min(0).max(1).optional(),
});

export const policyOverride = z.strictObject({
  alpha: z.number().gt(0).lt(0.5).optional(),
  advanceAlpha: z.number().gt(0).lt(0.5).optional(),
  cap: z.number().int().min(1).max(1000).optional(),
  maxStageAgeSeconds: z.number().min(1).max(365 * 86400).optional(),
  minControlRuns: z.number().int().min(0).max(1e9).optional(),
  maxMismatchShare: z.number().min(0).max(1).optional(),
  srmPValue: z.number().min(0).max(1).optional(),
  hardBreakMinMachines: z.number().int().min(1).max(1e6).optional(),
  hardBreakPValue: z.number().gt(0).max(1).optional(),
  // segments (docs/decision.md, "Segments"); 0 turns a family off
  projectAlpha: z.number().min(0).lt(0.5).optional(),
  pythonAlpha: z.number().min(0).lt(0.5).optional(),
  signatureAlpha: z.number().min(0).lt(0.5).optional(),
  maxProjects: z.number().int().min(0).max(10_000).optional(),
  maxPythons: z.number().int().min(0).max(100).optional(),
  maxSignatures: z.number().int().min(0).max(100_000).optional(),
  maxNewSegmentsPerMachineDay: z.number().int().min(0).max(10_000).optional(),
  segmentMinMachines: z.number().int().min(1).max(1e6).optional(),
  segmentHoldFactor: z.number().min(1).max(1e6).optional(),
  // sources (docs/trust.md); sourceCap 0 turns the cap off, 1 source turns a gate off
  sourceCap: z.number().int().min(0).max(1e7).optional(),
  segmentSourceCap: z.number().int().min(1).max(1e6).optional(),
  minSources: z.number().int().min(1).max(1000).optional(),
  rollbackMinSources: z.number().int().min(1).max(1000).optional(),
  stage: stagePolicy.optional(),
  stages: z.array(stagePolicy).max(20).optional(),
});

/** master, stable/<series>, unmaintained/<series>, or a release id / series name (2025.2). */
export const branchParam = z.string().min(1).max(60).regex(/^[a-z0-9][a-z0-9._/-]*$/, 'a branch like master, stable/2025.2 or a release id like 2025.2');

export const createRolloutBody = z.strictObject({
  library: distName,
  candidate: pep440,
  stable: pep440.optional(),
  branch: branchParam.optional(),
  /** The candidate's Requires-Python ('' for none declared); given, the package index is not asked. */
  requiresPython: z.string().max(200).optional(),
  stages: z.array(z.number()).min(2).max(20).optional(),
  policy: policyOverride.optional(),
  reason: z.string().max(1000).optional(),
});

export const actionBody = z.strictObject({
  reason: z.string().min(1, 'a reason is required').max(1000),
  revision: z.number().int().min(1).optional(),
  /** Rollback: also propose the `!=C` exclusion (a separate change); default the server's setting. */
  exclude: z.boolean().optional(),
  /** Rollback: a bug the proposal names (`Closes-Bug:` / `Related-Bug:`), e.g. {"closes": "2162085"}. */
  bug: z.union([
    z.strictObject({ closes: z.string().regex(/^#?\d{1,12}$/, 'a bug number like 2162085') }),
    z.strictObject({ related: z.string().regex(/^#?\d{1,12}$/, 'a bug number like 2162085') }),
  ]).optional(),
});

/** A signoff: why the release manager approves this stage (audited). */
export const approveBody = z.strictObject({
  reason: z.string().min(1, 'a reason is required').max(1000),
  revision: z.number().int().min(1).optional(),
});

/** A Gerrit change number (`GET /v1/rollouts?change=`). */
export const changeParam = z.string().regex(/^\d{1,10}$/, 'a change number').transform(Number);

export const rolloutIdParam = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,160}$/, 'not a rollout id');

export const tokenBody = z.strictObject({
  name: label(100),
  role: z.enum(ROLES),
});

/** POST /v1/enrol: an empty body (the server picks the machine id) or the id the machine has. */
export const enrolBody = z.strictObject({ machine: hexId.optional() });
