import { ago, clock, table, truncate, type Style } from './format';
import type { View } from './types';

/**
 * Layout of the bump-change canaries, signoffs, freeze windows and webhook deliveries, for
 * `show`, `rollouts`, `changes` and `webhooks` (commands/canary.ts).
 */
export function renderChanges(changes: WatchRecord[], s: Style, width?: number): string {
  if (changes.length === 0) return s.dim('No bump change canaried yet (the watch query matched none)\n');
  const rows = changes.map((c) => [
    String(c.number), String(c.patchSet), c.status, c.branch, String(c.rollouts.length),
    c.vote === null ? '–' : c.vote > 0 ? s.green(`+${c.vote}`) : s.red(String(c.vote)), c.subject,
  ]);
  const lines = table(['CHANGE', 'PS', 'STATUS', 'BRANCH', 'ROLLOUTS', 'VOTE', 'SUBJECT'], rows, s);
  const out = [lines[0]!];
  changes.forEach((c, i) => {
    out.push(lines[i + 1]!);
    const notes: string[] = [];
    if (c.rollouts.length) notes.push(`rollouts ${c.rollouts.join(', ')}`);
    if (c.deferred) notes.push(s.yellow(`deferred: ${c.deferred}`));
    for (const k of c.skipped.slice(0, 5)) notes.push(`not canaried: ${k.library}: ${k.reason}`);
    if (c.skipped.length > 5) notes.push(`…and ${c.skipped.length - 5} more not canaried`);
    if (c.voteRefused) notes.push(s.yellow(`vote not posted: ${c.voteRefused.label}${c.voteRefused.value > 0 ? '+' : ''}${c.voteRefused.value}: ${c.voteRefused.reason}`));
    if (c.error) notes.push(s.red(`last error: ${c.error}`));
    for (const n of notes) out.push(`  ↳ ${width ? truncate(n, width - 4) : n}`);
  });
  return out.join('\n') + '\n';
}

export function renderWebhooks(webhooks: WebhookView[], deliveries: DeliveryView[], s: Style, now: number): string {
  if (webhooks.length === 0 && deliveries.length === 0) return s.dim('No webhooks configured (DEPCANARY_WEBHOOKS or DEPCANARY_WEBHOOKS_FILE)\n');
  const out = table(['WEBHOOK', 'URL', 'EVENTS', 'LIBRARIES', 'MIN SEVERITY'], webhooks.map((w) => [
    w.name, w.url, w.events?.join(',') ?? 'all', w.libraries?.join(',') ?? 'all', w.minSeverity,
  ]), s);
  out.push('');
  if (deliveries.length === 0) {
    out.push(s.dim('No deliveries yet'));
    return out.join('\n') + '\n';
  }
  out.push(...table(['DELIVERY', 'EVENT', 'LIBRARY', 'STATUS', 'TRIES', 'HTTP', 'WHEN', 'LAST ERROR'], deliveries.map((d) => [
    d.id, d.type, d.library, statusText(d, s), String(d.attempts), d.lastStatus ? String(d.lastStatus) : '–',
    d.status === 'pending' && d.nextAttemptAt ? `next ${d.nextAttemptAt <= now + 1000 ? 'now' : `in ${ago(now, d.nextAttemptAt).replace(/ ago$/, '')}`}` : d.lastAttemptAt ? ago(d.lastAttemptAt, now) : '–',
    d.lastError ? s.dim(d.lastError) : '',
  ]), s));
  return out.join('\n') + '\n';
}

function statusText(d: DeliveryView, s: Style): string {
  return d.status === 'delivered' ? s.green(d.status) : d.status === 'failed' ? s.red(d.status) : s.yellow(d.status);
}

const stageName = (v: Pick<View, 'stages'>, i: number) => `stage ${i + 1} (${v.stages[i] ?? '?'}%)`;

/** Lines `depcanary show` prints for a rollout's source change, signoffs and freeze window. */
export function gateLines(v: View, s: Style): string[] {
  const out: string[] = [];
  if (v.source) {
    const bundle = v.source.bundle > 1 ? `, one of the ${v.source.bundle} libraries it moves` : '';
    out.push(`${s.bold('Change')}  ${v.source.change} patch set ${v.source.patchSet} on ${v.source.branch} (topic ${v.source.topic ?? 'none'}${bundle})  ${v.source.url}`);
    out.push(`        ${s.dim(v.source.subject)}`);
  }
  const live = v.state === 'active' || v.state === 'paused';
  if (live && v.signoff.needed > 0) {
    const have = v.signoff.approvers.length;
    const text = `${stageName(v, v.stageIndex)} needs ${v.signoff.needed} approval${v.signoff.needed === 1 ? '' : 's'} before it advances: ${have} so far${have ? ` (${v.signoff.approvers.join(', ')})` : ''}`;
    out.push(`${s.bold('Signoff')} ${have >= v.signoff.needed ? s.green(text) : s.yellow(`${text}; depcanary approve ${v.id} --reason ...`)}`);
  }
  for (const a of v.approvals ?? []) {
    out.push(`  ${s.green('✓')} ${stageName(v, a.stageIndex)} approved by ${a.actor} ${clock(a.at)}  ${s.dim(a.reason)}`);
  }
  if (v.freeze) out.push(`${s.bold('Freeze')}  ${s.yellow(`no automatic advance until ${clock(v.freeze.until)}: ${v.freeze.reason}`)}`);
  return out;
}

/** The bump change in one short phrase ("change 1234/2"), for lists. */
export function sourceText(v: Pick<View, 'source'>): string | null {
  return v.source ? `change ${v.source.change}/${v.source.patchSet}` : null;
}

export interface WatchRecord {
  number: number; patchSet: number; status: string; branch: string; subject: string; rollouts: string[];
  skipped: { library: string; reason: string }[]; deferred: string | null; vote: number | null; error: string | null;
  voteRefused?: { label: string; value: number; reason: string } | null;
}

export interface WebhookView { name: string; url: string; events: string[] | null; libraries: string[] | null; minSeverity: string }

export interface DeliveryView {
  id: string; type: string; library: string; status: 'pending' | 'delivered' | 'failed'; attempts: number;
  lastStatus?: number; lastError?: string; lastAttemptAt?: number; nextAttemptAt?: number;
}
