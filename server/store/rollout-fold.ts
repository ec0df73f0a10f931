import { CODE, segmentPlan, type Guard, type SegmentPlan, type SegmentPolicy } from '../domain/segments';
import { STORED_SUMS } from '../domain/decision/stored-aggregate';
import type { Keys } from './keys';
import { ARM_FIELD, isCount, parseRecord, type ArmRecord, type MachineRecord } from './machine-record';
import { Misses, type WriteBack } from './write-back';

/**
 * How a rollout's evidence keeps what is per machine (store/keys.ts): 2, a set or hash per kind
 * (the counters' machines, machine-days, …, each with the machine's id in its field or member);
 * 3, one record per machine (store/machine-record.ts). A rollout keeps the layout its first
 * fold chose (rolloutMeta `layout`): 3, unless it has machine-days already.
 */
export type EvidenceLayout = 2 | 3;

/**
 * A report's part in one rollout it concerns, as ingestion logs it (ingest.lua, R) and a fold
 * counts it (TelemetryStore.fold): everything the counting needs, so a fold reads nothing of
 * the report but this.
 */
export interface LoggedPart {
  /** Report id. */
  id: string;
  arm: 'candidate' | 'control' | 'mismatch';
  stage: number;
  /** Who the run counts as (the evidence machine). */
  machine: string;
  /** UTC day of finishedAt. */
  day: string;
  outcome: 'pass' | 'fail' | 'error';
  /** When it was received (ms). */
  now: number;
  /** Its source ('' none). */
  source: string;
  /** The rollout's cap per machine and day, and per source, arm and day (0 off). */
  mcap: number;
  scap: number;
  /** Failing test ids, each once. */
  tests: string[];
  /** The report's consumer project and Python version (segment evidence). */
  project: string;
  python: string;
  /** The rollout's segment caps (none: no segment evidence kept); the fold makes the report's plan (domain/segments/plan.ts). */
  segments?: SegmentPolicy;
}

/** The keys one arm and stage of a rollout count into (store/keys.ts). */
interface ArmKeys {
  md: string;
  counters: [stage: string, all: string];
  machines: [stage: string, all: string];
  failing: [stage: string, all: string];
  tests: string;
  testMachines: string;
  agg: string;
  aggMachines: string;
  aggSources: string;
  aggDays: string;
}

/** Where a fold keeps the segment plans it made (a part's plan, once). */
export type PlanMemo = Pick<WeakMap<LoggedPart, SegmentPlan>, 'get' | 'set'>;

type Sums = Record<(typeof STORED_SUMS)[number], number>;

/** What a fold reads of an arm aggregate's hash. */
const AGGREGATE_FIELDS = ['partial', 'cap', ...STORED_SUMS];

/**
 * Counts logged parts of one rollout into its evidence through a write-back view: the
 * counters, machine-days, failing tests, source caps, arm aggregate (the steps of
 * ArmAccumulator.add, server/domain/decision/accumulator.ts, with the machine-days read from the
 * store; read back by server/domain/decision/stored-aggregate.ts) and segment evidence (the
 * domain's plans, executed as server/domain/segments/ledger.ts does). Pure: a function of what
 * the view reads. The layout of every key is in store/keys.ts.
 */
export class RolloutFold {
  /** Each arm aggregate's sums, read once and written (those that moved) at the end. */
  private readonly sums = new Map<string, { now: Sums; was: Sums }>();
  private readonly armKeys = new Map<string, ArmKeys>();
  private readonly meta: string;
  private readonly sourceCaps: string;
  private readonly seg: { tables: Record<string, string>; first: string; caps: string; budget: string; refused: string; agg: Record<'candidate' | 'control', string> };

  /** Layout 3: the machine records this run read (parsed once) and those it changed. */
  private readonly records = new Map<string, MachineRecord>();
  private readonly changed = new Set<string>();
  private readonly recordsKey: string;
  /** Records that could not be read (each counted, and its machine started afresh). */
  private unreadableRecords = 0;

