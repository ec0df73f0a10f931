/**
 * Every Redis key name, built in one place: `<prefix>:<name>[:<id>...]`. Lua scripts get
 * the prefix as an argument and build the same names (see the headers of lua/*.lua), so
 * any change here must be mirrored there.
 */
export function keys(prefix: string) {
  const k = (...parts: (string | number)[]) => [prefix, ...parts].join(':');
  return {
    prefix,
    rollout: (id: string) => k('rollout', id),
    rolloutIndex: k('rollouts'),
    active: k('active'),
    events: (id: string) => k('events', id),
    version: k('version'),
    changed: k('changed'),
    /** Pub/sub: comma-separated rollout ids whose counters just changed. */
    counted: k('counted'),
    /** Per branch (master, stable/<series>, ...): the base file, promotion overrides, emergency pins. */
    base: (branch: string) => k('branch', branch, 'base'),
    baseOverrides: (branch: string) => k('branch', branch, 'overrides'),
    emergencyPins: (branch: string) => k('branch', branch, 'emergency'),
    /** Set of the branches that have a base. */
    branches: k('branches'),
    /** Field of `active`: one active rollout per (branch, library). */
    activeField: (branch: string, key: string) => `${branch}|${key}`,
    /** Before branches: master's base and overrides (moved by BaseStore.migrate). */
    legacyBase: k('base'),
    legacyBaseOverrides: k('base', 'overrides'),
    tokens: k('tokens'),
    reportSeen: (reportId: string) => k('report', reportId),
    machineReports: (machine: string) => k('machine-reports', machine),
    ingestTotals: k('ingest'),
    /** Fleet history: hash machine → "runs,failures,errors" for one UTC day, every counted report (10-day TTL). */
    fleetMachineDays: (day: string) => k('fleet', 'md', day),
    counters: (id: string, stage: number | 'all', arm: string) => k('ro', id, 'c', stage, arm),
    machineDays: (id: string, arm: string) => k('ro', id, 'md', arm),
    failingTests: (id: string, arm: string) => k('ro', id, 'ft', arm),
    // the arm aggregate the rule reads (ingest.lua keeps it, domain/decision/stored-aggregate.ts reads it)
    /** Hash: the arm's cap, sums (STORED_SUMS) and `partial` when it misses runs. */
    armAggregate: (id: string, arm: string) => k('ro', id, 'arm', arm),
    /** Hash: machine → "N_m,F_m,runs,failed runs,last day,source". */
    armAggregateMachines: (id: string, arm: string) => k('ro', id, 'arm', arm, 'm'),
    /** Hash: source → "N_c,F_c,failing machines,all-failing machines". */
    armAggregateSources: (id: string, arm: string) => k('ro', id, 'arm', arm, 'c'),
    /** Hash: UTC day → machines whose last day it is (windowMachines). */
    armAggregateDays: (id: string, arm: string) => k('ro', id, 'arm', arm, 'days'),
    rolloutMeta: (id: string) => k('ro', id, 'meta'),
    // segment evidence (server/domain/segments; written by ingest.lua from the domain's plans)
    /** Set: the segments of one family (p | y | s) admitted for the rollout (bounded, never shrinks). */
    segmentTable: (id: string, family: string) => k('ro', id, 'sg', 'adm', family),
    /** Set: first occurrences (<segment>\t<machine>) already counted. */
    segmentFirst: (id: string) => k('ro', id, 'sg', 'first'),
    /** Hash: runs per segment, machine and UTC day (the cap counters). */
    segmentCaps: (id: string) => k('ro', id, 'sg', 'cap'),
    /** Hash: new segments added per machine and UTC day (the admission budget). */
    segmentBudget: (id: string) => k('ro', id, 'sg', 'budget'),
    /** Hash: admissions refused per family code. */
    segmentRefused: (id: string) => k('ro', id, 'sg', 'refused'),
    /** Hash: the arm's segment aggregates (`<stat>\t<code>\t<name>` → count). */
    segmentAggregates: (id: string, arm: string) => k('ro', id, 'sg', 'agg', arm),
    series: (id: string) => k('ro', id, 'series'),
    lease: (name: string) => k('lease', name),
    leaseFence: (name: string) => k('lease', name, 'fence'),
    outboxItems: k('outbox', 'items'),
    outboxDue: k('outbox', 'due'),
    /** Bump changes canaried before they merge: hash change number → watch record (gerrit/change-watch.ts). */
    gerritChanges: k('gerrit', 'changes'),
    /** Audit feed of every rollout's events (stream, trimmed), read by the notifier for webhooks. */
    feed: k('feed'),
    /** The notifier's position in the feed (the last entry id fanned out to webhooks). */
    feedCursor: k('feed', 'cursor'),
    /** Webhook deliveries: the outbox mechanism (items, due, claims) in a lane of its own. */
    webhookItems: k('outbox', 'webhooks', 'items'),
    webhookDue: k('outbox', 'webhooks', 'due'),
    webhookClaims: k('outbox', 'webhooks', 'claims'),
    // enrolled reporters (store/enrolment-store.ts, docs/trust.md)
    /** Hash: machine id → sha256 of its credential (one enrolment per machine id). */
    enrolled: k('enrol', 'machines'),
    /** Hash: sha256 of a credential → `{machine, source, enrolledAt}` JSON. */
    enrolCredentials: k('enrol', 'credentials'),
    /** String: the secret salt of the opaque source ids of address blocks. */
    enrolSalt: k('enrol', 'salt'),
    /** Hash: capped runs counted per `<arm>|<source>|<day>` for one rollout (the source cap, ingest.lua). */
    sourceCaps: (id: string) => k('ro', id, 'srccap'),
    /** Hash: capped runs of the fleet history per source on one UTC day (10-day TTL, ingest.lua). */
    fleetSourceDays: (day: string) => k('fleet', 'src', day),
    /** Rate-limit counters of one limit (services/rate-limits.ts); the library appends `:<key>`. */
    rateLimit: (name: string) => k('rl', name),
  };
}
export type Keys = ReturnType<typeof keys>;
