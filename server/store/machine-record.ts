/**
 * One machine's state in one rollout's evidence under evidence layout 3 (store/keys.ts
 * machineRecords): everything the fold keeps per machine, in one hash field, so that counting
 * a report's part reads and writes one field instead of one in each of eight keys (the
 * counters' machine sets, the machine-days, the arm aggregate's machine, the failing tests'
 * machines, the segment caps, first occurrences and budget). Rollout-wide state (the counters,
 * the arm aggregate's sums, days and sources, the source caps, the segment tables and
 * aggregates) stays in its own keys. Stored as JSON of these objects, short names, empty parts
 * left out (the fold reads and writes one per part it counts). Pure: parsing only.
 */

/** A machine's state in one arm. */
export interface ArmRecord {
  /** Stages it ran in (the stage counters' machines). */
  s?: number[];
  /** Stages where a run of it failed or errored (the counters' failing machines). */
  f?: number[];
  /** Its machine-days: UTC day → "runs,failures,errors[,source]" (the machineDays value). */
  d?: Record<string, string>;
  /** Its arm-aggregate state "N_m,F_m,runs,failed runs,last day,source" (armAggregateMachines' value). */
  g?: string;
  /** Failing test ids it counted in the arm's failing tests (each machine once per test). */
  t?: string[];
}

/** A machine's state in a rollout: per arm (c candidate, k control), and its segment state across arms, as the plans count it. */
export interface MachineRecord {
  c?: ArmRecord;
  k?: ArmRecord;
  /** Segment cap counters by the guard's unit ("<segment>\t<day>"). */
  sc?: Record<string, number>;
  /** Segment first occurrences by the guard's unit ("<segment>"). */
  sf?: string[];
  /** New segments it added per UTC day (the admission budget). */
  sb?: Record<string, number>;
}

export const ARM_FIELD = { candidate: 'c', control: 'k' } as const;

/**
 * A stored record, or null when it is not one (only the fold writes records, but a value that
 * cannot be read must not stop every later report of the rollout from being counted: the
 * fold counts it and starts the machine afresh). Fields of another version are dropped.
 */
export function parseRecord(s: string): MachineRecord | null {
  let x: unknown;
  try {
    x = JSON.parse(s);
  } catch {
    return null;
  }
  if (!isObject(x)) return null;
  const r: MachineRecord = {};
  for (const name of ['c', 'k'] as const) {
    if (x[name] === undefined) continue;
    const a = parseArm(x[name]);
    if (!a) return null;
    r[name] = a;
  }
  if (!(optional(x.sc, isCounts) && optional(x.sb, isCounts) && optional(x.sf, isStrings))) return null;
  if (x.sc !== undefined) r.sc = x.sc as Record<string, number>;
  if (x.sb !== undefined) r.sb = x.sb as Record<string, number>;
  if (x.sf !== undefined) r.sf = x.sf as string[];
  return r;
}

function parseArm(x: unknown): ArmRecord | null {
  if (!isObject(x)) return null;
  const ok = optional(x.s, isCountList) && optional(x.f, isCountList) && optional(x.t, isStrings)
    && optional(x.d, isStringValues) && optional(x.g, (v): v is string => typeof v === 'string');
  if (!ok) return null;
  const a: ArmRecord = {};
  if (x.s !== undefined) a.s = x.s as number[];
  if (x.f !== undefined) a.f = x.f as number[];
  if (x.d !== undefined) a.d = x.d as Record<string, string>;
  if (x.g !== undefined) a.g = x.g as string;
  if (x.t !== undefined) a.t = x.t as string[];
  return a;
}

function optional(v: unknown, is: (v: unknown) => boolean): boolean {
  return v === undefined || is(v);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A non-negative safe integer (a count as the store keeps it). */
export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isCountList = (v: unknown) => Array.isArray(v) && v.every(isCount);
const isStrings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
function isCounts(v: unknown): boolean {
  if (!isObject(v)) return false;
  for (const key in v) if (!isCount(v[key])) return false;
  return true;
}
function isStringValues(v: unknown): boolean {
  if (!isObject(v)) return false;
  for (const key in v) if (typeof v[key] !== 'string') return false;
  return true;
}