  /**
   * `plans`: the parts' segment plans, made once per part however many times a fold runs and
   * whichever rollouts share it (a plan depends on the part alone; store/parsed-parts.ts). `layout`: the rollout's evidence layout.
   */
  constructor(private readonly w: WriteBack, private readonly k: Keys, private readonly id: string, private readonly plans: PlanMemo,
    private readonly layout: EvidenceLayout) {
    this.meta = k.rolloutMeta(id);
    this.recordsKey = k.machineRecords(id);
    this.sourceCaps = k.sourceCaps(id);
    const tables: Record<string, string> = {};
    for (const code of Object.values(CODE)) tables[code] = k.segmentTable(id, code);
    this.seg = {
      tables, first: k.segmentFirst(id), caps: k.segmentCaps(id), budget: k.segmentBudget(id), refused: k.segmentRefused(id),
      agg: { candidate: k.segmentAggregates(id, 'candidate'), control: k.segmentAggregates(id, 'control') },
    };
  }

  private keysOf(arm: 'candidate' | 'control', stage: number): ArmKeys {
    const memo = `${arm}\t${stage}`;
    let x = this.armKeys.get(memo);
    if (!x) {
      const { k, id } = this;
      x = {
        md: k.machineDays(id, arm),
        counters: [k.counters(id, stage, arm), k.counters(id, 'all', arm)],
        machines: [k.counterMachines(id, stage, arm), k.counterMachines(id, 'all', arm)],
        failing: [k.counterFailingMachines(id, stage, arm), k.counterFailingMachines(id, 'all', arm)],
        tests: k.failingTests(id, arm),
        testMachines: k.failingTestMachines(id, arm),
        agg: k.armAggregate(id, arm),
        aggMachines: k.armAggregateMachines(id, arm),
        aggSources: k.armAggregateSources(id, arm),
        aggDays: k.armAggregateDays(id, arm),
      };
      this.armKeys.set(memo, x);
    }
    return x;
  }

  /** Counts the parts in order; then writes the sums that moved and the records that changed (unless it missed reads). */
  run(parts: readonly LoggedPart[]): void {
    for (const p of parts) this.part(p);
    // a run that missed reads is run again once they are fetched: what it would write is not needed
    if (this.w.misses.size > 0) return;
    for (const [key, s] of this.sums) {
      for (const f of STORED_SUMS) if (s.now[f] !== s.was[f]) this.w.hset(key, f, String(s.now[f]));
    }
    for (const m of this.changed) this.w.hset(this.recordsKey, m, JSON.stringify(this.records.get(m)!));
    if (this.unreadableRecords) this.w.incr(this.meta, 'unreadableRecords', this.unreadableRecords);
  }

  /**
   * The reads a run over `parts` will most likely make (layout 3), so that they can be fetched
   * before the first run and it is the only one: the parts' machine records, the arm
   * aggregates' sums, sources and days, the source caps, and what the parts' segment plans
   * guard on in the rollout's keys (the plans made here are kept for the runs). A read this
   * does not foresee is a miss as before.
   */
  predictReads(parts: readonly LoggedPart[]): Misses {
    const m = new Misses();
    if (this.layout !== 3) return m;
    const { seg } = this;
    const aggregates = new Set<string>();
    for (const p of parts) {
      if (p.arm === 'mismatch') continue;
      const K = this.keysOf(p.arm, p.stage);
      m.add(m.fields, this.recordsKey, p.machine);
      if (p.source !== '' && p.scap > 0) m.add(m.fields, this.sourceCaps, `${p.arm}|${p.source}|${p.day}`);
      if (!aggregates.has(K.agg)) {
        aggregates.add(K.agg);
        for (const f of AGGREGATE_FIELDS) m.add(m.fields, K.agg, f);
      }
      m.add(m.fields, K.aggDays, p.day);
      if (p.source !== '') m.add(m.fields, K.aggSources, p.source);
      const plan = this.planOf(p);
      if (!plan) continue;
      for (const g of plan.groups) {
        for (const guard of g.guards) {
          if (guard.op === 'admit' || guard.op === 'member') {
            const table = seg.tables[CODE[guard.family]]!;
            m.add(m.members, table, guard.member);
            if (guard.op === 'admit' && !m.cards.has(table)) {
              m.cards.add(table);
              m.size++;
            }
          } else if (guard.unit === undefined) {
            if (guard.op === 'cap') m.add(m.fields, seg.caps, guard.field);
            else m.add(m.members, seg.first, guard.member);
          }
        }
      }
    }
    return m;
  }

