/**
 * Segment evidence for the simulation, kept with numeric indices instead of the ingestion
 * plan's strings (the plan executor is too slow for millions of simulated reports). It
 * implements exactly the semantics of server/domain/segments/plan.ts + ledger.ts — table
 * admission with a per-machine daily budget, the per machine-day cap, first occurrences —
 * and test/unit/segments-sim.test.ts checks that both give the same evidence on random
 * report streams. The evidence objects are updated in place and handed to decide().
 */
import type { SegmentArm, SegmentEvidence, SegmentStats, SignatureStats } from '../../../server/domain/segments';
import type { SegmentPolicy } from '../../../server/domain/segments';

export interface SimNames {
  project(k: number): string;
  python(y: number): string;
  test(k: number, id: number): string;
}

/** A machine: a developer machine's index (≥ 0, with its project / Python slots), or a single-run identity (< 0). */
export interface SimMachine {
  m: number;
  /** Slot of the report's project / Python in the machine's own lists (developer machines). */
  projectSlot: number;
  pythonSlot: number;
}

const SLOTS = 4;
const SIG_STRIDE = 1 << 14;

function arm(stages: number): SegmentArm {
  const z = () => new Array<number>(stages).fill(0);
  return { N: 0, F: 0, E: 0, firstRuns: z(), firstFailed: z(), firstErrored: z() };
}

export class SimSegments {
  readonly evidence: SegmentEvidence = { projects: [], pythons: [], signatures: [], refused: { project: 0, python: 0, signature: 0 } };
  private readonly projects = new Map<number, SegmentStats>();
  private readonly pythons = new Map<number, SegmentStats>();
  private readonly sigs = new Map<number, SignatureStats>();
  private readonly budgetDay: Int32Array;
  private readonly budgetUsed: Int32Array;
  private readonly capDay: Int32Array;
  private readonly capCount: Int32Array;
  private readonly seen: Uint8Array;
  private readonly sigSeen = new Set<number>();
  private singleUsed = 0;

  constructor(
    private readonly policy: SegmentPolicy,
    private readonly stages: number,
    private readonly names: SimNames,
    devMachines: number,
  ) {
    this.budgetDay = new Int32Array(devMachines).fill(-1);
    this.budgetUsed = new Int32Array(devMachines);
    this.capDay = new Int32Array(devMachines * 2 * SLOTS).fill(-1);
    this.capCount = new Int32Array(devMachines * 2 * SLOTS);
    this.seen = new Uint8Array(devMachines * 2 * SLOTS);
  }

  /** One counted report (result 0 pass, 1 fail, 2 error; failing ids ids[0 .. n)). */
  report(
    who: SimMachine, day: number, stage: number, candidate: boolean, project: number, python: number,
    result: number, ids: Int32Array, n: number,
  ): void {
    const dev = who.m >= 0;
    if (!dev) this.singleUsed = 0;
    const bad = result !== 0;
    const err = result === 2;
    this.withRuns('project', project, dev ? who.m * 2 * SLOTS + who.projectSlot : -1, who.m, day, stage, candidate, bad, err);
    this.withRuns('python', python, dev ? who.m * 2 * SLOTS + SLOTS + who.pythonSlot : -1, who.m, day, stage, candidate, bad, err);
    if (!bad) return;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      let dup = false;
      for (let j = 0; j < i; j++) if (ids[j] === id) dup = true;
      if (dup) continue;
      const key = project * SIG_STRIDE + id;
      let s = this.sigs.get(key);
      if (!s) {
        if (!this.admit('signature', who.m, day)) continue;
        s = { project: this.names.project(project), test: this.names.test(project, id), candidate: new Array(this.stages).fill(0), control: new Array(this.stages).fill(0) };
        this.sigs.set(key, s);
        this.evidence.signatures.push(s);
      }
      if (dev) {
        const seenKey = key * 8192 + who.m;
        if (this.sigSeen.has(seenKey)) continue;
        this.sigSeen.add(seenKey);
      }
      (candidate ? s.candidate : s.control)[stage]!++;
    }
  }

  private admit(family: 'project' | 'python' | 'signature', m: number, day: number): boolean {
    const size = family === 'project' ? this.projects.size : family === 'python' ? this.pythons.size : this.sigs.size;
    const limit = family === 'project' ? this.policy.maxProjects : family === 'python' ? this.policy.maxPythons : this.policy.maxSignatures;
    let used: number;
    if (m >= 0) {
      if (this.budgetDay[m] !== day) {
        this.budgetDay[m] = day;
        this.budgetUsed[m] = 0;
      }
      used = this.budgetUsed[m]!;
    } else {
      used = this.singleUsed;
    }
    if (size < limit && used < this.policy.maxNewSegmentsPerMachineDay) {
      if (m >= 0) this.budgetUsed[m]!++;
      else this.singleUsed++;
      return true;
    }
    this.evidence.refused[family]++;
    return false;
  }

  private withRuns(
    family: 'project' | 'python', index: number, slot: number, m: number, day: number, stage: number,
    candidate: boolean, bad: boolean, err: boolean,
  ): void {
    const map = family === 'project' ? this.projects : this.pythons;
    let s = map.get(index);
    if (!s) {
      if (!this.admit(family, m, day)) return;
      s = {
        kind: family, name: family === 'project' ? this.names.project(index) : this.names.python(index),
        candidate: arm(this.stages), control: arm(this.stages),
      };
      map.set(index, s);
      (family === 'project' ? this.evidence.projects : this.evidence.pythons).push(s);
    }
    const a = candidate ? s.candidate : s.control;
    let capped = true;
    let first = true;
    if (slot >= 0) {
      if (this.capDay[slot] !== day) {
        this.capDay[slot] = day;
        this.capCount[slot] = 0;
      }
      capped = ++this.capCount[slot]! <= this.policy.cap;
      first = this.seen[slot] === 0;
      this.seen[slot] = 1;
    }
    if (capped) {
      a.N++;
      if (bad) a.F++;
      if (err) a.E++;
    }
    if (first) {
      a.firstRuns[stage]!++;
      if (bad) a.firstFailed[stage]!++;
      if (err) a.firstErrored[stage]!++;
    }
  }
}
