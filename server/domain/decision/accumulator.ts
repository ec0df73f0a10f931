import type { ArmAggregate } from './stats';

/**
 * The arm aggregate of ./stats.ts (`aggregateArm`), maintained run by run instead of
 * recomputed from every machine-day: O(1) per run and O(days) per read, for evidence kept
 * as aggregates at ingestion. It gives the same numbers as aggregateArm over the same runs
 * (property-tested, up to floating-point rounding); the simulation keeps its arms with it,
 * and ingestion (server/store/rollout-fold.ts) keeps the stored arm aggregate with the same
 * steps (read back by ./stored-aggregate.ts).
 *
 * Per machine m and UTC day d with n runs of which f failed or errored: w = min(n, cap),
 * N_m = Σ_d w, F_m = Σ_d f·w/n. A run changes one day's (w, f·w/n); the machine's N_m and
 * F_m, its cluster's N_c and F_c (its source's machines together; a machine without a
 * source is its own cluster) and the arm's sums Σ N_m, Σ F_m, Σ F_c², Σ F_c·N_c, Σ N_c²
 * move by the difference. Every step is exact while no day passes the cap (all integers).
 */
export interface ArmAggregateSource {
  /** The cap the aggregate was built with (the rule refuses a mismatch). */
  readonly cap: number;
  /** The aggregate, windowMachines counting machines with a run on a UTC day after `windowAfter` (every day when null). */
  aggregate(windowAfter: string | null): ArmAggregate;
}

interface MachineState {
  N: number;
  F: number;
  raw: number;
  bad: number;
  last: number;
  /** The last day's runs and failures + errors (most machines report on one day only)… */
  n: number;
  f: number;
  /** … and the earlier days', per UTC day number (null until a second day). */
  days: Map<number, { n: number; f: number }> | null;
  /** The machine's source cluster; null: the machine is a cluster of its own. */
  cluster: ClusterState | null;
}

/** One source's machines taken together (N_c = Σ N_m, F_c = Σ F_m) and how many of them fail. */
interface ClusterState {
  N: number;
  F: number;
  /** Machines of the source with a failed or errored run. */
  failing: number;
  /** Machines of the source whose every run failed or errored. */
  allFailing: number;
}

const DAY_MS = 86_400_000;

/** "2025-01-06" → days since the epoch. */
export function dayNumber(day: string): number {
  return Math.floor(Date.parse(`${day}T00:00:00Z`) / DAY_MS);
}

export class ArmAccumulator<K = string> implements ArmAggregateSource {
  private readonly machines = new Map<K, MachineState>();
  private readonly sources = new Map<string, ClusterState>();
  /** Machines by the last UTC day they ran (for windowMachines). */
  private readonly lastDays = new Map<number, number>();
  private N = 0;
  private F = 0;
  private sumFF = 0;
  private sumFN = 0;
  private sumNN = 0;
  private runs = 0;
  private failures = 0;
  private errors = 0;
  private allFailing = 0;
  /** Clusters: sources with runs, and machines without one. */
  private clusters = 0;
  /** Clusters with a failed or errored run, and with a machine whose every run failed or errored. */
  private failingSources = 0;
  private allFailingSources = 0;
  /** Machines added with addOnce. */
  private once = 0;

  constructor(readonly cap: number) {
    if (!(Number.isInteger(cap) && cap >= 1)) throw new RangeError(`cap must be a positive integer, got ${cap}`);
  }

