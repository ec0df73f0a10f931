import { Mutex, Semaphore } from 'async-mutex';
import type { ArmCounters, ArmEvidence, FailingTest, MachineDay, RolloutEvidence } from '../domain/evidence';
import { StoredArmAggregate } from '../domain/decision/stored-aggregate';
import { CODE, segmentEvidence, type SegmentEvidence, type SegmentPolicy } from '../domain/segments';
import { keys, type Keys } from './keys';
import { isCluster, runScript, type DcRedis } from './redis';
import { refusalOf } from './refusals';
import { ARM_FIELD, parseRecord } from './machine-record';
import { ParsedParts } from './parsed-parts';
import { RolloutFold, type EvidenceLayout, type LoggedPart } from './rollout-fold';
import { Fetched, WriteBack, type Misses, type Writes } from './write-back';

export type Assignment = {
  rolloutId: string;
  arm: 'candidate' | 'control' | 'mismatch';
  stage: number;
  /** The rollout's caps for segment evidence; without it no segment evidence is kept. */
  segments?: SegmentPolicy;
  /** Runs per machine and day (policy.cap), and per source, arm and day (policy.sourceCap; 0 off). Without: no source cap. */
  caps?: RunCaps;
};

export interface RunCaps {
  machine: number;
  source: number;
}

export interface IngestItem {
  id: string;
  /** The machine id as reported (its latest reports are kept under it). */
  machine: string;
  /**
   * Who the run counts as in the evidence (fleet history, rollouts, segments); default
   * `machine`. A reporter token may send any machine id, so its runs count as
   * "<source>/<machine>" (ReportService): it cannot add runs to another source's machine.
   */
  evidenceMachine?: string;
  outcome: 'pass' | 'fail' | 'error';
  day: string;
  failedTests: string[];
  json: string;
  assignments: Assignment[];
  /** The report's consumer project and Python version (segment evidence). */
  project?: string;
  python?: string;
  /** The report's source (services/sources.ts); '' or absent: none (no source cap, the machine stands for itself). */
  source?: string;
}

/** How evidence() reads an arm: its stored aggregate where it is complete, or always its machine-days. */
export type EvidenceRead = 'aggregate' | 'machine-days';

/** A rollout's evidence as its view shows it (TelemetryStore.summary). */
export interface EvidenceSummary {
  stage: Record<'candidate' | 'control', ArmCounters>;
  total: Record<'candidate' | 'control', ArmCounters>;
  counted: number;
  mismatched: number;
  sourceCapped: number;
  lastReportAt: number | null;
  failingTests: Record<'candidate' | 'control', FailingTest[]>;
}

/**
 * How long a part of a report remembers its id (s): past the 30 days the API takes a late
 * report for (services/reports.ts MAX_REPORT_AGE_MS) and its clock skew.
 */
export const SEEN_TTL_S = 35 * 24 * 3600;
const ARMS = ['candidate', 'control'] as const;
type Arm = (typeof ARMS)[number];
/** Failing test ids read per arm for a decision (the most failing first). */
const FAILING_TESTS_READ = 200;
/** Logged parts one fold counts at most (a longer log takes several). */
const FOLD_PARTS = 2000;
/** Folds one fold() tries before it gives up (the parts stay logged for the next). */
const FOLD_TRIES = 1000;
/**
 * Folds one process runs at once over all rollouts: each holds up to FOLD_PARTS parts, what it
 * read and what it writes, so a batch of reports concerning hundreds of rollouts would hold
 * hundreds of them at once; the counting is CPU-bound, so more at once would not count faster.
 */
export const FOLDS_AT_ONCE = 16;

/**
 * What one fold did, for metrics: `folded` counted `parts` (of them `unreadable` passed over);
 * `conflict` lost to another process's fold (read again); `ended` passed `parts` over, the rollout's
 * evidence retired.
 */
export interface FoldEvent {
  result: 'folded' | 'conflict' | 'ended';
  parts: number;
  unreadable: number;
  seconds: number;
  /** Runs of the counting (each after a round of reads it missed; 1 when the reads foreseen were all it needed, 0 none). */
  runs: number;
}

