/**
 * Every Redis key name, built in one place. Scripts get their keys from here as KEYS (never
 * build a name themselves), so every name is routable on Redis Cluster, which puts a key in
 * the slot of its hash tag (the part in braces) and lets one script or MULTI touch one slot
 * only. The names fall in deliberate slot groups:
 *
 *   <p>:{ctl}:...         the control plane: rollout records, their index and active set, audit
 *                         streams and the feed, decision series, branch bases, overrides and
 *                         emergency pins, both outboxes, leases, the version. One slot: a
 *                         transition commits to several of them at once. Written at the rate of
 *                         people and decisions, read by every pins reload (one node).
 *   <p>:ro:{<id>}:...     one rollout's evidence (counters, machine-days, arm aggregates, failing
 *                         tests, segment aggregates, source caps, its per-day report dedupe): what ingestion
 *                         writes and an evaluation reads. Expire once the rollout has ended.
 *   <p>:fleet:{<day>}:... one UTC day's fleet history and its report dedupe.
 *   <p>:{enrol}:...       machine enrolments (id → credential hash, hash → enrolment).
 *   own slots             tokens, the enrolment salt, a machine's recent reports, rate limits,
 *                         Gerrit change watches, the legacy report dedupe (before this layout).
 *
 * Pub/sub channels (`changed`, `counted`) are not keys: cluster PUBLISH reaches every node.
 * server/store/key-migration.ts moves data stored under the names before this layout.
 */
import { CODE } from '../domain/segments/names';

