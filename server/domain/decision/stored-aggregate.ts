import type { ArmAggregateSource } from './accumulator';
import type { ArmAggregate } from './stats';

/**
 * An arm aggregate as ingestion keeps it in the store (server/store/rollout-fold.ts, the
 * steps of ArmAccumulator.add run by run), read back for the rule in O(days):
 *  - the arm's hash: `cap` (the per-machine-day cap it was built with), the sums below, and
 *    `partial` when it does not hold every run of the arm (the arm had machine-days before
 *    aggregates were kept, or its runs came with another cap): the rule then reads the
 *    machine-days instead;
 *  - the machines per last UTC day (`YYYY-MM-DD` → count), from which windowMachines is
 *    counted for any window.
 */
export const STORED_SUMS = [
  'N', 'F', 'G', 'sumFF', 'sumFN', 'sumNN', 'runs', 'failures', 'errors', 'allFailing', 'clusters', 'failingSources', 'allFailingSources',
] as const;

type Sums = Record<(typeof STORED_SUMS)[number], number>;

/** Sums of fractions once a day passes the cap (doubles, written with 17 significant digits); the rest are counts. */
const FRACTIONAL = new Set<string>(['F', 'sumFF', 'sumFN']);

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class StoredArmAggregate implements ArmAggregateSource {
  private constructor(
    readonly cap: number,
    private readonly sums: Sums,
    private readonly lastDays: readonly (readonly [string, number])[],
  ) {}

  /**
   * The stored aggregate, or null when there is none to trust: absent, partial, or not
   * what ingestion writes (a number that does not parse, a negative count). Null sends the
   * reader back to the machine-days, which always hold every counted run.
   */
  static read(hash: Record<string, string>, lastDays: Record<string, string>): StoredArmAggregate | null {
    if (hash.partial !== undefined || hash.cap === undefined) return null;
    const cap = Number(hash.cap);
    if (!(Number.isInteger(cap) && cap >= 1)) return null;
    const sums = {} as Sums;
    for (const f of STORED_SUMS) {
      const x = Number(hash[f] ?? '0');
      if (FRACTIONAL.has(f) ? !Number.isFinite(x) : !(Number.isSafeInteger(x) && x >= 0)) return null;
      sums[f] = x;
    }
    const days: [string, number][] = [];
    for (const [day, v] of Object.entries(lastDays)) {
      const n = Number(v);
      if (!DAY.test(day) || !(Number.isInteger(n) && n >= 0)) return null;
      if (n > 0) days.push([day, n]);
    }
    return new StoredArmAggregate(cap, sums, days);
  }

  aggregate(windowAfter: string | null): ArmAggregate {
    let windowMachines = 0;
    for (const [day, n] of this.lastDays) if (windowAfter === null || day > windowAfter) windowMachines += n;
    const s = this.sums;
    return {
      N: s.N, F: s.F, G: s.G, sumFF: s.sumFF, sumFN: s.sumFN, sumNN: s.sumNN,
      runs: s.runs, failures: s.failures, errors: s.errors, allFailing: s.allFailing, windowMachines,
      clusters: s.clusters, sources: s.clusters, failingSources: s.failingSources, allFailingSources: s.allFailingSources,
    };
  }
}