/** Report ingestion (a Lua call per slot and batch, auto-pipelined) and the evidence reads behind decisions. */
export class TelemetryStore {
  /** Told of every fold that found parts (server/metrics.ts counts them). */
  onFold: (e: FoldEvent) => void = () => {};
  private readonly k: Keys;
  /**
   * Store layout 1 kept one key per counted report id: while the last of them lives (until
   * this time, ms, as the key migration recorded it), an id found there was counted in full.
   */
  legacyReportsUntil = 0;
  private readonly cluster: boolean;
  /** Per rollout: the log position this process last saw folded (a floor: other processes fold too). */
  private readonly folded = new Map<string, number>();
  /** Per rollout: its evidence layout as this process last read it stored (rolloutMeta `layout`; it never changes). */
  private readonly layouts = new Map<string, '2' | '3'>();
  /** Per rollout being folded here: one fold at a time. */
  private readonly folding = new Map<string, Mutex>();
  /** FOLDS_AT_ONCE over all rollouts. */
  private readonly foldSlots = new Semaphore(FOLDS_AT_ONCE);
  /** Log entries lately folded, parsed and planned once for all the rollouts that logged them. */
  private readonly parsed = new ParsedParts();
  constructor(private readonly redis: DcRedis, prefix: string) {
    this.k = keys(prefix);
    this.cluster = isCluster(redis);
  }

  /**
   * Counts each report exactly once. A report is counted in parts, each in one slot and
   * idempotent by the report id on its own (so a crash between parts, then the client's
   * resend of the same id, counts every part once): its machine's latest reports, the fleet
   * history of its day, and each rollout it concerns (ingest.lua). A batch goes out grouped by
   * slot, each group's parts in item order: a rollout's (the batch's reports for it), a day's
   * fleet history, a machine's list. On Redis Cluster each group is a call (the client groups
   * calls per node: auto-pipelining); on one Redis, groups share calls of about
   * PARTS_PER_CALL parts. A rollout's part is logged there and counted into the rollout's
   * evidence by a fold (fold()), which this awaits: once it returns, what it counted is in
   * every read.
   * Returns, per item, true when any of its counting parts (fleet, rollouts) counted it now
   * (false for a replayed id). `fleetCaps`: the fleet history's caps per machine and per
   * source and day (the server's default policy).
   */
  async ingest(items: IngestItem[], now: number, fleetCaps: RunCaps = { machine: 1, source: 0 }): Promise<boolean[]> {
    const k = this.k;
    const legacy = await this.countedBeforeLayout2(items, now);
    const parts: PartSpec[] = [];
    items.forEach((it, i) => {
      if (legacy[i]) return;
      const source = it.source ?? '';
      parts.push({ slot: `M\t${it.machine}`, item: i, rollout: null, set: `M\t${it.machine}`, names: () => [k.machineReports(it.machine)], kind: 'M', args: it.id, payload: it.json });
      parts.push({ slot: `F\t${it.day}`, item: i, rollout: '', set: `F\t${it.day}`, names: () => [k.fleetSeen(it.day), k.fleetMachineDays(it.day), k.fleetSourceDays(it.day)],
        kind: 'F', args: packed([it.id, evidenceOf(it), it.outcome, source, fleetCaps.machine, fleetCaps.source]), payload: '' });
      // a report's parts differ only in their rollout's arm, stage and caps: each distinct one is written once
      const logged = new LoggedParts(it, now, source);
      for (const a of it.assignments) {
        parts.push({ slot: `R\t${a.rolloutId}`, item: i, rollout: a.rolloutId, set: `R\t${a.rolloutId}\t${it.day}`,
          names: () => [k.rolloutSeen(a.rolloutId, it.day), k.rolloutMeta(a.rolloutId), k.rolloutLog(a.rolloutId)],
          kind: 'R', args: it.id, payload: logged.of(a) });
      }
    });
    const callOf = this.cluster ? onePerSlot() : slotsTogether(parts);
    const calls = new Set<SlotCall>();
    for (const p of parts) {
      const c = callOf(p.slot);
      c.add(p);
      calls.add(c);
    }
    const fresh = items.map(() => false);
    /** Per rollout: the log position of its last part logged now. */
    const logged = new Map<string, number>();
    await Promise.all([...calls].map(async (c) => {
      const res = (await runScript(this.redis, 'ingest', c.keys, c.args)) as number[];
      c.owners.forEach((o, p) => {
        const r = res[p]!;
        if (o.rollout === null || !(r >= 1)) return;
        fresh[o.item] = true;
        if (o.rollout !== '') logged.set(o.rollout, Math.max(logged.get(o.rollout) ?? 0, r));
      });
    }));
    await Promise.all([...logged].map(([id, at]) => this.fold(id, at)));
    return fresh;
  }

  private async countedBeforeLayout2(items: IngestItem[], now: number): Promise<boolean[]> {
    if (now >= this.legacyReportsUntil) return items.map(() => false);
    return Promise.all(items.map(async (it) => (await this.redis.exists(this.k.legacyReportSeen(it.id))) === 1));
  }

