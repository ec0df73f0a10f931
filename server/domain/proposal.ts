import { parseConstraints, type ConstraintsFile } from './constraints';
import { normalizeName } from './names';
import { unifiedDiffs, type FileEdit } from './patch';
import { renderMessage } from './proposal-message';
import { excludeVersion } from './requirements-edit';
import type { Rollout } from './rollout';
import { sameVersion } from './versions';

/**
 * What depcanary proposes to the shared constraints repository when a rollout ends:
 * a rollback sets the library back to the stable version (and excludes the candidate in
 * the requirements file when one is configured); a promotion pins the candidate. Pure:
 * the caller reads the files (from Gerrit's branch head or the local base) and sends.
 */
export type ProposalKind = 'rollback' | 'promote';

export interface ProposalInput {
  kind: ProposalKind;
  rollout: Pick<Rollout, 'id' | 'library' | 'stable' | 'candidate' | 'stages' | 'stageIndex'>;
  /** The decision rule's explanation, or null for a manual action. */
  decision: unknown;
  actor: string;
  reason: string;
  constraints: { path: string; text: string };
  requirements: { path: string; text: string } | null;
  /** Link to the rollout in depcanary, or null when no public URL is configured. */
  rolloutUrl: string | null;
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

/** Sets every line of `library` whose version is not `version` to `version`, in place. */
export function setPinnedVersion(file: ConstraintsFile, library: string, version: string): { text: string; changed: number } {
  const key = normalizeName(library);
  let changed = 0;
  let text = '';
  for (const line of file.lines) {
    const pin = line.pin;
    if (pin && pin.key === key && !sameVersion(pin.version, version)) {
      text += line.text.slice(0, pin.versionStart) + version + line.text.slice(pin.versionEnd) + line.eol;
      changed++;
    } else {
      text += line.text + line.eol;
    }
  }
  return { text, changed };
}

export function buildProposal(input: ProposalInput): Proposal {
  const { kind, rollout } = input;
  const target = kind === 'rollback' ? rollout.stable : rollout.candidate;
  const notes: string[] = [];
  const files: FileEdit[] = [];

  const base = parseConstraints(input.constraints.text);
  const pinned = base.index.get(normalizeName(rollout.library))?.length ?? 0;
  let constraintsState: string;
  if (pinned === 0) {
    constraintsState = `${input.constraints.path} does not pin ${rollout.library}`;
    notes.push(`${constraintsState}; it is left as it is.`);
  } else {
    const edit = setPinnedVersion(base, rollout.library, target);
    if (edit.changed > 0) {
      files.push({ path: input.constraints.path, before: input.constraints.text, after: edit.text });
    }
    constraintsState = `${input.constraints.path} already pins ${rollout.library} at ${target}`;
  }

  let requirementsState = '';
  let excluded = false;
  if (kind === 'rollback' && input.requirements) {
    const r = excludeVersion(input.requirements.text, rollout.library, rollout.candidate);
    if (r.unparsed.length > 0) {
      notes.push(`${input.requirements.path} line(s) ${r.unparsed.map((i) => i + 1).join(', ')} name ${rollout.library} in a form depcanary does not edit; left as they are.`);
    }
    if (r.found.length === 0) {
      requirementsState = `${input.requirements.path} does not list ${rollout.library}`;
      if (r.unparsed.length === 0) notes.push(`${requirementsState}, so ${rollout.candidate} is not excluded there.`);
    } else if (r.changed.length > 0) {
      files.push({ path: input.requirements.path, before: input.requirements.text, after: r.text });
      excluded = true;
    } else {
      requirementsState = `${input.requirements.path} already excludes ${rollout.candidate}`;
    }
  }

  if (files.length === 0) {
    const reason = [constraintsState, requirementsState].filter((s) => s !== '').join(' and ');
    return { propose: false, kind, reason: `${reason}; nothing to propose.`, notes };
  }
  const { subject, message } = renderMessage({
    ...input,
    changedConstraints: files.some((f) => f.path === input.constraints.path),
    excluded,
    notes,
  });
  return { propose: true, kind, subject, message, files, patch: unifiedDiffs(files), notes };
}