  /** A part's segment plan (made once), or none when its rollout keeps no segment evidence. */
  private planOf(p: LoggedPart): SegmentPlan | null {
    if (!p.segments || p.arm === 'mismatch') return null;
    let plan = this.plans.get(p);
    if (!plan) {
      plan = segmentPlan({ machine: p.machine, source: p.source, day: p.day, stage: p.stage, arm: p.arm, project: p.project, python: p.python, outcome: p.outcome, failedTests: p.tests }, p.segments);
      this.plans.set(p, plan);
    }
    return plan;
  }

  /** Layout 3: a machine's record (read once a run). */
  private record(machine: string): MachineRecord {
    let r = this.records.get(machine);
    if (!r) {
      const v = this.w.hget(this.recordsKey, machine);
      const parsed = v === false ? null : parseRecord(v);
      if (v !== false && parsed === null) this.unreadableRecords++;
      r = parsed ?? {};
      this.records.set(machine, r);
    }
    return r;
  }

  /** Layout 3: a machine's record in an arm, to change. */
  private armRecord(machine: string, arm: 'candidate' | 'control'): ArmRecord {
    const r = this.record(machine);
    this.changed.add(machine);
    return (r[ARM_FIELD[arm]] ??= {});
  }

  /** The value of a machine-day ("runs,failures,errors[,source]"), or false. */
  private machineDay(p: LoggedPart & { arm: 'candidate' | 'control' }, K: ArmKeys): string | false {
    if (this.layout === 2) return this.w.hget(K.md, `${p.machine}|${p.day}`);
    return this.record(p.machine)[ARM_FIELD[p.arm]]?.d?.[p.day] ?? false;
  }

  private sumsOf(aKey: string): Sums {
    let s = this.sums.get(aKey);
    if (!s) {
      const now = {} as Sums;
      for (const f of STORED_SUMS) now[f] = Number(this.w.hget(aKey, f) || 0);
      s = { now, was: { ...now } };
      this.sums.set(aKey, s);
    }
    return s.now;
  }

  private part(p: LoggedPart): void {
    const { w, meta } = this;
    if (p.arm === 'mismatch') {
      w.incr(meta, 'mismatched', 1);
      return;
    }
    const arm = p.arm;
    const part = p as LoggedPart & { arm: typeof arm };
    const K = this.keysOf(arm, p.stage);
    if (!this.withinSourceCap(part, K)) {
      w.incr(meta, 'sourceCapped', 1);
      return;
    }
    w.incr(meta, 'counted', 1);
    w.hset(meta, 'lastReportAt', String(p.now));
    const failed = p.outcome !== 'pass';
    const rec = this.layout === 3 ? this.armRecord(p.machine, arm) : null;
    for (let i = 0; i < 2; i++) {
      const c = K.counters[i]!;
      w.incr(c, 'runs', 1);
      if (p.outcome === 'fail') w.incr(c, 'failures', 1);
      if (p.outcome === 'error') w.incr(c, 'errors', 1);
      if (rec) {
        // stage i = 0 the part's stage, 1 all stages: new to all when it has no stage yet
        if (i === 0 ? !rec.s?.includes(p.stage) : !rec.s?.length) w.incr(c, 'machines', 1);
        if (failed && (i === 0 ? !rec.f?.includes(p.stage) : !rec.f?.length)) w.incr(c, 'failingMachines', 1);
      } else {
        if (w.sadd(K.machines[i]!, p.machine)) w.incr(c, 'machines', 1);
        if (failed && w.sadd(K.failing[i]!, p.machine)) w.incr(c, 'failingMachines', 1);
      }
    }
    if (rec) {
      addTo((rec.s ??= []), p.stage);
      if (failed) addTo((rec.f ??= []), p.stage);
    }
    const cur = this.machineDay(part, K);
    this.aggregate(part, K, cur);
    const next = withRun(cur, p.outcome, p.source);
    if (rec) (rec.d ??= {})[p.day] = next;
    else w.hset(K.md, `${p.machine}|${p.day}`, next);
    for (const t of p.tests) {
      if (rec ? addTo((rec.t ??= []), t) : w.sadd(K.testMachines, `${t}\t${p.machine}`)) w.zincrby(K.tests, 1, t);
    }
    const plan = this.planOf(p);
    if (plan) this.segments(plan, p.machine);
  }