  /**
   * Counts a rollout's logged parts into its evidence, at least up to log position `upTo`
   * (default: all logged so far). One fold at a time per rollout in this process: a request
   * that finds one running waits for it, and its parts are often in it (a busy rollout's
   * folds take many reports each), and FOLDS_AT_ONCE over all rollouts. Folds of other
   * processes are fenced by the log position (fold.lua): a fold that lost the race reads again.
   */
  async fold(rolloutId: string, upTo = Number.POSITIVE_INFINITY): Promise<void> {
    if ((this.folded.get(rolloutId) ?? 0) >= upTo) return;
    let m = this.folding.get(rolloutId);
    if (!m) this.folding.set(rolloutId, (m = new Mutex()));
    try {
      await m.runExclusive(async () => {
        for (let tries = 1; (this.folded.get(rolloutId) ?? 0) < upTo; tries++) {
          if (!(await this.foldSlots.runExclusive(() => this.foldOnce(rolloutId)))) return;
          // each try folds, or loses to another process's fold: so many in a row is no race
          if (tries > FOLD_TRIES) throw new Error(`rollout ${rolloutId}: its log was not folded in ${FOLD_TRIES} tries`);
        }
      });
    } finally {
      if (!m.isLocked()) this.folding.delete(rolloutId);
    }
  }

  /** One fold of up to FOLD_PARTS logged parts: false when the log was empty (or the rollout retired). */
  private async foldOnce(id: string): Promise<boolean> {
    const k = this.k;
    const started = process.hrtime.bigint();
    let runs = 0;
    const tell = (result: FoldEvent['result'], parts: number, unreadable = 0) =>
      this.onFold({ result, parts, unreadable, runs, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
    // machine-days decide a layout not chosen yet (a rollout's stored layout never changes)
    const known = this.layouts.get(id);
    const tx = this.redis.multi().hmget(k.rolloutMeta(id), 'folded', 'retiredAt', 'layout').lrange(k.rolloutLog(id), 0, FOLD_PARTS - 1);
    if (!known) tx.exists(k.machineDays(id, 'candidate')).exists(k.machineDays(id, 'control'));
    const res = (await tx.exec()) as [Error | null, unknown][] | null;
    if (!res) throw new Error(`the fold's read of rollout ${id} was aborted`);
    for (const [e] of res) if (e) throw e;
    const head = res[0]![1] as (string | null)[];
    const entries = res[1]![1] as string[];
    /** Whether the rollout has machine-days (of a server before layout 3); read only while its layout is not known. */
    const hasMachineDays = !known && (res[2]![1] !== 0 || res[3]![1] !== 0);
    const folded = Number(head[0] ?? 0);
    if (head[1] !== null || entries.length === 0) {
      // retired: fold.lua passes the parts over (meta afterEnd), nothing counted
      if (head[1] !== null && entries.length > 0) {
        const r = refusalOf(await runScript(this.redis, 'fold', [k.rolloutMeta(id), k.rolloutLog(id)], [folded, entries.length, '[]']));
        tell(r === 'CONFLICT' ? 'conflict' : 'ended', entries.length);
      }
      this.sawFolded(id, head[1] !== null ? Number.POSITIVE_INFINITY : folded);
      return false;
    }
    const parts: LoggedPart[] = [];
    for (const e of entries) {
      const p = this.parsed.get(e);
      if (p) parts.push(p);
    }
    const unreadable = entries.length - parts.length;
    // a rollout's first fold chooses its layout: 3, unless it has machine-days (of a server before layout 3)
    const stored = head[2];
    if (stored !== known && (stored === '2' || stored === '3')) remember(this.layouts, id, stored);
    const layout: EvidenceLayout = stored === '3' || (stored === null && (known ? known === '3' : !hasMachineDays)) ? 3 : 2;
    const fetched = new Fetched();
    const plans = this.parsed.plans;
    const predicted = new RolloutFold(new WriteBack(fetched), k, id, plans, layout).predictReads(parts);
    if (predicted.size) await this.fetch(fetched, predicted);
    let w: WriteBack;
    for (;;) {
      w = new WriteBack(fetched);
      runs++;
      new RolloutFold(w, k, id, plans, layout).run(parts);
      if (stored !== String(layout)) w.hset(k.rolloutMeta(id), 'layout', String(layout));
      // an entry that is not a part (never written by ingest.lua) is passed over, and counted
      if (unreadable) w.incr(k.rolloutMeta(id), 'unreadable', unreadable);
      if (w.misses.size === 0) break;
      await this.fetch(fetched, w.misses);
    }
    const [keyList, ops] = foldOps(w.writes(), [k.rolloutMeta(id), k.rolloutLog(id)]);
    const r = refusalOf(await runScript(this.redis, 'fold', keyList, [folded, entries.length, JSON.stringify(ops)]));
    if (r === 'CONFLICT') {
      tell('conflict', entries.length);
      return true; // another process folded first: read again
    }
    if (r === 'ENDED') {
      tell('ended', entries.length);
      this.sawFolded(id, Number.POSITIVE_INFINITY);
      return false;
    }
    tell('folded', entries.length, unreadable);
    this.sawFolded(id, folded + entries.length);
    return true;
  }

  /** Parts logged and not folded yet, per rollout (LLEN of each log; one pipelined call per key). */
  async backlog(rolloutIds: readonly string[]): Promise<Map<string, number>> {
    const ns = await Promise.all(rolloutIds.map((id) => this.redis.llen(this.k.rolloutLog(id))));
    return new Map(rolloutIds.map((id, i) => [id, ns[i]!]));
  }

  /** Notes a rollout's folded position (bounded: a position forgotten is read again). */
  private sawFolded(id: string, at: number): void {
    remember(this.folded, id, at);
  }

  /** Reads what a fold missed into `fetched`: one command per key (HMGET, SMISMEMBER, SCARD, EXISTS), pipelined. */
  private async fetch(fetched: Fetched, misses: Misses): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const key of misses.cards) jobs.push(this.redis.scard(key).then((n) => void fetched.cards.set(key, n)));
    for (const key of misses.exists) jobs.push(this.redis.exists(key).then((n) => void fetched.exists.set(key, n === 1)));
    for (const [key, set] of misses.fields) {
      const fs = [...set];
      jobs.push(this.redis.hmget(key, ...fs).then((vs) => {
        let got = fetched.fields.get(key);
        if (!got) fetched.fields.set(key, (got = new Map()));
        fs.forEach((f, i) => got!.set(f, vs[i] ?? false));
      }));
    }
    for (const [key, set] of misses.members) {
      const ms = [...set];
      jobs.push(this.redis.smismember(key, ...ms).then((vs) => {
        let got = fetched.members.get(key);
        if (!got) fetched.members.set(key, (got = new Map()));
        ms.forEach((m, i) => got!.set(m, vs[i] === 1));
      }));
    }
    await Promise.all(jobs);
  }

