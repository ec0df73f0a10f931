/**
 * One machine's state in one rollout's evidence under evidence layout 3 (store/keys.ts
 * machineRecords): everything the fold keeps per machine, in one hash field, so that counting
 * a report's part reads and writes one field instead of one in each of eight keys (the
 * counters' machine sets, the machine-days, the arm aggregate's machine, the failing tests'
 * machines, the segment caps, first occurrences and budget). Rollout-wide state (the counters,
 * the arm aggregate's sums, days and sources, the source caps, the segment tables and
 * aggregates) stays in its own keys. Pure: parsing and serializing only.
 */

/** A machine's state in one arm. */
export interface ArmRecord {
  /** Stages it ran in (the stage counters' machines), and those where a run failed or errored. */
  stages: Set<number>;
  failing: Set<number>;
  /** Its machine-days: UTC day → "runs,failures,errors[,source]" (the machineDays value). */
  days: Map<string, string>;
  /** Its arm-aggregate state "N_m,F_m,runs,failed runs,last day,source" (armAggregateMachines' value), or none yet. */
  aggregate: string | false;
  /** Failing test ids it counted in the arm's failing tests (each machine once per test). */
  tests: Set<string>;
}

/** A machine's state in a rollout: per arm, and its segment state (across arms, as the plans count it). */
export interface MachineRecord {
  candidate?: ArmRecord;
  control?: ArmRecord;
  /** Segment cap counters by the guard's unit ("<segment>\t<day>"). */
  caps: Map<string, number>;
  /** Segment first occurrences by the guard's unit ("<segment>"). */
  firsts: Set<string>;
  /** New segments it added per UTC day (the admission budget). */
  budget: Map<string, number>;
}

export function emptyRecord(): MachineRecord {
  return { caps: new Map(), firsts: new Set(), budget: new Map() };
}

export function emptyArm(): ArmRecord {
  return { stages: new Set(), failing: new Set(), days: new Map(), aggregate: false, tests: new Set() };
}

/** As stored: short names, sets as arrays, maps as objects; empty parts left out. */
interface StoredArm {
  s?: number[];
  f?: number[];
  d?: Record<string, string>;
  g?: string;
  t?: string[];
}
interface Stored {
  c?: StoredArm;
  k?: StoredArm;
  sc?: Record<string, number>;
  sf?: string[];
  sb?: Record<string, number>;
}

export function serializeRecord(r: MachineRecord): string {
  const out: Stored = {};
  if (r.candidate) out.c = storedArm(r.candidate);
  if (r.control) out.k = storedArm(r.control);
  if (r.caps.size) out.sc = Object.fromEntries(r.caps);
  if (r.firsts.size) out.sf = [...r.firsts];
  if (r.budget.size) out.sb = Object.fromEntries(r.budget);
  return JSON.stringify(out);
}

function storedArm(a: ArmRecord): StoredArm {
  const out: StoredArm = {};
  if (a.stages.size) out.s = [...a.stages];
  if (a.failing.size) out.f = [...a.failing];
  if (a.days.size) out.d = Object.fromEntries(a.days);
  if (a.aggregate !== false) out.g = a.aggregate;
  if (a.tests.size) out.t = [...a.tests];
  return out;
}

/**
 * A stored record, or null when it is not one (only the fold writes records, but a value that
 * cannot be read must not stop every later report of the rollout from being counted: the
 * fold counts it and starts the machine afresh).
 */
export function parseRecord(s: string): MachineRecord | null {
  let x: unknown;
  try {
    x = JSON.parse(s);
  } catch {
    return null;
  }
  if (!isObject(x)) return null;
  const r = emptyRecord();
  for (const [name, arm] of [['c', 'candidate'], ['k', 'control']] as const) {
    if (x[name] === undefined) continue;
    const a = parseArm(x[name]);
    if (!a) return null;
    r[arm] = a;
  }
  const caps = counts(x.sc);
  const budget = counts(x.sb);
  const firsts = strings(x.sf);
  if (!caps || !budget || !firsts) return null;
  r.caps = caps;
  r.budget = budget;
  r.firsts = new Set(firsts);
  return r;
}

function parseArm(x: unknown): ArmRecord | null {
  if (!isObject(x)) return null;
  const stages = numbers(x.s);
  const failing = numbers(x.f);
  const tests = strings(x.t);
  const days = x.d === undefined ? {} : x.d;
  if (!stages || !failing || !tests || !isObject(days) || !Object.values(days).every((v) => typeof v === 'string')) return null;
  if (x.g !== undefined && typeof x.g !== 'string') return null;
  return {
    stages: new Set(stages), failing: new Set(failing), tests: new Set(tests),
    days: new Map(Object.entries(days as Record<string, string>)), aggregate: typeof x.g === 'string' ? x.g : false,
  };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function numbers(x: unknown): number[] | null {
  if (x === undefined) return [];
  return Array.isArray(x) && x.every(isCount) ? (x as number[]) : null;
}

function strings(x: unknown): string[] | null {
  if (x === undefined) return [];
  return Array.isArray(x) && x.every((v) => typeof v === 'string') ? (x as string[]) : null;
}

function counts(x: unknown): Map<string, number> | null {
  if (x === undefined) return new Map();
  if (!isObject(x) || !Object.values(x).every(isCount)) return null;
  return new Map(Object.entries(x as Record<string, number>));
}
