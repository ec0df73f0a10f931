import { parseConstraints } from './constraints';
import { replaceLibraryLines, type LibraryChange } from './constraints-diff';
import { normalizeName } from './names';
import { unifiedDiffs, type FileEdit } from './patch';
import { renderMessage } from './proposal-message';
export { bumpSubject, parseBumpSubject } from './proposal-message';
import { communityPythons } from './pythons';
import { excludeVersion } from './requirements-edit';
import type { Rollout } from './rollout';
import { applyLineChanges, planLines } from './rollout-lines';

/**
 * What depcanary proposes to the constraints repository, in the repository's own forms:
 *  - rollback: `Revert "update constraint for X to new release C"` of the branch's
 *    constraints (`This reverts commit <sha>.` when the bump commit is on the branch: its
 *    lines for X come back exactly; otherwise the lines pinning C go back to S);
 *  - exclude:  `Exclude X C from global requirements`, the `!=C` in the requirements file,
 *    a change of its own so reviewers can take the revert without it;
 *  - promote:  `update constraint for X to new release C`, split per Python as the rollout
 *    ran it when C dropped a Python.
 * Pure: the caller reads the files (Gerrit's branch head, or the local base) and sends.
 */
export type ProposalKind = 'rollback' | 'promote' | 'exclude';

export interface ProposalRollout extends Pick<Rollout, 'id' | 'library' | 'stable' | 'candidate' | 'stages' | 'stageIndex'> {
  branch?: string;
  requiresPython?: string | null;
  stableRequiresPython?: string | null;
  pythons?: string[];
}

/** The merged bump commit a rollback reverts, and what it did to the library's lines. */
export interface RevertedCommit {
  commit: string;
  subject: string;
  change: LibraryChange;
}

export interface ProposalInput {
  kind: ProposalKind;
  rollout: ProposalRollout;
  /** The decision rule's explanation when the controller acted, or null (a person's action). */
  decision: unknown;
  actor: string;
  reason: string;
  constraints: { path: string; text: string };
  requirements: { path: string; text: string } | null;
  /** Link to the rollout in depcanary, or null when no public URL is configured. */
  rolloutUrl: string | null;
  /** Rollback: the bump commit found on the branch, or null. */
  reverts?: RevertedCommit | null;
  /** `Name <email>` for the Signed-off-by footer (the repository requires the DCO), or null. */
  signedOffBy?: string | null;
  bug?: { kind: 'closes' | 'related'; id: string } | null;
}

export interface ProposalChange {
  propose: true;
  kind: ProposalKind;
  subject: string;
  /** Full commit message without a Change-Id (Gerrit adds it). */
  message: string;
  /** Only the files that change. */
  files: FileEdit[];
  /** `git diff` of `files`. */
  patch: string;
  /** Facts worth telling a person (e.g. a library line that could not be edited). */
  notes: string[];
}

export interface NothingToPropose {
  propose: false;
  kind: ProposalKind;
  reason: string;
  notes: string[];
}

export type Proposal = ProposalChange | NothingToPropose;

function branchOf(r: ProposalRollout): string {
  return r.branch ?? 'master';
}

function linesSpec(r: ProposalRollout, text: string) {
  const file = parseConstraints(text);
  const pythons = r.pythons && r.pythons.length > 0 ? r.pythons : communityPythons(file, null);
  return {
    file,
    spec: {
      key: normalizeName(r.library), stable: r.stable, candidate: r.candidate, pythons,
      candidateRequiresPython: r.requiresPython ?? null, stableRequiresPython: r.stableRequiresPython ?? null,
    },
  };
}

export function buildProposal(input: ProposalInput): Proposal {
  const { kind, rollout } = input;
  const notes: string[] = [];
  const files: FileEdit[] = [];
  const branch = branchOf(rollout);
  const path = input.constraints.path;
  let reverted: RevertedCommit | null = null;
  let kept: string[] = [];

  if (kind === 'exclude') {
    if (!input.requirements) {
      return { propose: false, kind, reason: 'no requirements file is configured (GERRIT_REQUIREMENTS_PATH), so nothing is excluded.', notes };
    }
    const r = excludeVersion(input.requirements.text, rollout.library, rollout.candidate);
    if (r.unparsed.length > 0) {
      notes.push(`${input.requirements.path} line(s) ${r.unparsed.map((i) => i + 1).join(', ')} name ${rollout.library} in a form depcanary does not edit; left as they are.`);
    }
    if (r.found.length === 0) {
      return { propose: false, kind, reason: `${input.requirements.path} on ${branch} does not list ${rollout.library}; nothing to exclude.`, notes };
    }
    if (r.changed.length === 0) {
      return { propose: false, kind, reason: `${input.requirements.path} on ${branch} already excludes ${rollout.library} ${rollout.candidate}; nothing to propose.`, notes };
    }
    files.push({ path: input.requirements.path, before: input.requirements.text, after: r.text });
  } else {
    const { file, spec } = linesSpec(rollout, input.constraints.text);
    const plan = planLines(file, spec);
    kept = plan.kept;
    let after: string | null = null;
    if (kind === 'rollback') {
      const rev = input.reverts ?? null;
      const head = (file.index.get(spec.key) ?? []).map((i) => file.lines[i]!.text);
      if (rev && rev.change.after.length === head.length && rev.change.after.every((l, i) => l.text === head[i])) {
        // The bump's lines are still what the branch has: put back exactly what it replaced.
        after = replaceLibraryLines(file, spec.key, rev.change.before.map((l) => l.text));
        reverted = rev;
      } else {
        if (rev) notes.push(`${path} changed ${rollout.library}'s lines after commit ${rev.commit.slice(0, 12)}; the lines pinning ${rollout.candidate} go back to ${rollout.stable} instead.`);
        if (plan.control.length > 0) after = applyLineChanges(file, plan.control);
      }
      if (after === null) {
        return { propose: false, kind, reason: `${path} on ${branch} does not pin ${rollout.library} at ${rollout.candidate}; nothing to revert.`, notes };
      }
    } else {
      if (plan.candidate.length > 0) after = applyLineChanges(file, plan.candidate);
      if (after === null) {
        const why = plan.candidateLines.length > 0 ? `already pins ${rollout.library} at ${rollout.candidate}` : `does not pin ${rollout.library} at ${rollout.stable}`;
        return { propose: false, kind, reason: `${path} on ${branch} ${why}; nothing to propose.`, notes };
      }
    }
    files.push({ path, before: input.constraints.text, after });
  }

  const { subject, message } = renderMessage({ ...input, branch, reverted, kept, notes });
  return { propose: true, kind, subject, message, files, patch: unifiedDiffs(files), notes };
}