  /** The segment evidence of a rollout: its two aggregate hashes and the refusal counts (O(segments)). */
  async segments(rolloutId: string): Promise<SegmentEvidence> {
    await this.fold(rolloutId);
    const [c, k, refused] = await Promise.all([
      this.redis.hgetall(this.k.segmentAggregates(rolloutId, 'candidate')),
      this.redis.hgetall(this.k.segmentAggregates(rolloutId, 'control')),
      this.redis.hgetall(this.k.segmentRefused(rolloutId)),
    ]);
    return toSegments(c, k, refused);
  }

  /** Tells the controller (in whichever process holds the lease) which rollouts changed. */
  async publishCounted(rolloutIds: string[]): Promise<void> {
    if (rolloutIds.length) await this.redis.publish(this.k.counted, rolloutIds.join(','));
  }

  async machineReports(machine: string, limit: number): Promise<unknown[]> {
    const list = await this.redis.lrange(this.k.machineReports(machine), 0, limit - 1);
    // "<report id>\t<JSON>" (layout 1 kept the JSON alone)
    return list.map((s) => JSON.parse(s.startsWith('{') ? s : s.slice(s.indexOf('\t') + 1)));
  }

  async counters(rolloutId: string, stage: number | 'all'): Promise<Record<'candidate' | 'control', ArmCounters>> {
    const [c, k] = await Promise.all(ARMS.map((arm) => this.redis.hgetall(this.k.counters(rolloutId, stage, arm))));
    return { candidate: toCounters(c ?? {}), control: toCounters(k ?? {}) };
  }

  async meta(rolloutId: string): Promise<{ counted: number; mismatched: number; sourceCapped: number; lastReportAt: number | null }> {
    return toMeta(await this.redis.hgetall(this.k.rolloutMeta(rolloutId)));
  }

  async failingTests(rolloutId: string, arm: 'candidate' | 'control', limit = 50): Promise<FailingTest[]> {
    return toFailingTests(await this.redis.zrevrange(this.k.failingTests(rolloutId, arm), 0, limit - 1, 'WITHSCORES'));
  }

