import { evidenceBlock } from './proposal-message';
import { percentLabel, readEvidence, strongestSegments } from './proposal-evidence';
import { awaitingMerge, type Rollout } from './rollout';

/**
 * The review messages depcanary posts on a bump change it canaries, and its vote. Pure.
 * One message per change and report: every library whose rollout started, moved a stage or
 * ended since the last report gets its paragraph (a bundle's libraries are judged one by
 * one), with the evidence per arm (`evidenceBlock`, shared with the proposals' commit
 * messages, which names a segment that decided a rollback) and per segment (the strongest
 * projects, Pythons or failing tests against the candidate, in decision v2's words), who
 * moved it when a person did, and a link.
 */
export type ChangeRollout = Pick<Rollout, 'id' | 'library' | 'stable' | 'candidate' | 'stages' | 'stageIndex' | 'state' | 'endReason' | 'source' | 'lastDecision'> & {
  /** Who made its last move, when a person did (a promote or rollback by hand): said before the evidence. */
  movedBy?: { actor: string; reason: string } | null;
};

/** Where a rollout is, as the change's reports track it: a new phase is worth a message. */
export function phaseOf(r: Pick<Rollout, 'state' | 'stageIndex'>): string {
  return `${r.state}:${r.stageIndex}`;
}

export type VoteIntent = 'approve' | 'block' | null;

/**
 * The change's vote from all its libraries' rollouts on its patch set: block when one rolled
 * back; recommend merge when every one would complete (at 100% awaiting the merge, or
 * completed); otherwise none yet.
 */
export function voteOf(rollouts: readonly Pick<Rollout, 'state' | 'stageIndex' | 'stages' | 'source'>[]): VoteIntent {
  if (rollouts.length === 0) return null;
  if (rollouts.some((r) => r.state === 'rolled_back')) return 'block';
  if (rollouts.every((r) => awaitingMerge(r) || r.state === 'promoted')) return 'approve';
  return null;
}

const stageText = (r: ChangeRollout) => `stage ${Math.min(r.stageIndex, r.stages.length - 1) + 1} of ${r.stages.length} (${percentLabel(r.stages[Math.min(r.stageIndex, r.stages.length - 1)] ?? 0)})`;

function paragraph(r: ChangeRollout, link: string | null): string[] {
  const head = `${r.library} ${r.stable} -> ${r.candidate}`;
  const lines: string[] = [];
  const byHand = r.movedBy ? [`  Moved by hand by ${r.movedBy.actor}${r.movedBy.reason && r.movedBy.reason !== r.endReason ? `: ${r.movedBy.reason}` : ''}`.slice(0, 600)] : [];
  const evidence = () => [...byHand, ...evidenceBlock(r.lastDecision, { stable: r.stable, candidate: r.candidate }, new Set([r.endReason ?? ''])).map((l) => (l === '' ? '' : `  ${l}`)), ...segmentLines(r.lastDecision)];
  if (r.state === 'active' || r.state === 'paused') {
    if (awaitingMerge(r)) {
      const how = r.movedBy ? 'promoted to 100% of machines by hand' : 'at 100% of machines without evidence of a regression';
      lines.push(`${head}: ${how}; this rollout would complete, merging is recommended. It holds at 100% until the change merges.`);
      lines.push(...evidence());
    } else if (r.stageIndex === 0 && r.lastDecision === null && r.state === 'active') {
      lines.push(`${head}: canary started: ${percentLabel(r.stages[0]!)} of machines get ${r.candidate}, the others stay on ${r.stable} as the concurrent control (stages ${r.stages.map(percentLabel).join(', ')}).`);
    } else {
      lines.push(`${head}: ${r.state === 'paused' ? 'paused at' : 'advanced to'} ${stageText(r)}.`);
      lines.push(...evidence());
    }
  } else if (r.state === 'rolled_back') {
    lines.push(`${head}: rolled back at ${stageText(r)}: ${r.endReason ?? ''}`.trimEnd());
    lines.push(`  ${r.candidate} is no longer served; nothing needs reverting, since this change has not merged.`);
    lines.push(...evidence());
  } else if (r.state === 'promoted') {
    lines.push(`${head}: completed: ${r.endReason ?? 'the change merged'}`);
  } else {
    lines.push(`${head}: ended (${r.state}): ${r.endReason ?? ''}`.trimEnd());
  }
  if (link) lines.push(`  Rollout: ${link}`);
  return lines;
}

