import { CODE, SEP, STAT, field, projectSegment, pythonMinor, type Family } from './names';

/**
 * The ingestion plan of one report for one rollout: which segment counters it increments,
 * each behind guards that implement the caps. This is the one place where the caps are
 * defined; the store executes plans (server/store/rollout-fold.ts, written atomically) and the
 * in-memory ledger (./ledger.ts) executes them the same way for the simulation and tests.
 *
 * Guards of a group are evaluated in order and the first one that fails stops the group:
 *  - `admit`: the segment is in its family's table, or is added to it when the table has
 *    room and the counting unit (machine) has not used its daily budget of new segments;
 *    otherwise the refusal is counted and the group stops. Tables never shrink, so the
 *    number of segments ever tested is bounded by the table sizes fixed in the policy.
 *  - `member`: the segment is in its table (no side effect).
 *  - `cap`: increments a counter and passes while it is ≤ limit (per unit and UTC day).
 *  - `first`: adds a member to the rollout's first-occurrence set and passes if it is new.
 *  - `absent`: passes while a member is not in the first-occurrence set (no side effect).
 * A group whose guards all pass increments its fields in the arm's aggregate hash.
 *
 * Sources (docs/trust.md): a report over its source's allowance never reaches a plan (the
 * source cap is applied to the whole report, store/rollout-fold.ts), and every event also counts its
 * source once: a group before the machine's first-occurrence group passes when the machine's
 * event is new (`absent`) and the source's is too (`first` keyed by source), so a segment
 * rollback can ask for events from several sources (policy.rollbackMinSources).
 *
 * `unit` marks a guard whose counter or member belongs to the counting unit (the machine)
 * alone, and names it without the machine: a store may keep it with the machine's other
 * state (store/machine-record.ts) instead of under the full field or member. Guards without
 * it belong to the rollout (a source's events, its first occurrences).
 */
export type Guard =
  | { op: 'admit'; family: Family; member: string }
  | { op: 'member'; family: Family; member: string }
  | { op: 'cap'; field: string; limit: number; unit?: string }
  | { op: 'first'; member: string; unit?: string }
  | { op: 'absent'; member: string; unit?: string };

export interface PlanGroup {
  guards: Guard[];
  /** Fields of the arm's aggregate hash, each incremented by 1. */
  incr: string[];
}

export interface SegmentPlan {
  arm: 'candidate' | 'control';
  /** Budget counter of the counting unit for this UTC day (new segments it may add). */
  budgetField: string;
  /** The same counter without the machine: the UTC day. */
  budgetUnit: string;
  limits: TableLimits;
  groups: PlanGroup[];
}

export interface TableLimits {
  project: number;
  python: number;
  signature: number;
  /** New segments (all families) one machine may add per UTC day. */
  budget: number;
}

export interface SegmentPolicy {
  /** Runs counted per machine, UTC day and segment (the arm totals' cap). */
  cap: number;
  maxProjects: number;
  maxPythons: number;
  maxSignatures: number;
  maxNewSegmentsPerMachineDay: number;
  /** Events (a machine's first failed or errored run, first failure of a test) one source adds to one segment per UTC day; absent: no cap. */
  segmentSourceCap?: number;
}

export interface SegmentReport {
  machine: string;
  /** The report's source ('' or absent: the machine stands for itself). */
  source?: string;
  /** UTC day of the run, YYYY-MM-DD. */
  day: string;
  /** The rollout's stage index when the report was counted. */
  stage: number;
  arm: 'candidate' | 'control';
  project: string;
  python: string;
  outcome: 'pass' | 'fail' | 'error';
  failedTests: readonly string[];
}

/** The segment caps of a rollout's policy. */
export function segmentPolicyOf(p: SegmentPolicy): SegmentPolicy {
  return {
    cap: p.cap, maxProjects: p.maxProjects, maxPythons: p.maxPythons, maxSignatures: p.maxSignatures, maxNewSegmentsPerMachineDay: p.maxNewSegmentsPerMachineDay,
    ...(p.segmentSourceCap !== undefined ? { segmentSourceCap: p.segmentSourceCap } : {}),
  };
}

export function tableLimits(p: SegmentPolicy): TableLimits {
  return { project: p.maxProjects, python: p.maxPythons, signature: p.maxSignatures, budget: p.maxNewSegmentsPerMachineDay };
}

