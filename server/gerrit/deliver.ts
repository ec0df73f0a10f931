import { parseConstraints } from '../domain/constraints';
import { diffConstraints } from '../domain/constraints-diff';
import { normalizeName } from '../domain/names';
import { buildProposal, parseBumpSubject, type Proposal, type ProposalKind, type RevertedCommit } from '../domain/proposal';
import { sameVersion } from '../domain/versions';
import { changeRef, type GerritClient } from './client';
import { proposalTopic, type GerritSettings } from './config';
import type { ChangeInfo } from './schemas';
import type { GerritLogger, OutboxPayload } from './types';

/**
 * Delivers one proposal to Gerrit, idempotently: the files are read from the head of the
 * rollout's branch, the proposal is rebuilt from them, and an open change with the
 * rollout's topic (or hashtag) is updated instead of opening another. Running it twice, or
 * after a crash at any point, leaves exactly one open change with the right content.
 */
export type DeliveryOutcome = 'created' | 'updated' | 'unchanged' | 'nothing_to_propose';

export interface Delivery {
  outcome: DeliveryOutcome;
  proposal: Proposal;
  topic: string;
  branch: string;
  baseRevision: string;
  change?: { number: number; changeId: string; url: string };
}

/** A failure no retry will fix (a missing file, a malformed file on the branch). */
export class PermanentError extends Error {}

export interface DeliverContext {
  client: GerritClient;
  settings: GerritSettings;
  logger: GerritLogger;
  /** Link to the rollout in depcanary, or null. */
  rolloutUrl: (rolloutId: string) => string | null;
  /** `Name <email>` for Signed-off-by (settings, else the account's own), or null when neither is known. */
  signedOffBy: () => Promise<string | null>;
}

const CHANGE_ID_LINE = /^Change-Id: I[0-9a-f]{40}[ \t]*(\r?\n|$)/m;

/** The commit message as depcanary wrote it: Gerrit's Change-Id footer line removed. */
export function withoutChangeId(message: string): string {
  return message.replace(CHANGE_ID_LINE, '').replace(/\n+$/, '\n');
}

/** Appends the Change-Id to the footer paragraph (the message's last paragraph). */
export function withChangeId(message: string, changeId: string): string {
  return `${message.replace(/\n*$/, '\n')}Change-Id: ${changeId}\n`;
}

/** The branch a payload's rollout runs on (items written before branches: the default branch). */
export function branchOfPayload(payload: OutboxPayload, s: Pick<GerritSettings, 'branch'>): string {
  return payload.rollout.branch ?? s.branch;
}

async function readFiles(ctx: DeliverContext, kind: ProposalKind, branch: string, revision: string) {
  const { client, settings: s } = ctx;
  let constraints = '';
  if (kind !== 'exclude') {
    const text = await client.getFileAt(s.project, revision, s.constraintsPath);
    if (text === null) throw new PermanentError(`${s.constraintsPath} does not exist on ${s.project} ${branch} (GERRIT_CONSTRAINTS_PATH)`);
    constraints = text;
  }
  let requirements: string | null = null;
  if (kind === 'exclude' && s.requirementsPath) {
    requirements = await client.getFileAt(s.project, revision, s.requirementsPath);
    if (requirements === null) throw new PermanentError(`${s.requirementsPath} does not exist on ${s.project} ${branch} (GERRIT_REQUIREMENTS_PATH)`);
  }
  return { constraints, requirements };
}

export function buildFrom(
  kind: ProposalKind, payload: OutboxPayload, files: { constraints: string; requirements: string | null },
  s: Pick<GerritSettings, 'constraintsPath' | 'requirementsPath' | 'branch'>, rolloutUrl: string | null,
  extra: { reverts?: RevertedCommit | null; signedOffBy?: string | null } = {},
): Proposal {
  try {
    return buildProposal({
      kind,
      rollout: { ...payload.rollout, branch: branchOfPayload(payload, s) },
      decision: payload.decision,
      actor: payload.actor,
      reason: payload.reason,
      constraints: { path: s.constraintsPath, text: files.constraints },
      requirements: s.requirementsPath && files.requirements !== null ? { path: s.requirementsPath, text: files.requirements } : null,
      rolloutUrl,
      reverts: extra.reverts ?? null,
      signedOffBy: extra.signedOffBy ?? null,
      bug: payload.options?.bug ?? null,
    });
  } catch (e) {
    throw new PermanentError(`cannot build the proposal: ${(e as Error).message}`);
  }
}

/**
 * The merged bump commit of `library` `candidate` on the branch ("update constraint for X
 * to new release V", the release bot's or depcanary's own promotion), when it is on the
 * branch; with what it did to the library's lines (its parent's file against its own).
 */
