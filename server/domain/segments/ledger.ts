import { parseField, stageOf, STAT } from './names';
import type { Family } from './names';
import type { Guard, SegmentPlan } from './plan';
import type { SegmentArm, SegmentEvidence, SegmentStats, SignatureStats } from './types';

/**
 * An in-memory executor of ingestion plans with exactly the semantics of the store's
 * (server/store/rollout-fold.ts): the simulation and the unit tests keep segment evidence
 * with it, and an integration test checks that both give the same evidence.
 */
export class SegmentLedger {
  readonly tables: Record<Family, Set<string>> = { project: new Set(), python: new Set(), signature: new Set() };
  readonly budget = new Map<string, number>();
  readonly caps = new Map<string, number>();
  readonly first = new Set<string>();
  readonly agg = { candidate: new Map<string, number>(), control: new Map<string, number>() };
  readonly refused: Record<Family, number> = { project: 0, python: 0, signature: 0 };

  apply(plan: SegmentPlan): void {
    const agg = this.agg[plan.arm];
    for (const g of plan.groups) {
      if (!g.guards.every((guard) => this.pass(guard, plan))) continue;
      for (const f of g.incr) agg.set(f, (agg.get(f) ?? 0) + 1);
    }
  }

  private pass(g: Guard, plan: SegmentPlan): boolean {
    switch (g.op) {
      case 'admit': {
        const table = this.tables[g.family];
        if (table.has(g.member)) return true;
        const used = this.budget.get(plan.budgetField) ?? 0;
        if (table.size < plan.limits[g.family] && used < plan.limits.budget) {
          table.add(g.member);
          this.budget.set(plan.budgetField, used + 1);
          return true;
        }
        this.refused[g.family]++;
        return false;
      }
      case 'member':
        return this.tables[g.family].has(g.member);
      case 'cap': {
        const v = (this.caps.get(g.field) ?? 0) + 1;
        this.caps.set(g.field, v);
        return v <= g.limit;
      }
      case 'first':
        if (this.first.has(g.member)) return false;
        this.first.add(g.member);
        return true;
      case 'absent':
        return !this.first.has(g.member);
    }
  }

  evidence(): SegmentEvidence {
    return segmentEvidence(this.agg.candidate, this.agg.control, this.refused);
  }
}

function emptyArm(): SegmentArm {
  return { N: 0, F: 0, E: 0, firstRuns: [], firstFailed: [], firstErrored: [] };
}

function bump(xs: number[], i: number, v: number): void {
  while (xs.length <= i) xs.push(0);
  xs[i]! += v;
}

/** A count from storage: non-negative and finite, anything else 0. */
function count(v: number | string): number {
  const n = typeof v === 'number' ? v : Number(v);
  return n > 0 && n < Number.POSITIVE_INFINITY ? n : 0;
}

/**
 * Segment evidence from the two arms' aggregate fields (as ingestion writes them, in any
 * order) and the refusal counters. Unknown fields are ignored, so evidence written by a
 * later version still reads. Segments and signatures are sorted by name (deterministic).
 */
export function segmentEvidence(
  candidate: Iterable<[string, number | string]>,
  control: Iterable<[string, number | string]>,
  refused: Partial<Record<Family, number | string>> = {},
): SegmentEvidence {
  const segs = new Map<string, SegmentStats>();
  const sigs = new Map<string, SignatureStats>();
  const read = (arm: 'candidate' | 'control', entries: Iterable<[string, number | string]>) => {
    for (const [f, raw] of entries) {
      const p = parseField(f);
      const v = count(raw);
      if (!p || v === 0) continue;
      if (p.family === 'signature') {
        const sources = p.stat === STAT.signatureSources;
        const stage = sources ? null : stageOf(p.stat, 't');
        if (stage === null && !sources) continue;
        const key = `${p.name}\t${p.test}`;
        let s = sigs.get(key);
        if (!s) sigs.set(key, (s = { project: p.name, test: p.test!, candidate: [], control: [] }));
        if (sources) (s.sources ??= { candidate: 0, control: 0 })[arm] += v;
        else bump(s[arm], stage!, v);
        continue;
      }
      const key = `${p.family}\t${p.name}`;
      let s = segs.get(key);
      if (!s) segs.set(key, (s = { kind: p.family, name: p.name, candidate: emptyArm(), control: emptyArm() }));
      const a = s[arm];
      if (p.stat === STAT.runs) a.N += v;
      else if (p.stat === STAT.failed) a.F += v;
      else if (p.stat === STAT.errored) a.E += v;
      else if (p.stat === STAT.sourcesFailed) a.sourcesFailed = (a.sourcesFailed ?? 0) + v;
      else if (p.stat === STAT.sourcesErrored) a.sourcesErrored = (a.sourcesErrored ?? 0) + v;
      else {
        const target = p.stat[0] === 'r' ? a.firstRuns : p.stat[0] === 'f' ? a.firstFailed : p.stat[0] === 'e' ? a.firstErrored : null;
        const stage = target ? stageOf(p.stat, p.stat[0]!) : null;
        if (target && stage !== null) bump(target, stage, v);
      }
    }
  };
  read('candidate', candidate);
  read('control', control);
  const byName = <T,>(a: [string, T], b: [string, T]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const all = [...segs.entries()].sort(byName).map(([, s]) => s);
  return {
    projects: all.filter((s) => s.kind === 'project'),
    pythons: all.filter((s) => s.kind === 'python'),
    signatures: [...sigs.entries()].sort(byName).map(([, s]) => s),
    refused: { project: count(refused.project ?? 0), python: count(refused.python ?? 0), signature: count(refused.signature ?? 0) },
  };
}