/**
 * Groups per segment with runs (project, Python):
 *  1. admit; cap (runs of this machine, day and segment ≤ cap) → N, and F / E when it failed / errored;
 *  2. when it failed (errored): member; absent (the machine's first run in the segment is not
 *     counted yet); first (the source's first such event in this arm) → sources with a failed (errored) first run;
 *  3. when it failed: member; absent (as in 2); cap (the source's events in the segment that UTC day
 *     ≤ segmentSourceCap) → first runs of the stage that failed / errored (the events);
 *  4. member; first (this machine's first run in the segment) → first runs of the stage.
 * Per failing test id of a failed or errored run (each id once; signatures need a project):
 *  5. admit the signature; absent (this machine's first failure of it); first (the source's) → its sources;
 *  6. member; first (this machine's first failure of it); cap (the source's, as in 3) → first failures of the stage.
 * The event cap counts across both arms (an event's arm plays no part in whether it counts), so
 * under the null an event that counts is still a candidate one with the stage's share.
 */
export function segmentPlan(r: SegmentReport, p: SegmentPolicy): SegmentPlan {
  const groups: PlanGroup[] = [];
  const bad = r.outcome !== 'pass';
  const err = r.outcome === 'error';
  const unitDay = `${r.machine}${SEP}${r.day}`;
  const source = r.source || `m:${r.machine}`;
  /** The source's events in `seg` today within its cap (no guard without a cap). */
  const eventCap = (seg: string): Guard[] =>
    p.segmentSourceCap === undefined ? [] : [{ op: 'cap', field: `ev${SEP}${seg}${SEP}${source}${SEP}${r.day}`, limit: p.segmentSourceCap }];
  const withRuns = (family: 'project' | 'python', name: string | null) => {
    if (name === null) return;
    const seg = `${CODE[family]}${SEP}${name}`;
    const runs = [field(STAT.runs, family, name)];
    if (bad) runs.push(field(STAT.failed, family, name));
    if (err) runs.push(field(STAT.errored, family, name));
    groups.push({
      guards: [
        { op: 'admit', family, member: name },
        { op: 'cap', field: `${seg}${SEP}${unitDay}`, limit: p.cap, unit: `${seg}${SEP}${r.day}` },
      ],
      incr: runs,
    });
    const events: string[] = bad ? [STAT.sourcesFailed] : [];
    if (err) events.push(STAT.sourcesErrored);
    for (const stat of events) {
      groups.push({
        guards: [
          { op: 'member', family, member: name },
          { op: 'absent', member: `${seg}${SEP}${r.machine}`, unit: seg },
          { op: 'first', member: `${stat}${SEP}${seg}${SEP}${r.arm}${SEP}${source}` },
        ],
        incr: [field(stat, family, name)],
      });
    }
    // the event (a failed / errored first run) before the machine's first run is marked, so
    // that it can be capped per source without the first run going uncounted
    if (bad) {
      const event = [field(STAT.firstFailed(r.stage), family, name)];
      if (err) event.push(field(STAT.firstErrored(r.stage), family, name));
      groups.push({
        guards: [
          { op: 'member', family, member: name },
          { op: 'absent', member: `${seg}${SEP}${r.machine}`, unit: seg },
          ...eventCap(seg),
        ],
        incr: event,
      });
    }
    groups.push({
      guards: [
        { op: 'member', family, member: name },
        { op: 'first', member: `${seg}${SEP}${r.machine}`, unit: seg },
      ],
      incr: [field(STAT.firstRuns(r.stage), family, name)],
    });
  };
  const project = projectSegment(r.project);
  withRuns('project', project);
  withRuns('python', pythonMinor(r.python));
  if (bad && project !== null) {
    for (const test of new Set(r.failedTests)) {
      if (test === '' || test.includes(SEP)) continue;
      const sig = `${project}${SEP}${test}`;
      const machineFirst = `${CODE.signature}${SEP}${sig}${SEP}${r.machine}`;
      const unitFirst = `${CODE.signature}${SEP}${sig}`;
      groups.push({
        guards: [
          { op: 'admit', family: 'signature', member: sig },
          { op: 'absent', member: machineFirst, unit: unitFirst },
          { op: 'first', member: `${STAT.signatureSources}${SEP}${CODE.signature}${SEP}${sig}${SEP}${r.arm}${SEP}${source}` },
        ],
        incr: [field(STAT.signatureSources, 'signature', project, test)],
      });
      groups.push({
        guards: [
          { op: 'member', family: 'signature', member: sig },
          { op: 'first', member: machineFirst, unit: unitFirst },
          ...eventCap(`${CODE.signature}${SEP}${sig}`),
        ],
        incr: [field(STAT.firstFailure(r.stage), 'signature', project, test)],
      });
    }
  }
  return { arm: r.arm, budgetField: unitDay, budgetUnit: r.day, limits: tableLimits(p), groups };
}