export function keys(prefix: string) {
  const k = (...parts: (string | number)[]) => [prefix, ...parts].join(':');
  const ctl = (...parts: (string | number)[]) => k('{ctl}', ...parts);
  /** One rollout's slot. An id holding braces still gives every key of it the same tag. */
  const ro = (id: string, ...parts: (string | number)[]) => k('ro', `{${id}}`, ...parts);
  const fleet = (day: string, ...parts: (string | number)[]) => k('fleet', `{${day}}`, ...parts);
  const enrol = (...parts: string[]) => k('{enrol}', ...parts);
  return {
    prefix,
    // --- control plane: one slot ------------------------------------------------------------
    rollout: (id: string) => ctl('rollout', id),
    rolloutIndex: ctl('rollouts'),
    active: ctl('active'),
    events: (id: string) => ctl('events', id),
    version: ctl('version'),
    /** Set: ended rollouts whose evidence keys still wait for their expiry (services/retention.ts). */
    ending: ctl('ending'),
    /** Hash: the key layout's version and what its migration left (store/key-migration.ts). */
    schema: ctl('schema'),
    /** String: held while one process migrates old key names (SET NX PX). */
    migrating: ctl('migrating'),
    /** Per branch (master, stable/<series>, ...): the base file, promotion overrides, emergency pins. */
    base: (branch: string) => ctl('branch', branch, 'base'),
    baseOverrides: (branch: string) => ctl('branch', branch, 'overrides'),
    emergencyPins: (branch: string) => ctl('branch', branch, 'emergency'),
    /** Set of the branches that have a base. */
    branches: ctl('branches'),
    /** Field of `active`: one active rollout per (branch, library). */
    activeField: (branch: string, key: string) => `${branch}|${key}`,
    /** Before branches: master's base and overrides (moved by BaseStore.migrate). */
    legacyBase: ctl('base'),
    legacyBaseOverrides: ctl('base', 'overrides'),
    /** The controller's chart of one rollout's evaluations (kept with the audit trail). */
    series: (id: string) => ctl('series', id),
    lease: (name: string) => ctl('lease', name),
    leaseFence: (name: string) => ctl('lease', name, 'fence'),
    /** Gerrit proposals: the outbox (items, due, claims, merge watch), written by transitions. */
    outboxItems: ctl('outbox', 'items'),
    outboxDue: ctl('outbox', 'due'),
    outboxClaims: ctl('outbox', 'claims'),
    outboxWatch: ctl('outbox', 'watch'),
    /** Audit feed of every rollout's events (stream, trimmed), read by the notifier for webhooks. */
    feed: ctl('feed'),
    /** The notifier's position in the feed (the last entry id fanned out to webhooks). */
    feedCursor: ctl('feed', 'cursor'),
    /** Webhook deliveries: the outbox mechanism (items, due, claims) in a lane of its own. */
    webhookItems: ctl('outbox', 'webhooks', 'items'),
    webhookDue: ctl('outbox', 'webhooks', 'due'),
    webhookClaims: ctl('outbox', 'webhooks', 'claims'),
    webhookWatch: ctl('outbox', 'webhooks', 'watch'),
    // --- pub/sub channels ---------------------------------------------------------------------
    changed: k('changed'),
    /** Pub/sub: comma-separated rollout ids whose counters just changed. */
    counted: k('counted'),
    // --- own slots ------------------------------------------------------------------------------
    tokens: k('tokens'),
    /** Layout 1 (one script per report): one key per counted report id, read until the last expires. */
    legacyReportSeen: (reportId: string) => k('report', reportId),
    /** List: a machine's latest reports, `<report id>\t<JSON>` (ingest.lua). */
    machineReports: (machine: string) => k('machine-reports', machine),
    /** Bump changes canaried before they merge: hash change number → watch record (gerrit/change-watch.ts). */
    gerritChanges: k('gerrit', 'changes'),
    /** Rate-limit counters of one limit (services/rate-limits.ts); the library appends `:<key>`. */
    rateLimit: (name: string) => k('rl', name),
    // --- one UTC day of the fleet: one slot -------------------------------------------------------
    /** Fleet history: hash machine → "runs,failures,errors[,source]" for one UTC day, every counted report (10-day TTL). */
    fleetMachineDays: (day: string) => fleet(day, 'md'),
    /** Hash: capped runs of the fleet history per source on one UTC day (10-day TTL, ingest.lua). */
    fleetSourceDays: (day: string) => fleet(day, 'src'),
    /** Set: report ids already counted in the day's fleet history (expires after the last day a report of it is taken). */
    fleetSeen: (day: string) => fleet(day, 'seen'),
    // --- one rollout's evidence: one slot -----------------------------------------------------------
    counters: (id: string, stage: number | 'all', arm: string) => ro(id, 'c', stage, arm),
    /** Sets beside each counters hash: machines, and machines with a failing run. */
    counterMachines: (id: string, stage: number | 'all', arm: string) => ro(id, 'c', stage, arm, 'm'),
    counterFailingMachines: (id: string, stage: number | 'all', arm: string) => ro(id, 'c', stage, arm, 'fm'),
    /** Hash (evidence layout 2): "<machine>|<UTC day>" → "runs,failures,errors[,source]". */
    machineDays: (id: string, arm: string) => ro(id, 'md', arm),
    /**
     * Hash (evidence layout 3, store/machine-record.ts): machine → its record, everything the
     * fold keeps per machine (in layout 2 the counters' machine sets, machineDays,
     * failingTestMachines, armAggregateMachines and the segment caps, firsts and budget of the machine).
     */
    machineRecords: (id: string) => ro(id, 'mr'),
    failingTests: (id: string, arm: string) => ro(id, 'ft', arm),
    /** Set: `<test id>\t<machine>` pairs already counted in failingTests. */
    failingTestMachines: (id: string, arm: string) => ro(id, 'ftm', arm),
    // the arm aggregate the rule reads (store/rollout-fold.ts keeps it, domain/decision/stored-aggregate.ts reads it)
    /** Hash: the arm's cap, sums (STORED_SUMS) and `partial` when it misses runs. */
    armAggregate: (id: string, arm: string) => ro(id, 'arm', arm),
    /** Hash: machine → "N_m,F_m,runs,failed runs,last day,source". */
    armAggregateMachines: (id: string, arm: string) => ro(id, 'arm', arm, 'm'),
    /** Hash: source → "N_c,F_c,failing machines,all-failing machines". */
    armAggregateSources: (id: string, arm: string) => ro(id, 'arm', arm, 'c'),
    /** Hash: UTC day → machines whose last day it is (windowMachines). */
    armAggregateDays: (id: string, arm: string) => ro(id, 'arm', arm, 'days'),
    /** Hash: counted, mismatched, sourceCapped, lastReportAt; logged / folded (the log's positions); layout (the evidence layout, store/rollout-fold.ts); retiredAt once ended. */
    rolloutMeta: (id: string) => ro(id, 'meta'),
    /** List: report parts counted for the rollout and not folded into its evidence yet (ingest.lua R, fold.lua). */
    rolloutLog: (id: string) => ro(id, 'log'),
    /** Set: report ids already counted for the rollout, per UTC day of the report (expires with the day's dedupe window). */
    rolloutSeen: (id: string, day: string) => ro(id, 'seen', day),
    // segment evidence (server/domain/segments; written by store/rollout-fold.ts from the domain's plans)
    /** Set: the segments of one family (p | y | s) admitted for the rollout (bounded, never shrinks). */
    segmentTable: (id: string, family: string) => ro(id, 'sg', 'adm', family),
    /** Set: first occurrences (<segment>\t<machine>) already counted. */
    segmentFirst: (id: string) => ro(id, 'sg', 'first'),
    /** Hash: runs per segment, machine and UTC day (the cap counters). */
    segmentCaps: (id: string) => ro(id, 'sg', 'cap'),
    /** Hash: new segments added per machine and UTC day (the admission budget). */
    segmentBudget: (id: string) => ro(id, 'sg', 'budget'),
    /** Hash: admissions refused per family code. */
    segmentRefused: (id: string) => ro(id, 'sg', 'refused'),
    /** Hash: the arm's segment aggregates (`<stat>\t<code>\t<name>` → count). */
    segmentAggregates: (id: string, arm: string) => ro(id, 'sg', 'agg', arm),
    /** Hash: capped runs counted per `<arm>|<source>|<day>` for one rollout (the source cap, store/rollout-fold.ts). */
    sourceCaps: (id: string) => ro(id, 'srccap'),
    /** Any name in a rollout's evidence slot: for the key migration only (name new keys above). */
    rolloutData: (id: string, ...parts: string[]) => ro(id, ...parts),
    /**
     * Every evidence key of a rollout of `stages` stages, the meta hash first: what expires once
     * it has ended (services/retention.ts). A new evidence key must be added here (the retention test
     * checks that nothing in the rollout's slot is left without a TTL). The per-day dedupe sets
     * (rolloutSeen) expire by themselves.
     */
    rolloutEvidence(id: string, stages: number): string[] {
      const arms = ['candidate', 'control'];
      const out = [this.rolloutMeta(id), this.rolloutLog(id), this.machineRecords(id), this.sourceCaps(id), this.segmentFirst(id), this.segmentCaps(id), this.segmentBudget(id), this.segmentRefused(id)];
      for (const family of Object.values(CODE)) out.push(this.segmentTable(id, family));
      for (const arm of arms) {
        out.push(this.machineDays(id, arm), this.failingTests(id, arm), this.failingTestMachines(id, arm), this.segmentAggregates(id, arm));
        out.push(this.armAggregate(id, arm), this.armAggregateMachines(id, arm), this.armAggregateSources(id, arm), this.armAggregateDays(id, arm));
        for (const stage of [...Array.from({ length: stages }, (_, i) => i), 'all' as const]) {
          out.push(this.counters(id, stage, arm), this.counterMachines(id, stage, arm), this.counterFailingMachines(id, stage, arm));
        }
      }
      return out;
    },
    // --- enrolled reporters (store/enrolment-store.ts, docs/trust.md): one slot ---------------------
    /** Hash: machine id → sha256 of its credential (one enrolment per machine id). */
    enrolled: enrol('machines'),
    /** Hash: sha256 of a credential → `{machine, source, enrolledAt}` JSON. */
    enrolCredentials: enrol('credentials'),
    /** String: the secret salt of the opaque source ids of address blocks. */
    enrolSalt: k('enrol', 'salt'),
  };
}
export type Keys = ReturnType<typeof keys>;