  /**
   * One run of `machine` on UTC day number `day` (see dayNumber), reported from `source`
   * ('' none). A machine belongs to the source of its first run for good (a machine reports
   * from one source: its enrolment's or its CI system's); without one it is its own cluster.
   */
  add(machine: K, day: number, outcome: 'pass' | 'fail' | 'error', source = ''): void {
    let m = this.machines.get(machine);
    if (!m) {
      let cluster: ClusterState | null = null;
      if (source !== '') {
        cluster = this.sources.get(source) ?? null;
        if (!cluster) {
          this.sources.set(source, (cluster = { N: 0, F: 0, failing: 0, allFailing: 0 }));
          this.clusters++;
        }
      } else {
        this.clusters++;
      }
      m = { N: 0, F: 0, raw: 0, bad: 0, last: day, n: 0, f: 0, days: null, cluster };
      this.machines.set(machine, m);
      this.lastDays.set(day, (this.lastDays.get(day) ?? 0) + 1);
    } else if (day > m.last) {
      // a new last day: the current one moves to the map of earlier days
      (m.days ??= new Map()).set(m.last, { n: m.n, f: m.f });
      this.lastDays.set(m.last, this.lastDays.get(m.last)! - 1);
      this.lastDays.set(day, (this.lastDays.get(day) ?? 0) + 1);
      m.last = day;
      m.n = m.days.get(day)?.n ?? 0;
      m.f = m.days.get(day)?.f ?? 0;
      m.days.delete(day);
    }
    // a run of the current last day updates it in place; a late run of an earlier day its map entry
    const d: { n: number; f: number } = day === m.last ? m : (m.days ??= new Map()).get(day) ?? { n: 0, f: 0 };
    if (day !== m.last) m.days!.set(day, d);
    const bad = outcome === 'pass' ? 0 : 1;
    const cap = this.cap;
    const w0 = d.n < cap ? d.n : cap;
    const c0 = d.n > 0 ? (d.f * w0) / d.n : 0;
    d.n++;
    d.f += bad;
    const w1 = d.n < cap ? d.n : cap;
    const c1 = (d.f * w1) / d.n;
    const dN = w1 - w0;
    const dF = c1 - c0;
    const wasFailing = m.bad > 0;
    const wasAll = m.raw > 0 && m.bad >= m.raw;
    m.raw++;
    m.bad += bad;
    const isFailing = m.bad > 0;
    const isAll = m.bad >= m.raw;
    const c = m.cluster;
    // the variance's sums move with the cluster's (N_c, F_c): x1² − x0² = d·(x0 + x1), exact for integers
    const g = c ?? m;
    const N0 = g.N;
    const F0 = g.F;
    g.N = N0 + dN;
    g.F = F0 + dF;
    if (c) {
      m.N += dN;
      m.F += dF;
    }
    this.sumNN += dN * (N0 + g.N);
    this.sumFF += dF * (F0 + g.F);
    this.sumFN += dF * g.N + F0 * dN;
    this.N += dN;
    this.F += dF;
    this.allFailing += (isAll ? 1 : 0) - (wasAll ? 1 : 0);
    if (c) {
      if (isFailing && !wasFailing && c.failing++ === 0) this.failingSources++;
      if (isAll !== wasAll) {
        const before = c.allFailing;
        c.allFailing += isAll ? 1 : -1;
        if (before === 0) this.allFailingSources++;
        else if (c.allFailing === 0) this.allFailingSources--;
      }
    } else {
      if (isFailing && !wasFailing) this.failingSources++;
      this.allFailingSources += (isAll ? 1 : 0) - (wasAll ? 1 : 0);
    }
    this.runs++;
    if (outcome === 'fail') this.failures++;
    else if (outcome === 'error') this.errors++;
  }

  /**
   * One run of a machine id that is never used again (single-use CI nodes): the same
   * numbers as add() with a fresh id and no source, without keeping the machine. The caller
   * guarantees the id does not report again; the simulation uses it for its CI jobs.
   */
  addOnce(day: number, outcome: 'pass' | 'fail' | 'error'): void {
    const bad = outcome === 'pass' ? 0 : 1;
    this.once++;
    this.clusters++;
    this.lastDays.set(day, (this.lastDays.get(day) ?? 0) + 1);
    this.N += 1;
    this.F += bad;
    this.sumNN += 1;
    this.sumFF += bad;
    this.sumFN += bad;
    this.allFailing += bad;
    this.failingSources += bad;
    this.allFailingSources += bad;
    this.runs++;
    if (outcome === 'fail') this.failures++;
    else if (outcome === 'error') this.errors++;
  }

  aggregate(windowAfter: string | null): ArmAggregate {
    let windowMachines = 0;
    const after = windowAfter === null ? Number.NEGATIVE_INFINITY : dayNumber(windowAfter);
    for (const [day, n] of this.lastDays) if (day > after) windowMachines += n;
    const G = this.machines.size + this.once;
    return {
      N: this.N, F: this.F, G, sumFF: this.sumFF, sumFN: this.sumFN, sumNN: this.sumNN,
      runs: this.runs, failures: this.failures, errors: this.errors, allFailing: this.allFailing, windowMachines,
      clusters: this.clusters, sources: this.clusters, failingSources: this.failingSources, allFailingSources: this.allFailingSources,
    };
  }
}