  /** What a rollout view shows of its evidence (all it has counted, its log folded first): the stage's and all stages' counters, meta, the top failing tests. */
  async summary(rolloutId: string, stageIndex: number): Promise<EvidenceSummary> {
    await this.fold(rolloutId);
    const [stage, total, meta, candTests, ctrlTests] = await Promise.all([
      this.counters(rolloutId, stageIndex),
      this.counters(rolloutId, 'all'),
      this.meta(rolloutId),
      this.failingTests(rolloutId, 'candidate', 10),
      this.failingTests(rolloutId, 'control', 10),
    ]);
    return { stage, total, ...meta, failingTests: { candidate: candTests, control: ctrlTests } };
  }

  /**
   * Sets an ended rollout's evidence keys (a rollout of `stages` stages) to expire in `ttlSeconds`
   * and marks it retired, so nothing more is counted for it; returns how many keys got an expiry.
   */
  async retire(rolloutId: string, stages: number, ttlSeconds: number, now: number): Promise<number> {
    return runScript(this.redis, 'retire', this.k.rolloutEvidence(rolloutId, stages), [ttlSeconds, now]) as Promise<number>;
  }

  /**
   * Everything the decision rule needs, cumulative over the rollout's stages (its log folded
   * first, so a part a crashed process logged is counted by the next read), read as one
   * snapshot (a MULTI over the rollout's keys: the arms, their failing tests, the meta
   * counts and the segment evidence all hold the same runs, so no rule sees a run another
   * does not). Each arm comes as its aggregate kept at ingestion (O(days) to read, whatever
   * the number of machines) when that holds every run of the arm and was kept with the
   * rollout's `cap`; otherwise (an arm with machine-days from before aggregates were kept,
   * or read = 'machine-days') the snapshot is read again with that arm's machine-days,
   * O(machine-days), from which the rule computes the same aggregate (at most three reads:
   * an aggregate that turns partial between two is read from its machine-days the third time).
   */
  async evidence(rolloutId: string, cap: number, read: EvidenceRead = 'aggregate'): Promise<RolloutEvidence> {
    await this.fold(rolloutId);
    const needed = new Set<Arm>(read === 'aggregate' ? [] : ARMS);
    for (;;) {
      const s = await this.snapshot(rolloutId, needed);
      const arms = ARMS.map((arm): ArmEvidence | null => {
        const failingTests = s.failingTests[arm];
        if (needed.has(arm)) return { machineDays: s.machineDays[arm], failingTests };
        // an arm without runs yet (no aggregate, no machine-days): nothing to read again
        if (!s.machineDaysExist[arm] && Object.keys(s.sums[arm]).length === 0) return { machineDays: [], failingTests };
        const aggregate = StoredArmAggregate.read(s.sums[arm], s.days[arm]);
        return aggregate && aggregate.cap === cap ? { machineDays: [], aggregate, failingTests } : null;
      });
      const [candidate, control] = arms;
      if (candidate && control) return { candidate, control, ...s.meta, segments: s.segments };
      // an arm without a usable aggregate: read the snapshot again with its machine-days
      ARMS.forEach((arm, i) => arms[i] === null && needed.add(arm));
    }
  }

  /** One MULTI over a rollout's evidence keys, with the machine-days of the arms `withMachineDays` names. */
  private async snapshot(rolloutId: string, withMachineDays: ReadonlySet<Arm>) {
    const tx = this.redis.multi();
    for (const arm of ARMS) {
      tx.hgetall(this.k.armAggregate(rolloutId, arm));
      tx.hgetall(this.k.armAggregateDays(rolloutId, arm));
      tx.zrevrange(this.k.failingTests(rolloutId, arm), 0, FAILING_TESTS_READ - 1, 'WITHSCORES');
      if (withMachineDays.has(arm)) tx.hgetall(this.k.machineDays(rolloutId, arm));
      else tx.exists(this.k.machineDays(rolloutId, arm));
    }
    // layout 3 keeps machine-days in the machine records (layout 2 in machineDays: one of the two is empty)
    if (withMachineDays.size) tx.hgetall(this.k.machineRecords(rolloutId));
    tx.hgetall(this.k.rolloutMeta(rolloutId));
    tx.hgetall(this.k.segmentAggregates(rolloutId, 'candidate'));
    tx.hgetall(this.k.segmentAggregates(rolloutId, 'control'));
    tx.hgetall(this.k.segmentRefused(rolloutId));
    const res = await tx.exec();
    if (!res) throw new Error(`the evidence snapshot of rollout ${rolloutId} was aborted`);
    const out = res.map(([err, v]) => {
      if (err) throw err;
      return v;
    });
    let i = 0;
    const next = <T>() => out[i++] as T;
    const sums = {} as Record<Arm, Record<string, string>>;
    const days = {} as Record<Arm, Record<string, string>>;
    const failingTests = {} as Record<Arm, FailingTest[]>;
    const machineDays = {} as Record<Arm, MachineDay[]>;
    /** For the arms read without their machine-days: whether they have any. */
    const machineDaysExist = {} as Partial<Record<Arm, boolean>>;
    for (const arm of ARMS) {
      sums[arm] = next<Record<string, string>>();
      days[arm] = next<Record<string, string>>();
      failingTests[arm] = toFailingTests(next<string[]>());
      if (withMachineDays.has(arm)) machineDays[arm] = toMachineDays(next<Record<string, string>>());
      else {
        machineDays[arm] = [];
        machineDaysExist[arm] = next<number>() === 1;
      }
    }
    if (withMachineDays.size) {
      const records = next<Record<string, string>>();
      for (const arm of withMachineDays) recordMachineDays(records, arm, machineDays[arm]);
    }
    const meta = toMeta(next<Record<string, string>>());
    const c = next<Record<string, string>>();
    const k = next<Record<string, string>>();
    const refused = next<Record<string, string>>();
    const segments = toSegments(c, k, refused);
    return { sums, days, failingTests, machineDays, machineDaysExist, meta, segments };
  }

