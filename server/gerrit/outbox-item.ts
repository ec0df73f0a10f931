import type { Action, Rollout } from '../domain/rollout';
import type { ProposalKind } from '../domain/proposal';
import type { ProposalOptions } from '../services/rollouts';
import type { OutboxItem } from './types';

/**
 * The outbox items the rollout store writes in the same Lua script as a rollback (its
 * revert, and the separate exclusion change) or a promotion (RolloutService's
 * `outboxFor`). The id, `<kind>:<rolloutId>`, makes the write idempotent (HSETNX): one
 * proposal per rollout and kind, however often it is triggered.
 */
export function outboxId(kind: ProposalKind, rolloutId: string): string {
  return `${kind}:${rolloutId}`;
}

export function outboxFor(kind: ProposalKind, next: Rollout, action: Action, decision: unknown, options: ProposalOptions = {}): { id: string; item: OutboxItem } {
  const { lastDecision: _d, proposal: _p, ...rollout } = next;
  const id = outboxId(kind, next.id);
  return {
    id,
    item: {
      id,
      kind,
      rolloutId: next.id,
      createdAt: next.updatedAt,
      attempts: 0,
      status: 'pending',
      payload: { rollout, decision: decision ?? null, reason: action.reason, actor: action.actor, automatic: action.automatic ?? false, options },
    },
  };
}