  /**
   * The source cap (docs/trust.md): true when the run has no source or there is no cap, or
   * when its machine-day is past the machine cap (the run adds no weight); else it takes one
   * from its source's allowance of the arm and day, and counts while that lasts.
   */
  private withinSourceCap(p: LoggedPart & { arm: 'candidate' | 'control' }, K: ArmKeys): boolean {
    if (p.source === '' || p.scap <= 0) return true;
    if (pastCap(this.machineDay(p, K), p.mcap)) return true;
    return this.w.hincrby(this.sourceCaps, `${p.arm}|${p.source}|${p.day}`, 1) <= p.scap;
  }

  /** Adds the run to the arm aggregate before it joins its machine-day (whose value was `cur`). */
  private aggregate(p: LoggedPart & { arm: 'candidate' | 'control' }, K: ArmKeys, cur: string | false): void {
    const { w } = this;
    const { agg: aKey, aggMachines: mKey, aggSources: cKey, aggDays: days } = K;
    if (w.hget(aKey, 'partial') !== false) return;
    const cap = w.hget(aKey, 'cap');
    if (cap === false) {
      // layout 3 is only ever chosen for a rollout without machine-days
      if (this.layout === 2 && w.hexists(K.md)) {
        // machine-days from before aggregates were kept: the reader keeps reading those
        w.hset(aKey, 'partial', 'older machine-days');
        return;
      }
      w.hset(aKey, 'cap', String(p.mcap));
    } else if (Number(cap) !== p.mcap) {
      w.hset(aKey, 'partial', `cap ${p.mcap}`);
      // layout 3: the machines' aggregate state stays in their records, never read again
      w.del(...(this.layout === 2 ? [mKey] : []), cKey, days);
      return;
    }
    const S = this.sumsOf(aKey);
    // the day's weight w = min(n, cap) and share f·w/n, before and after this run
    let n0 = 0;
    let b0 = 0;
    if (cur !== false) {
      const [r, fl, er] = numbersOf(cur, 3) as [number, number, number];
      n0 = r;
      b0 = Math.min(fl + er, r);
    }
    const bad = p.outcome !== 'pass' ? 1 : 0;
    const w0 = Math.min(n0, p.mcap);
    const c0 = n0 > 0 ? (b0 * w0) / n0 : 0;
    const w1 = Math.min(n0 + 1, p.mcap);
    const c1 = ((b0 + bad) * w1) / (n0 + 1);
    const dN = w1 - w0;
    const dF = c1 - c0;
    // the machine: "N_m,F_m,runs,failed runs,last day,source" (its source for good: its first run's)
    const rec = this.layout === 3 ? this.armRecord(p.machine, p.arm) : null;
    const mv = rec ? rec.g ?? false : w.hget(mKey, p.machine);
    let mN: number, mF: number, raw: number, mb: number, last: string, src: string;
    if (mv !== false) {
      const x = splitN(mv, 6);
      [mN, mF, raw, mb, last, src] = [Number(x[0]), Number(x[1]), Number(x[2]), Number(x[3]), x[4]!, x[5]!];
      if (p.day > last) {
        if (w.hincrby(days, last, -1) <= 0) w.hdel(days, last);
        w.hincrby(days, p.day, 1);
        last = p.day;
      }
    } else {
      [mN, mF, raw, mb, last, src] = [0, 0, 0, 0, p.day, p.source];
      S.G += 1;
      w.hincrby(days, p.day, 1);
      if (src === '') S.clusters += 1;
    }
    const wasFailing = mb > 0;
    const wasAll = raw > 0 && mb >= raw;
    raw += 1;
    mb += bad;
    const isFailing = mb > 0;
    const isAll = mb >= raw;
    if (isAll !== wasAll) S.allFailing += isAll ? 1 : -1;
    // the cluster: the source's "N_c,F_c,failing machines,all-failing machines"; without a source the machine
    let gN = mN;
    let gF = mF;
    let cf = 0;
    let ca = 0;
    if (src !== '') {
      const cv = w.hget(cKey, src);
      if (cv !== false) {
        [gN, gF, cf, ca] = numbersOf(cv, 4) as [number, number, number, number];
      } else {
        gN = 0;
        gF = 0;
        S.clusters += 1;
      }
    }
    const N0 = gN;
    const F0 = gF;
    gN = N0 + dN;
    gF = F0 + dF;
    mN += dN;
    mF += dF;
    S.sumNN += dN * (N0 + gN);
    S.sumFF += dF * (F0 + gF);
    S.sumFN += dF * gN + F0 * dN;
    S.N += dN;
    S.F += dF;
    if (src !== '') {
      if (isFailing && !wasFailing) {
        cf += 1;
        if (cf === 1) S.failingSources += 1;
      }
      if (isAll !== wasAll) {
        const before = ca;
        ca += isAll ? 1 : -1;
        if (before === 0) S.allFailingSources += 1;
        else if (ca === 0) S.allFailingSources -= 1;
      }
      w.hset(cKey, src, `${gN},${gF},${cf},${ca}`);
    } else {
      if (isFailing && !wasFailing) S.failingSources += 1;
      if (isAll !== wasAll) S.allFailingSources += isAll ? 1 : -1;
    }
    S.runs += 1;
    if (p.outcome === 'fail') S.failures += 1;
    if (p.outcome === 'error') S.errors += 1;
    const mNext = `${mN},${mF},${raw},${mb},${last},${src}`;
    if (rec) rec.g = mNext;
    else w.hset(mKey, p.machine, mNext);
  }

