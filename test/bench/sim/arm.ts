import type { ArmEvidence, MachineDay } from '../../../server/domain/evidence';
import { FLEET, RANK, T0, type World } from './fleet';

const DAYS = Array.from({ length: FLEET.days }, (_, d) => new Date(T0 + d * 86_400_000).toISOString().slice(0, 10));

/**
 * One arm's evidence, kept incrementally: one MachineDay per machine and UTC day, updated in
 * place. The list is kept sorted by machine id (days in order within a machine), the shape
 * a store can hand over cheaply and decide() aggregates without a hash map: entries created
 * during an hour are merged in at the tick (`flush`).
 */
export class Arm {
  readonly evidence: ArmEvidence = { machineDays: [], failingTests: [] };
  private readonly index = new Int32Array(FLEET.days * FLEET.machines);
  /** Machine-days by entry number − 1 (for in-place updates). */
  private readonly all: MachineDay[] = [];
  /** Machine rank of each entry of evidence.machineDays. */
  private ranks = new Int32Array(0);
  private readonly fresh: { md: MachineDay; rank: number }[] = [];

  add(w: World, m: number, day: number, result: 0 | 1 | 2): void {
    const key = day * FLEET.machines + m;
    let md: MachineDay;
    const i = this.index[key]!;
    if (i === 0) {
      md = { machine: w.ids[m]!, day: DAYS[day]!, runs: 0, failures: 0, errors: 0 };
      this.all.push(md);
      this.index[key] = this.all.length;
      this.fresh.push({ md, rank: RANK[m]! });
    } else {
      md = this.all[i - 1]!;
    }
    md.runs++;
    if (result === 1) md.failures++;
    else if (result === 2) md.errors++;
  }

  flush(): void {
    const fresh = this.fresh;
    if (fresh.length === 0) return;
    // New entries belong to the current day, after every earlier day of their machine: merge
    // them in by machine rank, in place from the back (no allocation per tick).
    fresh.sort((a, b) => a.rank - b.rank);
    const out = this.evidence.machineDays;
    let i = out.length - 1;
    let j = fresh.length - 1;
    let k = out.length + fresh.length - 1;
    if (this.ranks.length <= k) {
      const grown = new Int32Array(Math.max(1024, 2 * (k + 1)));
      grown.set(this.ranks);
      this.ranks = grown;
    }
    const ranks = this.ranks;
    // grow with push so the array stays packed (setting length would make it holey)
    for (let t = 0; t < fresh.length; t++) out.push(fresh[0]!.md);
    while (j >= 0) {
      const f = fresh[j]!;
      if (i >= 0 && ranks[i]! > f.rank) {
        ranks[k] = ranks[i]!;
        out[k--] = out[i--]!;
      } else {
        ranks[k] = f.rank;
        out[k--] = f.md;
        j--;
      }
    }
    fresh.length = 0;
  }
}

