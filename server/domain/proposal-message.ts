import type { ProposalInput, RevertedCommit } from './proposal';
import { armTable, percentLabel, points, readEvidence, type EvidenceSummary } from './proposal-evidence';

/**
 * Subject and commit message of a proposal, in the requirements repository's forms (see
 * docs/gerrit.md). A decision of the rule carries its evidence (stage, per-arm
 * runs/machines/failure rate, the difference with its interval clamped to ±100 points, the
 * verdict, the failing tests new in the candidate arm); a person's action carries their
 * reason and no rule evidence. Footers (bug, Signed-off-by, Depcanary-Rollout) form the
 * last paragraph, where Gerrit appends its Change-Id.
 */
export interface MessageInput extends ProposalInput {
  branch: string;
  reverted: RevertedCommit | null;
  /** Pythons that keep the stable (promotion of a release that dropped some). */
  kept: string[];
  notes: string[];
}

/** The release bot's subject for a bump: the form reverts quote. */
export function bumpSubject(library: string, version: string): string {
  return `update constraint for ${library} to new release ${version}`;
}

/** `update constraint for X to new release V` → {library, version}, or null. */
export function parseBumpSubject(subject: string): { library: string; version: string } | null {
  const m = /^update constraint for (\S+) to new release (\S+)$/.exec(subject.trim());
  return m ? { library: m[1]!, version: m[2]! } : null;
}

/** Lines are wrapped for `git log`; test ids and URLs are never broken. */
function wrap(text: string, width = 72, indent = ''): string[] {
  const out: string[] = [];
  let line = indent;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.trim() !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = indent + word;
    } else {
      line = line.trim() === '' ? indent + word : `${line} ${word}`;
    }
  }
  if (line.trim() !== '') out.push(line);
  return out;
}

