import { normalizeName } from './names';
import { currentPercent, type Rollout, type RolloutEvent } from './rollout';

/**
 * What goes out to webhooks (docs/operations.md, "Webhooks"): the audit events of rollouts that
 * people want to hear about, as CloudEvents (structured JSON, specversion 1.0) with a
 * severity, and the subscriptions' filters. Pure.
 */
export type Severity = 'info' | 'warning' | 'critical';
const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export type NotificationType =
  | 'rollout.created' | 'rollout.advanced' | 'rollout.held_too_long' | 'rollout.rolled_back' | 'rollout.promoted'
  | 'rollout.ended' | 'proposal.opened' | 'proposal.failed' | 'vote.posted';

export const NOTIFICATION_TYPES: readonly NotificationType[] = [
  'rollout.created', 'rollout.advanced', 'rollout.held_too_long', 'rollout.rolled_back', 'rollout.promoted',
  'rollout.ended', 'proposal.opened', 'proposal.failed', 'vote.posted',
];

/** The webhook type and severity of an audit event, or null when it is not notified. */
export function classify(e: Pick<RolloutEvent, 'type' | 'evidence'>): { type: NotificationType; severity: Severity } | null {
  const ev = (e.evidence ?? {}) as { rule?: unknown; intent?: unknown };
  switch (e.type) {
    case 'created': return { type: 'rollout.created', severity: 'info' };
    case 'advanced': return { type: 'rollout.advanced', severity: 'info' };
    case 'promoted': return { type: 'rollout.promoted', severity: 'info' };
    case 'rolled_back': return { type: 'rollout.rolled_back', severity: 'critical' };
    case 'abandoned':
    case 'superseded': return { type: 'rollout.ended', severity: 'info' };
    case 'decision': return ev.rule === 'max_stage_age' ? { type: 'rollout.held_too_long', severity: 'warning' } : null;
    case 'proposal_opened': return { type: 'proposal.opened', severity: 'info' };
    case 'proposal_failed': return { type: 'proposal.failed', severity: 'warning' };
    case 'vote_posted': return { type: 'vote.posted', severity: ev.intent === 'block' ? 'warning' : 'info' };
    default: return null;
  }
}

export interface WebhookFilter {
  /** Notification types or `prefix.*` patterns; absent: all. */
  events?: string[];
  /** Libraries (any spelling; PEP 503 compared); absent: all. */
  libraries?: string[];
  minSeverity: Severity;
}

export function matches(f: WebhookFilter, n: { type: NotificationType; severity: Severity; library: string }): boolean {
  if (RANK[n.severity] < RANK[f.minSeverity]) return false;
  if (f.libraries && !f.libraries.some((l) => normalizeName(l) === normalizeName(n.library))) return false;
  if (f.events && !f.events.some((p) => p === n.type || p === '*' || (p.endsWith('.*') && n.type.startsWith(p.slice(0, -1))))) return false;
  return true;
}

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  /** Extension attribute: info, warning or critical. */
  severity: Severity;
  data: {
    rollout: {
      id: string; library: string; branch: string; stable: string; candidate: string; stages: number[]; stageIndex: number;
      percent: number; state: string; source: Rollout['source']; url: string | null;
    };
    event: { type: string; actor: string; reason: string; automatic: boolean; at: string; fromState: string; toState: string; fromStage: number; toStage: number };
    /** The decision or vote that came with the event (verdict, rule, reason; label and value), when there was one. */
    detail: Record<string, unknown> | null;
  };
}

export const EVENT_TYPE_PREFIX = 'org.depcanary.';

/** The CloudEvent of one feed entry (`id`: `evt_<feed entry id>`, the same on every retry). */
export function cloudEvent(
  feedId: string, e: RolloutEvent, r: Rollout, n: { type: NotificationType; severity: Severity }, base: { source: string; rolloutUrl: string | null },
): CloudEvent {
  const ev = (e.evidence ?? null) as Record<string, unknown> | null;
  const detail = ev === null ? null : Object.fromEntries(Object.entries(ev).filter(([k]) => ['verdict', 'rule', 'reason', 'stageIndex', 'percent', 'change', 'patchSet', 'label', 'value', 'intent', 'url', 'kind', 'status'].includes(k)));
  return {
    specversion: '1.0',
    id: `evt_${feedId}`,
    source: base.source,
    type: `${EVENT_TYPE_PREFIX}${n.type}`,
    subject: r.id,
    time: new Date(e.at).toISOString(),
    datacontenttype: 'application/json',
    severity: n.severity,
    data: {
      rollout: {
        id: r.id, library: r.library, branch: r.branch, stable: r.stable, candidate: r.candidate, stages: r.stages, stageIndex: e.toStage,
        percent: r.stages[Math.min(e.toStage, r.stages.length - 1)] ?? currentPercent(r), state: e.toState, source: r.source, url: base.rolloutUrl,
      },
      event: {
        type: e.type, actor: e.actor, reason: e.reason, automatic: e.automatic, at: new Date(e.at).toISOString(),
        fromState: e.fromState, toState: e.toState, fromStage: e.fromStage, toStage: e.toStage,
      },
      detail: detail && Object.keys(detail).length ? detail : null,
    },
  };
}