  /** Executes a segment plan (server/domain/segments/plan.ts) as the ledger does. */
  private segments(plan: SegmentPlan, machine: string): void {
    const agg = this.seg.agg[plan.arm];
    // layout 3: part() marked the machine's record changed
    const rec = this.layout === 3 ? this.record(machine) : null;
    for (const g of plan.groups) {
      let ok = true;
      for (const guard of g.guards) {
        if (!(rec ? this.passIn(rec, guard, plan) : this.pass(guard, plan))) {
          ok = false;
          break;
        }
      }
      if (ok) for (const f of g.incr) this.w.incr(agg, f, 1);
    }
  }

  private pass(g: Guard, plan: SegmentPlan): boolean {
    const { w, seg } = this;
    switch (g.op) {
      case 'admit':
        return this.admit(g, plan, () => Number(w.hget(seg.budget, plan.budgetField) || 0), () => w.hincrby(seg.budget, plan.budgetField, 1));
      case 'member':
        return w.sismember(seg.tables[CODE[g.family]]!, g.member);
      case 'cap':
        return w.hincrby(seg.caps, g.field, 1) <= g.limit;
      case 'first':
        return w.sadd(seg.first, g.member);
      case 'absent':
        return !w.sismember(seg.first, g.member);
    }
  }

  /** Layout 3: a guard of the machine's own (`unit`) on its record, the others as in layout 2. */
  private passIn(rec: MachineRecord, g: Guard, plan: SegmentPlan): boolean {
    switch (g.op) {
      case 'admit': {
        const day = plan.budgetUnit;
        return this.admit(g, plan, () => rec.sb?.[day] ?? 0, () => {
          const budget = (rec.sb ??= {});
          budget[day] = (budget[day] ?? 0) + 1;
        });
      }
      case 'cap': {
        if (g.unit === undefined) return this.pass(g, plan);
        const caps = (rec.sc ??= {});
        const n = (caps[g.unit] ?? 0) + 1;
        caps[g.unit] = n;
        return n <= g.limit;
      }
      case 'first':
        if (g.unit === undefined) return this.pass(g, plan);
        return addTo((rec.sf ??= []), g.unit);
      case 'absent':
        return g.unit === undefined ? this.pass(g, plan) : !rec.sf?.includes(g.unit);
      default:
        return this.pass(g, plan);
    }
  }

