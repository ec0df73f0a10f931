import type { ProposalInput } from './proposal';
import { armTable, percentLabel, points, readEvidence, type EvidenceSummary } from './proposal-evidence';

/**
 * Subject and commit message of a proposal. The message carries the evidence a reviewer
 * needs without opening depcanary: stage, per-arm runs/machines/failure rate, the
 * difference with its interval, the rule's verdict and the failing tests new in the
 * candidate arm. Footers stay in the last paragraph so Gerrit appends its Change-Id there.
 */
export interface MessageInput extends ProposalInput {
  changedConstraints: boolean;
  excluded: boolean;
  notes: string[];
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

function stageLabel(input: MessageInput): string {
  const { stages, stageIndex } = input.rollout;
  return percentLabel(stages[Math.min(stageIndex, stages.length - 1)] ?? 0);
}

export function renderSubject(input: MessageInput, ev: EvidenceSummary | null): string {
  const { library, stable, candidate } = input.rollout;
  if (input.kind === 'promote') return `Update ${library} to ${candidate}: rolled out to 100% of machines`;
  const why = `${candidate} ${ev?.verdict === 'rollback' ? 'fails' : 'rolled back'} in the ${stageLabel(input)} cohort`;
  if (!input.changedConstraints) return `Exclude ${library} ${candidate}: ${why}`;
  return `Roll back ${library} to ${stable}: ${why}`;
}

function evidenceLines(ev: EvidenceSummary, input: MessageInput): string[] {
  const { stable, candidate } = input.rollout;
  const lines: string[] = [];
  const table = armTable([
    { arm: 'candidate', version: candidate, a: ev.candidate },
    { arm: 'control', version: stable, a: ev.control },
  ]);
  if (table.length) lines.push('', 'Evidence at this stage (candidate against the concurrent control arm):', ...table);
  if (ev.difference !== undefined) {
    const extra: string[] = [];
    if (ev.lower !== undefined && ev.upper !== undefined) extra.push(`interval ${points(ev.lower)} to ${points(ev.upper)}`);
    if (ev.margin !== undefined) extra.push(`margin ${points(ev.margin).replace(/^\+/, '')}`);
    lines.push(...wrap(`difference ${points(ev.difference)} points${extra.length ? ` (${extra.join(', ')})` : ''}`, 72, '  '));
  }
  if (table.length && (ev.candidate?.capped || ev.control?.capped)) {
    lines.push('  (failure rate: failed or errored runs, runs capped per machine-day)');
  }
  if (ev.verdict) {
    lines.push('', `Decision: ${oneLine(ev.verdict, 40)}${ev.rule ? ` (rule: ${oneLine(ev.rule, 80)})` : ''}`);
    if (ev.reason) lines.push(...wrap(oneLine(ev.reason, 600), 72, '  '));
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

export function renderMessage(input: MessageInput): { subject: string; message: string } {
  const ev = readEvidence(input.decision);
  const subject = oneLine(renderSubject(input, ev), 200);
  const { id, library, stable, candidate, stages, stageIndex } = input.rollout;
  const stageNo = Math.min(stageIndex, stages.length - 1) + 1;
  const lines: string[] = [subject, ''];
  if (input.kind === 'promote') {
    lines.push(...wrap(`depcanary rolled ${library} ${candidate} out to every machine through stages ${stages.map(percentLabel).join(', ')} without evidence of a regression against ${stable}. This pins ${candidate} in ${input.constraints.path}.`));
  } else {
    lines.push(...wrap(`depcanary rolled back its progressive rollout of ${library} ${candidate} (stable ${stable}) at stage ${stageNo} of ${stages.length}, where ${stageLabel(input)} of machines ran the candidate.`));
    const did: string[] = [];
    if (input.changedConstraints) did.push(`sets ${library} back to ${stable} in ${input.constraints.path}`);
    if (input.excluded && input.requirements) did.push(`excludes ${candidate} in ${input.requirements.path} so it is not proposed again`);
    if (did.length) lines.push('', ...wrap(`This change ${did.join(' and ')}.`));
  }
  if (ev) lines.push(...evidenceLines(ev, input));
  else if (input.kind === 'rollback') lines.push('', 'No decision-rule evidence is attached (manual rollback).');
  lines.push('', ...wrap(`${input.kind === 'promote' ? 'Promoted' : 'Rolled back'} by ${oneLine(input.actor, 80)}: ${oneLine(input.reason, 600)}`));
  for (const n of input.notes) lines.push(...wrap(`Note: ${oneLine(n, 400)}`));
  if (input.rolloutUrl) lines.push('', `Rollout: ${input.rolloutUrl}`);
  lines.push('', `Depcanary-Rollout: ${id}`);
  return { subject, message: `${lines.join('\n')}\n` };
}