/**
 * The evidence per segment at this stage (decision v2): the strongest projects, Pythons or
 * failing tests against the candidate, or that none is worse. A segment that decided a
 * rollback is already in the evidence block ("Segment that decided").
 */
function segmentLines(decision: unknown): string[] {
  const top = strongestSegments(decision, 3);
  if (top === null || readEvidence(decision)?.segment) return [];
  if (top.length === 0) return ['', '  Segments: no project, Python or failing test is worse on the candidate so far.'];
  return ['', '  Segments (strongest evidence against the candidate):', ...top.map((l) =>
    `    ${l.sentence} (${l.figure})${l.suspect ? ': nearly proven worse, it holds the advance' : ''}`.slice(0, 600))];
}

export interface ChangeReport {
  change: number;
  patchSet: number;
  /** Every library the patch set moves, each with its rollout (or why none). */
  rollouts: ChangeRollout[];
  /** The rollouts whose phase is new since the last report (their paragraphs are written). */
  changed: Set<string>;
  /** Libraries of the patch set that got no rollout, and why. */
  skipped: { library: string; reason: string }[];
  /** The vote this report posts (null: none), with the label. */
  vote: { label: string; value: number; intent: 'approve' | 'block' } | null;
  rolloutUrl: (id: string) => string | null;
  /** The patch set this one replaced (its canaries restarted on these versions), or null. */
  replaced?: number | null;
  /** A vote the report would post but Gerrit would not take (label not configured, value not permitted). */
  voteRefused?: { label: string; value: number; reason: string } | null;
}

export function renderChangeReport(rep: ChangeReport): string {
  const n = rep.rollouts.length;
  const lines = [`depcanary canary of patch set ${rep.patchSet} (${n} ${n === 1 ? 'library' : 'libraries'}):`];
  const starting = rep.rollouts.length > 0 && rep.rollouts.every((r) => rep.changed.has(r.id) && r.stageIndex === 0 && r.state === 'active' && r.lastDecision === null);
  if (starting && rep.replaced) lines.push('', `Patch set ${rep.patchSet} replaces patch set ${rep.replaced}: its canaries restart on the versions it pins.`);
  for (const r of rep.rollouts) {
    if (!rep.changed.has(r.id)) continue;
    lines.push('', ...paragraph(r, rep.rolloutUrl(r.id)));
  }
  if (rep.skipped.length > 0 && (starting || rep.rollouts.length === 0)) {
    lines.push('', 'Not canaried:', ...rep.skipped.slice(0, 50).map((s) => `  ${s.library}: ${s.reason}`));
  }
  if (n > 1) {
    const states = rep.rollouts.map((r) => `${r.library} ${awaitingMerge(r) ? 'at 100%, waiting for the merge' : r.state === 'active' ? `at ${stageText(r)}` : r.state.replace('_', ' ')}`);
    lines.push('', `All libraries: ${states.join('; ')}.`);
  }
  if (rep.vote) {
    const v = `${rep.vote.label}${rep.vote.value > 0 ? '+' : ''}${rep.vote.value}`;
    lines.push('', rep.vote.intent === 'approve'
      ? `${v}: every library's canary would complete; merging is recommended.`
      : `${v}: a library's canary was rolled back; this change should not merge as it is.`);
  }
  if (rep.voteRefused) {
    const v = `${rep.voteRefused.label}${rep.voteRefused.value > 0 ? '+' : ''}${rep.voteRefused.value}`;
    lines.push('', `depcanary would vote ${v} here but cannot: ${rep.voteRefused.reason}. Its operators set the label and values (GERRIT_VOTE_LABEL, GERRIT_VOTE_VALUES).`);
  }
  return `${lines.join('\n')}\n`;
}

/** The review message of a patch set whose canary waits for a freeze window to end. */
export function renderDeferral(patchSet: number, w: { end: number; reason: string }): string {
  return [
    `depcanary canary of patch set ${patchSet} deferred: a freeze window is in force until ${new Date(w.end).toISOString()} (${w.reason}).`,
    '',
    'No machine gets the versions this change pins until the window ends; the canary starts then, and reports here.',
  ].join('\n') + '\n';
}
