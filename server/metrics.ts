import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FoldEvent } from './store/telemetry-store';

/** One registry per app instance (tests create many apps in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'depcanary_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
      registers: [registry],
    }),
    reportsIngested: new Counter({
      name: 'depcanary_reports_ingested_total',
      help: 'Reports stored, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    reportsDuplicate: new Counter({
      name: 'depcanary_reports_duplicate_total',
      help: 'Replayed reports accepted but not counted again',
      registers: [registry],
    }),
    reportsRejected: new Counter({
      name: 'depcanary_reports_rejected_total',
      help: 'Report requests rejected, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    enrolments: new Counter({
      name: 'depcanary_enrolments_total',
      help: 'Machines enrolled (POST /v1/enrol)',
      registers: [registry],
    }),
    pinsServed: new Counter({
      name: 'depcanary_pins_served_total',
      help: 'Constraints and pins responses, by endpoint and whether any candidate override applied',
      labelNames: ['endpoint', 'overridden'] as const,
      registers: [registry],
    }),
    rolloutsByState: new Gauge({
      name: 'depcanary_rollouts',
      help: 'Rollouts by state',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    stagePercent: new Gauge({
      name: 'depcanary_stage_percent',
      help: 'Current candidate percent of each live rollout, by library and constraints branch',
      labelNames: ['library', 'branch'] as const,
      registers: [registry],
    }),
    decisions: new Counter({
      name: 'depcanary_decisions_total',
      help: 'Controller decisions, by verdict and whether they were applied',
      labelNames: ['verdict', 'applied'] as const,
      registers: [registry],
    }),
    decisionLatency: new Histogram({
      name: 'depcanary_decision_latency_seconds',
      help: 'Time from the newest report a decision used to the decision being applied',
      labelNames: ['verdict'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    // --- replicas (README "Deployment") ---
    controllerLeader: new Gauge({
      name: 'depcanary_controller_leader',
      help: '1 while this process holds the controller lease (one process of all replicas), else 0',
      registers: [registry],
    }),
    controllerFence: new Gauge({
      name: 'depcanary_controller_fence',
      help: 'The fencing token of the controller lease while this process holds it (grows with each change of hands), else 0',
      registers: [registry],
    }),
    // --- counting (README "Deployment": claimed and logged at ingestion, counted by a fold) ---
    foldParts: new Counter({
      name: 'depcanary_fold_parts_total',
      help: 'Logged report parts a fold of this process took, by result: counted, unreadable (passed over), after_end (the rollout had ended), conflict (another process folded them first)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    foldRuns: new Counter({
      name: 'depcanary_fold_runs_total',
      help: 'Runs of the counting in folds of this process: one a fold when the reads it foresaw were all it needed, one more after each round of reads it missed',
      registers: [registry],
    }),
    foldDuration: new Histogram({
      name: 'depcanary_fold_duration_seconds',
      help: 'Time of one fold of a rollout log (reads, counting, the write), by result',
      labelNames: ['result'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    foldBacklog: new Gauge({
      name: 'depcanary_fold_backlog',
      help: 'Report parts logged and not folded yet, summed over live rollouts (read at each scrape)',
      registers: [registry],
    }),
    pinsVersion: new Gauge({
      name: 'depcanary_pins_version',
      help: 'The store version of the pins this process serves (equal on every replica once a change has reached them)',
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

/** Counts a fold (store/telemetry-store.ts) into the metrics. */
export function countFold(m: Metrics, e: FoldEvent): void {
  m.foldDuration.observe({ result: e.result }, e.seconds);
  m.foldRuns.inc(e.runs);
  if (e.result === 'conflict') m.foldParts.inc({ result: 'conflict' }, e.parts);
  else if (e.result === 'ended') m.foldParts.inc({ result: 'after_end' }, e.parts);
  else {
    if (e.parts - e.unreadable > 0) m.foldParts.inc({ result: 'counted' }, e.parts - e.unreadable);
    if (e.unreadable > 0) m.foldParts.inc({ result: 'unreadable' }, e.unreadable);
  }
}