  /** One arm's raw machine-days (every counted run, per machine and UTC day): O(machine-days). */
  async machineDays(rolloutId: string, arm: 'candidate' | 'control'): Promise<MachineDay[]> {
    await this.fold(rolloutId);
    const [[e1, md], [e2, records]] = (await this.redis.multi()
      .hgetall(this.k.machineDays(rolloutId, arm))
      .hgetall(this.k.machineRecords(rolloutId))
      .exec()) as [[Error | null, Record<string, string>], [Error | null, Record<string, string>]];
    if (e1 || e2) throw e1 ?? e2;
    return recordMachineDays(records, arm, toMachineDays(md));
  }

  /**
   * The whole fleet's machine-days on the given UTC days (every counted report, whatever
   * rollouts it concerned): the history a new rollout's q0 is computed from.
   */
  async fleetHistory(days: string[]): Promise<ArmEvidence> {
    const hashes = await Promise.all(days.map((day) => this.redis.hgetall(this.k.fleetMachineDays(day))));
    const machineDays: MachineDay[] = [];
    hashes.forEach((h, i) => {
      for (const [machine, v] of Object.entries(h)) machineDays.push(machineDay(machine, days[i]!, v));
    });
    return { machineDays, failingTests: [] };
  }
}

/** Per rollout facts a process keeps of what it read (bounded: one forgotten is read again). */
function remember<V>(m: Map<string, V>, id: string, v: V): void {
  if (m.size >= 10_000 && !m.has(id)) m.clear();
  m.set(id, v);
}

/** Who a report's run counts as in the evidence. */
function evidenceOf(it: IngestItem): string {
  return it.evidenceMachine ?? it.machine;
}

/** An arm's machine-days hash (field "<machine>|<day>") as MachineDays. */
function toMachineDays(h: Record<string, string>): MachineDay[] {
  const out: MachineDay[] = [];
  for (const [field, v] of Object.entries(h)) {
    const sep = field.lastIndexOf('|');
    out.push(machineDay(field.slice(0, sep), field.slice(sep + 1), v));
  }
  return out;
}

/** One arm's machine-days in a rollout's machine records (layout 3), added to `out` (a record that cannot be read has none). */
function recordMachineDays(records: Record<string, string>, arm: Arm, out: MachineDay[]): MachineDay[] {
  for (const [machine, v] of Object.entries(records)) {
    const days = parseRecord(v)?.[ARM_FIELD[arm]]?.d;
    if (days) for (const [day, md] of Object.entries(days)) out.push(machineDay(machine, day, md));
  }
  return out;
}

/** ZREVRANGE … WITHSCORES of a failing-tests sorted set (score: distinct machines). */
function toFailingTests(flat: string[]): FailingTest[] {
  const out: FailingTest[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, machines: Number(flat[i + 1]) });
  return out;
}

/** The two arms' segment aggregate hashes and the refusal counts as SegmentEvidence. */
function toSegments(c: Record<string, string>, k: Record<string, string>, refused: Record<string, string>): SegmentEvidence {
  return segmentEvidence(Object.entries(c), Object.entries(k), {
    project: refused[CODE.project], python: refused[CODE.python], signature: refused[CODE.signature],
  });
}

function toMeta(h: Record<string, string>): { counted: number; mismatched: number; sourceCapped: number; lastReportAt: number | null } {
  return {
    counted: Number(h.counted ?? 0),
    mismatched: Number(h.mismatched ?? 0),
    sourceCapped: Number(h.sourceCapped ?? 0),
    lastReportAt: h.lastReportAt ? Number(h.lastReportAt) : null,
  };
}

