import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Secret } from './secret';

/**
 * Gerrit settings, from env (GERRIT_*) overlaying an optional `gerrit` object of the
 * DEPCANARY_CONFIG file with the same names. Gerrit is on when GERRIT_URL is set; then a
 * user and a password (GERRIT_PASSWORD or GERRIT_PASSWORD_FILE) are required. Without
 * it, proposals are still built (from the local base) and recorded as "not sent".
 * The password is held in a Secret and never appears in errors or logs.
 */
export interface GerritConnection {
  /** Base URL without a trailing slash, e.g. https://review.opendev.org */
  url: string;
  user: string;
  password: Secret;
  timeoutMs: number;
}

export interface GerritSettings {
  /** null: Gerrit is not configured. */
  connection: GerritConnection | null;
  project: string;
  /** The default branch (GERRIT_BRANCH): proposals of a rollout without one, and the first followed. */
  branch: string;
  /** Branches whose base follows the Gerrit branch head and whose rollouts' proposals are sent (GERRIT_BRANCHES). */
  branches: string[];
  constraintsPath: string;
  /** null: no requirements file is edited. */
  requirementsPath: string | null;
  topicPrefix: string;
  hashtags: string[];
  reviewers: string[];
  proposePromotions: boolean;
  /** Rollbacks also propose the `!=C` exclusion in the requirements file, as a change of its own. */
  proposeExclusion: boolean;
  /** `Name <email>` for Signed-off-by (the DCO); null: the Gerrit account's own name and preferred e-mail. */
  signedOffBy: string | null;
  /** 0: no timer (on demand only). */
  baseRefreshSeconds: number;
  /** Open bump changes canaried before they merge (change-watch.ts). */
  watch: {
    /** Gerrit search query of the changes to canary. */
    query: string;
    /** Poll interval; 0: on demand only (POST /v1/admin/gerrit/watch). */
    seconds: number;
    /** The label depcanary votes on (never a submit). */
    label: string;
    /** Vote when every library's rollout would complete (recommend merge), and on a rollback (block). */
    approve: number;
    block: number;
  };
}

export class GerritConfigError extends Error {}

const list = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
const bool = z
  .union([z.boolean(), z.string()])
  .transform((v) => (typeof v === 'boolean' ? v : ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase())));
const path = z
  .string()
  .min(1)
  .max(500)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'must be a relative path inside the repository');