/** Single line, no control characters, bounded: safe inside a subject or a list item. */
function oneLine(s: string, max = 300): string {
  const clean = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

const clampRate = (d: number) => Math.max(-1, Math.min(1, d));

function stagePercent(input: MessageInput): string {
  const { stages, stageIndex } = input.rollout;
  return percentLabel(stages[Math.min(stageIndex, stages.length - 1)] ?? 0);
}

export function renderSubject(input: MessageInput): string {
  const { library, candidate } = input.rollout;
  if (input.kind === 'promote') return bumpSubject(library, candidate);
  if (input.kind === 'exclude') return `Exclude ${library} ${candidate} from global requirements`;
  return `Revert "${input.reverted ? input.reverted.subject : bumpSubject(library, candidate)}"`;
}

function evidenceLines(ev: EvidenceSummary, input: MessageInput, said: Set<string>): string[] {
  const { stable, candidate } = input.rollout;
  const lines: string[] = [];
  const table = armTable([
    { arm: 'candidate', version: candidate, a: ev.candidate },
    { arm: 'control', version: stable, a: ev.control },
  ]);
  if (table.length) lines.push('', 'Evidence at this stage (candidate against the concurrent control arm):', ...table);
  if (ev.difference !== undefined) {
    const extra: string[] = [];
    if (ev.lower !== undefined && ev.upper !== undefined) extra.push(`interval ${points(clampRate(ev.lower))} to ${points(clampRate(ev.upper))}`);
    if (ev.margin !== undefined) extra.push(`margin ${points(ev.margin).replace(/^\+/, '')}`);
    lines.push(...wrap(`difference ${points(clampRate(ev.difference))} points${extra.length ? ` (${extra.join(', ')})` : ''}`, 72, '  '));
  }
  if (table.length && (ev.candidate?.capped || ev.control?.capped)) {
    lines.push('  (failure rate: failed or errored runs, runs capped per machine-day)');
  }
  if (ev.verdict) {
    lines.push('', `Decision: ${oneLine(ev.verdict, 40)}${ev.rule ? ` (rule: ${oneLine(ev.rule, 80)})` : ''}`);
    const reason = ev.reason ? oneLine(ev.reason, 600) : '';
    if (reason && !said.has(reason)) {
      lines.push(...wrap(reason, 72, '  '));
      said.add(reason);
    }
  }
  lines.push(...segmentLines(ev));
  if (ev.newInCandidate.length) {
    lines.push('', 'Failing tests new in the candidate arm:');
    for (const t of ev.newInCandidate) {
      const parts: string[] = [];
      if (t.candidateMachines !== undefined) parts.push(`${t.candidateMachines} machine${t.candidateMachines === 1 ? '' : 's'}`);
      if (t.expectedMachines !== undefined) parts.push(`${Math.round(t.expectedMachines * 10) / 10} expected`);
      lines.push(`  ${oneLine(t.id, 512)}${parts.length ? ` (${parts.join(', ')})` : ''}`);
    }
  }
  return lines;
}

/** The segment that decided (decision v2): which project, Python or tests, on how many machines. */
function segmentLines(ev: EvidenceSummary): string[] {
  if (!ev.segment) return [];
  const lines = ['', 'Segment that decided:', ...wrap(`${oneLine(ev.segment.sentence, 400)} (${oneLine(ev.segment.figure, 80)})`, 72, '  ')];
  if (ev.segment.tests.length > 1 || (ev.segment.tests.length === 1 && !ev.segment.sentence.includes(ev.segment.tests[0]!))) {
    lines.push('  Failing tests:', ...ev.segment.tests.map((t) => `    ${oneLine(t, 512)}`));
  }
  return lines;
}

function pythonsText(vs: string[]): string {
  return vs.length === 1 ? `Python ${vs[0]}` : `Pythons ${vs.slice(0, -1).join(', ')} and ${vs[vs.length - 1]}`;
}

export function renderMessage(input: MessageInput): { subject: string; message: string } {
  const subject = oneLine(renderSubject(input), 200);
  const { id, library, stable, candidate, stages, stageIndex } = input.rollout;
  const ev = readEvidence(input.decision);
  const reason = oneLine(input.reason, 600);
  const said = new Set<string>([reason]);
  const stageNo = Math.min(stageIndex, stages.length - 1) + 1;
  const where = `at stage ${stageNo} of ${stages.length} (${stagePercent(input)} of machines on ${candidate})`;
  const who = oneLine(input.actor, 80);
  const lines: string[] = [subject, ''];

  if (input.kind === 'rollback') {
    if (input.reverted) lines.push(`This reverts commit ${input.reverted.commit}.`, '');
    lines.push(...wrap(`Reason for revert: ${reason}`));
    lines.push('', ...wrap(`depcanary's progressive rollout of ${library} ${candidate} on ${input.branch} was rolled back ${where} by ${ev ? 'the decision rule' : who}. This sets ${library} back to ${stable} in ${input.constraints.path}.`));
  } else if (input.kind === 'exclude') {
    lines.push(...wrap(`depcanary's progressive rollout of ${library} ${candidate} on ${input.branch} was rolled back ${where} by ${ev ? 'the decision rule' : who}: ${reason}`));
    lines.push('', ...wrap(`This excludes ${candidate} in ${input.requirements?.path ?? 'the requirements file'} so that it is not proposed again. It is a change of its own: the revert of the constraint does not depend on it.`));
  } else {
    if (input.kept.length > 0) {
      lines.push(...wrap(`Only the lines for the Pythons ${library} ${candidate} supports move: it does not support ${pythonsText(input.kept)} (Requires-Python ${input.rollout.requiresPython ?? 'unknown'}), which keep ${stable}.`), '');
    }
    lines.push(...wrap(`depcanary rolled ${library} ${candidate} out on ${input.branch} to every machine through stages ${stages.map(percentLabel).join(', ')} without evidence of a regression against ${stable}: ${reason}`));
  }
  if (ev) lines.push(...evidenceLines(ev, input, said));
  else if (input.kind !== 'promote') lines.push('', 'No decision-rule evidence is attached (manual rollback).');
  for (const n of input.notes) lines.push('', ...wrap(`Note: ${oneLine(n, 400)}`));
  if (input.rolloutUrl) lines.push('', `Rollout: ${input.rolloutUrl}`);
  const footers: string[] = [];
  if (input.bug) footers.push(`${input.bug.kind === 'closes' ? 'Closes-Bug' : 'Related-Bug'}: #${input.bug.id}`);
  if (input.signedOffBy) footers.push(`Signed-off-by: ${oneLine(input.signedOffBy, 200)}`);
  footers.push(`Depcanary-Rollout: ${id}`);
  lines.push('', ...footers);
  return { subject, message: `${lines.join('\n')}\n` };
}

/**
 * The evidence block of a commit message (arms, difference, decision, new failing tests and
 * whatever the decision record adds, e.g. its segments), for other messages that report the
 * same evidence: the review messages on a bump change (change-message.ts). Empty without
 * rule evidence.
 */
export function evidenceBlock(decision: unknown, versions: { stable: string; candidate: string }, said: Set<string> = new Set()): string[] {
  const ev = readEvidence(decision);
  return ev ? evidenceLines(ev, { rollout: versions } as MessageInput, said) : [];
}