/** One machine-day from its "runs,failures,errors[,source]" value (as ingest.lua writes it). */
function machineDay(machine: string, day: string, v: string): MachineDay {
  const [n, f, e, source] = v.split(',');
  const md: MachineDay = { machine, day, runs: Number(n ?? 0), failures: Number(f ?? 0), errors: Number(e ?? 0) };
  if (source) md.source = source;
  return md;
}

function toCounters(h: Record<string, string>): ArmCounters {
  const n = (f: string) => Number(h[f] ?? 0);
  return { runs: n('runs'), failures: n('failures'), errors: n('errors'), machines: n('machines'), failingMachines: n('failingMachines') };
}

/** One part of a report's counting (ingest.lua's header): its slot, its key set and its arguments. */
interface PartSpec {
  /** The slot group it must be called in: "M\t<machine>", "F\t<day>" or "R\t<rollout id>". */
  slot: string;
  item: number;
  /** A counting part's rollout ('' the fleet part; null the machine's list, which counts nothing): its result says whether the report was counted now. */
  rollout: string | null;
  /** Names its key set: parts with the same set share its keys in a call. */
  set: string;
  names: () => string[];
  kind: 'M' | 'F' | 'R';
  /** Its arguments as ingest.lua takes them: F one JSON array (packed()), M and R the report id. */
  args: string;
  /** A string the part takes as it is (the report's JSON, the logged part's JSON; '' none): not inside `args`, which Lua decodes. */
  payload: string;
}

/**
 * Parts of one Redis script call at most, on one Redis (on a cluster a call is one slot's,
 * however many): a rollout's part costs Redis ~5 µs here, so a call holds it a few ms (as long
 * as a fold's call), and a batch of 50 reports concerning 40 rollouts is two calls, whose
 * payloads (a report's parts of the same arm and stage) each go once.
 */
const PARTS_PER_CALL = 1000;

/** Redis Cluster: one call per slot group (a script's keys must be one slot's). */
function onePerSlot(): (slot: string) => SlotCall {
  const calls = new Map<string, SlotCall>();
  return (slot) => {
    let c = calls.get(slot);
    if (!c) calls.set(slot, (c = new SlotCall()));
    return c;
  };
}

/**
 * One Redis: slot groups packed whole into calls of about PARTS_PER_CALL parts (a group is
 * never split, so its parts stay in one call, in item order): a batch that touches hundreds of
 * rollouts once each makes a few calls, not hundreds, and no call holds Redis for long (a few ms).
 */
function slotsTogether(parts: PartSpec[]): (slot: string) => SlotCall {
  const count = new Map<string, number>();
  for (const p of parts) count.set(p.slot, (count.get(p.slot) ?? 0) + 1);
  const callOfSlot = new Map<string, SlotCall>();
  let open = new SlotCall();
  let filled = 0;
  for (const [slot, n] of count) {
    if (filled > 0 && filled + n > PARTS_PER_CALL) {
      open = new SlotCall();
      filled = 0;
    }
    callOfSlot.set(slot, open);
    filled += n;
  }
  return (slot) => callOfSlot.get(slot)!;
}

/**
 * One ingest.lua call: parts in item order (per slot group), each key set once in KEYS (a
 * part names where its set starts) however many parts share it, and each payload once however
 * many parts store it (a report's parts in rollouts of the same arm and stage are one string).
 */
class SlotCall {
  readonly keys: string[] = [];
  /** Per part: kind, where its key set starts, its arguments, the number of its payload (ingest.lua's header). */
  private readonly partArgs: (string | number)[] = [];
  private readonly payloads = new Map<string, number>();
  /** Per part: the item it counts, and its rollout (PartSpec). */
  readonly owners: { item: number; rollout: string | null }[] = [];
  private readonly sets = new Map<string, number>();

  add(p: PartSpec): void {
    let at = this.sets.get(p.set);
    if (at === undefined) {
      at = this.keys.length;
      this.sets.set(p.set, at);
      for (const n of p.names()) this.keys.push(n);
    }
    let payload = 0;
    if (p.payload !== '') {
      payload = this.payloads.get(p.payload) ?? 0;
      if (payload === 0) this.payloads.set(p.payload, (payload = this.payloads.size + 1));
    }
    this.partArgs.push(p.kind, at, p.args, payload);
    this.owners.push({ item: p.item, rollout: p.rollout });
  }

  /** ingest.lua's ARGV: the counts, the seen TTL, the payloads, the parts. */
  get args(): (string | number)[] {
    return [this.owners.length, this.payloads.size, SEEN_TTL_S, ...this.payloads.keys(), ...this.partArgs];
  }
}

