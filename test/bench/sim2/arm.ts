import type { ArmEvidence, MachineDay } from '../../../server/domain/evidence';
import { FLEET2, T0_2 } from './fleet';

const DAYS = Array.from({ length: FLEET2.days }, (_, d) => new Date(T0_2 + d * 86_400_000).toISOString().slice(0, 10));

/** Machine ids that sort like their rank: developer machines first, then single-run identities by serial. */
export function machineId(mach: number): string {
  return mach >= 0 ? `d${String(mach).padStart(5, '0')}` : `j${String(-1 - mach).padStart(9, '0')}`;
}

/**
 * One arm's run-level evidence for v2 (as ../sim/arm.ts for v1): one MachineDay per machine
 * and UTC day, updated in place, kept sorted by machine id (developer machines, then the
 * single-run identities in serial order) so decide() aggregates it without a hash map.
 */
export class Arm2 {
  readonly evidence: ArmEvidence = { machineDays: [], failingTests: [] };
  private readonly devIndex = new Int32Array(FLEET2.days * FLEET2.devMachines);
  private readonly all: MachineDay[] = [];
  private ranks = new Float64Array(0);
  private readonly fresh: { md: MachineDay; rank: number }[] = [];

  add(mach: number, day: number, result: number): void {
    let md: MachineDay | undefined;
    if (mach >= 0) {
      const key = day * FLEET2.devMachines + mach;
      const i = this.devIndex[key]!;
      if (i > 0) md = this.all[i - 1];
      else {
        md = { machine: machineId(mach), day: DAYS[day]!, runs: 0, failures: 0, errors: 0 };
        this.all.push(md);
        this.devIndex[key] = this.all.length;
        this.fresh.push({ md, rank: mach });
      }
    } else {
      md = { machine: machineId(mach), day: DAYS[day]!, runs: 0, failures: 0, errors: 0 };
      this.fresh.push({ md, rank: FLEET2.devMachines - 1 - mach });
    }
    md!.runs++;
    if (result === 1) md!.failures++;
    else if (result === 2) md!.errors++;
  }

  flush(): void {
    const fresh = this.fresh;
    if (fresh.length === 0) return;
    fresh.sort((a, b) => a.rank - b.rank);
    const out = this.evidence.machineDays;
    let i = out.length - 1;
    let j = fresh.length - 1;
    let k = out.length + fresh.length - 1;
    if (this.ranks.length <= k) {
      const grown = new Float64Array(Math.max(1024, 2 * (k + 1)));
      grown.set(this.ranks);
      this.ranks = grown;
    }
    const ranks = this.ranks;
    for (let t = 0; t < fresh.length; t++) out.push(fresh[0]!.md);
    // a machine's new day of the same machine rank goes after its earlier days (stable)
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