export async function findRevertedCommit(ctx: DeliverContext, branch: string, library: string, candidate: string): Promise<RevertedCommit | null> {
  const { client, settings: s } = ctx;
  const key = normalizeName(library);
  const merged = await client.findMerged(s.project, branch, `to new release ${candidate}`);
  for (const c of merged) {
    const parsed = parseBumpSubject(c.subject);
    if (!parsed || normalizeName(parsed.library) !== key || !sameVersion(parsed.version, candidate)) continue;
    const sha = c.current_revision;
    if (!sha || !(await client.commitOnBranch(s.project, sha, branch))) continue;
    const commit = await client.getCommit(s.project, sha);
    const parent = commit.parents[0]?.commit;
    if (!parent) continue;
    const [before, after] = await Promise.all([client.getFileAt(s.project, parent, s.constraintsPath), client.getFileAt(s.project, sha, s.constraintsPath)]);
    if (before === null || after === null) continue;
    const change = diffConstraints(parseConstraints(before), parseConstraints(after)).find((x) => x.key === key);
    if (change) return { commit: sha, subject: c.subject, change };
  }
  return null;
}

/** Hashtags, then reviewers (best effort: a missing account must not block the proposal). */
async function decorate(ctx: DeliverContext, change: ChangeInfo, topic: string, isNew: boolean): Promise<void> {
  const ref = changeRef(change.project, change._number);
  const have = new Set(change.hashtags ?? []);
  const want = [...ctx.settings.hashtags, topic].filter((h) => !have.has(h));
  if (isNew || want.includes(topic)) {
    for (const r of ctx.settings.reviewers) {
      await ctx.client.addReviewer(ref, r).catch((e: Error) => ctx.logger.warn({ change: change._number, reviewer: r, err: e.message }, 'could not add reviewer'));
    }
  }
  // The per-rollout hashtag goes last: its presence says the change is fully set up.
  if (want.length) {
    await ctx.client.addHashtags(ref, want).catch((e: Error) => ctx.logger.warn({ change: change._number, err: e.message }, 'could not add hashtags'));
  }
}

async function sameContent(ctx: DeliverContext, change: ChangeInfo, proposal: Extract<Proposal, { propose: true }>, head: string): Promise<boolean> {
  const rev = change.current_revision ? change.revisions?.[change.current_revision] : undefined;
  const commit = rev?.commit;
  if (!commit?.message || commit.parents?.[0]?.commit !== head) return false;
  if (withoutChangeId(commit.message) !== proposal.message) return false;
  const ref = changeRef(change.project, change._number);
  for (const f of proposal.files) {
    if ((await ctx.client.getChangeFile(ref, f.path)) !== f.after) return false;
  }
  return true;
}

export async function deliver(ctx: DeliverContext, kind: ProposalKind, payload: OutboxPayload): Promise<Delivery> {
  const { client, settings: s } = ctx;
  const branch = branchOfPayload(payload, s);
  const topic = proposalTopic(s, kind, payload.rollout.id);
  const head = await client.getBranch(s.project, branch);
  const files = await readFiles(ctx, kind, branch, head.revision);
  const reverts = kind === 'rollback' ? await findRevertedCommit(ctx, branch, payload.rollout.library, payload.rollout.candidate) : null;
  const proposal = buildFrom(kind, payload, files, s, ctx.rolloutUrl(payload.rollout.id), { reverts, signedOffBy: await ctx.signedOffBy() });
  const existing = (await client.findOpen(s.project, branch, topic))[0];
  const info = (c: ChangeInfo) => ({ number: c._number, changeId: c.change_id, url: client.changeUrl(c.project, c._number) });
  const base = { proposal, topic, branch, baseRevision: head.revision };

  if (!proposal.propose) {
    return { outcome: 'nothing_to_propose', ...base, ...(existing ? { change: info(existing) } : {}) };
  }
  if (!existing) {
    const created = await client.createChange({
      project: s.project, branch, message: proposal.message, topic, baseCommit: head.revision, patch: proposal.patch,
    });
    await decorate(ctx, created, topic, true);
    return { outcome: 'created', ...base, change: info(created) };
  }
  const ref = changeRef(existing.project, existing._number);
  if (await sameContent(ctx, existing, proposal, head.revision)) {
    await decorate(ctx, existing, topic, false);
    return { outcome: 'unchanged', ...base, change: info(existing) };
  }
  const updated = await client.applyPatch(ref, { patch: proposal.patch, base: head.revision, message: withChangeId(proposal.message, existing.change_id) });
  await decorate(ctx, updated, topic, false);
  return { outcome: 'updated', ...base, change: info(updated) };
}