const schema = z.object({
  GERRIT_URL: z
    .string()
    .url()
    .refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL')
    .refine((u) => !new URL(u).username && !new URL(u).password, 'must not contain credentials; use GERRIT_USER and GERRIT_PASSWORD')
    .optional(),
  GERRIT_USER: z.string().min(1).max(200).optional(),
  GERRIT_PASSWORD: z.string().min(1).optional(),
  GERRIT_PASSWORD_FILE: z.string().min(1).optional(),
  GERRIT_PROJECT: z.string().regex(/^[^\s"\\]{1,500}$/, 'must be a project name without spaces or quotes').default('openstack/requirements'),
  GERRIT_BRANCH: z.string().regex(/^[^\s"\\]{1,500}$/, 'must be a branch name without spaces or quotes').default('master'),
  GERRIT_BRANCHES: list.pipe(z.array(z.string().regex(/^[^\s"\\]{1,500}$/, 'branch names without spaces or quotes')).max(50)).optional(),
  GERRIT_CONSTRAINTS_PATH: path.default('upper-constraints.txt'),
  GERRIT_REQUIREMENTS_PATH: z.union([path, z.literal('')]).optional(),
  GERRIT_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]{0,60}$/, 'letters, digits, ".", "_" and "-" only').default('depcanary-'),
  GERRIT_HASHTAGS: list.default(['depcanary']),
  GERRIT_REVIEWERS: list.default([]),
  GERRIT_PROPOSE_PROMOTIONS: bool.default(false),
  GERRIT_PROPOSE_EXCLUSION: bool.default(true),
  GERRIT_SIGNED_OFF_BY: z.string().max(200).regex(/^[^<>\r\n]+ <[^<>\s@]+@[^<>\s]+>$/, 'must be "Name <email>"').optional(),
  GERRIT_BASE_REFRESH_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  GERRIT_TIMEOUT_SECONDS: z.coerce.number().min(1).max(300).default(30),
  // --- bump changes canaried before they merge (change-watch.ts) ---
  GERRIT_WATCH_QUERY: z.string().min(1).max(2000).regex(/^[^\r\n]+$/, 'one line').optional(),
  GERRIT_WATCH_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  GERRIT_VOTE_LABEL: z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'a label name like Verified or Code-Review').default('Verified'),
  GERRIT_VOTE_VALUES: z.string().regex(/^\s*\+?\d{1,2}\s*,\s*-\d{1,2}\s*$/, 'approve,block like +1,-1').default('+1,-1'),
});

export const GERRIT_ENV = Object.keys(schema.shape);

function fail(name: string, msg: string): never {
  throw new GerritConfigError(`bad setting ${name}: ${msg}`);
}

export function loadGerritConfig(env: NodeJS.ProcessEnv = process.env, file: Record<string, unknown> = {}): GerritSettings {
  const merged: Record<string, unknown> = {};
  for (const name of GERRIT_ENV) {
    const v = env[name] !== undefined && env[name] !== '' ? env[name] : file[name];
    if (v !== undefined && v !== null && v !== '') merged[name] = typeof v === 'number' ? String(v) : v;
  }
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // Never echo the value: it may be a password.
    fail(String(issue.path[0] ?? 'GERRIT'), issue.message);
  }
  const c = parsed.data;
  if (c.GERRIT_HASHTAGS.some((h) => h.length > 100)) fail('GERRIT_HASHTAGS', 'each hashtag must be at most 100 characters');
  if (c.GERRIT_REQUIREMENTS_PATH && c.GERRIT_REQUIREMENTS_PATH === c.GERRIT_CONSTRAINTS_PATH) {
    fail('GERRIT_REQUIREMENTS_PATH', 'must differ from GERRIT_CONSTRAINTS_PATH');
  }
  let connection: GerritConnection | null = null;
  if (c.GERRIT_URL) {
    if (!c.GERRIT_USER) fail('GERRIT_USER', 'required when GERRIT_URL is set');
    if (c.GERRIT_PASSWORD && c.GERRIT_PASSWORD_FILE) fail('GERRIT_PASSWORD_FILE', 'set either GERRIT_PASSWORD or GERRIT_PASSWORD_FILE, not both');
    let password = c.GERRIT_PASSWORD;
    if (c.GERRIT_PASSWORD_FILE) {
      try {
        password = readFileSync(c.GERRIT_PASSWORD_FILE, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        fail('GERRIT_PASSWORD_FILE', `cannot read ${c.GERRIT_PASSWORD_FILE} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    if (!password) fail('GERRIT_PASSWORD', 'required when GERRIT_URL is set (or GERRIT_PASSWORD_FILE)');
    connection = {
      url: c.GERRIT_URL.replace(/\/+$/, ''),
      user: c.GERRIT_USER,
      password: new Secret(password),
      timeoutMs: Math.round(c.GERRIT_TIMEOUT_SECONDS * 1000),
    };
  }
  return {
    connection,
    project: c.GERRIT_PROJECT,
    branch: c.GERRIT_BRANCH,
    branches: [...new Set(c.GERRIT_BRANCHES && c.GERRIT_BRANCHES.length > 0 ? c.GERRIT_BRANCHES : [c.GERRIT_BRANCH])],
    constraintsPath: c.GERRIT_CONSTRAINTS_PATH,
    requirementsPath: c.GERRIT_REQUIREMENTS_PATH || null,
    topicPrefix: c.GERRIT_TOPIC_PREFIX,
    hashtags: c.GERRIT_HASHTAGS,
    reviewers: c.GERRIT_REVIEWERS,
    proposePromotions: c.GERRIT_PROPOSE_PROMOTIONS,
    proposeExclusion: c.GERRIT_PROPOSE_EXCLUSION,
    signedOffBy: c.GERRIT_SIGNED_OFF_BY ?? null,
    baseRefreshSeconds: c.GERRIT_BASE_REFRESH_SECONDS,
    watch: {
      query: c.GERRIT_WATCH_QUERY ?? defaultWatchQuery(c.GERRIT_PROJECT, c.GERRIT_CONSTRAINTS_PATH),
      seconds: c.GERRIT_WATCH_SECONDS,
      label: c.GERRIT_VOTE_LABEL,
      approve: Number(c.GERRIT_VOTE_VALUES.split(',')[0]!.trim()),
      block: Number(c.GERRIT_VOTE_VALUES.split(',')[1]!.trim()),
    },
  };
}

/**
 * The release job's bump changes ("update constraint for X to new release V", topic
 * `new-release`) and the weekly bundle ("Updated from generate-constraints", topic
 * `openstack/requirements/constraints`), open, on the project, touching the constraints file.
 */
export function defaultWatchQuery(project: string, constraintsPath: string): string {
  return `status:open project:"${project}" path:"${constraintsPath}" (topic:new-release OR topic:"openstack/requirements/constraints")`;
}

/** The topic (and per-rollout hashtag) that makes a proposal findable again. */
export function proposalTopic(s: Pick<GerritSettings, 'topicPrefix'>, kind: string, rolloutId: string): string {
  return `${s.topicPrefix}${kind}-${rolloutId}`.slice(0, 255);
}