/**
 * A part's arguments as ingest.lua decodes them (one JSON array). A string that is not
 * well-formed UTF-16 (a lone surrogate) goes as U+FFFD, as Redis would have stored it.
 */
function packed(args: (string | number)[]): string {
  const json = JSON.stringify(args);
  if (!json.includes('\\u')) return json;
  return JSON.stringify(args.map((x) => (typeof x === 'string' && !x.isWellFormed() ? x.toWellFormed() : x)));
}

/**
 * A report's parts as logged (ingest.lua R) for the folds (store/rollout-fold.ts): the JSON of
 * each distinct part written once, however many rollouts log it (a part names no rollout).
 */
class LoggedParts {
  private readonly seen: { a: Assignment; json: string }[] = [];
  constructor(private readonly it: IngestItem, private readonly now: number, private readonly source: string) {}

  of(a: Assignment): string {
    for (const s of this.seen) if (samePart(s.a, a)) return s.json;
    const json = JSON.stringify(loggedPart(this.it, a, this.now, this.source));
    this.seen.push({ a, json });
    return json;
  }
}

/** Whether two assignments log the same part of a report (loggedPart() reads only these). */
function samePart(x: Assignment, y: Assignment): boolean {
  if (x.arm !== y.arm || x.stage !== y.stage || x.caps?.machine !== y.caps?.machine || x.caps?.source !== y.caps?.source) return false;
  const [s, t] = [x.arm !== 'mismatch' ? x.segments : undefined, y.arm !== 'mismatch' ? y.segments : undefined];
  return s === t || (s !== undefined && t !== undefined && policyJson(s) === policyJson(t));
}

/** A rollout's segment caps as JSON, made once per object (a live rollout's are one object). */
const policyJsons = new WeakMap<SegmentPolicy, string>();
function policyJson(p: SegmentPolicy): string {
  let s = policyJsons.get(p);
  if (s === undefined) policyJsons.set(p, (s = JSON.stringify(p)));
  return s;
}

/** A report's part in one rollout, as logged (ingest.lua R) for the fold (store/rollout-fold.ts). */
function loggedPart(it: IngestItem, a: Assignment, now: number, source: string): LoggedPart {
  const part: LoggedPart = {
    id: it.id, arm: a.arm, stage: a.stage, machine: evidenceOf(it), day: it.day, outcome: it.outcome, now, source,
    mcap: a.caps?.machine ?? 1, scap: a.caps?.source ?? 0, tests: it.failedTests, project: it.project ?? '', python: it.python ?? '',
  };
  if (a.arm !== 'mismatch' && a.segments) part.segments = a.segments;
  return part;
}

/**
 * A fold's writes as fold.lua takes them: its KEYS (`first`, then every key written) and ops
 * naming them by index, sorted sets first, then deletions, then the rest (see its header).
 * Strings that are not well-formed UTF-16 (a lone surrogate) go as U+FFFD, as Redis stores them.
 */
function foldOps(w: Writes, first: string[]): [string[], (string | number)[][]] {
  const keyList = [...first];
  const at = new Map<string, number>(first.map((key, i) => [key, i + 1]));
  const index = (key: string) => {
    let i = at.get(key);
    if (i === undefined) {
      keyList.push(key);
      at.set(key, (i = keyList.length));
    }
    return i;
  };
  const ops: (string | number)[][] = [];
  for (const [key, z] of w.zsets) {
    const op: (string | number)[] = ['Z', index(key)];
    for (const [m, n] of z) op.push(wellFormed(m), String(n));
    ops.push(op);
  }
  for (const [key, h] of w.incrs) {
    const op: (string | number)[] = ['I', index(key)];
    for (const [f, n] of h) if (n !== 0) op.push(wellFormed(f), String(n));
    if (op.length > 2) ops.push(op);
  }
  for (const key of w.del) ops.push(['D', index(key)]);
  for (const [key, h] of w.hashes) {
    const set: (string | number)[] = ['H', index(key)];
    const gone: (string | number)[] = ['X', index(key)];
    for (const [f, v] of h) {
      if (v === false) gone.push(wellFormed(f));
      else set.push(wellFormed(f), wellFormed(v));
    }
    if (set.length > 2) ops.push(set);
    if (gone.length > 2) ops.push(gone);
  }
  for (const [key, ms] of w.sets) ops.push(['S', index(key), ...ms.map(wellFormed)]);
  return [keyList, ops];
}

function wellFormed(s: string): string {
  return s.isWellFormed() ? s : s.toWellFormed();
}