/** The key layout this module builds (stored in `schema`, field `layout`). */
export const KEY_LAYOUT = 2;

/** Keys of layout 1 one of which a store of that layout always has (its version, set by the first base import). */
export function layout1Markers(prefix: string): string[] {
  return ['version', 'branches', 'base', 'rollouts'].map((n) => `${prefix}:${n}`);
}

/**
 * The name a key of layout 1 (before hash tags: every name `<p>:<name>`, no braces) has now;
 * null when it keeps its name (or is not one of ours), 'drop' when it is no longer used.
 */
export function fromLayout1(prefix: string, name: string): string | null | 'drop' {
  if (!name.startsWith(`${prefix}:`) || name.includes('{')) return null;
  const now = layout1Name(prefix, name);
  return now === name ? null : now;
}

function layout1Name(prefix: string, name: string): string | null | 'drop' {
  const k = keys(prefix);
  const rest = name.slice(prefix.length + 1);
  const [head, ...tail] = rest.split(':');
  const one = tail.length === 1 ? tail[0]! : null;
  switch (head) {
    case 'rollout': return one !== null ? k.rollout(one) : null;
    case 'events': return one !== null ? k.events(one) : null;
    case 'rollouts': return tail.length === 0 ? k.rolloutIndex : null;
    case 'active': return tail.length === 0 ? k.active : null;
    case 'version': return tail.length === 0 ? k.version : null;
    case 'branches': return tail.length === 0 ? k.branches : null;
    case 'base': return tail.length === 0 ? k.legacyBase : one === 'overrides' ? k.legacyBaseOverrides : null;
    case 'feed': return tail.length === 0 ? k.feed : one === 'cursor' ? k.feedCursor : null;
    case 'ingest': return tail.length === 0 ? 'drop' : null;
    case 'branch': {
      // branch:<branch>:base|overrides|emergency (a branch name has no colon)
      if (tail.length !== 2) return null;
      const [b, what] = tail as [string, string];
      return what === 'base' ? k.base(b) : what === 'overrides' ? k.baseOverrides(b) : what === 'emergency' ? k.emergencyPins(b) : null;
    }
    case 'lease':
      if (one !== null) return k.lease(one);
      return tail.length === 2 && tail[1] === 'fence' ? k.leaseFence(tail[0]!) : null;
    case 'outbox': {
      const lane = tail[0] === 'webhooks' ? tail.slice(1) : tail;
      if (lane.length !== 1) return null;
      const gerrit = { items: k.outboxItems, due: k.outboxDue, claims: k.outboxClaims, watch: k.outboxWatch };
      const hooks = { items: k.webhookItems, due: k.webhookDue, claims: k.webhookClaims, watch: k.webhookWatch };
      return (tail[0] === 'webhooks' ? hooks : gerrit)[lane[0] as keyof typeof gerrit] ?? null;
    }
    case 'enrol': return one === 'machines' ? k.enrolled : one === 'credentials' ? k.enrolCredentials : null;
    case 'fleet':
      // fleet:md:<day>, fleet:src:<day>
      if (tail.length !== 2) return null;
      return tail[0] === 'md' ? k.fleetMachineDays(tail[1]!) : tail[0] === 'src' ? k.fleetSourceDays(tail[1]!) : null;
    case 'ro': {
      // ro:<id>:<evidence key>; the decision series joins the audit trail
      if (tail.length < 2) return null;
      const [id, ...what] = tail as [string, ...string[]];
      return what.length === 1 && what[0] === 'series' ? k.series(id) : k.rolloutData(id, ...what);
    }
    default: return null;
  }
}
