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

const DEDUPE_TTL_S = 35 * 24 * 3600;
const ARMS = ['candidate', 'control'] as const;

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
    return segmentEvidence(Object.entries(c), Object.entries(k), {
      project: refused[CODE.project], python: refused[CODE.python], signature: refused[CODE.signature],
    });
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
    const h = await this.redis.hgetall(this.k.rolloutMeta(rolloutId));
    return {
      counted: Number(h.counted ?? 0),
      mismatched: Number(h.mismatched ?? 0),
      sourceCapped: Number(h.sourceCapped ?? 0),
      lastReportAt: h.lastReportAt ? Number(h.lastReportAt) : null,
    };
  }

  async failingTests(rolloutId: string, arm: 'candidate' | 'control', limit = 50): Promise<FailingTest[]> {
    const flat = await this.redis.zrevrange(this.k.failingTests(rolloutId, arm), 0, limit - 1, 'WITHSCORES');
    const out: FailingTest[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, machines: Number(flat[i + 1]) });
    return out;
  }

  /**
   * Everything the decision rule needs, cumulative over the rollout's stages. Each arm comes
   * as its aggregate kept at ingestion (O(days) to read, whatever the number of machines)
   * when that holds every run of the arm and was kept with the rollout's `cap`; otherwise
   * (an arm with machine-days from before aggregates were kept, or read = 'machine-days') as
   * its machine-days, O(machine-days), from which the rule computes the same aggregate.
   */
  async evidence(rolloutId: string, cap: number, read: EvidenceRead = 'aggregate'): Promise<RolloutEvidence> {
    const [candidate, control, meta, segments] = await Promise.all([
      this.armEvidence(rolloutId, 'candidate', cap, read),
      this.armEvidence(rolloutId, 'control', cap, read),
      this.meta(rolloutId),
      this.segments(rolloutId),
    ]);
    return { candidate, control, ...meta, segments };
  }

  /** One arm's raw machine-days (every counted run, per machine and UTC day): O(machine-days). */
  async machineDays(rolloutId: string, arm: 'candidate' | 'control'): Promise<MachineDay[]> {
    const h = await this.redis.hgetall(this.k.machineDays(rolloutId, arm));
    const out: MachineDay[] = [];
    for (const [field, v] of Object.entries(h)) {
      const sep = field.lastIndexOf('|');
      out.push(machineDay(field.slice(0, sep), field.slice(sep + 1), v));
    }
    return out;
  }

  /** The arm's aggregate as ingestion keeps it, or null when it misses runs (see StoredArmAggregate.read). */
  async storedAggregate(rolloutId: string, arm: 'candidate' | 'control'): Promise<StoredArmAggregate | null> {
    // one transaction: the sums and the days of the same runs
    const res = await this.redis.multi().hgetall(this.k.armAggregate(rolloutId, arm)).hgetall(this.k.armAggregateDays(rolloutId, arm)).exec();
    const [[e1, sums], [e2, days]] = res as [[Error | null, Record<string, string>], [Error | null, Record<string, string>]];
    if (e1 || e2) throw e1 ?? e2;
    return StoredArmAggregate.read(sums, days);
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

  private async armEvidence(rolloutId: string, arm: 'candidate' | 'control', cap: number, read: EvidenceRead): Promise<ArmEvidence> {
    const [aggregate, failingTests] = await Promise.all([
      read === 'aggregate' ? this.storedAggregate(rolloutId, arm) : null,
      this.failingTests(rolloutId, arm, 200),
    ]);
    if (aggregate && aggregate.cap === cap) return { machineDays: [], aggregate, failingTests };
    return { machineDays: await this.machineDays(rolloutId, arm), failingTests };
  }
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
