import { z } from 'zod';

/** The parts of Gerrit's REST entities depcanary reads; unknown fields are ignored. */
export const branchInfo = z.object({
  ref: z.string(),
  revision: z.string().regex(/^[0-9a-f]{40}$/),
});
export type BranchInfo = z.infer<typeof branchInfo>;

const commitInfo = z.object({
  message: z.string().optional(),
  subject: z.string().optional(),
  parents: z.array(z.object({ commit: z.string() })).optional(),
});

export const changeInfo = z.object({
  id: z.string(),
  project: z.string(),
  branch: z.string(),
  change_id: z.string(),
  subject: z.string(),
  status: z.enum(['NEW', 'MERGED', 'ABANDONED']),
  _number: z.number().int().positive(),
  topic: z.string().optional(),
  hashtags: z.array(z.string()).optional(),
  submitted: z.string().optional(),
  updated: z.string().optional(),
  current_revision: z.string().optional(),
  revisions: z
    .record(z.string(), z.object({ _number: z.number().int(), commit: commitInfo.optional() }))
    .optional(),
});
export type ChangeInfo = z.infer<typeof changeInfo>;

export const changeList = z.array(changeInfo);

export const accountInfo = z.object({
  _account_id: z.number().int(),
  name: z.string().optional(),
  email: z.string().optional(),
  username: z.string().optional(),
});
export type AccountInfo = z.infer<typeof accountInfo>;

export const gitCommit = z.object({
  commit: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  subject: z.string(),
  message: z.string().optional(),
  parents: z.array(z.object({ commit: z.string().regex(/^[0-9a-f]{40}$/) })),
});
export type GitCommit = z.infer<typeof gitCommit>;

/** `GET /projects/{p}/commits/{c}/in`. */
export const includedIn = z.object({ branches: z.array(z.string()), tags: z.array(z.string()).optional() });

export const hashtagList = z.array(z.string());

/** Gerrit timestamps are UTC "2026-11-22 04:31:44.848000000". */
export function parseGerritTime(s: string | undefined): number | null {
  if (!s) return null;
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,3})?/.exec(s);
  if (!m) return null;
  const t = Date.parse(`${m[1]}T${m[2]}${m[3] ?? ''}Z`);
  return Number.isFinite(t) ? t : null;
}
