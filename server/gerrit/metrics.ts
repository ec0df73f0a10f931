import { Counter, type Registry } from 'prom-client';

/**
 * Proposal outcomes: created / updated / unchanged (a change was sent or confirmed),
 * nothing_to_propose, not_sent (Gerrit not configured), skipped (promotions off),
 * retry (a transient failure, rescheduled) and failed (a permanent failure).
 */
export type ProposalOutcome = 'created' | 'updated' | 'unchanged' | 'nothing_to_propose' | 'not_sent' | 'skipped' | 'retry' | 'failed';

export function createGerritMetrics(registry: Registry) {
  const existing = registry.getSingleMetric('depcanary_gerrit_proposals_total') as Counter<'outcome'> | undefined;
  const proposals =
    existing ??
    new Counter({
      name: 'depcanary_gerrit_proposals_total',
      help: 'Gerrit proposals by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
  const syncs =
    (registry.getSingleMetric('depcanary_gerrit_base_syncs_total') as Counter<'outcome'> | undefined) ??
    new Counter({
      name: 'depcanary_gerrit_base_syncs_total',
      help: 'Base constraints refreshes from the Gerrit branch, by outcome (replaced, unchanged, error)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
  return {
    proposals: (outcome: ProposalOutcome) => proposals.inc({ outcome }),
    baseSync: (outcome: 'replaced' | 'unchanged' | 'error') => syncs.inc({ outcome }),
  };
}
export type GerritMetrics = ReturnType<typeof createGerritMetrics>;
