import type { ArmCounters, ArmEvidence, FailingTest, MachineDay, RolloutEvidence } from '../domain/evidence';
import { StoredArmAggregate } from '../domain/decision/stored-aggregate';
import { CODE, segmentEvidence, segmentPlan, type SegmentEvidence, type SegmentPlan, type SegmentPolicy } from '../domain/segments';
import { keys, type Keys } from './keys';
import type { DcRedis } from './redis';

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
  machine: string;
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

const DEDUPE_TTL_S = 35 * 24 * 3600;
const ARMS = ['candidate', 'control'] as const;
type Arm = (typeof ARMS)[number];
/** Failing test ids read per arm for a decision (the most failing first). */
const FAILING_TESTS_READ = 200;

/** Report ingestion (one Lua call per report, pipelined) and the evidence reads behind decisions. */
export class TelemetryStore {
  private readonly k: Keys;
  constructor(private readonly redis: DcRedis, prefix: string) {
    this.k = keys(prefix);
  }

  /**
   * Returns, per item, true when newly counted and false for a replayed id. `fleetCaps`: the
   * fleet history's caps per machine and per source and day (the server's default policy).
   */
  async ingest(items: IngestItem[], now: number, fleetCaps: RunCaps = { machine: 1, source: 0 }): Promise<boolean[]> {
    const pipe = this.redis.pipeline() as unknown as { dc_ingest: (...a: (string | number)[]) => void; exec: () => Promise<[Error | null, unknown][] | null> };
    for (const it of items) {
      const source = it.source ?? '';
      const args: (string | number)[] = [
        this.k.prefix, it.id, DEDUPE_TTL_S, it.json, it.machine, it.day, it.outcome, now, source, fleetCaps.machine, fleetCaps.source,
        it.failedTests.length, ...it.failedTests,
      ];
      for (const a of it.assignments) {
        args.push(a.rolloutId, a.arm, a.stage, a.caps?.machine ?? 1, a.caps?.source ?? 0);
        const plan =
          a.arm !== 'mismatch' && a.segments
            ? segmentPlan({ machine: it.machine, source, day: it.day, stage: a.stage, arm: a.arm, project: it.project ?? '', python: it.python ?? '', outcome: it.outcome, failedTests: it.failedTests }, a.segments)
            : null;
        const tokens = plan ? this.planTokens(a.rolloutId, plan) : [];
        args.push(tokens.length, ...tokens);
      }
      pipe.dc_ingest(...args);
    }
    const res = (await pipe.exec()) ?? [];
    return res.map(([err, v]) => {
      if (err) throw err;
      return v === 1;
    });
  }

  /** A segment plan as ingest.lua reads it (see its header): key names, limits, then the groups. */
  private planTokens(rolloutId: string, plan: SegmentPlan): (string | number)[] {
    const k = this.k;
    const out: (string | number)[] = [
      k.segmentTable(rolloutId, CODE.project), k.segmentTable(rolloutId, CODE.python), k.segmentTable(rolloutId, CODE.signature),
      k.segmentFirst(rolloutId), k.segmentCaps(rolloutId), k.segmentBudget(rolloutId), k.segmentRefused(rolloutId),
      k.segmentAggregates(rolloutId, plan.arm),
      plan.limits.project, plan.limits.python, plan.limits.signature, plan.limits.budget, plan.budgetField,
      plan.groups.length,
    ];
    for (const g of plan.groups) {
      out.push(g.guards.length);
      for (const x of g.guards) {
        if (x.op === 'admit') out.push('A', CODE[x.family], x.member);
        else if (x.op === 'member') out.push('M', CODE[x.family], x.member);
        else if (x.op === 'cap') out.push('C', x.field, x.limit);
        else if (x.op === 'first') out.push('F', x.member, '-');
        else out.push('N', x.member, '-');
      }
      out.push(g.incr.length, ...g.incr);
    }
    return out;
  }

  /** The segment evidence of a rollout: its two aggregate hashes and the refusal counts (O(segments)). */
  async segments(rolloutId: string): Promise<SegmentEvidence> {
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
    return list.map((s) => JSON.parse(s));
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

  /** What a rollout view shows of its evidence: the stage's and all stages' counters, meta, the top failing tests. */
  async summary(rolloutId: string, stageIndex: number): Promise<EvidenceSummary> {
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
    const names = this.k.rolloutEvidence(rolloutId, stages);
    return this.redis.dc_retire(names.length, ...names, ttlSeconds, now);
  }

  /**
   * Everything the decision rule needs, cumulative over the rollout's stages, read as one
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
    const needed = new Set<Arm>(read === 'aggregate' ? [] : ARMS);
    for (;;) {
      const s = await this.snapshot(rolloutId, needed);
      const arms = ARMS.map((arm): ArmEvidence | null => {
        const failingTests = s.failingTests[arm];
        if (needed.has(arm)) return { machineDays: s.machineDays[arm], failingTests };
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
    }
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
    for (const arm of ARMS) {
      sums[arm] = next<Record<string, string>>();
      days[arm] = next<Record<string, string>>();
      failingTests[arm] = toFailingTests(next<string[]>());
      machineDays[arm] = withMachineDays.has(arm) ? toMachineDays(next<Record<string, string>>()) : [];
    }
    const meta = toMeta(next<Record<string, string>>());
    const c = next<Record<string, string>>();
    const k = next<Record<string, string>>();
    const refused = next<Record<string, string>>();
    const segments = toSegments(c, k, refused);
    return { sums, days, failingTests, machineDays, meta, segments };
  }

  /** One arm's raw machine-days (every counted run, per machine and UTC day): O(machine-days). */
  async machineDays(rolloutId: string, arm: 'candidate' | 'control'): Promise<MachineDay[]> {
    return toMachineDays(await this.redis.hgetall(this.k.machineDays(rolloutId, arm)));
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

/** An arm's machine-days hash (field "<machine>|<day>") as MachineDays. */
function toMachineDays(h: Record<string, string>): MachineDay[] {
  const out: MachineDay[] = [];
  for (const [field, v] of Object.entries(h)) {
    const sep = field.lastIndexOf('|');
    out.push(machineDay(field.slice(0, sep), field.slice(sep + 1), v));
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