  /** The admission of a segment to its family's table, the machine's budget of the day read and spent by the callers. */
  private admit(g: Guard & { op: 'admit' }, plan: SegmentPlan, used: () => number, spend: () => void): boolean {
    const { w, seg } = this;
    const table = seg.tables[CODE[g.family]]!;
    if (w.sismember(table, g.member)) return true;
    if (w.scard(table) < plan.limits[g.family] && used() < plan.limits.budget) {
      w.sadd(table, g.member);
      spend();
      return true;
    }
    w.incr(seg.refused, CODE[g.family], 1);
    return false;
  }
}

const ARMS = new Set(['candidate', 'control', 'mismatch']);
const OUTCOMES = new Set(['pass', 'fail', 'error']);

/**
 * A log entry as a LoggedPart, or null when it is not one (a log is written by ingest.lua only,
 * but a part that cannot be counted must not stop every later one from being counted).
 */
export function loggedPartOf(entry: string): LoggedPart | null {
  let x: unknown;
  try {
    x = JSON.parse(entry);
  } catch {
    return null;
  }
  if (typeof x !== 'object' || x === null) return null;
  const p = x as Record<string, unknown>;
  const strings = [p.id, p.machine, p.day, p.source, p.project, p.python].every((v) => typeof v === 'string');
  if (!strings || !ARMS.has(p.arm as string) || !OUTCOMES.has(p.outcome as string)) return null;
  if (!isCount(p.stage) || !isCount(p.now) || !isCount(p.scap) || !isCount(p.mcap) || (p.mcap as number) < 1) return null;
  if (!Array.isArray(p.tests) || !p.tests.every((t) => typeof t === 'string')) return null;
  if (p.segments !== undefined && !isSegmentPolicy(p.segments)) return null;
  return p as unknown as LoggedPart;
}

/** A rollout's segment caps as a part carries them (domain/segments/plan.ts SegmentPolicy): counts, the run cap at least 1. */
function isSegmentPolicy(x: unknown): x is SegmentPolicy {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const s = x as Record<string, unknown>;
  const counts = [s.cap, s.maxProjects, s.maxPythons, s.maxSignatures, s.maxNewSegmentsPerMachineDay].every(isCount);
  return counts && (s.cap as number) >= 1 && (s.segmentSourceCap === undefined || isCount(s.segmentSourceCap));
}

/** Adds x to a list kept as a set: true when it was not in it. */
function addTo<T>(xs: T[], x: T): boolean {
  if (xs.includes(x)) return false;
  xs.push(x);
  return true;
}

/** A machine-day value "runs,failures,errors[,source]" (`cur` false: none yet) with one more run. */
export function withRun(cur: string | false, outcome: LoggedPart['outcome'], source: string): string {
  let [n, f, e] = [0, 0, 0];
  if (cur !== false) [n, f, e] = numbersOf(cur, 3) as [number, number, number];
  n += 1;
  if (outcome === 'fail') f += 1;
  if (outcome === 'error') e += 1;
  return source !== '' ? `${n},${f},${e},${source}` : `${n},${f},${e}`;
}

/** Whether a machine-day value holds `cap` runs or more (a run then adds no weight). */
function pastCap(cur: string | false, cap: number): boolean {
  return cur !== false && Number(cur.slice(0, cur.indexOf(','))) >= cap;
}

/** The first `n` comma-separated fields of `s` as numbers (as `s.split(',').map(Number)` reads them; NaN where `s` has fewer). */
export function numbersOf(s: string, n: number): number[] {
  const out = new Array<number>(n).fill(Number.NaN);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const j = s.indexOf(',', at);
    out[i] = Number(j < 0 ? s.slice(at) : s.slice(at, j));
    if (j < 0) break;
    at = j + 1;
  }
  return out;
}

/** The first n - 1 comma-separated fields and the rest (which may hold commas: a source). */
function splitN(s: string, n: number): string[] {
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < n - 1; i++) {
    const j = s.indexOf(',', at);
    if (j < 0) break;
    out.push(s.slice(at, j));
    at = j + 1;
  }
  out.push(s.slice(at));
  return out;
}
